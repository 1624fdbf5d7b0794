//! The checks [`Corpus::from_bytes`](crate::Corpus::from_bytes) makes of a corpus's bytes
//! (non-empty UTF-8 text), made chunk by chunk as the bytes arrive: a coordinator checks an
//! upload of hundreds of MiB without ever holding it whole. A character split between two
//! chunks is carried over (at most 3 bytes), and a bad byte is named by its offset in the
//! whole text, with the message `Corpus::from_bytes` gives, so where a corpus is checked
//! does not change what its owner reads.

use crate::error::{GptError, Result};

/// A corpus being checked as its bytes stream in.
#[derive(Debug, Clone)]
pub struct TextCheck {
    /// The corpus's name in errors.
    name: String,
    /// Bytes checked so far: every complete character before the carried bytes.
    checked: u64,
    /// The first bytes of a character whose last bytes are still to come.
    carry: [u8; 4],
    /// How many bytes of `carry` are held.
    carried: usize,
}

impl TextCheck {
    /// A check of the corpus `name` (named in errors, as `Corpus::from_bytes` names it).
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_string(),
            checked: 0,
            carry: [0; 4],
            carried: 0,
        }
    }

    /// Checks the next `chunk` of the text; refused at the first byte that cannot be UTF-8.
    pub fn feed(&mut self, mut chunk: &[u8]) -> Result<()> {
        if self.carried > 0 {
            let width = char_width(self.carry[0]);
            let take = (width - self.carried).min(chunk.len());
            let mut joined = self.carry;
            joined[self.carried..self.carried + take].copy_from_slice(&chunk[..take]);
            let joined = &joined[..self.carried + take];
            match std::str::from_utf8(joined) {
                Ok(_) => {
                    self.checked += width as u64;
                    self.carried = 0;
                    chunk = &chunk[take..];
                }
                // Still short of its last bytes: the chunk was smaller than they are.
                Err(e) if e.error_len().is_none() => {
                    self.carry[..joined.len()].copy_from_slice(joined);
                    self.carried = joined.len();
                    return Ok(());
                }
                Err(_) => return Err(self.bad_byte(self.checked)),
            }
        }
        match std::str::from_utf8(chunk) {
            Ok(_) => self.checked += chunk.len() as u64,
            Err(e) if e.error_len().is_none() => {
                let (whole, tail) = chunk.split_at(e.valid_up_to());
                self.checked += whole.len() as u64;
                self.carry[..tail.len()].copy_from_slice(tail);
                self.carried = tail.len();
            }
            Err(e) => return Err(self.bad_byte(self.checked + e.valid_up_to() as u64)),
        }
        Ok(())
    }

    /// The end of the text: refused if it is empty or ends inside a character; else
    /// answers its length in bytes.
    pub fn finish(self) -> Result<u64> {
        if self.carried > 0 {
            return Err(self.bad_byte(self.checked));
        }
        if self.checked == 0 {
            return Err(GptError::Dataset {
                source_name: self.name,
                reason: "is empty".into(),
            });
        }
        Ok(self.checked)
    }

    fn bad_byte(&self, offset: u64) -> GptError {
        GptError::Dataset {
            source_name: self.name.clone(),
            reason: format!("not UTF-8 text: invalid byte at offset {offset}"),
        }
    }
}

/// The length of the character that a UTF-8 leading byte starts (1 for any other byte:
/// only leading bytes are carried, since `from_utf8` calls anything else invalid).
fn char_width(lead: u8) -> usize {
    match lead {
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf7 => 4,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Corpus, TokenizerKind};

    /// The check of `bytes` fed in pieces cut at `cuts`, as text for comparing.
    fn streamed(bytes: &[u8], cuts: &[usize]) -> std::result::Result<u64, String> {
        let mut check = TextCheck::new("t.txt");
        let mut from = 0;
        for &cut in cuts.iter().chain([&bytes.len()]) {
            check.feed(&bytes[from..cut]).map_err(|e| e.to_string())?;
            from = cut;
        }
        check.finish().map_err(|e| e.to_string())
    }

    /// What `Corpus::from_bytes` says of `bytes`, as text for comparing.
    fn whole(bytes: &[u8]) -> std::result::Result<u64, String> {
        Corpus::from_bytes("t.txt", bytes, TokenizerKind::Char, None)
            .map(|_| bytes.len() as u64)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn every_cut_into_two_or_three_chunks_agrees_with_corpus_from_bytes() {
        let cases: [&[u8]; 8] = [
            "héllo wörld €uro 𝄞 clef".as_bytes(),
            b"caf\xe9 au lait",
            b"ends inside \xe2\x82",
            b"\xf0\x9d\x84",
            b"lone continuation \x80 byte",
            b"overlong \xc0\xaf slash",
            b"\xe2\x82\xac\xe2\x28\xa1",
            b"",
        ];
        let mut compared = 0;
        for bytes in cases {
            let want = whole(bytes);
            for a in 0..=bytes.len() {
                assert_eq!(streamed(bytes, &[a]), want, "{bytes:?} cut at {a}");
                compared += 1;
                for b in a..=bytes.len() {
                    assert_eq!(streamed(bytes, &[a, b]), want, "{bytes:?} cut at {a}, {b}");
                }
            }
        }
        assert_eq!(compared, 114, "one comparison per first cut of the 8 cases");
    }

    #[test]
    fn a_character_fed_one_byte_at_a_time_is_whole() {
        let bytes = "a𝄞b€".as_bytes();
        let cuts: Vec<usize> = (1..bytes.len()).collect();
        assert_eq!(streamed(bytes, &cuts), Ok(bytes.len() as u64));
        let bad = streamed(b"ab\xf0\x9d\x28x", &[2, 3, 4, 5]).unwrap_err();
        assert_eq!(
            bad,
            "dataset t.txt: not UTF-8 text: invalid byte at offset 2"
        );
    }
}
