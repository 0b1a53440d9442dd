//! `send`: one UDP datagram with the given text, from a fresh local port,
//! and nothing awaited. For commands a test gives a service (such as the
//! probe template's `probe:spin`), where the effect is checked elsewhere.

use crate::{udp, Error, Loopback};

/// Longest text sent.
pub const MAX_TEXT: usize = 1024;

/// Sends `text` to `target`; the local port it left from.
pub fn run(target: Loopback, text: &str) -> Result<u16, Error> {
    if text.is_empty() || text.len() > MAX_TEXT {
        return Err(Error::Limit(format!("--text must be 1..={MAX_TEXT} bytes, got {}", text.len())));
    }
    let socket = udp::connect(target)?;
    udp::send(&socket, text.as_bytes())?;
    let local = socket.local_addr().map_err(|e| Error::io("read the local address", e))?;
    Ok(local.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_arrives_and_bad_texts_are_refused() {
        let listener = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let target: Loopback = listener.local_addr().unwrap().to_string().parse().unwrap();
        let port = run(target, "probe:spin").unwrap();
        let mut buf = [0u8; 64];
        let (n, from) = listener.recv_from(&mut buf).unwrap();
        assert_eq!((&buf[..n], from.port()), (&b"probe:spin"[..], port));
        assert!(matches!(run(target, ""), Err(Error::Limit(_))));
        assert!(matches!(run(target, &"x".repeat(MAX_TEXT + 1)), Err(Error::Limit(_))));
    }
}
