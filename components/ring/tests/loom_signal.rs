//! `signal.rs` under loom: every interleaving of producer and consumer, and
//! every value C11 atomics let a load return, up to loom's preemption bound.
//!
//! ```text
//!  thread A (producer)                shared                 thread B (consumer)
//!  WriteEnd ── enqueue, commit ──▶ Ring { indices,  ──▶ ReadEnd ── dequeue
//!           ◀─ take_wake_request ── descriptors,    ◀── request_wake, has_pending
//!  Notification::signal ─────────▶ wake flag }      ──▶ Notification::wait
//! ```
//!
//! Under test are `signal::ready_to_sleep` and `signal::WakeFlag`, the
//! crate's own code, over loom's atomics. The ring around them stands in
//! for rust-sel4's `RingBuffer` as pd-ring uses it (the same index checks,
//! a release store on commit), and `Notification` for an seL4 notification
//! (a word: a signal sets it, a wait blocks until it is set and clears it,
//! so signals coalesce). A lost wake-up leaves the consumer waiting with
//! nobody left to signal: loom reports that execution as a deadlock. (No
//! test joins its threads: loom runs them to the end anyway, and a join
//! woken by a late, harmless signal trips loom's own bookkeeping.)
//!
//! Built only by ci/ring-model.sh:
//! `RUSTFLAGS="--cfg loom" cargo test -p edgeos-ring --test loom_signal --release`.
//! With `--cfg ring_broken_recheck` as well, `ready_to_sleep` skips its
//! re-check and every test here must find the deadlock instead
//! (`should_panic`): that is how the check shows it catches the bug.
#![cfg(loom)]

use loom::sync::atomic::{fence, AtomicU32, AtomicUsize, Ordering};
use loom::sync::Mutex;
use loom::thread::{self, Thread};

use edgeos_ring::signal::{ready_to_sleep, FlagWord, WakeFlag};
use edgeos_ring::{Buf, Consumer, PeerMisbehavior, Producer};

/// loom's atomic word, so that `WakeFlag`'s own fences and accesses are
/// the ones loom explores.
#[derive(Debug)]
struct LoomWord(AtomicU32);

impl FlagWord for LoomWord {
    /// A store, made as a swap whose result is dropped. loom orders the
    /// stores to a location by causality only, so a consumer's plain store
    /// and the producer's earlier swap stay unordered, and loom lets the
    /// producer's next swap read the older one: an execution C11 forbids
    /// (a swap reads the value just before it in the location's one
    /// modification order, and the fences put the consumer's store there).
    /// As a swap, the store reads that order and loom keeps it. Nobody
    /// acquires the flag, so a swap adds no behaviour C11 would not allow
    /// the store.
    fn store(&self, value: u32, order: Ordering) {
        self.0.swap(value, order);
    }
    fn swap(&self, value: u32, order: Ordering) -> u32 {
        self.0.swap(value, order)
    }
    fn fence(order: Ordering) {
        fence(order)
    }
}

/// Entries of a ring (RING_BUFFER_SIZE is 512): one stays empty, so three
/// descriptors fit, as many as any test here has in flight.
const SIZE: u32 = 4;

/// One ring as `RawRingBuffer` lays it out, with the wake flag pd-ring
/// keeps after it. A descriptor is reduced to its cookie.
struct Ring {
    write_index: AtomicU32,
    read_index: AtomicU32,
    descriptors: [AtomicUsize; SIZE as usize],
    flag: WakeFlag<LoomWord>,
}

impl Ring {
    fn new() -> &'static Self {
        leak(Self {
            write_index: AtomicU32::new(0),
            read_index: AtomicU32::new(0),
            descriptors: core::array::from_fn(|_| AtomicUsize::new(0)),
            flag: WakeFlag::over(LoomWord(AtomicU32::new(0))),
        })
    }
}

/// A ring's two ends, each with its private copy of both indices.
fn ends(ring: &'static Ring) -> (ReadEnd, WriteEnd) {
    (ReadEnd { ring, write: 0, read: 0 }, WriteEnd { ring, write: 0, read: 0 })
}

