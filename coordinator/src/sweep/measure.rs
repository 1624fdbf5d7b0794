//! Measuring a sweep's corpus ([`CorpusShapes`]) from its bytes, shared by the coordinator
//! (at submit, authoritative) and the CLI (before anything is sent, so that a dry run and
//! the cost estimate need no coordinator). A prompt the corpus cannot encode is a problem
//! among others: measuring goes on, so the block_size problems of the same file are found
//! in the same pass.

use gptsweep_core::corpus::Split;
use gptsweep_core::{Corpus, TokenizerKind};

use super::shape::{CorpusShapes, Shape};
use super::spec::SweepSpec;

/// The corpus `bytes` (sha256 `sha`) under each tokenizer `spec` uses, and the problems of
/// its sample prompt under them (empty when it encodes). `Err` only when the corpus itself
/// cannot be read as text.
pub fn measure_corpus(
    spec: &SweepSpec,
    sha: &str,
    bytes: &[u8],
) -> Result<(CorpusShapes, Vec<String>), String> {
    let mut shapes = CorpusShapes::chars(0, 0);
    let mut problems = Vec::new();
    let prompt = &spec.samples.options.prompt;
    for kind in TokenizerKind::ALL {
        let used = spec.may_use(kind);
        // Characters are always measured: the prompt is checked against them.
        if !used && kind != TokenizerKind::Char {
            continue;
        }
        let corpus = Corpus::from_bytes(sha, bytes, kind, None).map_err(|e| e.to_string())?;
        if used && let Err(e) = corpus.tokenizer().encode(prompt, "samples.prompt") {
            problems.push(e.to_string());
        }
        let shape = Shape {
            vocab_size: corpus.tokenizer().vocab_size(),
            shortest_split: corpus
                .split(Split::Train)
                .len()
                .min(corpus.split(Split::Val).len()),
        };
        match kind {
            TokenizerKind::Char => shapes.char = shape,
            TokenizerKind::Gpt2 => shapes.gpt2 = Some(shape),
        }
    }
    Ok((shapes, problems))
}
