use heapless::Vec;

use crate::{Buf, Region};

/// The owner's record of which buffer slots of a region are in its hands.
///
/// A slot is either here (free to offer) or out with a peer. Taking back a
/// descriptor checks that it names a slot that is actually out, so a peer
/// returning a buffer twice, or one it never got, is caught instead of
/// corrupting the pool. `N` bounds the number of slots without allocation.
#[derive(Debug)]
pub struct BufferPool<const N: usize> {
    region: Region,
    free: Vec<u16, N>,
    out: [bool; N],
}

/// Why a returned descriptor was not taken back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReturnError {
    /// The descriptor does not name a valid slot of the region.
    Bad(crate::BadDescriptor),
    /// The slot was not lent out: a duplicate or forged return.
    NotLent,
}

impl<const N: usize> BufferPool<N> {
    /// A pool owning the first `min(N, region.slots())` slots of `region`, all free.
    pub fn new(region: Region) -> Self {
        assert!(N <= u16::MAX as usize);
        let count = region.slots().min(N);
        let mut free = Vec::new();
        for i in (0..count).rev() {
            // Capacity is N and count <= N.
            let _ = free.push(i as u16);
        }
        Self { region, free, out: [false; N] }
    }

    /// The region geometry this pool manages.
    pub fn region(&self) -> Region {
        self.region
    }

    /// Number of slots currently free.
    pub fn available(&self) -> usize {
        self.free.len()
    }

    /// Number of slots currently lent out.
    pub fn lent(&self) -> usize {
        self.out.iter().filter(|o| **o).count()
    }

    /// Takes a free slot and marks it lent, with its full capacity as length.
    pub fn take(&mut self) -> Option<Buf> {
        let index = usize::from(self.free.pop()?);
        self.out[index] = true;
        self.region.slot(index)
    }

    /// Gives back a slot that `take` handed out.
    pub fn give_back(&mut self, buf: &Buf) -> Result<usize, ReturnError> {
        let index = self.region.slot_index(buf).map_err(ReturnError::Bad)?;
        if index >= N || !self.out[index] {
            return Err(ReturnError::NotLent);
        }
        self.out[index] = false;
        // Cannot overflow: only lent slots come back, and at most N are lent.
        let _ = self.free.push(index as u16);
        Ok(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn take_and_give_back_round_trip() {
        let mut pool = BufferPool::<4>::new(Region::new(4 * 2048, 2048));
        let taken: [Buf; 4] = core::array::from_fn(|_| pool.take().unwrap());
        assert!(pool.take().is_none());
        assert_eq!(pool.lent(), 4);
        for b in &taken {
            let short = Buf { len: 60, ..*b };
            pool.give_back(&short).unwrap();
        }
        assert_eq!(pool.available(), 4);
        assert_eq!(pool.lent(), 0);
    }

    #[test]
    fn duplicate_and_forged_returns_are_refused() {
        let mut pool = BufferPool::<4>::new(Region::new(4 * 2048, 2048));
        let b = pool.take().unwrap();
        pool.give_back(&b).unwrap();
        assert_eq!(pool.give_back(&b), Err(ReturnError::NotLent));
        let never_lent = Region::new(4 * 2048, 2048).slot(3).unwrap();
        assert_eq!(pool.give_back(&never_lent), Err(ReturnError::NotLent));
        let outside = Buf { offset: 1 << 40, len: 1, cookie: 0 };
        assert!(matches!(pool.give_back(&outside), Err(ReturnError::Bad(_))));
        assert_eq!(pool.available(), 4);
    }

    #[test]
    fn pool_smaller_than_region_uses_only_its_slots() {
        let mut pool = BufferPool::<2>::new(Region::new(8 * 2048, 2048));
        assert_eq!(pool.available(), 2);
        let far = Region::new(8 * 2048, 2048).slot(5).unwrap();
        assert_eq!(pool.give_back(&far), Err(ReturnError::NotLent));
        pool.take().unwrap();
    }
}
