//! Wire forms of the trainer's types that both ends of the wire use: the worker sends
//! evaluations, the coordinator stores and serves them. Kept here, beside the generated
//! types, so that the two ends cannot drift apart.

use gptsweep_gpt::Eval;

use crate::pb;

impl From<&Eval> for pb::EvalPoint {
    fn from(e: &Eval) -> Self {
        Self {
            step: e.step as u64,
            train_loss: e.train_loss,
            val_loss: e.val_loss,
            tokens_per_sec: e.tokens_per_sec,
            train_secs: e.train_secs,
        }
    }
}

impl From<&pb::EvalPoint> for Eval {
    fn from(e: &pb::EvalPoint) -> Self {
        Self {
            step: e.step as usize,
            train_loss: e.train_loss,
            val_loss: e.val_loss,
            tokens_per_sec: e.tokens_per_sec,
            train_secs: e.train_secs,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_evaluation_crosses_the_wire_unchanged() {
        let e = Eval {
            step: 250,
            train_loss: 2.25,
            val_loss: 2.5,
            tokens_per_sec: 33_000.0,
            train_secs: 12.5,
        };
        let back = Eval::from(&pb::EvalPoint::from(&e));
        assert_eq!(back, e);
    }
}
