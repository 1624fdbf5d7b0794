//! A training corpus: the text read once (built in, or from a file), checked, tokenised
//! with the run's tokenizer into a compact `u16` buffer and split 90/10 into train and
//! val, as in the lecture. It also counts the characters each split holds, which turns a
//! loss per token into bits per character ([`Corpus::bits_per_char`]), the measure that
//! compares tokenizers.

use sha2::{Digest, Sha256};
use std::path::Path;

use crate::error::{GptError, Result};
use crate::token_cache;
use crate::tokenizer::{Tokenizer, TokenizerKind};

/// Name of the corpus compiled into the binary.
pub const BUILTIN_TINYSHAKESPEARE: &str = "tinyshakespeare";

/// Tiny shakespeare (karpathy/char-rnn), 1,115,394 characters, public domain.
pub static TINYSHAKESPEARE: &str = include_str!("../data/tinyshakespeare.txt");

/// Which of the two splits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// The first 90% of the tokens.
    Train,
    /// The last 10%.
    Val,
}

/// A tokenised corpus with its train/val split.
#[derive(Debug, Clone)]
pub struct Corpus {
    name: String,
    sha256: String,
    tokenizer: Tokenizer,
    train: Vec<u16>,
    val: Vec<u16>,
    /// Characters of the text behind each split (train, val).
    chars: (usize, usize),
}

/// Whether `name` is a corpus compiled into the binary.
pub fn is_builtin(name: &str) -> bool {
    name == BUILTIN_TINYSHAKESPEARE
}

impl Corpus {
    /// Loads a built-in corpus by name, or else the UTF-8 text file at `spec`, tokenised
    /// with `kind` (through the token cache in `cache`, if given).
    pub fn load(spec: &str, kind: TokenizerKind, cache: Option<&Path>) -> Result<Self> {
        if is_builtin(spec) {
            return Self::build(spec, TINYSHAKESPEARE, kind, cache);
        }
        let path = Path::new(spec);
        if !path.exists() && !path.is_symlink() {
            return Err(GptError::Dataset {
                source_name: spec.to_string(),
                reason: format!("no such file (built-in datasets: {BUILTIN_TINYSHAKESPEARE})"),
            });
        }
        let bytes =
            crate::input_file::read_bounded("dataset", path, crate::input_file::MAX_DATASET_BYTES)?;
        Self::from_bytes(spec, &bytes, kind, cache)
    }

    /// The corpus of `bytes`, which must be non-empty UTF-8, tokenised with `kind`
    /// (through the token cache in `cache`, if given).
    pub fn from_bytes(
        name: &str,
        bytes: &[u8],
        kind: TokenizerKind,
        cache: Option<&Path>,
    ) -> Result<Self> {
        let text = std::str::from_utf8(bytes).map_err(|e| GptError::Dataset {
            source_name: name.to_string(),
            reason: format!("not UTF-8 text: invalid byte at offset {}", e.valid_up_to()),
        })?;
        Self::build(name, text, kind, cache)
    }

    /// The corpus of `text` tokenised with `kind`, without a token cache.
    pub fn from_text(name: &str, text: &str, kind: TokenizerKind) -> Result<Self> {
        Self::build(name, text, kind, None)
    }

    fn build(name: &str, text: &str, kind: TokenizerKind, cache: Option<&Path>) -> Result<Self> {
        if text.is_empty() {
            return Err(GptError::Dataset {
                source_name: name.to_string(),
                reason: "is empty".into(),
            });
        }
        let tokenizer = Tokenizer::for_corpus(kind, text);
        let sha256 = hex::encode(Sha256::digest(text.as_bytes()));
        let mut tokens = match (kind, cache) {
            // Characters encode faster than a file reads.
            (TokenizerKind::Char, _) | (_, None) => tokenizer.encode(text, "corpus")?,
            (_, Some(dir)) => token_cache::tokens(dir, &sha256, &tokenizer, text)?,
        };
        let n_train = tokens.len() * 9 / 10;
        let val = tokens.split_off(n_train);
        let chars = (tokenizer.chars_in(&tokens), tokenizer.chars_in(&val));
        Ok(Self {
            name: name.to_string(),
            sha256,
            tokenizer,
            train: tokens,
            val,
            chars,
        })
    }

