//! Text to token ids and back. Two tokenizers, chosen per run by the `tokenizer`
//! hyperparameter ([`TokenizerKind`]): the lecture's characters ([`CharTokenizer`], a
//! vocabulary built from the corpus) and GPT-2's byte-pair encoding ([`gpt2`], a fixed
//! vocabulary of 50,257). A run's [`Tokenizer`] is saved in its checkpoints, so that they
//! can be sampled from later with the same one.
//!
//! Losses per token do not compare across tokenizers (a GPT-2 token is about four
//! characters); [`Tokenizer::chars_in`] gives what turns them into bits per character.

mod char;
pub mod gpt2;

use serde::{Deserialize, Serialize};

pub use self::char::CharTokenizer;
use crate::error::Result;

/// Which tokenizer a run uses: the `tokenizer` hyperparameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum TokenizerKind {
    /// One token per character of the corpus (the lecture).
    #[default]
    Char,
    /// GPT-2's byte-pair encoding (tiktoken's r50k_base), 50,257 tokens.
    Gpt2,
}

impl TokenizerKind {
    /// Every kind, in the order a user would list them.
    pub const ALL: [TokenizerKind; 2] = [TokenizerKind::Char, TokenizerKind::Gpt2];

    /// The name sweep files and flags use.
    pub fn name(self) -> &'static str {
        match self {
            Self::Char => "char",
            Self::Gpt2 => "gpt2",
        }
    }
}

impl std::fmt::Display for TokenizerKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The stored form of the GPT-2 tokenizer: its name, since its vocabulary is fixed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bpe {
    bpe: BpeName,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum BpeName {
    Gpt2,
}

/// A run's tokenizer. Stored as `{"chars": "..."}` (as checkpoints always have for
/// characters) or `{"bpe": "gpt2"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Tokenizer {
    /// Characters, with the corpus's vocabulary.
    Char(CharTokenizer),
    /// GPT-2's BPE.
    Gpt2(Bpe),
}

impl Tokenizer {
    /// The tokenizer of `kind` for a corpus of `text` (only characters look at it).
    pub fn for_corpus(kind: TokenizerKind, text: &str) -> Self {
        match kind {
            TokenizerKind::Char => Self::Char(CharTokenizer::from_corpus(text)),
            TokenizerKind::Gpt2 => Self::gpt2(),
        }
    }

    /// GPT-2's BPE.
    pub fn gpt2() -> Self {
        Self::Gpt2(Bpe { bpe: BpeName::Gpt2 })
    }

    /// Which tokenizer this is.
    pub fn kind(&self) -> TokenizerKind {
        match self {
            Self::Char(_) => TokenizerKind::Char,
            Self::Gpt2(_) => TokenizerKind::Gpt2,
        }
    }

    /// Why this tokenizer (as read from a checkpoint) cannot be used.
    pub fn inconsistency(&self) -> Option<String> {
        match self {
            Self::Char(c) => c.inconsistency(),
            Self::Gpt2(_) => None,
        }
    }

    /// Number of tokens in the vocabulary.
    pub fn vocab_size(&self) -> usize {
        match self {
            Self::Char(c) => c.vocab_size(),
            Self::Gpt2(_) => gpt2::GPT2_VOCAB_SIZE,
        }
    }

    /// Token ids of `text`; `what` names the text in the error for a character outside a
    /// character vocabulary (GPT-2 encodes any text).
    pub fn encode(&self, text: &str, what: &'static str) -> Result<Vec<u16>> {
        match self {
            Self::Char(c) => c.encode(text, what),
            Self::Gpt2(_) => Ok(gpt2::encode(text)),
        }
    }

    /// The text of `tokens`: ids outside the vocabulary are skipped, and so is any byte
    /// of a character that the tokens do not hold whole.
    pub fn decode(&self, tokens: &[u16]) -> String {
        match self {
            Self::Char(c) => c.decode(tokens),
            Self::Gpt2(_) => gpt2::clean_text(&gpt2::decode_bytes(tokens)),
        }
    }

    /// The token a sample with an empty prompt starts from: the first character (as the
    /// lecture does), or GPT-2's `<|endoftext|>`.
    pub fn start_token(&self) -> u16 {
        match self {
            Self::Char(_) => 0,
            Self::Gpt2(_) => (gpt2::GPT2_VOCAB_SIZE - 1) as u16,
        }
    }

    /// Characters in the text of `tokens` (a character cut by the end of `tokens` counts
    /// where it begins).
    pub fn chars_in(&self, tokens: &[u16]) -> usize {
        match self {
            Self::Char(_) => tokens.len(),
            Self::Gpt2(_) => gpt2::chars_in(tokens),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_forms_read_back_and_old_checkpoints_still_read() {
        let char = Tokenizer::for_corpus(TokenizerKind::Char, "hello");
        let json = serde_json::to_string(&char).unwrap();
        assert_eq!(json, r#"{"chars":"ehlo"}"#);
        assert_eq!(serde_json::from_str::<Tokenizer>(&json).unwrap(), char);
        let bpe = Tokenizer::gpt2();
        let json = serde_json::to_string(&bpe).unwrap();
        assert_eq!(json, r#"{"bpe":"gpt2"}"#);
        assert_eq!(serde_json::from_str::<Tokenizer>(&json).unwrap(), bpe);
        assert_eq!(bpe.vocab_size(), 50_257);
        assert!(serde_json::from_str::<Tokenizer>(r#"{"bpe":"cl100k"}"#).is_err());
    }
}
