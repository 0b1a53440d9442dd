//! Descriptor-level view of EdgeOS's shared rings.
//!
//! ```text
//!  protection domain A            shared memory              protection domain B
//!  ┌──────────────┐   free queue  ┌──────────────────┐  used queue ┌──────────────┐
//!  │ Producer /   │ ────────────▶ │ buffer region:   │ ──────────▶ │ Producer /   │
//!  │ Consumer     │ ◀──────────── │ fixed-size slots │ ◀────────── │ Consumer     │
//!  └──────────────┘               └──────────────────┘             └──────────────┘
//! ```
//!
//! The rings themselves are rust-sel4's `sel4-shared-ring-buffer`; the protection
//! domains implement [`Producer`] and [`Consumer`] over them. Component logic only
//! sees these traits, so host tests drive it with [`testing::MemQueue`] instead
//! of a second ring implementation.
//!
//! Everything a peer writes is untrusted: [`Region::check`] validates a
//! descriptor's address and length before any byte is touched, and peers that
//! move ring indices inconsistently surface as [`PeerMisbehavior`].
#![no_std]
#![deny(unsafe_code)]
#![warn(missing_docs)]

mod pool;
mod region;
pub mod signal;
pub mod testing;

pub use pool::BufferPool;
pub use region::{BadDescriptor, Region};

/// A buffer descriptor as it travels through a ring: an offset into the
/// shared buffer region, a length, and an opaque cookie for the owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Buf {
    /// Byte offset of the buffer inside the shared region.
    pub offset: usize,
    /// Length in bytes: the buffer's capacity when offered, the frame's length when filled.
    pub len: usize,
    /// Owner-defined value carried through the peer unchanged.
    pub cookie: usize,
}

/// The ring peer moved its indices in a way no correct peer can
/// (rust-sel4's `PeerMisbehaviorError`, flattened at the PD boundary).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerMisbehavior;

impl core::fmt::Display for PeerMisbehavior {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("ring peer moved its indices inconsistently")
    }
}

/// The reading end of a ring.
pub trait Consumer {
    /// Takes the next descriptor, `Ok(None)` when the ring is empty.
    fn dequeue(&mut self) -> Result<Option<Buf>, PeerMisbehavior>;
    /// Whether a published descriptor is waiting (a misbehaving peer counts
    /// as "yes", so the caller looks and finds out).
    fn has_pending(&mut self) -> bool;
    /// Asks the producer to notify us after it next publishes; see [`signal`].
    fn request_wake(&mut self);
    /// Withdraws a wake request: we are awake and will look ourselves.
    fn cancel_wake(&mut self);
}

/// The writing end of a ring.
pub trait Producer {
    /// Appends a descriptor without publishing it; gives it back when the ring is full.
    fn enqueue(&mut self, buf: Buf) -> Result<Result<(), Buf>, PeerMisbehavior>;
    /// Publishes everything enqueued so far to the peer.
    fn commit(&mut self);
    /// After publishing: whether the consumer asked to be woken, clearing
    /// the request. Notify it if so; see [`signal`].
    fn take_wake_request(&mut self) -> bool;
}

/// Byte access to a shared buffer region.
///
/// The PDs implement it over `sel4-shared-memory` (volatile copies); tests use
/// plain slices. Callers pass ranges already validated by [`Region::check`].
pub trait BufferMemory {
    /// Size of the region in bytes.
    fn len(&self) -> usize;
    /// Whether the region is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Copies `src` into the region at `offset`.
    fn write_at(&mut self, offset: usize, src: &[u8]);
    /// Copies bytes from the region at `offset` into `dst`.
    fn read_at(&self, offset: usize, dst: &mut [u8]);
}

impl<T: BufferMemory + ?Sized> BufferMemory for &mut T {
    fn len(&self) -> usize {
        (**self).len()
    }
    fn write_at(&mut self, offset: usize, src: &[u8]) {
        (**self).write_at(offset, src)
    }
    fn read_at(&self, offset: usize, dst: &mut [u8]) {
        (**self).read_at(offset, dst)
    }
}

impl BufferMemory for [u8] {
    fn len(&self) -> usize {
        <[u8]>::len(self)
    }
    fn write_at(&mut self, offset: usize, src: &[u8]) {
        self[offset..offset + src.len()].copy_from_slice(src);
    }
    fn read_at(&self, offset: usize, dst: &mut [u8]) {
        dst.copy_from_slice(&self[offset..offset + dst.len()]);
    }
}
