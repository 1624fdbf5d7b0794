//! The framing of the pipes between a worker and its slot processes: a byte stream cut
//! into frames, binary-safe (checkpoints travel as raw bytes), so that neither side needs
//! to trust the other's stream to stay well formed.
//!
//! A frame is a 5-byte header then its payload:
//!
//! ```text
//! +-----+---------------------------+------------------+
//! | tag | length, u32 big-endian    | payload (length) |
//! +-----+---------------------------+------------------+
//!   1 B           4 B                   0 to 4 GiB - 1
//! ```
//!
//! The tag says what the payload is ([`super::message`]). A stream that ends between
//! frames has ended; one that ends inside a frame is truncated, an error. A payload is read
//! as it arrives, never allocated from its header's word: a garbled length on a stream that
//! ends early costs what was sent, not what the length claims.

use std::io::{self, Read, Write};

/// Bytes of a frame's header: the tag and the payload's length.
pub const HEADER_BYTES: usize = 5;

/// The longest payload a frame carries.
pub const MAX_PAYLOAD: u64 = u32::MAX as u64;

/// One frame: what it is, and its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// What the payload is.
    pub tag: u8,
    /// The payload.
    pub payload: Vec<u8>,
}

/// Why a stream could not be read as frames.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The stream ended inside a frame.
    #[error("the stream ended inside a frame ({got} of {want} bytes)")]
    Truncated {
        /// Bytes of the frame (header and payload) that came.
        got: u64,
        /// Bytes it should have had.
        want: u64,
    },
    /// The stream could not be read or written.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// A payload too large for a frame.
    #[error("a payload of {0} bytes does not fit in a frame (at most {MAX_PAYLOAD})")]
    TooLarge(u64),
}

/// Writes one frame of `tag` and `payload` to `w` and flushes it.
pub fn write_frame(w: &mut impl Write, tag: u8, payload: &[u8]) -> Result<(), FrameError> {
    let len =
        u32::try_from(payload.len()).map_err(|_| FrameError::TooLarge(payload.len() as u64))?;
    let mut header = [0u8; HEADER_BYTES];
    header[0] = tag;
    header[1..].copy_from_slice(&len.to_be_bytes());
    w.write_all(&header)?;
    w.write_all(payload)?;
    w.flush()?;
    Ok(())
}

/// Reads the next frame from `r`: `None` when the stream ended between frames.
pub fn read_frame(r: &mut impl Read) -> Result<Option<Frame>, FrameError> {
    let mut header = [0u8; HEADER_BYTES];
    let got = read_full(r, &mut header)?;
    if got == 0 {
        return Ok(None);
    }
    if got < HEADER_BYTES {
        return Err(FrameError::Truncated {
            got: got as u64,
            want: HEADER_BYTES as u64,
        });
    }
    let len = u64::from(u32::from_be_bytes([
        header[1], header[2], header[3], header[4],
    ]));
    let mut payload = Vec::new();
    let read = r.take(len).read_to_end(&mut payload)? as u64;
    if read < len {
        return Err(FrameError::Truncated {
            got: HEADER_BYTES as u64 + read,
            want: HEADER_BYTES as u64 + len,
        });
    }
    Ok(Some(Frame {
        tag: header[0],
        payload,
    }))
}

/// Fills `buf` from `r` as far as the stream goes; the bytes read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(frames: &[(u8, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (tag, payload) in frames {
            write_frame(&mut out, *tag, payload).unwrap();
        }
        out
    }

    #[test]
    fn frames_come_back_as_written_binary_and_empty_ones_included() {
        let binary: Vec<u8> = (0..=255).collect();
        let bytes = stream(&[(1, b"{\"a\":1}"), (2, &binary), (3, b"")]);
        let mut r = bytes.as_slice();
        assert_eq!(read_frame(&mut r).unwrap().unwrap().payload, b"{\"a\":1}");
        let f = read_frame(&mut r).unwrap().unwrap();
        assert_eq!((f.tag, f.payload), (2, binary));
        let f = read_frame(&mut r).unwrap().unwrap();
        assert_eq!((f.tag, f.payload.len()), (3, 0));
        assert!(
            read_frame(&mut r).unwrap().is_none(),
            "ended between frames"
        );
    }

    #[test]
    fn a_stream_cut_anywhere_inside_a_frame_is_truncated() {
        let bytes = stream(&[(7, b"hello world")]);
        for cut in 1..bytes.len() {
            let mut r = &bytes[..cut];
            match read_frame(&mut r) {
                Err(FrameError::Truncated { got, want }) => {
                    assert_eq!(got, cut as u64, "cut at {cut}");
                    assert!(want > got);
                }
                other => panic!("cut at {cut}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_garbled_length_costs_what_was_sent_not_what_it_claims() {
        // A header claiming 4 GiB - 1 bytes, then three bytes and the end.
        let mut bytes = vec![9, 0xff, 0xff, 0xff, 0xff];
        bytes.extend_from_slice(b"abc");
        let mut r = bytes.as_slice();
        match read_frame(&mut r) {
            Err(FrameError::Truncated { got, want }) => {
                assert_eq!((got, want), (8, 5 + MAX_PAYLOAD));
            }
            other => panic!("{other:?}"),
        }
        // Noise never panics: every prefix of it reads as frames or an error.
        let noise: Vec<u8> = (0..200u32).map(|i| (i * 37 % 251) as u8).collect();
        for cut in 0..noise.len() {
            let mut r = &noise[..cut];
            while let Ok(Some(_)) = read_frame(&mut r) {}
        }
    }
}
