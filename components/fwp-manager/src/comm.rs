//! The page the multiplexer and the FWP manager share: a ring of requests
//! (the multiplexer produces, the manager consumes) and a ring of
//! completions (the other way round), each signalled by a notification.
//!
//! Layout in 32-bit words: requests' head and tail at 0 and 1, entries from
//! word 16; completions' head and tail at 256 and 257, entries from word
//! 272; [`CAPACITY`] entries of two words each. A producer writes the entry,
//! then publishes its head with release ordering; a consumer reads the head
//! with acquire ordering. The manager trusts nothing on the page: an entry
//! that does not decode is answered with [`Status::BadRequest`], and
//! indices that no honest producer can leave are [`Broken`].

/// Entries per ring.
pub const CAPACITY: u32 = 64;
/// Where the manager's [`Figures`] start, after the completions' entries.
const FIGURES: usize = 272 + 2 * CAPACITY as usize;
/// 32-bit words of the page the protocol uses.
pub const WORDS: usize = FIGURES + Figures::WORDS;

const REQUESTS: Ring = Ring { head: 0, tail: 1, entries: 16 };
const COMPLETIONS: Ring = Ring { head: 256, tail: 257, entries: 272 };

/// The shared page, word by word: `load` has acquire and `store` release
/// ordering (the PDs implement it with atomics on the mapped page).
pub trait Words {
    /// Reads word `index` (< [`WORDS`]).
    fn load(&self, index: usize) -> u32;
    /// Writes word `index` (< [`WORDS`]).
    fn store(&self, index: usize, value: u32);
}

/// The comm page as a PD maps it: words read and written with atomics,
/// since the peer writes the page concurrently.
pub struct MappedPage(*const core::sync::atomic::AtomicU32);

impl MappedPage {
    /// # Safety
    /// `vaddr` is the comm page, mapped read-write in this PD, 4-byte
    /// aligned, for as long as the returned value lives.
    #[allow(unsafe_code)]
    pub unsafe fn new(vaddr: usize) -> Self {
        Self(vaddr as *const core::sync::atomic::AtomicU32)
    }

    fn word(&self, index: usize) -> &core::sync::atomic::AtomicU32 {
        assert!(index < WORDS, "comm word {index} out of the page");
        // SAFETY: `new`'s contract maps the page, and `index` is within it.
        #[allow(unsafe_code)]
        unsafe {
            &*self.0.add(index)
        }
    }
}

impl Words for MappedPage {
    fn load(&self, index: usize) -> u32 {
        self.word(index).load(core::sync::atomic::Ordering::Acquire)
    }

    fn store(&self, index: usize, value: u32) {
        self.word(index).store(value, core::sync::atomic::Ordering::Release)
    }
}

/// What the multiplexer asks of the manager.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// Create dynamic FWP `k` (suspended, ready to be restored and started).
    Create(u16),
    /// Destroy dynamic FWP `k` and return its memory.
    Destroy(u16),
}

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Done.
    Done,
    /// Not enough free memory (or ASIDs) for another FWP: refused.
    NoMemory,
    /// The FWP index is not one the configuration lists.
    NoSuchFwp,
    /// Create of a live FWP, or destroy of one that is not.
    WrongState,
    /// The kernel refused an invocation (its error code); the FWP was
    /// rolled back.
    Kernel(u8),
    /// The entry did not decode.
    BadRequest,
}

/// The manager's answer to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Completion {
    /// The raw request word it answers (so a bad one can be named).
    pub request: u32,
    /// The outcome.
    pub status: Status,
}

/// A ring's indices were moved in a way no honest producer does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Broken;

/// The ring has no free entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full;

const OP_CREATE: u32 = 1;
const OP_DESTROY: u32 = 2;

impl Request {
    /// The request's word on the page.
    pub fn encode(self) -> u32 {
        match self {
            Self::Create(k) => OP_CREATE | u32::from(k) << 16,
            Self::Destroy(k) => OP_DESTROY | u32::from(k) << 16,
        }
    }

    /// A request word from the page (untrusted).
    pub fn decode(word: u32) -> Option<Self> {
        let k = (word >> 16) as u16;
        match word & 0xffff {
            OP_CREATE => Some(Self::Create(k)),
            OP_DESTROY => Some(Self::Destroy(k)),
            _ => None,
        }
    }

    /// The FWP it is about.
    pub fn fwp(self) -> u16 {
        match self {
            Self::Create(k) | Self::Destroy(k) => k,
        }
    }
}

impl Status {
    fn encode(self) -> u32 {
        match self {
            Self::Done => 0,
            Self::NoMemory => 1,
            Self::NoSuchFwp => 2,
            Self::WrongState => 3,
            Self::BadRequest => 4,
            Self::Kernel(code) => 0x100 | u32::from(code),
        }
    }

    fn decode(word: u32) -> Option<Self> {
        Some(match word {
            0 => Self::Done,
            1 => Self::NoMemory,
            2 => Self::NoSuchFwp,
            3 => Self::WrongState,
            4 => Self::BadRequest,
            w if w & !0xff == 0x100 => Self::Kernel(w as u8),
            _ => return None,
        })
    }
}

