//! The protected-procedure calls clients make to the timer PD.
//!
//! A call carries a label and up to two message registers; the PD glue moves
//! them in and out of the IPC buffer. Labels and lengths are checked exactly:
//! a client is untrusted, and a call that does not decode is refused with
//! [`Refusal::BadRequest`], never guessed at.
//!
//! ```text
//!  request     label  words                  reply (label 0 = OK)
//!  SetTimeout  1      [token, ns_from_now]   OK []            | Refusal label
//!  Cancel      2      [token]                OK [found: 0|1]
//!  Now         3      []                     OK [now_ns]
//! ```

use crate::queue::{ClientId, TimerError, TimerQueue};

/// A label and the message registers it uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message {
    /// The call's (or reply's) label.
    pub label: u64,
    words: [u64; 2],
    len: u8,
}

impl Message {
    /// A message of `label` carrying `words`; `None` beyond two words.
    pub fn new(label: u64, words: &[u64]) -> Option<Self> {
        let mut out = Self { label, words: [0; 2], len: 0 };
        out.words.get_mut(..words.len())?.copy_from_slice(words);
        out.len = words.len() as u8;
        Some(out)
    }

    /// The message registers in use.
    pub fn words(&self) -> &[u64] {
        &self.words[..usize::from(self.len)]
    }
}

/// A client's request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// Notify me `ns_from_now` ns from now, under my name `token`; replaces
    /// my pending timeout of the same token.
    SetTimeout {
        /// The client's name for the timeout.
        token: u64,
        /// Delay from the time the timer handles the call.
        ns_from_now: u64,
    },
    /// Drop my pending timeout `token`.
    Cancel {
        /// The client's name for the timeout.
        token: u64,
    },
    /// The current time, in ns.
    Now,
    /// The current unix time, in ns (from the board's real-time clock,
    /// read at boot, and the counter since).
    WallClock,
}

/// The label of [`Request::SetTimeout`].
pub const LABEL_SET_TIMEOUT: u64 = 1;
/// The label of [`Request::Cancel`].
pub const LABEL_CANCEL: u64 = 2;
/// The label of [`Request::Now`].
pub const LABEL_NOW: u64 = 3;
/// The label of [`Request::WallClock`].
pub const LABEL_WALL_CLOCK: u64 = 4;
/// The label of a reply that succeeded.
pub const LABEL_OK: u64 = 0;

/// Why a message does not decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtocolError {
    /// No request or reply travels under this label.
    UnknownLabel(u64),
    /// The label is known but the number of words is wrong.
    BadLength {
        /// The label.
        label: u64,
        /// Words present.
        len: usize,
    },
    /// A word holds a value the encoder never produces.
    BadValue,
}

impl core::fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::UnknownLabel(l) => write!(f, "unknown timer label {l}"),
            Self::BadLength { label, len } => write!(f, "timer label {label} with {len} words"),
            Self::BadValue => f.write_str("malformed timer message word"),
        }
    }
}

fn exact<const K: usize>(label: u64, words: &[u64]) -> Result<[u64; K], ProtocolError> {
    words.try_into().map_err(|_| ProtocolError::BadLength { label, len: words.len() })
}

impl Request {
    /// Encodes the request.
    pub fn to_message(self) -> Message {
        let (label, words, len) = match self {
            Self::SetTimeout { token, ns_from_now } => (LABEL_SET_TIMEOUT, [token, ns_from_now], 2),
            Self::Cancel { token } => (LABEL_CANCEL, [token, 0], 1),
            Self::Now => (LABEL_NOW, [0, 0], 0),
            Self::WallClock => (LABEL_WALL_CLOCK, [0, 0], 0),
        };
        Message { label, words, len }
    }

    /// Decodes a call from an untrusted client.
    pub fn from_message(label: u64, words: &[u64]) -> Result<Self, ProtocolError> {
        match label {
            LABEL_SET_TIMEOUT => {
                let [token, ns_from_now] = exact(label, words)?;
                Ok(Self::SetTimeout { token, ns_from_now })
            }
            LABEL_CANCEL => {
                let [token] = exact(label, words)?;
                Ok(Self::Cancel { token })
            }
            LABEL_NOW => {
                let [] = exact(label, words)?;
                Ok(Self::Now)
            }
            LABEL_WALL_CLOCK => {
                let [] = exact(label, words)?;
                Ok(Self::WallClock)
            }
            other => Err(ProtocolError::UnknownLabel(other)),
        }
    }
}

/// Why the timer refused a request: the label of the refusal reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u64)]
pub enum Refusal {
    /// The queue is full ([`TimerError::Full`]).
    Full = 1,
    /// The client holds its quota ([`TimerError::QuotaExceeded`]).
    QuotaExceeded = 2,
    /// The call did not decode.
    BadRequest = 3,
    /// [`Request::WallClock`] on a board without a real-time clock.
    NoWallClock = 4,
}

