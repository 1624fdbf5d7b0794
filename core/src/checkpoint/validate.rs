//! A checkpoint's metadata checked against the rules and against itself before it is
//! used: only the weights are checksummed, so `meta.json` may have been edited by hand.
//! Every field is checked (hyperparameters by their rules, the architecture against the
//! hyperparameters and the vocabulary, progress against `max_iters`, evaluations sorted
//! and finite), so an edit is refused with a message naming the field, never a panic.

use super::CheckpointMeta;

/// Length of a sha256 in hex.
const SHA256_HEX: usize = 64;

impl CheckpointMeta {
    /// The first rule this metadata breaks, as `field: value: rule`; `None` when it is
    /// consistent.
    pub fn inconsistency(&self) -> Option<String> {
        if let Err(e) = self.hyperparams.validate() {
            return Some(format!("hyperparams.{e}"));
        }
        if let Some(why) = self.tokenizer.inconsistency() {
            return Some(format!("tokenizer: {why}"));
        }
        if self.hyperparams.tokenizer != self.tokenizer.kind() {
            return Some(format!(
                "tokenizer: a {} tokenizer, but hyperparams.tokenizer = {}",
                self.tokenizer.kind(),
                self.hyperparams.tokenizer
            ));
        }
        let expected = self.hyperparams.model_config(self.tokenizer.vocab_size());
        if self.model != expected {
            let differences: Vec<String> = self
                .model
                .differences(&expected)
                .into_iter()
                .map(|(field, held, needed)| match field {
                    "vocab_size" => {
                        format!("vocab_size = {held}, but the tokenizer has {needed} tokens")
                    }
                    _ => format!("{field} = {held}, but hyperparams.{field} = {needed}"),
                })
                .collect();
            return Some(format!("model: {}", differences.join("; ")));
        }
        let max_iters = self.hyperparams.max_iters;
        if self.step > max_iters {
            return Some(format!(
                "step: {} must be at most max_iters = {max_iters}",
                self.step
            ));
        }
        if !(self.train_secs.is_finite() && self.train_secs >= 0.0) {
            return Some(format!(
                "train_secs: {} must be a finite number >= 0",
                self.train_secs
            ));
        }
        let mut previous = 0;
        for (i, e) in self.evals.iter().enumerate() {
            if e.step == 0 || e.step > self.step || e.step <= previous && i > 0 {
                return Some(format!(
                    "evals[{i}].step: {} must be after the previous evaluation's and at most \
                     step = {}",
                    e.step, self.step
                ));
            }
            previous = e.step;
            let finite = |x: f64| x.is_finite() && x >= 0.0;
            if !(finite(e.train_loss.into())
                && finite(e.val_loss.into())
                && finite(e.tokens_per_sec)
                && finite(e.train_secs))
            {
                return Some(format!(
                    "evals[{i}]: losses, tokens_per_sec and train_secs must be finite numbers \
                     >= 0 (got train_loss {}, val_loss {}, tokens_per_sec {}, train_secs {})",
                    e.train_loss, e.val_loss, e.tokens_per_sec, e.train_secs
                ));
            }
        }
        for (field, value, may_be_empty) in [
            ("dataset_sha256", &self.dataset_sha256, false),
            ("model_sha256", &self.model_sha256, false),
            ("optim_sha256", &self.optim_sha256, true),
        ] {
            let hex = value.len() == SHA256_HEX && value.bytes().all(|b| b.is_ascii_hexdigit());
            if !(hex || may_be_empty && value.is_empty()) {
                return Some(format!("{field}: {value:?} must be a sha256 in hex"));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Hyperparams;
    use crate::corpus::Corpus;
    use crate::eval::Eval;

    use super::*;

    fn meta() -> CheckpointMeta {
        let corpus = Corpus::from_text(
            "t.txt",
            &"hello world, the quick brown fox\n".repeat(20),
            crate::TokenizerKind::Char,
        )
        .unwrap();
        let hp = Hyperparams {
            max_iters: 10,
            ..Hyperparams::default()
        };
        let eval = Eval {
            step: 5,
            train_loss: 3.0,
            val_loss: 3.1,
            train_bpc: 4.3,
            val_bpc: 4.5,
            tokens_per_sec: 100.0,
            train_secs: 0.5,
        };
        let mut m = CheckpointMeta::new(&hp, &corpus, 5, vec![eval], 0.5);
        m.model_sha256 = "a".repeat(64);
        m.optim_sha256 = "b".repeat(64);
        m
    }

    #[test]
    fn a_written_checkpoints_metadata_is_consistent() {
        assert_eq!(meta().inconsistency(), None);
    }

    #[test]
    fn every_hand_edit_is_named() {
        type Edit = Box<dyn Fn(&mut CheckpointMeta)>;
        let cases: Vec<(&str, Edit)> = vec![
            ("hyperparams.n_embd", Box::new(|m| m.hyperparams.n_embd = 0)),
            ("model:", Box::new(|m| m.model.n_embd = 16)),
            ("model:", Box::new(|m| m.model.vocab_size = 3)),
            ("model:", Box::new(|m| m.model.n_head = 3)),
            ("step: 11", Box::new(|m| m.step = 11)),
            ("train_secs", Box::new(|m| m.train_secs = f64::NAN)),
            ("evals[0].step", Box::new(|m| m.evals[0].step = 6)),
            (
                "evals[0]:",
                Box::new(|m| m.evals[0].val_loss = f32::INFINITY),
            ),
            ("evals[1].step", Box::new(|m| m.evals.push(m.evals[0]))),
            (
                "dataset_sha256",
                Box::new(|m| m.dataset_sha256 = "x".into()),
            ),
            (
                "tokenizer: the vocabulary lists",
                Box::new(|m| {
                    m.tokenizer = serde_json::from_str(r#"{"chars":"aab"}"#).unwrap();
                }),
            ),
        ];
        for (want, edit) in cases {
            let mut m = meta();
            edit(&mut m);
            let got = m.inconsistency().unwrap_or_default();
            assert!(got.starts_with(want), "want {want}, got {got:?}");
        }
    }
}
