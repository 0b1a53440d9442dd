//! A middlebox FWP's output (a Click template's): the forwarding policy,
//! the flows its frames open, and the link addresses the multiplexer
//! writes for it.
//!
//! A tenant answers from its own port; a middlebox forwards traffic it did
//! not originate, translated (Click's IPRewriter). Its frames pass
//! [`validate_forward`]; a frame that opens a conversation gets the
//! reversed 5-tuple routed to the FWP, so the far end's answers come back
//! through the same chain, and the teardown that removes the FWP's entries
//! removes those too. Each FWP may hold [`MAX_FLOWS_PER_MIDDLEBOX`]
//! entries, so a misbehaving chain cannot fill the flow table.

use edgeos_flow::{set_ethernet_addresses, validate_forward, FiveTuple, FlowTable, Forward, NetIdentity, TenantId, TxReject};

use crate::neighbours::Neighbours;

/// Flow table entries one middlebox FWP may hold: the flows routed to it
/// and the ones its output opened (a NAT opens one per flow it
/// translates): two for a per-flow FWP, two per flow for a sharing
/// template's fallback. 64, as a Click graph holds at most 64 mappings
/// (`edgeos_click`'s `MAX_MAPPINGS`).
pub const MAX_FLOWS_PER_MIDDLEBOX: usize = 64;

/// What happened to middlebox output, for the stats line.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct MiddleboxStats {
    /// Frames forwarded to the driver.
    pub forwarded: u64,
    /// Frames passed on to a tenant of this node.
    pub passed_on: u64,
    /// Local tenants' answers routed to the middlebox that passed them the
    /// question, instead of the driver.
    pub steered: u64,
    /// Flows middlebox output opened (reverse routes added).
    pub flows_opened: u64,
    /// Frames refused by the forwarding policy.
    pub refused: u64,
    /// Frames that would open a flow past the FWP's limit, or with the table full.
    pub flow_limit: u64,
    /// Frames to a host whose MAC address the multiplexer has not learnt.
    pub no_neighbour: u64,
}

/// Why a middlebox's frame was not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The forwarding policy refused it.
    Policy(TxReject),
    /// It would open a flow the FWP may not hold.
    FlowLimit,
    /// No MAC address is known for its destination.
    NoNeighbour,
}

/// Where a middlebox's frame that passed goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forwarded {
    /// To the driver, as it now is.
    Wire,
    /// To the tenant of this node that `tuple` routes to (the caller
    /// delivers it, or spawns for it, as for a frame from the wire, and
    /// counts it: it refuses one that would reach another middlebox); that
    /// tenant's answers, `tuple` reversed, are routed to the middlebox.
    Local(FiveTuple),
}

/// Checks middlebox `tenant`'s `frame`, routes the flow it opens to it,
/// and writes the frame's link addresses (ours, and the destination's as
/// learnt; for a frame to one of our services, the client's and ours).
///
/// `answered_elsewhere(reply)` says whether a packet `reply` would reach
/// someone else without a flow entry: another template's per-flow
/// service (which is no table entry: it spawns) or the mux's own stats
/// port. A frame whose reply that is may not open a flow, or the
/// middlebox would take that conversation from its rightful owner.
pub fn forward<const N: usize, const NB: usize>(
    frame: &mut [u8],
    tenant: TenantId,
    me: &NetIdentity,
    table: &mut FlowTable<N>,
    neighbours: &Neighbours<NB>,
    answered_elsewhere: &dyn Fn(&FiveTuple) -> bool,
    stats: &mut MiddleboxStats,
) -> Result<Forwarded, Refusal> {
    let verdict = validate_forward(frame, tenant, me, table).map_err(Refusal::Policy);
    let result = verdict.and_then(|decision| {
        let tuple = decision.tuple();
        if let Forward::Local(tuple) = decision {
            // The tenant answers the client's MAC as the mux learnt it (and
            // the mux learns it again from this frame): it must be known.
            let client = neighbours.get(tuple.src.0).ok_or(Refusal::NoNeighbour)?;
            steer_answers(tuple, tenant, table)?;
            set_ethernet_addresses(frame, client, me.mac);
            return Ok(Forwarded::Local(tuple));
        }
        if let Forward::Opens(_) = decision {
            if answered_elsewhere(&tuple.reversed()) {
                return Err(Refusal::Policy(TxReject::SpoofedSource));
            }
        }
        // Checked before a flow is added, so a refused frame leaves no entry.
        let next_hop = neighbours.get(tuple.dst.0).ok_or(Refusal::NoNeighbour)?;
        if let Forward::Opens(tuple) = decision {
            if table.flows_of(tenant).count() >= MAX_FLOWS_PER_MIDDLEBOX {
                return Err(Refusal::FlowLimit);
            }
            table.insert_flow(tuple.reversed(), tenant).map_err(|_| Refusal::FlowLimit)?;
            stats.flows_opened += 1;
        }
        set_ethernet_addresses(frame, me.mac, next_hop);
        Ok(Forwarded::Wire)
    });
    match result {
        Ok(Forwarded::Wire) => stats.forwarded += 1,
        // Counted by the caller, which may still refuse it (see `Forwarded`).
        Ok(Forwarded::Local(_)) => {}
        Err(Refusal::Policy(_)) => stats.refused += 1,
        Err(Refusal::FlowLimit) => stats.flow_limit += 1,
        Err(Refusal::NoNeighbour) => stats.no_neighbour += 1,
    }
    result
}

