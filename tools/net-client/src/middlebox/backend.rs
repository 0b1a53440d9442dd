//! The backend, 10.0.2.100: real sockets of this test, which the node
//! reaches through QEMU's user network.
//!
//! The user network (slirp) takes every frame the node sends to a
//! 10.0.2.0/24 address other than its gateway's (10.0.2.2) for a
//! conversation with that address on the host: a datagram to
//! 10.0.2.100:P is sent to 10.0.2.100:P from a host socket of QEMU's, a
//! SYN connects to it, and what comes back is put on the hub in
//! 10.0.2.100's name. So the backend is a socket bound at 10.0.2.100,
//! which must be an address of this host: `ci/system-test.sh` runs the
//! click spec in a network namespace of its own with 10.0.2.100 on `lo`
//! (the spec's `host_addresses`), where nothing else answers for it and
//! nothing leaves the machine.
//!
//! This keeps the crate's rule of talking only to this host: a bind
//! succeeds only on a local address, and the backend answers only peers
//! on this host.

use std::io;
use std::net::{SocketAddr, SocketAddrV4, TcpListener, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::packet::BACKEND;
use crate::udp::MAX_DATAGRAM;
use crate::Error;

/// The backend's address for service `port`.
pub fn service(port: u16) -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(BACKEND.ip, port))
}

/// Most accepted connections a [`TcpBackend`] holds open at once; the
/// oldest is closed to make room. A churn's connections have all been
/// reset by the user network long before.
const HELD: usize = 256;

/// How often the accepting thread looks for a connection, and for being
/// told to stop.
const ACCEPT_POLL: Duration = Duration::from_millis(1);

fn bind_error(what: &str, at: SocketAddr, source: io::Error) -> Error {
    let why = if source.kind() == io::ErrorKind::AddrNotAvailable {
        format!(
            "{what} on {at}: {} is not an address of this host; QEMU's user network sends the node's frames for it \
             to that address, so run the click spec as ci/system-test.sh does (a network namespace with it on lo)",
            at.ip()
        )
    } else {
        format!("{what} on {at}")
    };
    Error::io(why, source)
}

/// Whether `peer` is on this host: the user network's sockets are.
fn on_this_host(peer: SocketAddr) -> bool {
    peer.ip().is_loopback() || peer.ip() == BACKEND.ip
}

/// A UDP service of the backend.
pub struct UdpBackend {
    socket: UdpSocket,
    buf: Vec<u8>,
}

/// A datagram the backend received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// Its payload.
    pub payload: Vec<u8>,
    /// Who sent it (a socket of the user network's).
    pub from: SocketAddr,
}

impl UdpBackend {
    /// Binds `at` ([`service`] but in tests).
    pub fn bind(at: SocketAddr) -> Result<UdpBackend, Error> {
        let socket =
            UdpSocket::bind(at).map_err(|e| bind_error("bind the backend's UDP socket", at, e))?;
        Ok(UdpBackend {
            socket,
            buf: vec![0; MAX_DATAGRAM + 1],
        })
    }

    /// Where it is bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.socket.local_addr().expect("a bound socket")
    }

    /// The next datagram from this host, or `None` once `deadline` has
    /// passed.
    pub fn recv_before(&mut self, deadline: Instant) -> Result<Option<Received>, Error> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            self.socket
                .set_read_timeout(Some(left.max(Duration::from_micros(1))))
                .map_err(|e| Error::io("set the backend's read timeout", e))?;
            match self.socket.recv_from(&mut self.buf) {
                Ok((n, from)) if on_this_host(from) => {
                    return Ok(Some(Received {
                        payload: self.buf[..n].to_vec(),
                        from,
                    }))
                }
                // Not from this host: not the user network's, ignored.
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                            // An earlier answer's peer had gone.
                            | io::ErrorKind::ConnectionRefused
                    ) => {}
                Err(e) => return Err(Error::io("receive at the backend", e)),
            }
        }
    }

    /// Answers `to` (a peer [`recv_before`](Self::recv_before) returned).
    pub fn send_to(&self, payload: &[u8], to: SocketAddr) -> Result<(), Error> {
        assert!(
            on_this_host(to),
            "the backend answers only peers on this host"
        );
        self.socket
            .send_to(payload, to)
            .map(|_| ())
            .map_err(|e| Error::io(format!("send the backend's answer to {to}"), e))
    }
}

