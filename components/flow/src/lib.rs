//! The multiplexer's per-frame decisions.
//!
//! ```text
//!            wire (driver rings)                       tenants (FWP slot rings)
//!   rx frame ──▶ classify ──▶ Deliver { tenant } ──copy_frame──▶ slot's rx ring
//!                   │    ├──▶ Miss { tuple }   ──▶ caller: spawn or drop
//!                   │    ├──▶ ArpRequest / EchoRequest ──▶ answer_arp / answer_echo ──▶ tx
//!                   │    └──▶ Drop(reason)     ──▶ DropCounters
//!                   ▼
//!              FlowTable  (5-tuple first, then protocol + destination port)
//!                   ▲
//!   tx frame ◀──copy_frame── validate_tx(tenant) ◀──────────────── slot's tx ring
//!            ◀── validate_forward(middlebox) ◀──────────────── a Click FWP's tx ring
//! ```
//!
//! Everything here is a pure function of a byte slice, our [`NetIdentity`]
//! and the [`FlowTable`]: no allocation, no panics on any input, and every
//! header is read through `smoltcp::wire` views after their length checks.
//! Frames come from the wire or from untrusted tenants, so each direction
//! checks lengths, checksums and addresses before anything is copied; a
//! frame is refused with one counted reason ([`DropReason`], [`TxReject`]).
//!
//! Policy, in short: IPv4 only, no options, no fragments, at most a
//! 1500-byte MTU; UDP, TCP, and ICMP echo (answered here, never by tenants).
#![no_std]
#![deny(unsafe_code)]
#![warn(missing_docs)]

mod classify;
mod drop;
mod forward;
mod identity;
mod inspect;
mod parse;
mod respond;
mod table;
pub mod testing;
mod tx;

pub use classify::{classify, Classified};
pub use drop::{DropCounters, DropReason};
pub use forward::{set_ethernet_addresses, validate_forward, Forward};
pub use identity::{FiveTuple, NetIdentity, Protocol, ServiceKey, TenantId};
pub use inspect::{opens_connection, udp_payload};
pub use respond::{answer_arp, answer_echo, RespondError, REPLY_HOP_LIMIT};
pub use table::{FlowKey, FlowTable, FlowTableError};
pub use tx::{validate_tx, TenantGrant, TxReject};

/// Largest IPv4 packet we carry: the standard Ethernet MTU, which is what
/// virtio-net and QEMU's user network use, so nothing legitimate is larger.
pub const MTU: usize = 1500;

/// Largest frame we accept or send: the MTU plus the 14-byte Ethernet
/// header (the NIC strips the FCS, and we carry no VLAN tags).
pub const MAX_FRAME_LEN: usize = MTU + 14;

/// Copies a frame across the tenant boundary: all of `src` to the start of
/// `dst`, returning the number of bytes copied, or `None` (copying
/// nothing) when `dst` is too small.
///
/// This is the only copy on the data path, so it is a plain `memcpy`; the
/// bound check makes a short destination a refusal instead of a panic.
pub fn copy_frame(src: &[u8], dst: &mut [u8]) -> Option<usize> {
    let dst = dst.get_mut(..src.len())?;
    dst.copy_from_slice(src);
    Some(src.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_frame_copies_exactly_or_refuses() {
        let src = [1u8, 2, 3, 4];
        let mut dst = [0u8; 6];
        assert_eq!(copy_frame(&src, &mut dst), Some(4));
        assert_eq!(dst, [1, 2, 3, 4, 0, 0]);
        let mut short = [9u8; 3];
        assert_eq!(copy_frame(&src, &mut short), None);
        assert_eq!(short, [9, 9, 9]);
        assert_eq!(copy_frame(&[], &mut []), Some(0));
    }
}
