//! Validated keys.

/// memcached's `KEY_MAX_LENGTH`.
pub const KEY_MAX: usize = 250;

/// A key the store accepts: 1 to [`KEY_MAX`] bytes, none of them a space or
/// an ASCII control character (the text protocol could not carry it back).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key<'a>(&'a [u8]);

impl<'a> Key<'a> {
    /// Checks `bytes` against the key rules.
    pub fn new(bytes: &'a [u8]) -> Option<Self> {
        let ok = !bytes.is_empty()
            && bytes.len() <= KEY_MAX
            && bytes.iter().all(|&b| b > b' ' && b != 0x7f);
        ok.then_some(Key(bytes))
    }

    /// The key's bytes.
    pub fn as_bytes(self) -> &'a [u8] {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_rules() {
        assert!(Key::new(b"a").is_some());
        assert!(Key::new(&[b'k'; KEY_MAX]).is_some());
        assert!(Key::new(&[b'k'; KEY_MAX + 1]).is_none());
        assert!(Key::new(b"").is_none());
        assert!(Key::new(b"a b").is_none());
        assert!(Key::new(b"a\x01").is_none());
        assert!(Key::new(b"a\x7f").is_none());
        assert!(Key::new("ключ".as_bytes()).is_some());
    }
}
