//! Binds `edgeos-ring`'s traits to rust-sel4's `sel4-shared-ring-buffer`
//! and `sel4-shared-memory`, flattening their nested `Result`s into
//! [`PeerMisbehavior`] instead of unwrapping them.
#![no_std]

use edgeos_fwp::control::ControlRegion;
use edgeos_ring::signal::WakeFlag;
use edgeos_ring::{Buf, BufferMemory, Consumer, PeerMisbehavior, Producer};
use sel4_shared_memory::SharedMemoryRef;
use sel4_shared_ring_buffer::{roles::Read, roles::Write, Descriptor, InitializationStrategy, RingBuffer};
use smoltcp::time as smoltcp_instant;

/// Where a ring region keeps its consumer's wake flag: right after the
/// `RawRingBuffer`, on its own cache line (sDDF keeps `consumer_signalled`
/// in the queue the same way). Ring regions are 0x4000 bytes; the ring
/// takes 12,296 of them.
pub const WAKE_FLAG_OFFSET: usize =
    core::mem::size_of::<sel4_shared_ring_buffer::RawRingBuffer>().next_multiple_of(64);

/// The read end of a rust-sel4 ring, with the ring's wake flag.
pub struct ReadEnd<'a>(pub RingBuffer<'a, Read>, &'a WakeFlag);

/// The write end of a rust-sel4 ring, with the ring's wake flag.
pub struct WriteEnd<'a>(pub RingBuffer<'a, Write>, &'a WakeFlag);

/// The ring's wake flag: `edgeos_ring::signal`'s, the code the model checks
/// and the loom test run (docs/ring-model.md).
fn wake_flag(raw: core::ptr::NonNull<sel4_shared_ring_buffer::RawRingBuffer>) -> &'static WakeFlag {
    // SAFETY: the ring region is at least WAKE_FLAG_OFFSET + 4 bytes (checked
    // by sysdesc), mapped into both peers; the word is only accessed
    // atomically, and WakeFlag is a transparent AtomicU32.
    unsafe { &*((raw.as_ptr() as *mut u8).add(WAKE_FLAG_OFFSET) as *const WakeFlag) }
}

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

    fn has_pending(&mut self) -> bool {
        // A misbehaving peer counts as pending: the caller looks and counts it.
        self.0.is_empty().map(|empty| !empty).unwrap_or(true)
    }

    fn request_wake(&mut self) {
        self.1.request();
    }

    fn cancel_wake(&mut self) {
        self.1.cancel();
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

    fn take_wake_request(&mut self) -> bool {
        self.1.take()
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

/// A control region, for `edgeos_fwp::control`'s hand-offs (the code the
/// loom test runs): the same volatile copies.
impl ControlRegion for SharedRegion {
    fn read(&self, at: usize, out: &mut [u8]) {
        self.read_at(at, out);
    }

    fn write(&mut self, at: usize, bytes: &[u8]) {
        self.write_at(at, bytes);
    }
}

/// Descriptors a ring holds at once: one entry stays empty, so that a
/// full ring and an empty one differ.
pub const RING_CAPACITY: usize = sel4_shared_ring_buffer::RING_BUFFER_SIZE - 1;

/// The ring at `vaddr`, an address system.xml maps (through a setvar or a
/// configuration blob).
pub fn ring_at(vaddr: usize) -> core::ptr::NonNull<sel4_shared_ring_buffer::RawRingBuffer> {
    core::ptr::NonNull::new(vaddr as *mut _).expect("ring address set by system.xml")
}

/// A ring this PD writes to, starting from the zeroed indices the region
/// holds at boot (the writer publishes the initial state).
pub fn writer(raw: core::ptr::NonNull<sel4_shared_ring_buffer::RawRingBuffer>) -> WriteEnd<'static> {
    // SAFETY (caller's system.xml): the ring region is mapped rw into
    // exactly this PD and its one peer.
    let shared = unsafe { SharedMemoryRef::new(raw) };
    WriteEnd(
        RingBuffer::new(shared, InitializationStrategy::UseAndWriteState(Default::default())),
        wake_flag(raw),
    )
}

/// A ring this PD reads from; the indices are read from the region.
pub fn reader(raw: core::ptr::NonNull<sel4_shared_ring_buffer::RawRingBuffer>) -> ReadEnd<'static> {
    // SAFETY: as for `writer`.
    let shared = unsafe { SharedMemoryRef::new(raw) };
    ReadEnd(RingBuffer::new(shared, InitializationStrategy::ReadState), wake_flag(raw))
}

/// A shared buffer region of `len` bytes at `vaddr`.
///
/// # Safety
/// `vaddr..vaddr + len` must be a region mapped rw into this PD (by
/// system.xml, through a setvar or generated configuration).
pub unsafe fn region(vaddr: usize, len: usize) -> SharedRegion {
    let ptr = core::ptr::NonNull::slice_from_raw_parts(
        core::ptr::NonNull::new(vaddr as *mut u8).expect("region address is not null"),
        len,
    );
    // SAFETY: the caller's contract.
    SharedRegion(unsafe { SharedMemoryRef::new(ptr) })
}

/// Nanoseconds of guest time from the physical counter (`CNTPCT_EL0`,
/// exported to user mode by the SDK's kernel configs). Under QEMU
/// `-icount shift=0` a nanosecond is one instruction.
pub fn now_ns() -> u64 {
    ticks_to_ns(counter())
}

/// The generic timer's counter (`CNTPCT_EL0`).
pub fn counter() -> u64 {
    let ticks: u64;
    // SAFETY: reading the counter has no side effects.
    unsafe { core::arch::asm!("mrs {}, cntpct_el0", out(reg) ticks) };
    ticks
}

/// The counter's rate in Hz (`CNTFRQ_EL0`).
pub fn frequency() -> u64 {
    let freq: u64;
    // SAFETY: reading the frequency has no side effects.
    unsafe { core::arch::asm!("mrs {}, cntfrq_el0", out(reg) freq) };
    freq
}

/// Counter ticks in nanoseconds, at the counter's rate.
pub fn ticks_to_ns(ticks: u64) -> u64 {
    (u128::from(ticks) * 1_000_000_000 / u128::from(frequency().max(1))) as u64
}

/// [`now_ns`] as a smoltcp instant.
pub fn now() -> smoltcp_instant::Instant {
    smoltcp_instant::Instant::from_micros((now_ns() / 1000) as i64)
}
