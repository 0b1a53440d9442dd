//! A packet: a window over a caller's buffer, with headroom in front so
//! `Strip` and `Unstrip` move the window instead of copying bytes.

/// A frame being pushed through a [`Graph`](crate::Graph).
///
/// The bytes live in a buffer the caller lends (an rx ring buffer, or a
/// scratch buffer with headroom); the packet is the window `head..tail` of
/// it. `Strip(n)` moves `head` forward, `Unstrip(n)` moves it back into the
/// headroom, `CheckIPHeader` trims `tail` to the IP total length (dropping
/// Ethernet padding). Nothing ever reallocates: an `Unstrip` that needs more
/// headroom than the buffer has drops the packet.
///
/// The *IP header annotation* (Click's network header pointer) is set by
/// `CheckIPHeader` and read by the IP elements; it is an absolute position in
/// the buffer, so `Strip`/`Unstrip` do not move it.
///
/// Invariant: `head <= tail <= buf.len()`, and the annotation, when set, is
/// at most `buf.len()`. Every method keeps it, so no accessor panics.
#[derive(Debug)]
pub struct Packet<'a> {
    buf: &'a mut [u8],
    head: usize,
    tail: usize,
    ip: Option<usize>,
}

impl<'a> Packet<'a> {
    /// A packet of `len` bytes starting `headroom` bytes into `buf`, or
    /// `None` when `headroom + len` exceeds the buffer.
    pub fn new(buf: &'a mut [u8], headroom: usize, len: usize) -> Option<Self> {
        let tail = headroom.checked_add(len)?;
        if tail > buf.len() {
            return None;
        }
        Some(Self {
            buf,
            head: headroom,
            tail,
            ip: None,
        })
    }

    /// The whole of `buf` as a packet, without headroom (a frame processed
    /// in place in the buffer it arrived in).
    pub fn whole(buf: &'a mut [u8]) -> Self {
        let tail = buf.len();
        Self {
            buf,
            head: 0,
            tail,
            ip: None,
        }
    }

    /// The packet's bytes.
    pub fn data(&self) -> &[u8] {
        &self.buf[self.head..self.tail]
    }

    /// The packet's bytes, mutably.
    pub fn data_mut(&mut self) -> &mut [u8] {
        &mut self.buf[self.head..self.tail]
    }

    /// The packet's length in bytes.
    pub fn len(&self) -> usize {
        self.tail - self.head
    }

    /// Whether the packet has no bytes.
    pub fn is_empty(&self) -> bool {
        self.head == self.tail
    }

    /// Bytes free in front of the packet (what `Unstrip` can give back).
    pub fn headroom(&self) -> usize {
        self.head
    }

    /// Where the packet starts in the buffer it was made over.
    pub fn offset(&self) -> usize {
        self.head
    }

    /// Removes `n` bytes from the front (Click's `pull`); `false`, leaving
    /// the packet as it was, when it is shorter than `n`.
    pub fn strip(&mut self, n: usize) -> bool {
        if n > self.len() {
            return false;
        }
        self.head += n;
        true
    }

    /// Puts `n` bytes back in front from the headroom (Click's `push`);
    /// `false`, leaving the packet as it was, when the headroom is smaller.
    pub fn unstrip(&mut self, n: usize) -> bool {
        if n > self.head {
            return false;
        }
        self.head -= n;
        true
    }

    /// Shortens the packet to `len` bytes (no-op when already shorter).
    pub fn truncate(&mut self, len: usize) {
        if len < self.len() {
            self.tail = self.head + len;
        }
    }

    /// The IP header annotation as an offset into [`data`](Self::data):
    /// `Some` when `CheckIPHeader` set it and it still lies inside the packet.
    pub fn ip_header_offset(&self) -> Option<usize> {
        match self.ip {
            Some(at) if at >= self.head && at <= self.tail => Some(at - self.head),
            _ => None,
        }
    }

    /// Sets the IP header annotation to `offset` bytes into the packet
    /// (clamped to the packet's end).
    pub fn set_ip_header_offset(&mut self, offset: usize) {
        self.ip = Some(self.head + offset.min(self.len()));
    }

    /// Clears the IP header annotation.
    pub fn clear_ip_header(&mut self) {
        self.ip = None;
    }

    /// The bytes from the IP header to the packet's end: from the annotation
    /// when it lies inside the packet, else from the packet's start.
    pub(crate) fn ip(&self) -> &[u8] {
        let start = self.ip_header_offset().map_or(self.head, |o| self.head + o);
        &self.buf[start..self.tail]
    }

    /// [`ip`](Self::ip), mutably.
    pub(crate) fn ip_mut(&mut self) -> &mut [u8] {
        let start = self.ip_header_offset().map_or(self.head, |o| self.head + o);
        &mut self.buf[start..self.tail]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strip_and_unstrip_move_the_window_without_copying() {
        let mut buf = [0u8, 0, 1, 2, 3, 4, 5];
        let mut p = Packet::new(&mut buf, 2, 5).unwrap();
        assert_eq!(p.data(), &[1, 2, 3, 4, 5]);
        assert!(p.strip(2));
        assert_eq!(p.data(), &[3, 4, 5]);
        assert!(p.unstrip(4));
        assert_eq!(p.data(), &[0, 0, 1, 2, 3, 4, 5]);
        assert!(!p.unstrip(1), "no headroom left");
        assert!(!p.strip(8), "longer than the packet");
        assert_eq!(p.len(), 7);
        p.truncate(3);
        assert_eq!(p.data(), &[0, 0, 1]);
        p.truncate(10);
        assert_eq!(p.len(), 3);
    }

    #[test]
    fn a_packet_larger_than_its_buffer_is_refused() {
        let mut buf = [0u8; 4];
        assert!(Packet::new(&mut buf, 2, 3).is_none());
        assert!(Packet::new(&mut buf, usize::MAX, 3).is_none());
        assert_eq!(Packet::new(&mut buf, 4, 0).unwrap().len(), 0);
    }

    #[test]
    fn the_ip_annotation_is_absolute_and_ignored_outside_the_packet() {
        let mut buf = [0u8; 40];
        let mut p = Packet::whole(&mut buf);
        p.set_ip_header_offset(14);
        assert_eq!(p.ip_header_offset(), Some(14));
        assert!(p.strip(14));
        assert_eq!(p.ip_header_offset(), Some(0));
        assert!(p.strip(1));
        assert_eq!(p.ip_header_offset(), None, "stripped past the header");
        assert_eq!(p.ip_mut().len(), 25, "falls back to the packet's start");
        assert!(p.unstrip(15));
        assert_eq!(p.ip_header_offset(), Some(14));
    }
}
