//! What the gpt crate's test binaries share: the corpus their tiny models train on.

use std::sync::Arc;

use gptsweep_gpt::corpus::TINYSHAKESPEARE;
use gptsweep_gpt::{Corpus, TokenizerKind};

/// The first 60,000 characters of tiny shakespeare, by character.
pub fn small_corpus() -> Arc<Corpus> {
    Arc::new(
        Corpus::from_text(
            "shakespeare-slice",
            &TINYSHAKESPEARE[..60_000],
            TokenizerKind::Char,
        )
        .unwrap(),
    )
}
