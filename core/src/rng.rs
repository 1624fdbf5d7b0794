//! Counter-based randomness: every random draw of training (batch positions, dropout
//! seeds, evaluation batches) is a pure function of (seed, step, stream). Resuming from a
//! checkpoint therefore needs only the seed and the step to continue exactly as an
//! uninterrupted run would, with no generator state to save.

/// SplitMix64 finaliser: a good 64-bit mix of one word.
pub fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Independent streams of randomness derived from one seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Positions of the training batch of a step.
    TrainBatch,
    /// Seed handed to the backend for the dropout masks of a step.
    Dropout,
    /// Positions of evaluation batches on the train split.
    EvalTrain,
    /// Positions of evaluation batches on the val split.
    EvalVal,
    /// Token draws while sampling text.
    Sample,
    /// Hyperparameter draws of a random search.
    Plan,
    /// Candidate draws of a model-based search (tpe), keyed by the run's index.
    Search,
    /// Initial weights of the model, drawn on the host so every device starts alike.
    Init,
}

/// A small deterministic generator (SplitMix64) keyed by (seed, stream, counter).
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// The generator for `stream` at `counter` (usually the training step) of `seed`.
    pub fn keyed(seed: u64, stream: Stream, counter: u64) -> Self {
        let s = mix64(
            seed ^ mix64(stream as u64 + 1) ^ mix64(counter.wrapping_mul(0xA24B_AED4_963E_E407)),
        );
        Self { state: s }
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix64(self.state)
    }

    /// Uniform integer in `0..n` (n > 0), by Lemire's multiply-shift.
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// Uniform float in [0, 1).
    pub fn unit_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Two independent standard normal draws (Box-Muller).
    pub fn normal_pair(&mut self) -> (f64, f64) {
        // 1 - u lies in (0, 1], so the logarithm is finite.
        let r = (-2.0 * (1.0 - self.unit_f64()).ln()).sqrt();
        let theta = std::f64::consts::TAU * self.unit_f64();
        (r * theta.cos(), r * theta.sin())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_key_same_draws_other_key_other_draws() {
        let a: Vec<u64> = (0..4)
            .map(|_| 0)
            .scan(Rng::keyed(7, Stream::TrainBatch, 3), |r, _| {
                Some(r.next_u64())
            })
            .collect();
        let b: Vec<u64> = (0..4)
            .map(|_| 0)
            .scan(Rng::keyed(7, Stream::TrainBatch, 3), |r, _| {
                Some(r.next_u64())
            })
            .collect();
        let c: Vec<u64> = (0..4)
            .map(|_| 0)
            .scan(Rng::keyed(7, Stream::TrainBatch, 4), |r, _| {
                Some(r.next_u64())
            })
            .collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn normal_pairs_have_unit_moments() {
        let mut r = Rng::keyed(3, Stream::Init, 0);
        let xs: Vec<f64> = (0..50_000)
            .flat_map(|_| {
                let (a, b) = r.normal_pair();
                [a, b]
            })
            .collect();
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / xs.len() as f64;
        assert!(mean.abs() < 0.01, "mean {mean}");
        assert!((var - 1.0).abs() < 0.02, "variance {var}");
        assert!(xs.iter().all(|x| x.is_finite()));
    }

    #[test]
    fn below_stays_in_range_and_covers_it() {
        let mut r = Rng::keyed(1, Stream::Sample, 0);
        let mut seen = [false; 5];
        for _ in 0..1000 {
            let v = r.below(5) as usize;
            seen[v] = true;
        }
        assert!(seen.iter().all(|s| *s));
    }
}
