//! Loopback-only addresses.
//!
//! Every socket address the client talks to is a [`Loopback`]: the only way
//! to build one checks that the IP is in 127.0.0.0/8 or is `::1`. The
//! client exists to reach a QEMU guest through the host ports QEMU forwards
//! (`hostfwd`) and its socket netdev, both of which listen on loopback; a
//! typo must not turn a test into traffic, let alone malformed frames,
//! aimed at a real network.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;

/// Why an address was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddrError {
    /// Not of the form `IP:PORT` (host names are not resolved).
    #[error("{0:?} is not an IP:PORT address such as 127.0.0.1:15007 or [::1]:15007 (host names are not accepted)")]
    Syntax(String),
    /// A well-formed address off the loopback network.
    #[error("{0} is not a loopback address: net-client only talks to 127.0.0.0/8 or ::1 (the host ports QEMU forwards to the guest)")]
    NotLoopback(IpAddr),
    /// Port 0 names no service.
    #[error("{0}: port 0 names no service")]
    PortZero(SocketAddr),
}

/// A socket address on this host's loopback interface: 127.0.0.0/8 or `::1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Loopback(SocketAddr);

impl Loopback {
    /// Accepts `addr` only if its IP is loopback and its port is not 0.
    pub fn new(addr: SocketAddr) -> Result<Loopback, AddrError> {
        if !is_loopback(addr.ip()) {
            return Err(AddrError::NotLoopback(addr.ip()));
        }
        if addr.port() == 0 {
            return Err(AddrError::PortZero(addr));
        }
        Ok(Loopback(addr))
    }

    /// The address itself.
    pub fn addr(self) -> SocketAddr {
        self.0
    }

    /// Where a local socket talking to this address binds: the loopback
    /// address of the same family, any port.
    pub fn local_any_port(self) -> SocketAddr {
        match self.0 {
            SocketAddr::V4(_) => SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            SocketAddr::V6(_) => SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), 0),
        }
    }
}

/// 127.0.0.0/8 or exactly `::1`. IPv4-mapped IPv6 (`::ffff:127.0.0.1`) is
/// refused: it is loopback only on dual-stack sockets, and nothing here
/// needs it.
fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => v6 == Ipv6Addr::LOCALHOST,
    }
}

impl FromStr for Loopback {
    type Err = AddrError;

    fn from_str(text: &str) -> Result<Loopback, AddrError> {
        let addr: SocketAddr = text
            .parse()
            .map_err(|_| AddrError::Syntax(text.to_owned()))?;
        Loopback::new(addr)
    }
}

impl fmt::Display for Loopback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_addresses_are_accepted() {
        for ok in ["127.0.0.1:15007", "127.1.2.3:7", "[::1]:15008"] {
            let addr: Loopback = ok.parse().expect(ok);
            assert_eq!(addr.to_string(), ok);
        }
        let v4: Loopback = "127.0.0.1:1".parse().unwrap();
        assert_eq!(v4.local_any_port().to_string(), "127.0.0.1:0");
        let v6: Loopback = "[::1]:1".parse().unwrap();
        assert_eq!(v6.local_any_port().to_string(), "[::1]:0");
    }

    #[test]
    fn other_addresses_are_refused_with_a_reason() {
        for bad in [
            "10.0.2.15:7",
            "0.0.0.0:15007",
            "192.168.1.1:80",
            "[::]:7",
            "[::ffff:127.0.0.1]:7",
            "[fe80::1]:7",
        ] {
            let err = bad.parse::<Loopback>().expect_err(bad);
            assert!(matches!(err, AddrError::NotLoopback(_)), "{bad}: {err}");
            assert!(
                err.to_string().contains("is not a loopback address"),
                "{err}"
            );
        }
        for bad in ["localhost:15007", "127.0.0.1", "127.0.0.1:99999", ""] {
            assert!(
                matches!(bad.parse::<Loopback>(), Err(AddrError::Syntax(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            "127.0.0.1:0".parse::<Loopback>(),
            Err(AddrError::PortZero(_))
        ));
    }
}
