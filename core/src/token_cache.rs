//! Tokenised corpora on disk, one file per (text's sha256, tokenizer): GPT-2's BPE takes
//! about a second a megabyte, and a worker builds a corpus for every run it leases. The
//! file is the tokens as little-endian `u16`, written to a name of its own and renamed,
//! so that workers sharing the directory never read half a file. A file that is not a
//! whole number of in-vocabulary tokens is ignored and written again.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::Result;
use crate::tokenizer::Tokenizer;

/// Numbers this process's writes, for their staging files' names.
static NEXT_WRITE: AtomicU64 = AtomicU64::new(0);

/// The tokens of `text` (whose sha256 is `sha256`) under `tokenizer`, from `dir` if
/// cached there, else encoded and cached (a cache that cannot be written is skipped).
pub fn tokens(dir: &Path, sha256: &str, tokenizer: &Tokenizer, text: &str) -> Result<Vec<u16>> {
    let path = dir.join(format!("{sha256}.{}.tokens", tokenizer.kind()));
    if let Some(tokens) = read(&path, tokenizer.vocab_size()) {
        return Ok(tokens);
    }
    let tokens = tokenizer.encode(text, "corpus")?;
    if let Err(e) = write(dir, &path, &tokens) {
        warn_uncached(&path, &e);
    }
    Ok(tokens)
}

fn read(path: &Path, vocab_size: usize) -> Option<Vec<u16>> {
    let bytes = std::fs::read(path).ok()?;
    if bytes.is_empty() || bytes.len() % 2 != 0 {
        return None;
    }
    let tokens: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|b| u16::from_le_bytes([b[0], b[1]]))
        .collect();
    tokens
        .iter()
        .all(|t| usize::from(*t) < vocab_size)
        .then_some(tokens)
}

fn write(dir: &Path, path: &Path, tokens: &[u16]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(
        ".{}.{}-{}.partial",
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("tokens"),
        std::process::id(),
        NEXT_WRITE.fetch_add(1, Ordering::Relaxed)
    ));
    let bytes: Vec<u8> = tokens.iter().flat_map(|t| t.to_le_bytes()).collect();
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

/// The crate has no logger: a cache it cannot write costs time, not correctness, so it
/// says so on stderr once per corpus and goes on.
fn warn_uncached(path: &Path, e: &std::io::Error) {
    eprintln!(
        "warning: cannot cache tokens at {}: {e} (they will be encoded again next time)",
        path.display()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_read_comes_from_the_file_and_a_bad_file_is_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let t = Tokenizer::gpt2();
        let text = "To be, or not to be, that is the question.";
        let first = tokens(dir.path(), "abc", &t, text).unwrap();
        let path = dir.path().join("abc.gpt2.tokens");
        assert_eq!(std::fs::read(&path).unwrap().len(), first.len() * 2);
        // A different text under the same key comes back from the cache: the file is used.
        assert_eq!(tokens(dir.path(), "abc", &t, "other text").unwrap(), first);
        std::fs::write(&path, [1u8, 2, 3]).unwrap();
        assert_eq!(tokens(dir.path(), "abc", &t, text).unwrap(), first);
        assert_eq!(std::fs::read(&path).unwrap().len(), first.len() * 2);
    }
}
