//! Dropout masks the fused kernels can regenerate instead of storing: whether an element is
//! kept is a hash of a per-call key, its row and its place in the row, so the backward pass
//! recomputes its forward's mask from the key alone, any row on any thread. Inside
//! [`keyed`] (the trainer wraps every step in it) the keys come from that step's seed, one
//! after another on the step's thread, so a resumed run drops exactly what the
//! uninterrupted one did, and two runs training at once in one process (packing) each drop
//! what they would alone. Elsewhere they come from burn-flex's process-wide random stream.

use std::cell::Cell;

use burn::backend::Flex;
use burn::tensor::ops::IntTensorOps;
use burn::tensor::{Distribution, IntDType, Shape};

use super::simd;
use crate::rng::mix64;

/// One call's dropout: which elements are kept, and the scale of those that are.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mask {
    /// The call's key, drawn from the backend's random stream.
    key: u64,
    /// An element is dropped when its hash falls below this: `prob * 2^32`.
    threshold: u32,
    /// `1 / (1 - prob)`: kept elements are scaled so that the expectation is unchanged.
    scale: f32,
}

impl Mask {
    /// A mask dropping each element with probability `prob` (in `(0, 1)`), its key the
    /// next of this thread's [`keyed`] stream, or from burn-flex's random stream outside one.
    pub fn draw(prob: f64) -> Self {
        Self::with_key(draw_key(), prob)
    }

    /// A mask of a given key.
    pub fn with_key(key: u64, prob: f64) -> Self {
        assert!(
            (0.0..1.0).contains(&prob),
            "dropout probability {prob} out of [0, 1)"
        );
        Self {
            key,
            threshold: (prob * 4_294_967_296.0).round().min(u32::MAX as f64) as u32,
            scale: (1.0 / (1.0 - prob)) as f32,
        }
    }

    /// The call's key: with [`Mask::threshold`] and [`Mask::scale`], what a kernel elsewhere
    /// (the GPU's, `gpu_attention`) needs to rebuild this mask.
    pub fn key(&self) -> u64 {
        self.key
    }

    /// An element is dropped when its hash falls below this.
    pub fn threshold(&self) -> u32 {
        self.threshold
    }

    /// The factor of the elements kept.
    pub fn scale(&self) -> f32 {
        self.scale
    }

    /// Row `row` of the masked tensor, in place: each element kept and scaled, or zeroed.
    /// Rows are the caller's to number; the same (key, row) always gives the same mask.
    pub fn apply(&self, row: u64, values: &mut [f32]) {
        let seed = (mix64(self.key ^ mix64(row)) >> 32) as u32;
        simd::dropout_row(seed, self.threshold, self.scale, values);
    }
}

thread_local! {
    /// This thread's key stream: its seed and how many keys it has given.
    static STREAM: Cell<Option<(u64, u64)>> = const { Cell::new(None) };
}

/// Runs `work` with this thread's dropout keys drawn from `seed`: the n-th mask drawn in it
/// has key `mix64(seed ^ mix64(n))`, whatever else runs in the process meanwhile.
pub fn keyed<R>(seed: u64, work: impl FnOnce() -> R) -> R {
    struct Restore(Option<(u64, u64)>);
    impl Drop for Restore {
        fn drop(&mut self) {
            STREAM.set(self.0);
        }
    }
    let _restore = Restore(STREAM.replace(Some((seed, 0))));
    work()
}

/// The next key of this thread's [`keyed`] stream, else of burn-flex's.
fn draw_key() -> u64 {
    match STREAM.get() {
        Some((seed, n)) => {
            STREAM.set(Some((seed, n + 1)));
            mix64(seed ^ mix64(n))
        }
        None => backend_key(),
    }
}

/// 64 random bits from burn-flex's random stream (the one `Backend::seed` sets).
fn backend_key() -> u64 {
    let bits = Flex::int_random(
        Shape::new([1]),
        Distribution::Default,
        &Default::default(),
        IntDType::U64,
    );
    bits.into_data()
        .to_vec::<u64>()
        .ok()
        .and_then(|v| v.first().copied())
        .expect("one u64 drawn")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_the_asked_fraction_and_scales_the_rest() {
        for prob in [0.1, 0.2, 0.5] {
            let mask = Mask::with_key(7, prob);
            let (rows, cols) = (1000u64, 1000usize);
            let mut dropped = 0usize;
            for row in 0..rows {
                let mut xs = vec![1.0f32; cols];
                mask.apply(row, &mut xs);
                for &x in &xs {
                    if x == 0.0 {
                        dropped += 1;
                    } else {
                        assert_eq!(x, (1.0 / (1.0 - prob)) as f32);
                    }
                }
            }
            let frac = dropped as f64 / (rows as f64 * cols as f64);
            // 10^6 Bernoulli draws: a standard deviation below 0.0005.
            assert!((frac - prob).abs() < 0.003, "dropped {frac}, asked {prob}");
        }
    }

    #[test]
    fn a_keyed_stream_gives_the_same_keys_whatever_runs_beside_it() {
        let keys = |seed| keyed(seed, || [0; 3].map(|_| Mask::draw(0.5).key));
        let alone = keys(11);
        let (a, b) = std::thread::scope(|s| {
            let a = s.spawn(|| keys(11));
            let b = s.spawn(|| keys(12));
            (a.join().unwrap(), b.join().unwrap())
        });
        assert_eq!(a, alone);
        assert_ne!(b, alone);
        assert_eq!(
            alone.iter().collect::<std::collections::HashSet<_>>().len(),
            3
        );
        let nested = keyed(11, || {
            let first = Mask::draw(0.5).key;
            let inner = keyed(12, || Mask::draw(0.5).key);
            (first, inner, Mask::draw(0.5).key)
        });
        assert_eq!(
            nested,
            (alone[0], b[0], alone[1]),
            "the outer stream resumes"
        );
        assert_eq!(STREAM.get(), None, "the stream ends with its scope");
    }

    #[test]
    fn the_key_and_row_alone_decide_the_mask() {
        let mask = |key, row, n| {
            let mut xs = vec![1.0f32; n];
            Mask::with_key(key, 0.5).apply(row, &mut xs);
            xs
        };
        assert_eq!(mask(3, 5, 37), mask(3, 5, 37));
        // A prefix of a row is masked as the whole row's prefix (the causal rows rely on it).
        assert_eq!(mask(3, 5, 37)[..20], mask(3, 5, 20)[..]);
        assert_ne!(mask(3, 5, 64), mask(3, 6, 64), "rows differ");
        assert_ne!(mask(3, 5, 64), mask(4, 5, 64), "keys differ");
    }

    #[test]
    fn neighbouring_elements_are_uncorrelated() {
        // Pairs (j, j + 1) and (row r, row r + 1) at p = 0.5: both kept a quarter of the time.
        let mask = Mask::with_key(11, 0.5);
        let rows: Vec<Vec<f32>> = (0..400)
            .map(|r| {
                let mut xs = vec![1.0f32; 400];
                mask.apply(r, &mut xs);
                xs
            })
            .collect();
        let (mut along, mut across, mut n) = (0usize, 0usize, 0usize);
        for r in 0..399 {
            for j in 0..399 {
                along += (rows[r][j] != 0.0 && rows[r][j + 1] != 0.0) as usize;
                across += (rows[r][j] != 0.0 && rows[r + 1][j] != 0.0) as usize;
                n += 1;
            }
        }
        for both in [along, across] {
            let frac = both as f64 / n as f64;
            assert!((frac - 0.25).abs() < 0.005, "both kept {frac}");
        }
    }
}
