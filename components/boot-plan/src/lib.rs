//! The order in which the root task (our capDL initialiser) carves the
//! static system's objects out of the boot untypeds.
//!
//! The Microkit tool checks at build time that a system fits by replaying
//! one particular allocation order, and it reports where objects land; an
//! initialiser that allocated differently would make that check and that
//! report meaningless. So this is that order, written as a pure planner:
//!
//! ```text
//!  untypeds, by physical address ─▶ walk each from its base:
//!    the next object with a fixed paddr lies ahead in this untyped?
//!      fill the gap before it with the largest free objects that fit the
//!      alignment; where none fits, pad with an untyped that is kept
//!      (a retype needs a live child to keep its watermark); then place it
//!    otherwise fill the untyped with the largest objects that fit, and move on
//!  every object placed exactly once, or an error saying what did not fit
//! ```
//!
//! Objects without a physical address must come in order of decreasing
//! size, after every object with one (sorted by address): that is how the
//! Microkit tool lays out the spec's root objects. Embedded frames (pages of
//! the root task's own image) are not allocated at all.
#![no_std]
#![deny(unsafe_code)]
#![warn(missing_docs)]

#[cfg(test)]
mod tests;

/// One untyped capability the kernel handed to the root task at boot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Untyped {
    /// Physical address of its first byte.
    pub paddr: u64,
    /// log2 of its size in bytes.
    pub size_bits: u8,
    /// Device memory: only objects with a fixed address are taken from it.
    pub is_device: bool,
}

impl Untyped {
    fn end(&self) -> u64 {
        self.paddr + (1u64 << self.size_bits)
    }
}

/// What the planner needs to know of one root object of the spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// log2 of the object's size in memory; `None` for objects the root
    /// task does not retype from untyped memory (IRQ handlers, the SMC cap).
    pub size_bits: Option<u8>,
    /// A physical address the object must have (device frames).
    pub paddr: Option<u64>,
    /// A page of the root task's own image: already exists, not allocated.
    pub embedded: bool,
}

/// The root objects of a spec, in the spec's order.
pub trait Objects {
    /// How many root objects there are.
    fn count(&self) -> usize;
    /// The shape of root object `id` (`id < count()`).
    fn shape(&self, id: usize) -> Shape;
}

/// One retype the plan asks for, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Create root object `object` from untyped `untyped` (an index into
    /// the list given to [`plan`]); it lands at `paddr`.
    Object {
        /// Index of the untyped to retype.
        untyped: usize,
        /// Root object id.
        object: usize,
        /// Where the object lands.
        paddr: u64,
    },
    /// Create an untyped of `size_bits` at `paddr` to move the watermark of
    /// `untyped` up to an object with a fixed address. It must be kept.
    Padding {
        /// Index of the untyped to retype.
        untyped: usize,
        /// log2 of the padding's size.
        size_bits: u8,
        /// Where the padding lands.
        paddr: u64,
    },
}

/// Why a spec cannot be laid out in the given untypeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanError<E> {
    /// Object `object` must sit at `paddr`, but no untyped covers it (or an
    /// earlier object already took that memory).
    AddressNotCovered {
        /// Root object id.
        object: usize,
        /// Its fixed physical address.
        paddr: u64,
    },
    /// Objects with a fixed address are not sorted by it, or some without
    /// one come before them: the spec is not in the Microkit tool's order.
    Unordered {
        /// The first root object out of place.
        object: usize,
    },
    /// `missing` objects of `size_bits` found no memory.
    OutOfMemory {
        /// log2 of the size that ran out.
        size_bits: u8,
        /// How many objects of that size were left over.
        missing: usize,
    },
    /// The caller could not carry out a step.
    Step(E),
}

/// More untypeds than this cannot be sorted by the planner (seL4's
/// `CONFIG_MAX_NUM_BOOTINFO_UNTYPED_CAPS` is 230 in the SDK's configs).
pub const MAX_UNTYPEDS: usize = 256;

/// Object sizes the planner sorts into buckets (2^0 .. 2^63 bytes).
const SIZE_CLASSES: usize = 64;

