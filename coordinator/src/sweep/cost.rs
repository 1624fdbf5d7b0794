//! What a run costs before it runs: tokens to train and seconds on each device kind of a
//! measured table, so that `submit` and `local` can say a sweep's price before anything
//! trains. The model is the simplest that fits the measurements (BENCHMARKS.md, "Cost
//! estimate"): a step takes a fixed overhead plus `flops^exponent / rate`, where a training
//! token costs 6 FLOPs per parameter plus 6 per layer, context position and embedding
//! channel (attention), and an evaluation token a third of that. A GPU is linear with a
//! launch overhead per step; a CPU has no such overhead but gets more out of bigger
//! matrices (exponent below 1), as its three measured sizes show.

use gptsweep_core::{Hyperparams, ModelConfig};

/// A device kind's measured speed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DeviceRate {
    /// What it is, as printed.
    pub device: &'static str,
    /// With `exponent`, a step of F FLOPs computes for `F^exponent / rate` seconds.
    pub rate: f64,
    /// 1 where the device's FLOP/s does not depend on the step's size.
    pub exponent: f64,
    /// Seconds every step costs whatever its size (launches, the CPU side of each op).
    pub step_overhead_s: f64,
}

/// This project's CPU reference (BENCHMARKS.md, "Cost estimate": 2 cores of an Intel Xeon,
/// 266,557 tokens/s at 18k parameters, 61,114 at 112k, 11,215 at 825k).
pub const CPU: DeviceRate = DeviceRate {
    device: "cpu (2-core Xeon, measured)",
    rate: 3.8796e9,
    exponent: 0.885,
    step_overhead_s: 0.0,
};

/// One NVIDIA H100 (BENCHMARKS.md, "GPU (CUDA)": 342,000 tokens/s on the lecture config,
/// 291,295 at 112k parameters).
pub const H100: DeviceRate = DeviceRate {
    device: "cuda (one H100, measured)",
    rate: 27.3e12,
    exponent: 1.0,
    step_overhead_s: 0.00698,
};

/// Every device kind estimated, the slowest first.
pub const DEVICES: [DeviceRate; 2] = [CPU, H100];

/// Training FLOPs per token of `model` (forward and backward).
pub fn train_flops_per_token(model: &ModelConfig) -> f64 {
    let attention = (model.n_layer * model.block_size * model.n_embd) as f64;
    6.0 * model.num_params() as f64 + 6.0 * attention
}

/// Tokens a complete run trains on: steps x batch x block.
pub fn train_tokens(hp: &Hyperparams) -> u64 {
    (hp.max_iters as u64)
        .saturating_mul(hp.batch_size as u64)
        .saturating_mul(hp.block_size as u64)
}

/// Seconds a complete run of `hp` (a model of `model`) takes on `rate`: its training
/// steps and its evaluations (`eval_iters` batches of each split, forward only).
pub fn run_seconds(hp: &Hyperparams, model: &ModelConfig, rate: &DeviceRate) -> f64 {
    let step_flops = (hp.batch_size * hp.block_size) as f64 * train_flops_per_token(model);
    let step = rate.step_seconds(step_flops);
    let eval_step = rate.step_seconds(step_flops / 3.0);
    let evals = hp.max_iters.div_ceil(hp.eval_interval.max(1)) * hp.eval_iters * 2;
    hp.max_iters as f64 * step + evals as f64 * eval_step
}

impl DeviceRate {
    /// Seconds of one step of `flops` FLOPs.
    pub fn step_seconds(&self, flops: f64) -> f64 {
        self.step_overhead_s + flops.powf(self.exponent) / self.rate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hp(n_layer: usize, n_head: usize, n_embd: usize, block: usize, batch: usize) -> Hyperparams {
        Hyperparams {
            n_layer,
            n_head,
            n_embd,
            block_size: block,
            batch_size: batch,
            max_iters: 1000,
            eval_interval: 1000,
            eval_iters: 0,
            ..Hyperparams::default()
        }
    }

    /// Tokens per second the model predicts for `hp` on `rate` (65 characters).
    fn tokens_per_s(hp: &Hyperparams, rate: &DeviceRate) -> f64 {
        let model = hp.model_config(65);
        train_tokens(hp) as f64 / run_seconds(hp, &model, rate)
    }

    #[test]
    fn reproduces_the_measured_cpu_table_within_five_percent() {
        for (h, measured) in [
            (hp(1, 2, 32, 32, 16), 266_557.0),
            (hp(2, 4, 64, 64, 32), 61_114.0),
            (hp(4, 4, 128, 128, 32), 11_215.0),
        ] {
            let predicted = tokens_per_s(&h, &CPU);
            assert!(
                (predicted / measured - 1.0).abs() < 0.05,
                "{predicted} tokens/s predicted, {measured} measured"
            );
        }
    }

    #[test]
    fn reproduces_the_h100_figures_within_five_percent() {
        let lecture = hp(6, 6, 384, 256, 64);
        assert_eq!(lecture.model_config(65).num_params(), 10_788_929);
        for (h, measured) in [(lecture, 342_000.0), (hp(2, 4, 64, 64, 32), 291_295.0)] {
            let predicted = tokens_per_s(&h, &H100);
            assert!(
                (predicted / measured - 1.0).abs() < 0.05,
                "{predicted} tokens/s predicted, {measured} measured"
            );
        }
    }

    #[test]
    fn tokens_are_steps_times_batch_times_block() {
        assert_eq!(train_tokens(&hp(1, 1, 8, 256, 64)), 1000 * 64 * 256);
    }

    #[test]
    fn evaluations_add_a_third_of_a_step_per_batch_on_a_linear_device() {
        let mut h = hp(2, 4, 64, 64, 32);
        let model = h.model_config(65);
        let linear = DeviceRate {
            step_overhead_s: 0.0,
            ..H100
        };
        let train = run_seconds(&h, &model, &linear);
        h.eval_interval = 250;
        h.eval_iters = 15;
        // 4 evaluations x 15 batches x 2 splits, a third of a step each = 40 steps more.
        let with_evals = run_seconds(&h, &model, &linear);
        assert!(((with_evals - train) / (train / 1000.0) - 40.0).abs() < 1e-6);
    }

    #[test]
    fn a_bigger_model_costs_more_and_a_gpu_less() {
        let (small, big) = (hp(2, 4, 64, 64, 32), hp(6, 6, 384, 256, 64));
        let cost = |h: &Hyperparams, r| run_seconds(h, &h.model_config(65), r);
        assert!(cost(&big, &CPU) > 100.0 * cost(&small, &CPU));
        assert!(cost(&big, &H100) < cost(&big, &CPU) / 100.0);
    }
}