/// Shared state lives for the whole execution and is never dropped: when
/// loom finds a deadlock it unwinds the blocked threads, and a loom object
/// dropped then aborts the test process instead of failing the test.
fn leak<T>(value: T) -> &'static T {
    Box::leak(Box::new(value))
}

/// `RingBuffer::residue` of an index difference.
fn filled(write: u32, read: u32) -> u32 {
    write.wrapping_sub(read) % SIZE
}

/// pd-ring's `ReadEnd`: rust-sel4's read role plus the wake flag.
struct ReadEnd {
    ring: &'static Ring,
    write: u32,
    read: u32,
}

impl ReadEnd {
    /// `update_stored_write_index`: a write index that went backwards is
    /// the peer's misbehaviour. rust-sel4 5.0 reads it with a plain load;
    /// Acquire here is what makes the descriptor read below safe
    /// (docs/ring-model.md, "What it does not cover").
    fn observe(&mut self) -> Result<u32, PeerMisbehavior> {
        let write = self.ring.write_index.load(Ordering::Acquire);
        if filled(write, self.read) < filled(self.write, self.read) {
            return Err(PeerMisbehavior);
        }
        self.write = write;
        Ok(filled(self.write, self.read))
    }
}

impl Consumer for ReadEnd {
    fn dequeue(&mut self) -> Result<Option<Buf>, PeerMisbehavior> {
        if self.observe()? == 0 {
            return Ok(None);
        }
        let cookie = self.ring.descriptors[(self.read % SIZE) as usize].load(Ordering::Relaxed);
        self.read = self.read.wrapping_add(1);
        self.ring.read_index.store(self.read, Ordering::Release);
        Ok(Some(Buf { offset: 0, len: 0, cookie }))
    }

    fn has_pending(&mut self) -> bool {
        self.observe().map(|n| n > 0).unwrap_or(true)
    }

    fn request_wake(&mut self) {
        self.ring.flag.request()
    }

    fn cancel_wake(&mut self) {
        self.ring.flag.cancel()
    }
}

/// pd-ring's `WriteEnd`: rust-sel4's write role plus the wake flag.
struct WriteEnd {
    ring: &'static Ring,
    write: u32,
    read: u32,
}

impl Producer for WriteEnd {
    fn enqueue(&mut self, buf: Buf) -> Result<Result<(), Buf>, PeerMisbehavior> {
        // `update_stored_read_index`: the peer may not claim to have
        // consumed more than was published.
        let read = self.ring.read_index.load(Ordering::Acquire);
        if filled(self.write, read) > filled(self.write, self.read) {
            return Err(PeerMisbehavior);
        }
        self.read = read;
        if filled(self.write, self.read) == SIZE - 1 {
            return Ok(Err(buf));
        }
        self.ring.descriptors[(self.write % SIZE) as usize].store(buf.cookie, Ordering::Relaxed);
        self.write = self.write.wrapping_add(1);
        Ok(Ok(()))
    }

    fn commit(&mut self) {
        self.ring.write_index.store(self.write, Ordering::Release);
    }

    fn take_wake_request(&mut self) -> bool {
        self.ring.flag.take()
    }
}

/// An seL4 notification: a word that a signal sets and a wait takes,
/// blocking until it is set, so that signals sent before the wait coalesce
/// into one wake-up. The word is behind a mutex, which stands for the
/// kernel's own ordering between signaller and woken thread (and keeps
/// loom's approximation of atomic read-modify-writes out of the way); the
/// waiter parks without holding it.
struct Notification(Mutex<bool>);

impl Notification {
    fn new() -> &'static Self {
        leak(Self(Mutex::new(false)))
    }

    /// Signals the PD whose thread is `waiter`.
    fn signal(&self, waiter: &Thread) {
        *self.0.lock().unwrap() = true;
        waiter.unpark();
    }

    /// Blocks the calling thread until the word is set, and clears it.
    fn wait(&self) {
        while !core::mem::take(&mut *self.0.lock().unwrap()) {
            thread::park();
        }
    }
}

/// What a producer needs to wake its consumer: the consumer's notification
/// and its thread.
#[derive(Clone)]
struct Peer {
    notification: &'static Notification,
    thread: Thread,
}