#[derive(Clone, Copy)]
struct Ring {
    head: usize,
    tail: usize,
    entries: usize,
}

impl Ring {
    fn push(self, page: &impl Words, entry: [u32; 2]) -> Result<(), Full> {
        let (head, tail) = (page.load(self.head), page.load(self.tail));
        if head.wrapping_sub(tail) >= CAPACITY {
            return Err(Full);
        }
        let at = self.entries + 2 * (head % CAPACITY) as usize;
        page.store(at, entry[0]);
        page.store(at + 1, entry[1]);
        page.store(self.head, head.wrapping_add(1));
        Ok(())
    }

    /// Whether a push would find room (a broken ring has none).
    fn has_room(self, page: &impl Words) -> bool {
        page.load(self.head).wrapping_sub(page.load(self.tail)) < CAPACITY
    }

    fn pop(self, page: &impl Words) -> Result<Option<[u32; 2]>, Broken> {
        let (head, tail) = (page.load(self.head), page.load(self.tail));
        match head.wrapping_sub(tail) {
            0 => Ok(None),
            n if n > CAPACITY => Err(Broken),
            _ => {
                let at = self.entries + 2 * (tail % CAPACITY) as usize;
                let entry = [page.load(at), page.load(at + 1)];
                page.store(self.tail, tail.wrapping_add(1));
                Ok(Some(entry))
            }
        }
    }
}

/// The multiplexer's side: queue a request.
pub fn send_request(page: &impl Words, request: Request) -> Result<(), Full> {
    REQUESTS.push(page, [request.encode(), 0])
}

/// The manager's side: the next request word, if any. Decode it with
/// [`Request::decode`]; a word that does not decode still gets an answer.
pub fn next_request(page: &impl Words) -> Result<Option<u32>, Broken> {
    Ok(REQUESTS.pop(page)?.map(|[word, _]| word))
}

/// The manager's side: whether the completion ring has room for one more
/// answer. The manager takes a request only then, so that every request it
/// takes gets its answer, however fast the multiplexer adds more.
pub fn completion_room(page: &impl Words) -> bool {
    COMPLETIONS.has_room(page)
}

/// The manager's side: answer a request.
pub fn send_completion(page: &impl Words, completion: Completion) -> Result<(), Full> {
    COMPLETIONS.push(page, [completion.request, completion.status.encode()])
}

/// The multiplexer's side: the next completion, if any. `Ok(Some(None))`:
/// an entry that does not decode (a broken manager; counted by the caller).
pub fn next_completion(page: &impl Words) -> Result<Option<Option<(Request, Status)>>, Broken> {
    Ok(COMPLETIONS
        .pop(page)?
        .map(|[request, status]| Request::decode(request).zip(Status::decode(status))))
}

/// What the manager has left and holds, as it reports after every batch
/// of requests, for the multiplexer's stats line: a leak in creating or
/// destroying FWPs shows as a figure that does not come back. Written by
/// the manager only; the multiplexer shows the figures and trusts nothing
/// on them.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Figures {
    /// RAM not given to any object, in MiB (slabs count as used).
    pub ram_free_mib: u32,
    /// FWPs created and not destroyed.
    pub live_fwps: u32,
    /// ASID pools made (each has room for 512 address spaces).
    pub asid_pools: u32,
    /// Slots of the manager's own CNode never used.
    pub cnode_slots_free: u32,
    /// Free slabs kept for the next FWPs, over every template.
    pub free_slabs: u32,
    /// FWPs created since boot.
    pub created: u32,
    /// FWPs destroyed since boot.
    pub destroyed: u32,
}

impl Figures {
    const WORDS: usize = 7;

    fn to_words(self) -> [u32; Self::WORDS] {
        [self.ram_free_mib, self.live_fwps, self.asid_pools, self.cnode_slots_free, self.free_slabs, self.created, self.destroyed]
    }

    /// The figures as `(name, value)` pairs, in a fixed order: what the
    /// manager has left and holds first, its running totals last.
    pub fn named(self) -> [(&'static str, u32); Self::WORDS] {
        let names = ["ram_free_mib", "live_fwps", "asid_pools", "cnode_slots_free", "free_slabs", "created", "destroyed"];
        let words = self.to_words();
        core::array::from_fn(|i| (names[i], words[i]))
    }
}

/// The manager writes its figures (before it signals the batch's completions).
pub fn publish_figures(page: &impl Words, figures: Figures) {
    for (i, word) in figures.to_words().into_iter().enumerate() {
        page.store(FIGURES + i, word);
    }
}

/// The figures the manager last wrote.
pub fn read_figures(page: &impl Words) -> Figures {
    let w = |i: usize| page.load(FIGURES + i);
    Figures {
        ram_free_mib: w(0),
        live_fwps: w(1),
        asid_pools: w(2),
        cnode_slots_free: w(3),
        free_slabs: w(4),
        created: w(5),
        destroyed: w(6),
    }
}

#[cfg(test)]
mod tests;
