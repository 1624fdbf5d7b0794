//! The character tokenizer of the lecture: the vocabulary is the sorted set of distinct
//! characters of the corpus, and a token is a character's index in it. The vocabulary is
//! saved with every run so that its checkpoints can be sampled from later.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;

use crate::error::{GptError, Result};

/// Maps characters to token ids and back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "CharVocab", into = "CharVocab")]
pub struct CharTokenizer {
    chars: Vec<char>,
    index: HashMap<char, u16>,
}

/// The stored form of a tokenizer: its characters in token order.
#[derive(Serialize, Deserialize)]
struct CharVocab {
    chars: String,
}

impl From<CharVocab> for CharTokenizer {
    fn from(v: CharVocab) -> Self {
        Self::from_chars(v.chars.chars().collect())
    }
}

impl From<CharTokenizer> for CharVocab {
    fn from(t: CharTokenizer) -> Self {
        CharVocab {
            chars: t.chars.iter().collect(),
        }
    }
}

impl CharTokenizer {
    /// The tokenizer whose vocabulary is every distinct character of `text`, sorted.
    pub fn from_corpus(text: &str) -> Self {
        let mut chars: Vec<char> = text
            .chars()
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        chars.dedup();
        Self::from_chars(chars)
    }

    fn from_chars(chars: Vec<char>) -> Self {
        let index = chars
            .iter()
            .enumerate()
            .map(|(i, c)| (*c, i as u16))
            .collect();
        Self { chars, index }
    }

    /// Why this vocabulary (as read from a checkpoint) cannot be a tokenizer's: empty, a
    /// character listed twice, or more characters than a u16 token id can index.
    pub fn inconsistency(&self) -> Option<String> {
        if self.chars.is_empty() {
            return Some("the vocabulary is empty".into());
        }
        if self.chars.len() > usize::from(u16::MAX) + 1 {
            return Some(format!(
                "the vocabulary has {} characters, over the limit of {}",
                self.chars.len(),
                usize::from(u16::MAX) + 1
            ));
        }
        if self.index.len() != self.chars.len() {
            let mut seen = std::collections::HashSet::new();
            let dup = self.chars.iter().find(|c| !seen.insert(**c));
            return Some(format!(
                "the vocabulary lists {:?} more than once",
                dup.copied().unwrap_or_default()
            ));
        }
        None
    }

    /// Number of tokens in the vocabulary.
    pub fn vocab_size(&self) -> usize {
        self.chars.len()
    }

    /// Token ids of `text`; `what` names the text in the error for an unknown character.
    pub fn encode(&self, text: &str, what: &'static str) -> Result<Vec<u16>> {
        text.chars()
            .enumerate()
            .map(|(i, c)| {
                self.index.get(&c).copied().ok_or(GptError::UnknownChar {
                    what,
                    ch: c,
                    index: i,
                    vocab_size: self.chars.len(),
                })
            })
            .collect()
    }

    /// The text of `tokens` (ids outside the vocabulary are skipped).
    pub fn decode(&self, tokens: &[u16]) -> String {
        tokens
            .iter()
            .filter_map(|t| self.chars.get(*t as usize))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocab_is_sorted_distinct_chars_and_round_trips() {
        let t = CharTokenizer::from_corpus("hello world");
        assert_eq!(t.vocab_size(), 8);
        let ids = t.encode("low", "test").unwrap();
        assert_eq!(t.decode(&ids), "low");
        assert_eq!(t.encode(" ", "test").unwrap(), vec![0]);
    }

    #[test]
    fn unknown_char_names_char_and_position() {
        let t = CharTokenizer::from_corpus("abc");
        let err = t.encode("abz", "prompt").unwrap_err().to_string();
        assert!(
            err.contains("'z'") && err.contains("char 2") && err.contains("3-character"),
            "{err}"
        );
    }

    #[test]
    fn serde_round_trip() {
        let t = CharTokenizer::from_corpus("The quick brown fox\n");
        let json = serde_json::to_string(&t).unwrap();
        let back: CharTokenizer = serde_json::from_str(&json).unwrap();
        assert_eq!(t, back);
    }
}
