//! A planned sweep's size, said before anything trains: runs queued now and proposed later,
//! parameters per model shape, tokens to train and an estimated time per device kind
//! ([`cost`](super::cost)). Later runs (tpe's, after its startup runs) are drawn from the
//! same space as the queued ones: they are priced at the queued runs' mean.

use std::collections::BTreeMap;

use serde::Serialize;

use super::cost::{DEVICES, run_seconds, train_tokens};
use super::plan::Plan;
use super::shape::CorpusShapes;

/// Estimated seconds above which a sweep asks for `--yes`: two hours on the CPU reference.
pub const CONFIRM_ABOVE_S: f64 = 2.0 * 3600.0;

/// One model shape of the queued runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShapeCount {
    /// Layers.
    pub n_layer: usize,
    /// Heads.
    pub n_head: usize,
    /// Embedding width.
    pub n_embd: usize,
    /// Context length.
    pub block_size: usize,
    /// Parameters of the model.
    pub params: u64,
    /// Queued runs of this shape.
    pub runs: usize,
}

/// The estimated time of the whole sweep on one device kind, runs one after another.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeviceTime {
    /// The device kind, as the cost table names it.
    pub device: &'static str,
    /// Seconds, all runs (queued and later) one at a time.
    pub seconds: f64,
}

/// A sweep's size before it runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Estimate {
    /// Runs queued now.
    pub queued: usize,
    /// Runs proposed later (tpe after its startup runs).
    pub later: usize,
    /// Grid points dropped as no valid model (`skip_impossible`).
    pub dropped: usize,
    /// The queued runs' shapes, most runs first.
    pub shapes: Vec<ShapeCount>,
    /// Tokens to train, queued runs (steps x batch x block, summed).
    pub tokens_queued: u64,
    /// Tokens to train, all runs (later ones at the queued runs' mean).
    pub tokens_total: u64,
    /// Estimated time per device kind, all runs.
    pub time: Vec<DeviceTime>,
}

impl Estimate {
    /// The size of `plan` on a corpus of `shapes`.
    pub fn of(plan: &Plan, shapes: &CorpusShapes) -> Self {
        let mut by_shape: BTreeMap<(usize, usize, usize, usize), ShapeCount> = BTreeMap::new();
        let mut tokens: u64 = 0;
        let mut seconds = vec![0.0; DEVICES.len()];
        for run in &plan.runs {
            let hp = &run.hyperparams;
            let model = shapes.model_of(hp);
            tokens = tokens.saturating_add(train_tokens(hp));
            for (s, rate) in seconds.iter_mut().zip(DEVICES.iter()) {
                *s += run_seconds(hp, &model, rate);
            }
            by_shape
                .entry((hp.n_layer, hp.n_head, hp.n_embd, hp.block_size))
                .or_insert(ShapeCount {
                    n_layer: hp.n_layer,
                    n_head: hp.n_head,
                    n_embd: hp.n_embd,
                    block_size: hp.block_size,
                    params: model.num_params() as u64,
                    runs: 0,
                })
                .runs += 1;
        }
        let queued = plan.runs.len();
        // Later runs at the mean of the queued ones.
        let scale = if queued == 0 {
            1.0
        } else {
            (queued + plan.later) as f64 / queued as f64
        };
        let mut shapes: Vec<ShapeCount> = by_shape.into_values().collect();
        shapes.sort_by(|a, b| b.runs.cmp(&a.runs).then(a.params.cmp(&b.params)));
        Self {
            queued,
            later: plan.later,
            dropped: plan.dropped,
            shapes,
            tokens_queued: tokens,
            tokens_total: (tokens as f64 * scale) as u64,
            time: DEVICES
                .iter()
                .zip(seconds)
                .map(|(rate, s)| DeviceTime {
                    device: rate.device,
                    seconds: s * scale,
                })
                .collect(),
        }
    }

    /// The estimated seconds on the CPU reference, the slowest device kind.
    pub fn cpu_seconds(&self) -> f64 {
        self.time.first().map(|t| t.seconds).unwrap_or(0.0)
    }

    /// Whether the sweep is big enough to ask for `--yes`.
    pub fn needs_confirmation(&self) -> bool {
        self.cpu_seconds() > CONFIRM_ABOVE_S
    }

    /// The runs in words: "6 runs queued", "10 runs queued now, 10 proposed later by tpe".
    pub fn runs_text(&self) -> String {
        let mut s = format!("{} queued", plural(self.queued, "run"));
        if self.later > 0 {
            s.push_str(&format!(
                " now, {} proposed later as results come in (tpe)",
                self.later
            ));
        }
        if self.dropped > 0 {
            s.push_str(&format!(
                "; {} dropped (skip_impossible)",
                plural(self.dropped, "impossible grid point")
            ));
        }
        s
    }

    /// The estimate for people, a line each: runs, shapes, tokens, time per device kind.
    pub fn text(&self, name: &str) -> String {
        let mut out = format!("sweep {name}: {}\n", self.runs_text());
        for s in &self.shapes {
            out.push_str(&format!(
                "  {} x n_layer {} n_head {} n_embd {} block {}: {} parameters\n",
                plural(s.runs, "run"),
                s.n_layer,
                s.n_head,
                s.n_embd,
                s.block_size,
                thousands(s.params)
            ));
        }
        let later = if self.later > 0 {
            format!(" ({} for the queued runs)", thousands(self.tokens_queued))
        } else {
            String::new()
        };
        out.push_str(&format!(
            "  tokens to train: {}{later}\n",
            thousands(self.tokens_total)
        ));
        for t in &self.time {
            out.push_str(&format!(
                "  estimated time, one run at a time on {}: {}\n",
                t.device,
                duration(t.seconds)
            ));
        }
        out
    }
}

/// `n` things, singular or plural.
pub fn plural(n: usize, thing: &str) -> String {
    if n == 1 {
        format!("1 {thing}")
    } else {
        format!("{n} {thing}s")
    }
}

/// 10788929 -> "10,788,929".
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Seconds as "45 s", "12 min", "3.4 h".
pub fn duration(seconds: f64) -> String {
    if seconds < 90.0 {
        format!("{:.0} s", seconds.max(1.0))
    } else if seconds < 90.0 * 60.0 {
        format!("{:.0} min", seconds / 60.0)
    } else {
        format!("{:.1} h", seconds / 3600.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(thousands(10_788_929), "10,788,929");
        assert_eq!(thousands(999), "999");
        assert_eq!(duration(30.0), "30 s");
        assert_eq!(duration(600.0), "10 min");
        assert_eq!(duration(7.5 * 3600.0), "7.5 h");
        assert_eq!(plural(1, "run"), "1 run");
    }
}