/// Routes the answers a local tenant gives to `tuple` (its reverse, as the
/// tenant sends it: from our address, which no frame from the wire has) to
/// middlebox `tenant`, within its flow limit.
fn steer_answers<const N: usize>(tuple: FiveTuple, tenant: TenantId, table: &mut FlowTable<N>) -> Result<(), Refusal> {
    let answers = tuple.reversed();
    match table.get_flow(&answers) {
        Some(owner) if owner == tenant => Ok(()),
        Some(_) => Err(Refusal::Policy(TxReject::SpoofedSource)),
        None if table.flows_of(tenant).count() >= MAX_FLOWS_PER_MIDDLEBOX => Err(Refusal::FlowLimit),
        None => table.insert_flow(answers, tenant).map_err(|_| Refusal::FlowLimit),
    }
}

#[cfg(test)]
mod tests {
    use edgeos_flow::testing::{self, Ends, PEER_IP, PEER_MAC};
    use edgeos_flow::Protocol;
    use smoltcp::wire::{EthernetAddress, EthernetFrame, Ipv4Address};

    use super::*;

    const ME: NetIdentity = testing::ME;
    const MBOX: TenantId = TenantId(3);
    const BACKEND: Ipv4Address = Ipv4Address::new(10, 0, 2, 100);
    const BACKEND_MAC: EthernetAddress = EthernetAddress([0x52, 0x54, 0, 0, 2, 100]);

    /// The client's flow to our port 20001, which spawned the middlebox
    /// (room for every entry one middlebox may hold, and more).
    fn table() -> FlowTable<128> {
        let mut t = FlowTable::new();
        let flow = FiveTuple { protocol: Protocol::Udp, src: (PEER_IP, 41000), dst: (ME.ip, 20001) };
        t.insert_flow(flow, MBOX).unwrap();
        t
    }

    /// A translated datagram from us to `dst`, Ethernet header as it arrived.
    fn translated(dst: Ipv4Address, src_port: u16, dst_port: u16) -> testing::Frame {
        let ends = Ends { src_mac: PEER_MAC, dst_mac: ME.mac, src_ip: ME.ip, dst_ip: dst };
        testing::udp(&ends, src_port, dst_port, b"translated")
    }

    /// No other template's service or the stats port is in the way.
    fn nobody(_: &FiveTuple) -> bool {
        false
    }

    fn neighbours() -> Neighbours<8> {
        let mut n = Neighbours::new();
        n.learn(PEER_IP, PEER_MAC);
        n.learn(BACKEND, BACKEND_MAC);
        n
    }

    #[test]
    fn onward_frames_open_the_reply_route_and_get_our_link_addresses() {
        let (mut t, n, mut stats) = (table(), neighbours(), MiddleboxStats::default());
        let mut onward = translated(BACKEND, 41000, 20001);
        assert_eq!(forward(&mut onward, MBOX, &ME, &mut t, &n, &nobody, &mut stats), Ok(Forwarded::Wire));
        let eth = EthernetFrame::new_checked(&onward[..]).unwrap();
        assert_eq!((eth.src_addr(), eth.dst_addr()), (ME.mac, BACKEND_MAC));
        // The backend's answer now routes to the middlebox.
        let answer = FiveTuple { protocol: Protocol::Udp, src: (BACKEND, 20001), dst: (ME.ip, 41000) };
        assert_eq!(t.lookup(&answer), Some(MBOX));
        // The translated answer goes back to the client inside its own flow.
        let mut back = translated(PEER_IP, 20001, 41000);
        assert_eq!(forward(&mut back, MBOX, &ME, &mut t, &n, &nobody, &mut stats), Ok(Forwarded::Wire));
        assert_eq!(EthernetFrame::new_checked(&back[..]).unwrap().dst_addr(), PEER_MAC);
        assert_eq!((stats.forwarded, stats.flows_opened), (2, 1));
        // Tearing the FWP down removes every route it held.
        assert_eq!(t.remove_tenant(MBOX), 2);
    }