    /// A mean loss per token (nats) on `split` in bits per character of its text: the
    /// loss times the split's tokens per character, over ln 2. For characters it is the
    /// loss / ln 2; it ranks runs of different tokenizers on the same text fairly.
    pub fn bits_per_char(&self, split: Split, loss: f32) -> f32 {
        let (tokens, chars) = match split {
            Split::Train => (self.train.len(), self.chars.0),
            Split::Val => (self.val.len(), self.chars.1),
        };
        (f64::from(loss) * tokens as f64 / chars.max(1) as f64 / std::f64::consts::LN_2) as f32
    }

    /// Checks that the corpus was tokenised with `kind`, the run's tokenizer.
    pub fn check_tokenizer(&self, kind: TokenizerKind) -> Result<()> {
        if self.tokenizer.kind() != kind {
            return Err(GptError::Dataset {
                source_name: self.name.clone(),
                reason: format!(
                    "was tokenised with {}, but the run's tokenizer is {kind}",
                    self.tokenizer.kind()
                ),
            });
        }
        Ok(())
    }

    /// Checks that both splits hold at least one full (block_size + 1)-token window.
    pub fn check_fits(&self, block_size: usize) -> Result<()> {
        let shortest = self.train.len().min(self.val.len());
        if shortest < block_size + 1 {
            return Err(GptError::Dataset {
                source_name: self.name.clone(),
                reason: format!(
                    "too short for block_size = {block_size}: its {} split has {shortest} tokens, \
                     each split needs at least block_size + 1 = {}",
                    if self.train.len() <= self.val.len() {
                        "train"
                    } else {
                        "val"
                    },
                    block_size + 1
                ),
            });
        }
        Ok(())
    }

    /// The name the corpus was loaded under.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Hex sha256 of the corpus text: its identity across machines.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// The tokenizer of its tokens (for characters, built from the whole text).
    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    /// The tokens of one split.
    pub fn split(&self, split: Split) -> &[u16] {
        match split {
            Split::Train => &self.train,
            Split::Val => &self.val,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_tinyshakespeare_splits_as_the_lecture() {
        let c = Corpus::load(BUILTIN_TINYSHAKESPEARE, TokenizerKind::Char, None).unwrap();
        assert_eq!(c.tokenizer().vocab_size(), 65);
        assert_eq!(c.split(Split::Train).len(), 1_003_854);
        assert_eq!(c.split(Split::Val).len(), 111_540);
        assert_eq!(
            c.sha256(),
            "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"
        );
    }

    #[test]
    fn bad_corpora_are_refused_with_reason() {
        let missing = Corpus::load("/nonexistent/corpus.txt", TokenizerKind::Char, None)
            .unwrap_err()
            .to_string();
        assert!(
            missing.contains("/nonexistent/corpus.txt") && missing.contains("no such file"),
            "{missing}"
        );
        let empty = Corpus::from_bytes("e.txt", b"", TokenizerKind::Char, None)
            .unwrap_err()
            .to_string();
        assert!(empty.contains("e.txt: is empty"), "{empty}");
        let latin1 = Corpus::from_bytes("l.txt", b"caf\xe9", TokenizerKind::Char, None)
            .unwrap_err()
            .to_string();
        assert!(
            latin1.contains("not UTF-8") && latin1.contains("offset 3"),
            "{latin1}"
        );
        let short =
            Corpus::from_text("s.txt", "abcdefghijklmnopqrst", TokenizerKind::Char).unwrap();
        let err = short.check_fits(8).unwrap_err().to_string();
        assert!(
            err.contains("too short for block_size = 8") && err.contains("val split has 2 tokens"),
            "{err}"
        );
    }
}