/// Lays out every root object and calls `step` for each retype, in order.
///
/// Stops at the first error `step` returns. Returns the number of retypes.
pub fn plan<E>(
    untypeds: &[Untyped],
    objects: &impl Objects,
    mut step: impl FnMut(Step) -> Result<(), E>,
) -> Result<usize, PlanError<E>> {
    assert!(untypeds.len() <= MAX_UNTYPEDS, "more boot untypeds than the planner sorts");
    let mut by_address = [0usize; MAX_UNTYPEDS];
    let by_address = &mut by_address[..untypeds.len()];
    for (i, slot) in by_address.iter_mut().enumerate() {
        *slot = i;
    }
    by_address.sort_unstable_by_key(|&i| untypeds[i].paddr);

    let fixed = fixed_address_prefix(objects)?;
    for object in 0..fixed {
        let paddr = objects.shape(object).paddr.expect("prefix has addresses");
        let size = 1u64 << objects.shape(object).size_bits.unwrap_or(0);
        let covering = by_address
            .iter()
            .map(|&i| &untypeds[i])
            .rfind(|ut| ut.paddr <= paddr)
            .filter(|ut| paddr + size <= ut.end());
        if covering.is_none() {
            return Err(PlanError::AddressNotCovered { object, paddr });
        }
    }
    let mut free = Buckets::new(objects, fixed)?;

    let mut retypes = 0;
    let mut emit = |s: Step| {
        retypes += 1;
        step(s).map_err(PlanError::Step)
    };
    let mut next_fixed = 0;
    for &index in by_address.iter() {
        let ut = untypeds[index];
        let mut cursor = ut.paddr;
        loop {
            let fixed_here = (next_fixed < fixed)
                .then(|| objects.shape(next_fixed).paddr.expect("prefix has addresses"))
                .filter(|&paddr| paddr < ut.end());
            let target = fixed_here.unwrap_or(ut.end());
            if target < cursor {
                return Err(PlanError::AddressNotCovered { object: next_fixed, paddr: target });
            }
            while cursor < target {
                let alignment_bits = (cursor - ut.paddr).trailing_zeros().min(63) as u8;
                let room_bits = (target - cursor).ilog2() as u8;
                let fits_bits = alignment_bits.min(room_bits);
                let largest = if ut.is_device { None } else { free.take_largest(objects, fits_bits) };
                if let Some((object, size_bits)) = largest {
                    emit(Step::Object { untyped: index, object, paddr: cursor })?;
                    cursor += 1u64 << size_bits;
                } else if fixed_here.is_some() {
                    emit(Step::Padding { untyped: index, size_bits: fits_bits, paddr: cursor })?;
                    cursor += 1u64 << fits_bits;
                } else {
                    cursor = target;
                }
            }
            let Some(paddr) = fixed_here else { break };
            emit(Step::Object { untyped: index, object: next_fixed, paddr })?;
            cursor += 1u64 << objects.shape(next_fixed).size_bits.unwrap_or(0);
            next_fixed += 1;
        }
    }
    if next_fixed < fixed {
        let paddr = objects.shape(next_fixed).paddr.expect("prefix has addresses");
        return Err(PlanError::AddressNotCovered { object: next_fixed, paddr });
    }
    free.all_taken(objects)?;
    Ok(retypes)
}

/// The number of leading root objects with a fixed address, checking that
/// they are sorted by it and that no later object has one.
fn fixed_address_prefix<E>(objects: &impl Objects) -> Result<usize, PlanError<E>> {
    let count = objects.count();
    let fixed = (0..count).take_while(|&i| objects.shape(i).paddr.is_some()).count();
    for object in 1..fixed {
        if objects.shape(object).paddr < objects.shape(object - 1).paddr {
            return Err(PlanError::Unordered { object });
        }
    }
    if let Some(object) = (fixed..count).find(|&i| objects.shape(i).paddr.is_some()) {
        return Err(PlanError::Unordered { object });
    }
    Ok(fixed)
}

/// The objects without a fixed address, as one run of ids per size class
/// (the spec sorts them by decreasing size); each run is consumed from its
/// front as objects are placed.
struct Buckets {
    next: [usize; SIZE_CLASSES],
    end: [usize; SIZE_CLASSES],
}

impl Buckets {
    fn new<E>(objects: &impl Objects, first: usize) -> Result<Self, PlanError<E>> {
        let mut counts = [0usize; SIZE_CLASSES];
        let (mut previous, mut unsized_seen) = (u8::MAX, false);
        for object in first..objects.count() {
            let Some(bits) = objects.shape(object).size_bits else {
                unsized_seen = true;
                continue;
            };
            // Runs of equal size must be contiguous ids, largest first.
            if bits > previous || unsized_seen {
                return Err(PlanError::Unordered { object });
            }
            previous = bits;
            counts[bits as usize] += 1;
        }
        let (mut next, mut end) = ([0; SIZE_CLASSES], [0; SIZE_CLASSES]);
        let mut at = first;
        for bits in (0..SIZE_CLASSES).rev() {
            next[bits] = at;
            at += counts[bits];
            end[bits] = at;
        }
        Ok(Self { next, end })
    }

    /// The first unplaced object of the largest size class up to
    /// `max_bits` that has one left, skipping embedded frames.
    fn take_largest(&mut self, objects: &impl Objects, max_bits: u8) -> Option<(usize, u8)> {
        for bits in (0..=max_bits as usize).rev() {
            self.skip_embedded(objects, bits);
            if self.next[bits] < self.end[bits] {
                let object = self.next[bits];
                self.next[bits] += 1;
                return Some((object, bits as u8));
            }
        }
        None
    }

    fn skip_embedded(&mut self, objects: &impl Objects, bits: usize) {
        while self.next[bits] < self.end[bits] && objects.shape(self.next[bits]).embedded {
            self.next[bits] += 1;
        }
    }

    fn all_taken<E>(&mut self, objects: &impl Objects) -> Result<(), PlanError<E>> {
        for bits in 0..SIZE_CLASSES {
            self.skip_embedded(objects, bits);
        }
        match (0..SIZE_CLASSES).rev().find(|&bits| self.next[bits] < self.end[bits]) {
            Some(bits) => Err(PlanError::OutOfMemory {
                size_bits: bits as u8,
                missing: self.end[bits] - self.next[bits],
            }),
            None => Ok(()),
        }
    }
}