    #[test]
    fn unknown_hosts_flow_limits_and_policy_refusals_leave_no_route() {
        let (mut t, mut stats) = (table(), MiddleboxStats::default());
        let mut only_client = Neighbours::<8>::new();
        only_client.learn(PEER_IP, PEER_MAC);
        let mut onward = translated(BACKEND, 41000, 20001);
        assert_eq!(forward(&mut onward, MBOX, &ME, &mut t, &only_client, &nobody, &mut stats), Err(Refusal::NoNeighbour));
        assert_eq!(t.len(), 1);
        let n = neighbours();
        for port in 0..MAX_FLOWS_PER_MIDDLEBOX as u16 - 1 {
            let mut frame = translated(BACKEND, 42000 + port, 20001);
            assert_eq!(forward(&mut frame, MBOX, &ME, &mut t, &n, &nobody, &mut stats), Ok(Forwarded::Wire));
        }
        let mut one_more = translated(BACKEND, 43000, 20001);
        assert_eq!(forward(&mut one_more, MBOX, &ME, &mut t, &n, &nobody, &mut stats), Err(Refusal::FlowLimit));
        assert_eq!(t.flows_of(MBOX).count(), MAX_FLOWS_PER_MIDDLEBOX);
        // To us from us: passed on to a local service only from a client.
        let mut to_us = translated(ME.ip, 41000, 20001);
        assert_eq!(
            forward(&mut to_us, MBOX, &ME, &mut t, &n, &nobody, &mut stats),
            Err(Refusal::Policy(TxReject::SpoofedSource))
        );
        assert_eq!((stats.no_neighbour, stats.flow_limit, stats.refused), (1, 1, 1));
    }

    #[test]
    fn a_reply_another_template_would_answer_opens_no_flow() {
        let (mut t, n, mut stats) = (table(), neighbours(), MiddleboxStats::default());
        // The backend's answer would go to port 8, another template's per-flow service.
        let port_8 = |reply: &FiveTuple| reply.protocol == Protocol::Udp && reply.dst.1 == 8;
        let mut frame = translated(BACKEND, 8, 20001);
        assert_eq!(
            forward(&mut frame, MBOX, &ME, &mut t, &n, &port_8, &mut stats),
            Err(Refusal::Policy(TxReject::SpoofedSource))
        );
        assert_eq!((t.len(), stats.refused), (1, 1), "no entry was added");
        // A reply inside its own flow is not opening one: the check does not apply.
        let mut back = translated(PEER_IP, 20001, 41000);
        assert_eq!(forward(&mut back, MBOX, &ME, &mut t, &n, &|_: &FiveTuple| true, &mut stats), Ok(Forwarded::Wire));
    }

    #[test]
    fn a_clients_frame_to_our_own_service_is_passed_on_and_its_answers_come_back() {
        let (mut t, n, mut stats) = (table(), neighbours(), MiddleboxStats::default());
        // The client of the middlebox's flow, to our port 7, its source kept.
        let ends = Ends { src_mac: ME.mac, dst_mac: BACKEND_MAC, src_ip: PEER_IP, dst_ip: ME.ip };
        let mut frame = testing::udp(&ends, 41000, 7, b"to the local echo");
        let local = FiveTuple { protocol: Protocol::Udp, src: (PEER_IP, 41000), dst: (ME.ip, 7) };
        assert_eq!(forward(&mut frame, MBOX, &ME, &mut t, &n, &nobody, &mut stats), Ok(Forwarded::Local(local)));
        // Addressed as from the wire: from the client's MAC to ours.
        let eth = EthernetFrame::new_checked(&frame[..]).unwrap();
        assert_eq!((eth.src_addr(), eth.dst_addr()), (PEER_MAC, ME.mac));
        // The local tenant's answer is routed to the middlebox.
        assert_eq!(t.get_flow(&local.reversed()), Some(MBOX));
        assert_eq!((stats.forwarded, stats.refused), (0, 0));
        // Again: the same route, no second entry.
        assert_eq!(forward(&mut frame, MBOX, &ME, &mut t, &n, &nobody, &mut stats), Ok(Forwarded::Local(local)));
        assert_eq!(t.flows_of(MBOX).count(), 2);
    }

    #[test]
    fn a_client_whose_mac_is_unknown_is_not_passed_on() {
        let (mut t, mut stats) = (table(), MiddleboxStats::default());
        let only_backend = {
            let mut n = Neighbours::<8>::new();
            n.learn(BACKEND, BACKEND_MAC);
            n
        };
        let ends = Ends { src_mac: ME.mac, dst_mac: ME.mac, src_ip: PEER_IP, dst_ip: ME.ip };
        let mut frame = testing::udp(&ends, 41000, 7, b"x");
        assert_eq!(forward(&mut frame, MBOX, &ME, &mut t, &only_backend, &nobody, &mut stats), Err(Refusal::NoNeighbour));
        assert_eq!(t.len(), 1, "no route for answers was added");
    }
}
