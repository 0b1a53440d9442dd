//! An in-memory ring for host tests of the components that move descriptors.

use heapless::Deque;

use crate::{Buf, Consumer, PeerMisbehavior, Producer};

/// A bounded FIFO with both ends, standing in for one shared ring.
///
/// Enqueued descriptors become visible to `dequeue` only after `commit`, as
/// with the real ring, and `misbehave` makes every later call report
/// [`PeerMisbehavior`] so tests can play a broken peer.
#[derive(Debug, Default)]
pub struct MemQueue<const N: usize> {
    published: Deque<Buf, N>,
    pending: Deque<Buf, N>,
    broken: bool,
    wake_requested: bool,
    /// How many times `commit` was called.
    pub commits: usize,
}

impl<const N: usize> MemQueue<N> {
    /// An empty queue.
    pub fn new() -> Self {
        Self {
            published: Deque::new(),
            pending: Deque::new(),
            broken: false,
            wake_requested: false,
            commits: 0,
        }
    }

    /// From now on, every operation fails as if the peer corrupted the indices.
    pub fn misbehave(&mut self) {
        self.broken = true;
    }

    /// Number of published descriptors waiting to be dequeued.
    pub fn len(&self) -> usize {
        self.published.len()
    }

    /// Whether no published descriptor is waiting.
    pub fn is_empty(&self) -> bool {
        self.published.is_empty()
    }
}

impl<const N: usize> Consumer for MemQueue<N> {
    fn dequeue(&mut self) -> Result<Option<Buf>, PeerMisbehavior> {
        if self.broken {
            return Err(PeerMisbehavior);
        }
        Ok(self.published.pop_front())
    }

    fn has_pending(&mut self) -> bool {
        self.broken || !self.published.is_empty()
    }

    fn request_wake(&mut self) {
        self.wake_requested = true;
    }

    fn cancel_wake(&mut self) {
        self.wake_requested = false;
    }
}

impl<const N: usize> Producer for MemQueue<N> {
    fn enqueue(&mut self, buf: Buf) -> Result<Result<(), Buf>, PeerMisbehavior> {
        if self.broken {
            return Err(PeerMisbehavior);
        }
        if self.published.len() + self.pending.len() >= N {
            return Ok(Err(buf));
        }
        // Room was checked above.
        let _ = self.pending.push_back(buf);
        Ok(Ok(()))
    }

    fn commit(&mut self) {
        self.commits += 1;
        while let Some(buf) = self.pending.pop_front() {
            let _ = self.published.push_back(buf);
        }
    }

    fn take_wake_request(&mut self) -> bool {
        core::mem::take(&mut self.wake_requested)
    }
}

/// Lets a test hand a queue or a region to the component under test while
/// keeping its own handle to play the peer.
#[derive(Debug, Clone, Copy)]
pub struct Shared<'a, T: ?Sized>(pub &'a core::cell::RefCell<T>);

impl<T: Consumer + ?Sized> Consumer for Shared<'_, T> {
    fn dequeue(&mut self) -> Result<Option<Buf>, PeerMisbehavior> {
        self.0.borrow_mut().dequeue()
    }
    fn has_pending(&mut self) -> bool {
        self.0.borrow_mut().has_pending()
    }
    fn request_wake(&mut self) {
        self.0.borrow_mut().request_wake()
    }
    fn cancel_wake(&mut self) {
        self.0.borrow_mut().cancel_wake()
    }
}

impl<T: Producer + ?Sized> Producer for Shared<'_, T> {
    fn enqueue(&mut self, buf: Buf) -> Result<Result<(), Buf>, PeerMisbehavior> {
        self.0.borrow_mut().enqueue(buf)
    }
    fn commit(&mut self) {
        self.0.borrow_mut().commit()
    }
    fn take_wake_request(&mut self) -> bool {
        self.0.borrow_mut().take_wake_request()
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]> + ?Sized> crate::BufferMemory for Shared<'_, T> {
    fn len(&self) -> usize {
        self.0.borrow().as_ref().len()
    }
    fn write_at(&mut self, offset: usize, src: &[u8]) {
        self.0.borrow_mut().as_mut().write_at(offset, src)
    }
    fn read_at(&self, offset: usize, dst: &mut [u8]) {
        self.0.borrow().as_ref().read_at(offset, dst)
    }
}
