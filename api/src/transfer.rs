//! How blobs (datasets, checkpoints) cross the wire: as a stream of messages of at most
//! [`CHUNK`] bytes each, whose first carries what names the blob. The one chunk size of
//! the CLI's and the workers' uploads and of the coordinator's downloads, and the one
//! way an upload is cut into messages ([`chunked`]).

/// Bytes a message of a blob's stream carries (the last may carry fewer).
pub const CHUNK: usize = 1 << 20;

/// `bytes` cut into messages of [`CHUNK`] bytes, each made by `message(first, chunk)`
/// (`first` for the one that opens the stream). No bytes make no messages.
pub fn chunked<T>(bytes: &[u8], mut message: impl FnMut(bool, Vec<u8>) -> T) -> Vec<T> {
    bytes
        .chunks(CHUNK)
        .enumerate()
        .map(|(i, c)| message(i == 0, c.to_vec()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_are_cut_into_chunks_and_only_the_first_is_marked() {
        let bytes: Vec<u8> = (0..2 * CHUNK + 5).map(|i| (i % 251) as u8).collect();
        let messages = chunked(&bytes, |first, c| (first, c));
        let shape: Vec<(bool, usize)> = messages.iter().map(|(f, c)| (*f, c.len())).collect();
        assert_eq!(shape, vec![(true, CHUNK), (false, CHUNK), (false, 5)]);
        assert_eq!(
            messages
                .into_iter()
                .flat_map(|(_, c)| c)
                .collect::<Vec<_>>(),
            bytes
        );
        assert!(chunked(&[], |first, c| (first, c)).is_empty());
    }
}