/// A TCP service of the backend: a thread accepts every connection and
/// holds it open, never writing. Closing it would send the backend's FIN
/// through the node after the user network has already reset the
/// conversation in the client's name, a late frame in that client's name
/// (which teaches the node the user network's MAC for it) while the
/// client's next flow runs.
pub struct TcpBackend {
    local: SocketAddr,
    accepted: Receiver<SocketAddr>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl TcpBackend {
    /// Listens on `at` ([`service`] but in tests).
    pub fn listen(at: SocketAddr) -> Result<TcpBackend, Error> {
        let listener =
            TcpListener::bind(at).map_err(|e| bind_error("listen for the backend", at, e))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| Error::io("make the backend's listener non-blocking", e))?;
        let local = listener.local_addr().expect("a bound listener");
        let (tell, accepted) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let thread = thread::spawn(move || {
            let mut held = std::collections::VecDeque::with_capacity(HELD);
            while !stopping.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, peer)) if on_this_host(peer) => {
                        if held.len() == HELD {
                            held.pop_front();
                        }
                        held.push_back(stream);
                        let _ = tell.send(peer);
                    }
                    // Not from this host: closed at once.
                    Ok(_) => {}
                    // WouldBlock, or a connection reset before it was
                    // accepted: look again shortly.
                    Err(_) => thread::sleep(ACCEPT_POLL),
                }
            }
        });
        Ok(TcpBackend {
            local,
            accepted,
            stop,
            thread: Some(thread),
        })
    }

    /// Where it listens.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The peer of the next connection accepted, or `None` once
    /// `deadline` has passed.
    pub fn accepted_before(&self, deadline: Instant) -> Option<SocketAddr> {
        let left = deadline.saturating_duration_since(Instant::now());
        self.accepted.recv_timeout(left).ok()
    }

    /// Connections accepted since the last look, waiting until `deadline`
    /// for there to be `expected` (the accepting thread looks every
    /// millisecond, so the last few may lag).
    pub fn accepted_by(&self, expected: usize, deadline: Instant) -> usize {
        let mut count = self.accepted.try_iter().count();
        while count < expected && self.accepted_before(deadline).is_some() {
            count += 1 + self.accepted.try_iter().count();
        }
        count
    }
}

impl Drop for TcpBackend {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::TcpStream;

    use super::*;

    fn any_port() -> SocketAddr {
        "127.0.0.1:0".parse().unwrap()
    }

    #[test]
    fn the_udp_backend_receives_and_answers_on_this_host() {
        let mut backend = UdpBackend::bind(any_port()).unwrap();
        let peer = UdpSocket::bind(any_port()).unwrap();
        peer.send_to(b"request", backend.local_addr()).unwrap();
        let got = backend
            .recv_before(Instant::now() + Duration::from_secs(2))
            .unwrap()
            .expect("a datagram");
        assert_eq!(got.payload, b"request");
        assert_eq!(got.from, peer.local_addr().unwrap());
        backend.send_to(b"reply", got.from).unwrap();
        let mut buf = [0u8; 16];
        let (n, from) = peer.recv_from(&mut buf).unwrap();
        assert_eq!((&buf[..n], from), (&b"reply"[..], backend.local_addr()));
        assert_eq!(
            backend
                .recv_before(Instant::now() + Duration::from_millis(20))
                .unwrap(),
            None
        );
    }

    #[test]
    fn the_tcp_backend_accepts_and_holds_connections() {
        let backend = TcpBackend::listen(any_port()).unwrap();
        let first = TcpStream::connect(backend.local_addr()).unwrap();
        let deadline = Instant::now() + Duration::from_secs(2);
        assert_eq!(
            backend.accepted_before(deadline),
            Some(first.local_addr().unwrap())
        );
        let _second = TcpStream::connect(backend.local_addr()).unwrap();
        let _third = TcpStream::connect(backend.local_addr()).unwrap();
        assert_eq!(backend.accepted_by(2, deadline), 2);
        assert_eq!(backend.accepted_by(1, Instant::now()), 0);
        assert_eq!(
            backend.accepted_before(Instant::now() + Duration::from_millis(20)),
            None
        );
        // Held open: no end of stream for the peer.
        first
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let err = std::io::Read::read(&mut &first, &mut [0u8; 1]).unwrap_err();
        assert!(
            matches!(
                err.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ),
            "{err}"
        );
    }

    #[test]
    fn an_address_this_host_lacks_is_named_with_the_way_to_get_it() {
        // TEST-NET-3: documentation only, never a host's address.
        let at: SocketAddr = "203.0.113.77:20001".parse().unwrap();
        let err = UdpBackend::bind(at).err().expect("not local").to_string();
        assert!(
            err.contains("203.0.113.77 is not an address of this host"),
            "{err}"
        );
        assert!(err.contains("ci/system-test.sh"), "{err}");
        assert!(TcpBackend::listen(at).is_err());
    }
}
