//! Random (x, y) batches: `batch_size` windows of `block_size` tokens at random offsets,
//! y being x shifted by one token, drawn from a keyed generator so that a batch is a pure
//! function of (seed, step).

use crate::rng::Rng;

/// A batch as flat row-major token ids, ready to become `[batch, block]` tensors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// Inputs, `batch * block` ids.
    pub x: Vec<i32>,
    /// Targets (inputs shifted by one), `batch * block` ids.
    pub y: Vec<i32>,
    /// Sequences in the batch.
    pub batch: usize,
    /// Tokens per sequence.
    pub block: usize,
}

/// Draws a batch from `tokens`, which must hold more than `block` tokens.
pub fn sample_batch(tokens: &[u16], batch: usize, block: usize, rng: &mut Rng) -> Batch {
    let starts = (tokens.len() - block) as u64;
    let mut x = Vec::with_capacity(batch * block);
    let mut y = Vec::with_capacity(batch * block);
    for _ in 0..batch {
        let i = rng.below(starts) as usize;
        x.extend(tokens[i..i + block].iter().map(|t| *t as i32));
        y.extend(tokens[i + 1..i + block + 1].iter().map(|t| *t as i32));
    }
    Batch { x, y, batch, block }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Stream;

    #[test]
    fn targets_are_inputs_shifted_by_one() {
        let tokens: Vec<u16> = (0..100).collect();
        let b = sample_batch(&tokens, 4, 8, &mut Rng::keyed(1, Stream::TrainBatch, 0));
        assert_eq!(b.x.len(), 32);
        for row in 0..4 {
            for t in 0..8 {
                assert_eq!(b.y[row * 8 + t], b.x[row * 8 + t] + 1);
            }
        }
    }

    #[test]
    fn windows_reach_the_last_token() {
        let tokens: Vec<u16> = (0..10).collect();
        let mut rng = Rng::keyed(3, Stream::TrainBatch, 0);
        let max_y = (0..200)
            .map(|_| *sample_batch(&tokens, 1, 9, &mut rng).y.last().unwrap())
            .max();
        assert_eq!(max_y, Some(9));
    }
}