impl Peer {
    fn wake(&self) {
        self.notification.signal(&self.thread)
    }
}

fn buf(cookie: usize) -> Buf {
    Buf { offset: 0, len: 0, cookie }
}

/// A producer's batch: enqueue, commit once, notify if asked (as the mux's
/// `publish` and tenant-net's `take_notify` do).
fn publish(tx: &mut WriteEnd, cookies: &[usize], consumer: &Peer) {
    for &cookie in cookies {
        tx.enqueue(buf(cookie)).unwrap().unwrap();
    }
    tx.commit();
    if tx.take_wake_request() {
        consumer.wake();
    }
}

/// A consumer's loop until it has `want` descriptors: drain every ring,
/// then `ready_to_sleep`, and wait on its notification when told it may.
fn consume(rings: &mut [&mut ReadEnd], want: usize, me: &Notification) -> Vec<usize> {
    let mut got = Vec::new();
    loop {
        for ring in rings.iter_mut() {
            while let Some(b) = ring.dequeue().unwrap() {
                got.push(b.cookie);
            }
        }
        if got.len() == want {
            return got;
        }
        let mut waiting: Vec<&mut dyn Consumer> = rings.iter_mut().map(|r| &mut **r as &mut dyn Consumer).collect();
        if ready_to_sleep(&mut waiting) {
            me.wait();
        }
    }
}

#[test]
#[cfg_attr(ring_broken_recheck, should_panic(expected = "deadlock"))]
fn every_batch_reaches_a_consumer_that_sleeps_between_batches() {
    loom::model(|| {
        let ring = Ring::new();
        let (mut rx, mut tx) = ends(ring);
        let me = Peer { notification: Notification::new(), thread: thread::current() };
        let consumer = me.clone();
        thread::spawn(move || {
            publish(&mut tx, &[1], &consumer);
            publish(&mut tx, &[2], &consumer);
        });
        assert_eq!(consume(&mut [&mut rx], 2, me.notification), [1, 2]);
    });
}

#[test]
#[cfg_attr(ring_broken_recheck, should_panic(expected = "deadlock"))]
fn buffers_go_round_a_free_and_used_ring_pair_with_both_sides_sleeping() {
    // The owner lends two buffers on the free ring one at a time and waits
    // for each on the used ring; the peer waits on the free ring and hands
    // each back. Both sleep whenever their ring is empty.
    loom::model(|| {
        let (mut free_rx, mut free_tx) = ends(Ring::new());
        let (mut used_rx, mut used_tx) = ends(Ring::new());
        let owner = Peer { notification: Notification::new(), thread: thread::current() };
        let peer_notification = Notification::new();
        let to_owner = owner.clone();
        let peer_thread = thread::spawn(move || {
            for _ in 0..2 {
                let lent = consume(&mut [&mut free_rx], 1, peer_notification);
                publish(&mut used_tx, &lent, &to_owner);
            }
        });
        let peer = Peer { notification: peer_notification, thread: peer_thread.thread().clone() };
        for cookie in [1, 2] {
            publish(&mut free_tx, &[cookie], &peer);
            assert_eq!(consume(&mut [&mut used_rx], 1, owner.notification), [cookie]);
        }
    });
}

#[test]
#[cfg_attr(ring_broken_recheck, should_panic(expected = "deadlock"))]
fn two_producers_wake_one_consumer_through_one_notification() {
    // The mux waits on several rings with one notification word: their
    // signals coalesce, and ready_to_sleep over both rings must still see
    // whatever a signal that was absorbed stood for.
    loom::model(|| {
        let (mut a_rx, mut a_tx) = ends(Ring::new());
        let (mut b_rx, mut b_tx) = ends(Ring::new());
        let me = Peer { notification: Notification::new(), thread: thread::current() };
        let consumer = me.clone();
        thread::spawn(move || publish(&mut a_tx, &[1], &consumer));
        let consumer = me.clone();
        thread::spawn(move || publish(&mut b_tx, &[2], &consumer));
        let mut got = consume(&mut [&mut a_rx, &mut b_rx], 2, me.notification);
        got.sort_unstable();
        assert_eq!(got, [1, 2]);
    });
}