impl From<TimerError> for Refusal {
    fn from(e: TimerError) -> Self {
        match e {
            TimerError::Full => Self::Full,
            TimerError::QuotaExceeded => Self::QuotaExceeded,
        }
    }
}

impl Refusal {
    fn from_label(label: u64) -> Option<Self> {
        [Self::Full, Self::QuotaExceeded, Self::BadRequest, Self::NoWallClock].into_iter().find(|r| *r as u64 == label)
    }
}

/// The timer's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// [`Request::SetTimeout`] succeeded.
    Scheduled,
    /// [`Request::Cancel`] done; whether a timeout was pending.
    Cancelled {
        /// A timeout with that token was pending and is gone.
        found: bool,
    },
    /// [`Request::Now`]'s answer.
    Now {
        /// The counter's time, in ns.
        ns: u64,
    },
    /// [`Request::WallClock`]'s answer.
    WallClock {
        /// Nanoseconds since the unix epoch.
        unix_ns: u64,
    },
    /// The request was refused.
    Refused(Refusal),
}

impl Reply {
    /// Encodes the reply.
    pub fn to_message(self) -> Message {
        let (label, words, len) = match self {
            Self::Scheduled => (LABEL_OK, [0, 0], 0),
            Self::Cancelled { found } => (LABEL_OK, [u64::from(found), 0], 1),
            Self::Now { ns } => (LABEL_OK, [ns, 0], 1),
            Self::WallClock { unix_ns } => (LABEL_OK, [unix_ns, 0], 1),
            Self::Refused(r) => (r as u64, [0, 0], 0),
        };
        Message { label, words, len }
    }

    /// Decodes the timer's reply to `request` (a reply's meaning depends on
    /// what was asked).
    pub fn from_message(request: Request, label: u64, words: &[u64]) -> Result<Self, ProtocolError> {
        if label != LABEL_OK {
            let refusal = Refusal::from_label(label).ok_or(ProtocolError::UnknownLabel(label))?;
            let [] = exact(label, words)?;
            return Ok(Self::Refused(refusal));
        }
        match request {
            Request::SetTimeout { .. } => {
                let [] = exact(label, words)?;
                Ok(Self::Scheduled)
            }
            Request::Cancel { .. } => match exact(label, words)? {
                [0] => Ok(Self::Cancelled { found: false }),
                [1] => Ok(Self::Cancelled { found: true }),
                _ => Err(ProtocolError::BadValue),
            },
            Request::Now => {
                let [ns] = exact(label, words)?;
                Ok(Self::Now { ns })
            }
            Request::WallClock => {
                let [unix_ns] = exact(label, words)?;
                Ok(Self::WallClock { unix_ns })
            }
        }
    }
}

