//! Binds `edgeos-ring`'s traits to rust-sel4's `sel4-shared-ring-buffer`
//! and `sel4-shared-memory`, flattening their nested `Result`s into
//! [`PeerMisbehavior`] instead of unwrapping them.
#![no_std]

use edgeos_ring::{Buf, BufferMemory, Consumer, PeerMisbehavior, Producer};
use sel4_shared_memory::SharedMemoryRef;
use sel4_shared_ring_buffer::{roles::Read, roles::Write, Descriptor, RingBuffer};

/// The read end of a rust-sel4 ring.
pub struct ReadEnd<'a>(pub RingBuffer<'a, Read>);

/// The write end of a rust-sel4 ring.
pub struct WriteEnd<'a>(pub RingBuffer<'a, Write>);

fn to_buf(d: Descriptor) -> Buf {
    Buf { offset: d.encoded_addr(), len: d.len() as usize, cookie: d.cookie() }
}

fn to_descriptor(b: Buf) -> Descriptor {
    // Lengths are bounded by the buffer size (2 KiB) before they reach a ring.
    Descriptor::new(b.offset, b.len.min(u32::MAX as usize) as u32, b.cookie)
}

impl Consumer for ReadEnd<'_> {
    fn dequeue(&mut self) -> Result<Option<Buf>, PeerMisbehavior> {
        self.0.dequeue().map(|d| d.map(to_buf)).map_err(|_| PeerMisbehavior)
    }
}

impl Producer for WriteEnd<'_> {
    fn enqueue(&mut self, buf: Buf) -> Result<Result<(), Buf>, PeerMisbehavior> {
        match self.0.enqueue_without_committing(to_descriptor(buf)) {
            Ok(Ok(())) => Ok(Ok(())),
            Ok(Err(_)) => Ok(Err(buf)),
            Err(_) => Err(PeerMisbehavior),
        }
    }

    fn commit(&mut self) {
        self.0.commit();
    }
}

/// A shared buffer region, accessed with the volatile copies of `sel4-shared-memory`.
pub struct SharedRegion(pub SharedMemoryRef<'static, [u8]>);

impl BufferMemory for SharedRegion {
    fn len(&self) -> usize {
        self.0.as_ptr().len()
    }

    fn write_at(&mut self, offset: usize, src: &[u8]) {
        self.0.as_mut_ptr().index(offset..offset + src.len()).copy_from_slice(src);
    }

    fn read_at(&self, offset: usize, dst: &mut [u8]) {
        self.0.as_ptr().index(offset..offset + dst.len()).copy_into_slice(dst);
    }
}
