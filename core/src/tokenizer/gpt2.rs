//! GPT-2's byte-pair encoding (tiktoken's `r50k_base`, 50,257 tokens), through tiktoken-rs,
//! which ships the ranks in its source: nothing is downloaded at run time. A token is a
//! run of bytes that may end inside a multi-byte character, so text is decoded from the
//! bytes of a whole token sequence ([`decode_bytes`]), never token by token.

use std::sync::OnceLock;

use tiktoken_rs::CoreBPE;

/// Tokens in GPT-2's vocabulary: 50,256 merges and byte tokens, and `<|endoftext|>`.
pub const GPT2_VOCAB_SIZE: usize = 50_257;

/// The encoder, built once per process from the ranks compiled into the binary (~0.1 s).
fn bpe() -> &'static CoreBPE {
    static BPE: OnceLock<CoreBPE> = OnceLock::new();
    BPE.get_or_init(|| {
        tiktoken_rs::r50k_base().expect("the GPT-2 ranks shipped with tiktoken-rs parse")
    })
}

/// Token ids of `text` as GPT-2 encodes ordinary text (special tokens are text like any
/// other). Every id is below [`GPT2_VOCAB_SIZE`], so it fits a `u16`.
pub fn encode(text: &str) -> Vec<u16> {
    bpe()
        .encode_ordinary(text)
        .into_iter()
        .map(|t| u16::try_from(t).expect("GPT-2 token ids are below 50,257"))
        .collect()
}

/// The bytes of `tokens`, concatenated; ids outside the vocabulary are skipped.
pub fn decode_bytes(tokens: &[u16]) -> Vec<u8> {
    let mut out = Vec::with_capacity(tokens.len() * 4);
    for &t in tokens {
        if let Ok(bytes) = bpe().decode_bytes(&[u32::from(t)]) {
            out.extend_from_slice(&bytes);
        }
    }
    out
}

/// The text of `bytes` with every byte that is not part of a whole UTF-8 character left
/// out: a sample that stops inside a character, or a model that strings byte tokens
/// together wrongly, still gives clean text.
pub fn clean_text(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        text.push_str(chunk.valid());
    }
    text
}

/// Characters in the text of `tokens`: its bytes that begin a UTF-8 character.
pub fn chars_in(tokens: &[u16]) -> usize {
    decode_bytes(tokens)
        .iter()
        .filter(|b| (**b & 0xC0) != 0x80)
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_ids_round_trip() {
        // "Hello world" is [15496, 995] in GPT-2 (tiktoken's own test).
        assert_eq!(encode("Hello world"), vec![15496, 995]);
        let text = "First Citizen:\nBefore we proceed any further, hear me speak.";
        assert_eq!(clean_text(&decode_bytes(&encode(text))), text);
    }

    #[test]
    fn a_character_split_across_tokens_is_never_broken() {
        // A rare CJK character is several byte tokens; cut after the first one.
        let tokens = encode("é鑫");
        let whole = clean_text(&decode_bytes(&tokens));
        assert_eq!(whole, "é鑫");
        assert!(tokens.len() >= 2, "{tokens:?}");
        let cut = clean_text(&decode_bytes(&tokens[..tokens.len() - 1]));
        assert!("é鑫".starts_with(&cut), "{cut:?}");
        assert!(!cut.contains('\u{FFFD}'));
        assert_eq!(chars_in(&tokens), 2);
    }
}
