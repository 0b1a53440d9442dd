//! The UDP plumbing shared by the datagram operations: a socket connected to
//! one loopback target, and a receive that gives up at a deadline.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use crate::target::Loopback;
use crate::Error;

/// Largest UDP payload over IPv4 (65535 minus the IPv4 and UDP headers);
/// receive buffers are one byte larger so an oversized reply shows up as a
/// length mismatch instead of being cut to fit.
pub const MAX_DATAGRAM: usize = 65_507;

/// A UDP socket on loopback, connected to `target`: the kernel then drops
/// datagrams from anyone else, and reports an ICMP port-unreachable from
/// the target as [`Recv::Refused`].
pub(crate) fn connect(target: Loopback) -> Result<UdpSocket, Error> {
    connect_from(target.local_any_port(), target)
}

/// Like [`connect`], with the local end bound to `local`.
pub(crate) fn connect_from(local: SocketAddr, target: Loopback) -> Result<UdpSocket, Error> {
    let socket = UdpSocket::bind(local)
        .map_err(|e| Error::io(format!("bind a UDP socket on {local}"), e))?;
    socket
        .connect(target.addr())
        .map_err(|e| Error::io(format!("connect the UDP socket to {target}"), e))?;
    Ok(socket)
}

/// What waiting for one datagram gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Recv {
    /// A datagram of this many bytes is at the start of the buffer.
    Data(usize),
    /// Nothing arrived before the deadline.
    TimedOut,
    /// The target's port is closed (an earlier send drew an ICMP
    /// port-unreachable): nothing listens there.
    Refused,
}

/// Waits for one datagram until `deadline`.
pub(crate) fn recv_before(
    socket: &UdpSocket,
    buf: &mut [u8],
    deadline: Instant,
) -> Result<Recv, Error> {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(Recv::TimedOut);
        }
        // A zero timeout would mean "block forever"; `left` is not zero, but
        // keep at least a microsecond in case it rounds down.
        socket
            .set_read_timeout(Some(left.max(Duration::from_micros(1))))
            .map_err(|e| Error::io("set the UDP read timeout", e))?;
        match socket.recv(buf) {
            Ok(n) => return Ok(Recv::Data(n)),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => return Ok(Recv::Refused),
            Err(e) => return Err(Error::io("receive a UDP datagram", e)),
        }
    }
}

/// Sends one datagram; a refusal left over from an earlier datagram is
/// reported as [`Recv::Refused`] instead of an error.
pub(crate) fn send(socket: &UdpSocket, bytes: &[u8]) -> Result<Option<Recv>, Error> {
    match socket.send(bytes) {
        Ok(_) => Ok(None),
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => Ok(Some(Recv::Refused)),
        Err(e) => Err(Error::io(
            format!("send a {}-byte UDP datagram", bytes.len()),
            e,
        )),
    }
}
