//! Test contents and how replies are compared with them.
//!
//! Every byte the client sends is a function of a stream id (a datagram's
//! sequence number, a connection's index) and the byte's offset, so a reply
//! that was corrupted, shifted, truncated, swapped with another datagram or
//! crossed over from another connection never equals what was sent.

use std::fmt;

/// The byte at `offset` of stream `id`: a SplitMix64 finaliser over both, so
/// neighbouring bytes and neighbouring streams are unrelated.
pub fn byte(id: u64, offset: u64) -> u8 {
    let mut z = id
        .wrapping_mul(0x9e37_79b9_7f4a_7c15)
        .wrapping_add(offset.wrapping_mul(0xbf58_476d_1ce4_e5b9))
        .wrapping_add(0x94d0_49bb_1331_11eb);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    (z ^ (z >> 31)) as u8
}

/// Bytes `start..start + len` of stream `id`.
pub fn stream(id: u64, start: u64, len: usize) -> Vec<u8> {
    (0..len as u64).map(|i| byte(id, start + i)).collect()
}

/// Bytes at the start of a datagram that carry its sequence number.
pub const SEQ_LEN: usize = 4;

/// Stream ids of datagrams live apart from those of TCP connections.
const DATAGRAM_IDS: u64 = 1 << 32;

/// Datagram `seq` of `size` bytes (`size >= SEQ_LEN`): the sequence number,
/// big-endian, then stream bytes that depend on `seq` and the position.
pub fn datagram(seq: u32, size: usize) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(size);
    bytes.extend_from_slice(&seq.to_be_bytes());
    bytes.extend((SEQ_LEN as u64..size as u64).map(|i| byte(DATAGRAM_IDS + u64::from(seq), i)));
    bytes.truncate(size);
    bytes
}

/// The sequence number a datagram claims to carry, if it is long enough.
pub fn datagram_seq(bytes: &[u8]) -> Option<u32> {
    let head: [u8; SEQ_LEN] = bytes.get(..SEQ_LEN)?.try_into().ok()?;
    Some(u32::from_be_bytes(head))
}

/// How a reply differs from what was sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// Bytes sent.
    pub sent_len: usize,
    /// Bytes that came back.
    pub got_len: usize,
    /// The first offset where they differ (possibly where one of them ends).
    pub first: usize,
    /// The byte sent at `first`, if the sent data reaches that far.
    pub sent: Option<u8>,
    /// The byte that came back at `first`, if the reply reaches that far.
    pub got: Option<u8>,
    /// How many offsets present in both differ.
    pub differing: usize,
}

/// `None` if `got` equals `sent` byte for byte.
pub fn compare(sent: &[u8], got: &[u8]) -> Option<Difference> {
    if sent == got {
        return None;
    }
    let common = sent.len().min(got.len());
    let first = (0..common).find(|&i| sent[i] != got[i]).unwrap_or(common);
    let differing = sent.iter().zip(got).filter(|(a, b)| a != b).count();
    Some(Difference {
        sent_len: sent.len(),
        got_len: got.len(),
        first,
        sent: sent.get(first).copied(),
        got: got.get(first).copied(),
        differing,
    })
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.sent_len != self.got_len {
            write!(
                f,
                "{} bytes sent, {} came back; ",
                self.sent_len, self.got_len
            )?;
        }
        write!(f, "first difference at offset {}: ", self.first)?;
        match (self.sent, self.got) {
            (Some(s), Some(g)) => write!(f, "sent 0x{s:02x}, got 0x{g:02x}")?,
            (Some(s), None) => write!(f, "sent 0x{s:02x}, the reply had ended")?,
            (None, Some(g)) => write!(f, "got 0x{g:02x} past the end of what was sent")?,
            (None, None) => write!(f, "no bytes")?,
        }
        let common = self.sent_len.min(self.got_len);
        write!(f, "; {} of {common} common bytes differ", self.differing)
    }
}

/// Shows the start of some received bytes for a message: text if it is
/// printable, hex otherwise.
pub fn preview(bytes: &[u8]) -> String {
    const SHOWN: usize = 32;
    let head = &bytes[..bytes.len().min(SHOWN)];
    let more = if bytes.len() > SHOWN { "..." } else { "" };
    match std::str::from_utf8(head) {
        Ok(text) if text.chars().all(|c| !c.is_control() || c == '\n') => {
            format!("{text:?}{more}")
        }
        _ => {
            let hex: Vec<String> = head.iter().map(|b| format!("{b:02x}")).collect();
            format!("[{}{more}]", hex.join(" "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datagrams_carry_their_sequence_number_and_differ_everywhere_else() {
        let a = datagram(7, 512);
        let b = datagram(8, 512);
        assert_eq!(a.len(), 512);
        assert_eq!(datagram_seq(&a), Some(7));
        assert_eq!(datagram_seq(&b), Some(8));
        // Distinct datagrams differ in most positions, not just the header.
        let same = a
            .iter()
            .zip(&b)
            .skip(SEQ_LEN)
            .filter(|(x, y)| x == y)
            .count();
        assert!(same < 20, "{same} equal bytes");
        assert_eq!(datagram(7, 512), a, "deterministic");
        assert_eq!(datagram(1, 4), vec![0, 0, 0, 1]);
        assert_eq!(datagram_seq(&[1, 2, 3]), None);
    }

    #[test]
    fn streams_depend_on_position() {
        let s = stream(3, 0, 1000);
        assert_eq!(&stream(3, 500, 500)[..], &s[500..]);
        // A shifted copy does not line up.
        let shifted = compare(&s[1..], &stream(3, 0, 999)).unwrap();
        assert!(shifted.differing > 900, "{shifted:?}");
        assert_ne!(stream(4, 0, 100), stream(3, 0, 100));
    }

    #[test]
    fn comparison_names_the_first_difference() {
        let sent = b"abcdef";
        assert_eq!(compare(sent, b"abcdef"), None);
        let d = compare(sent, b"abXdeY").unwrap();
        assert_eq!(
            (d.first, d.sent, d.got, d.differing),
            (2, Some(b'c'), Some(b'X'), 2)
        );
        assert_eq!(
            d.to_string(),
            "first difference at offset 2: sent 0x63, got 0x58; 2 of 6 common bytes differ"
        );
        let short = compare(sent, b"abc").unwrap();
        assert_eq!((short.first, short.got), (3, None));
        assert_eq!(
            short.to_string(),
            "6 bytes sent, 3 came back; first difference at offset 3: sent 0x64, the reply had ended; 0 of 3 common bytes differ"
        );
        let long = compare(b"ab", b"abc").unwrap();
        assert!(long.to_string().contains("got 0x63 past the end"), "{long}");
    }

    #[test]
    fn previews_are_short_and_safe() {
        assert_eq!(preview(b"hello"), "\"hello\"");
        assert_eq!(preview(&[0, 1, 255]), "[00 01 ff]");
        assert!(preview(&[b'a'; 100]).ends_with("..."));
    }
}
