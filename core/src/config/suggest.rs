//! "Did you mean": the hyperparameter a user most likely meant by a name the table does
//! not know. Names from other tools come first (W&B and Hugging Face configs, nanoGPT's
//! flags, PyTorch's optimiser arguments), then a near spelling (at most two edits).

use super::HyperparamDef;

/// Names other tools use for a row of the table, and the row.
const ALIASES: &[(&str, &str)] = &[
    ("learning_rate", "lr"),
    ("learningrate", "lr"),
    ("max_lr", "lr"),
    ("peak_lr", "lr"),
    ("min_learning_rate", "min_lr"),
    ("num_heads", "n_head"),
    ("n_heads", "n_head"),
    ("heads", "n_head"),
    ("num_attention_heads", "n_head"),
    ("n_layers", "n_layer"),
    ("num_layers", "n_layer"),
    ("layers", "n_layer"),
    ("depth", "n_layer"),
    ("num_hidden_layers", "n_layer"),
    ("n_embed", "n_embd"),
    ("n_embedding", "n_embd"),
    ("embd", "n_embd"),
    ("embed_dim", "n_embd"),
    ("embedding_dim", "n_embd"),
    ("d_model", "n_embd"),
    ("hidden_size", "n_embd"),
    ("width", "n_embd"),
    ("context_length", "block_size"),
    ("context_size", "block_size"),
    ("context", "block_size"),
    ("seq_len", "block_size"),
    ("sequence_length", "block_size"),
    ("max_seq_len", "block_size"),
    ("n_positions", "block_size"),
    ("n_ctx", "block_size"),
    ("batch", "batch_size"),
    ("bs", "batch_size"),
    ("train_batch_size", "batch_size"),
    ("dropout_rate", "dropout"),
    ("drop_rate", "dropout"),
    ("p_dropout", "dropout"),
    ("max_steps", "max_iters"),
    ("steps", "max_iters"),
    ("iters", "max_iters"),
    ("iterations", "max_iters"),
    ("num_steps", "max_iters"),
    ("train_steps", "max_iters"),
    ("warmup_steps", "warmup_iters"),
    ("warmup", "warmup_iters"),
    ("lr_scheduler", "lr_decay"),
    ("lr_schedule", "lr_decay"),
    ("decay_lr", "lr_decay"),
    ("wd", "weight_decay"),
    ("max_grad_norm", "grad_clip"),
    ("clip_grad_norm", "grad_clip"),
    ("gradient_clipping", "grad_clip"),
    ("eval_every", "eval_interval"),
    ("eval_steps", "eval_interval"),
    ("adam_beta1", "beta1"),
    ("adam_beta2", "beta2"),
    ("adam_epsilon", "eps"),
    ("epsilon", "eps"),
    ("random_seed", "seed"),
    ("vocab", "tokenizer"),
    ("dtype", "precision"),
    ("mixed_precision", "precision"),
    ("amp", "precision"),
];

impl HyperparamDef {
    /// The row a user most likely meant by `name`, if any is close.
    pub fn suggest(name: &str) -> Option<&'static str> {
        let key = name.to_ascii_lowercase().replace('-', "_");
        if let Some(d) = Self::find(&key) {
            return Some(d.name);
        }
        if let Some((_, to)) = ALIASES.iter().find(|(from, _)| *from == key) {
            return Some(to);
        }
        nearest_name(&key, Self::names())
    }
}

/// The candidate closest to `name` in spelling, if close enough to be a slip: at most two
/// edits (a quarter of the candidate's length for long ones), and not the whole name.
pub fn nearest_name<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .map(|c| (strsim::levenshtein(name, c), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 4) && *d < c.len())
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::HyperparamDef;

    #[test]
    fn names_from_other_tools_and_near_spellings_are_suggested() {
        for (given, meant) in [
            ("learning_rate", "lr"),
            ("num_heads", "n_head"),
            ("n_layers", "n_layer"),
            ("n_embed", "n_embd"),
            ("d_model", "n_embd"),
            ("batchsize", "batch_size"),
            ("Block-Size", "block_size"),
            ("dropuot", "dropout"),
            ("max_steps", "max_iters"),
        ] {
            assert_eq!(HyperparamDef::suggest(given), Some(meant), "{given}");
        }
        for far in ["optimizer", "x", "momentum"] {
            assert_eq!(HyperparamDef::suggest(far), None, "{far}");
        }
    }
}