/// The timer PD's call handler: decodes `client`'s call, applies it to
/// `queue` at time `now` (ns; `unix_now` the same instant as unix time, if
/// the board has a real-time clock) and returns the reply to send. The
/// caller then reprograms the compare register from
/// [`TimerQueue::next_deadline`].
pub fn serve<const N: usize, const QUOTA: usize>(
    queue: &mut TimerQueue<N, QUOTA>,
    client: ClientId,
    label: u64,
    words: &[u64],
    now: u64,
    unix_now: Option<u64>,
) -> Message {
    let reply = match Request::from_message(label, words) {
        Err(_) => Reply::Refused(Refusal::BadRequest),
        Ok(Request::SetTimeout { token, ns_from_now }) => {
            match queue.schedule(client, token, now.saturating_add(ns_from_now)) {
                Ok(()) => Reply::Scheduled,
                Err(e) => Reply::Refused(e.into()),
            }
        }
        Ok(Request::Cancel { token }) => Reply::Cancelled { found: queue.cancel(client, token) },
        Ok(Request::Now) => Reply::Now { ns: now },
        Ok(Request::WallClock) => match unix_now {
            Some(unix_ns) => Reply::WallClock { unix_ns },
            None => Reply::Refused(Refusal::NoWallClock),
        },
    };
    reply.to_message()
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQUESTS: [Request; 6] = [
        Request::SetTimeout { token: 7, ns_from_now: 1_000 },
        Request::SetTimeout { token: u64::MAX, ns_from_now: u64::MAX },
        Request::Cancel { token: 0 },
        Request::Cancel { token: u64::MAX },
        Request::Now,
        Request::WallClock,
    ];

    #[test]
    fn requests_round_trip() {
        for r in REQUESTS {
            let m = r.to_message();
            assert_eq!(Request::from_message(m.label, m.words()), Ok(r));
        }
    }

    #[test]
    fn replies_round_trip() {
        let cases = [
            (REQUESTS[0], Reply::Scheduled),
            (REQUESTS[0], Reply::Refused(Refusal::Full)),
            (REQUESTS[1], Reply::Refused(Refusal::QuotaExceeded)),
            (REQUESTS[2], Reply::Cancelled { found: false }),
            (REQUESTS[3], Reply::Cancelled { found: true }),
            (REQUESTS[4], Reply::Now { ns: u64::MAX }),
            (REQUESTS[4], Reply::Refused(Refusal::BadRequest)),
            (REQUESTS[5], Reply::WallClock { unix_ns: 1_700_000_000_000_000_000 }),
            (REQUESTS[5], Reply::Refused(Refusal::NoWallClock)),
        ];
        for (req, reply) in cases {
            let m = reply.to_message();
            assert_eq!(Reply::from_message(req, m.label, m.words()), Ok(reply));
        }
    }

    #[test]
    fn garbage_is_refused() {
        assert_eq!(Request::from_message(0, &[]), Err(ProtocolError::UnknownLabel(0)));
        assert_eq!(Request::from_message(5, &[1, 2]), Err(ProtocolError::UnknownLabel(5)));
        assert!(Request::from_message(LABEL_WALL_CLOCK, &[1]).is_err());
        assert_eq!(Request::from_message(u64::MAX, &[]), Err(ProtocolError::UnknownLabel(u64::MAX)));
        assert_eq!(Request::from_message(LABEL_SET_TIMEOUT, &[1]), Err(ProtocolError::BadLength { label: 1, len: 1 }));
        assert!(Request::from_message(LABEL_CANCEL, &[]).is_err());
        assert!(Request::from_message(LABEL_CANCEL, &[1, 2]).is_err());
        assert!(Request::from_message(LABEL_NOW, &[0]).is_err());
        assert!(Request::from_message(LABEL_SET_TIMEOUT, &[1, 2, 3]).is_err());
        let cancel = REQUESTS[2];
        assert_eq!(Reply::from_message(cancel, LABEL_OK, &[2]), Err(ProtocolError::BadValue));
        assert!(Reply::from_message(cancel, LABEL_OK, &[]).is_err());
        assert_eq!(Reply::from_message(cancel, 9, &[]), Err(ProtocolError::UnknownLabel(9)));
        assert!(Reply::from_message(Request::Now, LABEL_OK, &[]).is_err());
        assert!(Reply::from_message(Request::Now, Refusal::Full as u64, &[1]).is_err());
        assert_eq!(Message::new(1, &[1, 2, 3]), None);
        assert_eq!(Message::new(1, &[1, 2]).map(|m| m.words().len()), Some(2));
    }

    #[test]
    fn serve_applies_calls_to_the_queue() {
        let mut q = TimerQueue::<4, 2>::new();
        let call = |q: &mut TimerQueue<4, 2>, client, r: Request, now| {
            let m = r.to_message();
            let reply = serve(q, client, m.label, m.words(), now, None);
            Reply::from_message(r, reply.label, reply.words()).unwrap()
        };
        assert_eq!(call(&mut q, 1, Request::Now, 42), Reply::Now { ns: 42 });
        assert_eq!(call(&mut q, 1, Request::WallClock, 42), Reply::Refused(Refusal::NoWallClock));
        let m = Request::WallClock.to_message();
        let reply = serve(&mut q, 1, m.label, m.words(), 42, Some(1_700_000_000_000_000_042));
        assert_eq!(
            Reply::from_message(Request::WallClock, reply.label, reply.words()),
            Ok(Reply::WallClock { unix_ns: 1_700_000_000_000_000_042 })
        );
        let set = |token, ns_from_now| Request::SetTimeout { token, ns_from_now };
        assert_eq!(call(&mut q, 1, set(1, 100), 1_000), Reply::Scheduled);
        assert_eq!(q.next_deadline(), Some(1_100));
        assert_eq!(call(&mut q, 1, set(2, u64::MAX), 1_000), Reply::Scheduled);
        assert_eq!(q.deadline_of(1, 2), Some(u64::MAX), "saturates instead of wrapping");
        assert_eq!(call(&mut q, 1, set(3, 1), 0), Reply::Refused(Refusal::QuotaExceeded));
        assert_eq!(call(&mut q, 1, Request::Cancel { token: 1 }, 0), Reply::Cancelled { found: true });
        assert_eq!(call(&mut q, 1, Request::Cancel { token: 1 }, 0), Reply::Cancelled { found: false });
        let bad = serve(&mut q, 1, 77, &[], 0, None);
        assert_eq!(bad.label, Refusal::BadRequest as u64);
        assert_eq!(q.len(), 1);
    }
}
