//! The multiplexer's whole per-frame cycle, across modules: classify, copy
//! into a tenant's slot, spawn on a miss, validate and copy the tenant's
//! reply, answer ARP and ping itself, and tear a tenant down.

use edgeos_flow::testing::{self, Ends, ME, PEER_IP, PEER_MAC};
use edgeos_flow::{
    answer_arp, answer_echo, classify, copy_frame, validate_tx, Classified, DropCounters,
    DropReason, FlowTable, Protocol, ServiceKey, TenantId, TxReject, MAX_FRAME_LEN,
};
use smoltcp::wire::{EthernetFrame, UdpPacket};

const INBOUND: Ends = Ends::inbound(&ME);
const OUTBOUND: Ends = Ends::outbound(&ME);

/// A 2 KiB buffer slot, as in the rings' regions.
type Slot = [u8; 2048];

#[test]
fn a_request_reaches_its_tenant_and_the_reply_leaves() {
    let mut table = FlowTable::<16>::new();
    table.insert_service(ServiceKey { protocol: Protocol::Udp, port: 7 }, TenantId(0)).unwrap();

    let request = testing::udp(&INBOUND, 5000, 7, b"echo me");
    let Classified::Deliver { tenant, tuple } = classify(&request, &ME, &table) else {
        panic!("not delivered");
    };
    let mut tenant_rx: Slot = [0; 2048];
    let n = copy_frame(&request, &mut tenant_rx).unwrap();
    assert_eq!(&tenant_rx[..n], &request[..]);

    // The tenant answers from the port it was reached on.
    let reply = testing::udp(&OUTBOUND, tuple.dst.1, tuple.src.1, b"echo me");
    assert_eq!(validate_tx(&reply, tenant, &ME, &table), Ok(tuple.reversed()));
    let mut dma: Slot = [0; 2048];
    assert_eq!(copy_frame(&reply, &mut dma), Some(reply.len()));
    // A slot smaller than the frame is a refusal, not a panic.
    assert_eq!(copy_frame(&reply, &mut dma[..reply.len() - 1]), None);
}

#[test]
fn a_miss_spawns_a_per_flow_tenant_until_teardown() {
    let mut table = FlowTable::<16>::new();
    let first = testing::tcp(&INBOUND, 41000, 8080, b"");
    let Classified::Miss { tuple } = classify(&first, &ME, &table) else { panic!("not a miss") };

    // The caller's spawn decision: give this conversation to slot 3.
    table.insert_flow(tuple, TenantId(3)).unwrap();
    let next = testing::tcp(&INBOUND, 41000, 8080, b"more");
    assert_eq!(classify(&next, &ME, &table), Classified::Deliver { tenant: TenantId(3), tuple });
    // Another conversation to the same port is still a miss: per-flow, not per-port.
    let other = testing::tcp(&INBOUND, 41001, 8080, b"");
    assert!(matches!(classify(&other, &ME, &table), Classified::Miss { .. }));

    let reply = testing::tcp(&OUTBOUND, 8080, 41000, b"ok");
    assert!(validate_tx(&reply, TenantId(3), &ME, &table).is_ok());
    let stray = testing::tcp(&OUTBOUND, 8080, 41001, b"ok");
    assert_eq!(validate_tx(&stray, TenantId(3), &ME, &table), Err(TxReject::SpoofedSource));

    // Teardown: the slot's flows go, its late replies are refused.
    assert_eq!(table.remove_tenant(TenantId(3)), 1);
    assert!(matches!(classify(&next, &ME, &table), Classified::Miss { .. }));
    assert_eq!(validate_tx(&reply, TenantId(3), &ME, &table), Err(TxReject::SpoofedSource));
}

#[test]
fn the_mux_answers_arp_and_ping_itself() {
    let table = FlowTable::<4>::new();
    let mut out = [0u8; MAX_FRAME_LEN];

    let who_has = testing::arp_request(PEER_MAC, PEER_IP, ME.ip);
    let Classified::ArpRequest(request) = classify(&who_has, &ME, &table) else { panic!() };
    let n = answer_arp(&request, &ME, &mut out).unwrap();
    assert_eq!(EthernetFrame::new_checked(&out[..n]).unwrap().dst_addr(), PEER_MAC);

    let ping = testing::echo_request(&INBOUND, 9, 1, &[0xa5; 56]);
    assert_eq!(classify(&ping, &ME, &table), Classified::EchoRequest);
    let n = answer_echo(&ping, &ME, &mut out).unwrap();
    assert_eq!(n, ping.len());
    // The reply is not something a tenant could have sent: tenants may not use ICMP.
    assert_eq!(
        validate_tx(&out[..n], TenantId(0), &ME, &table),
        Err(TxReject::UnsupportedProtocol)
    );
}

#[test]
fn drops_are_counted_per_reason() {
    let table = FlowTable::<4>::new();
    let mut counters = DropCounters::new();
    let mut bad_len = testing::udp(&INBOUND, 1, 7, b"abc");
    UdpPacket::new_unchecked(testing::l4_mut(&mut bad_len)).set_len(9);
    let frames = [&bad_len[..], &[0u8; 10][..], &bad_len[..]];
    for frame in frames {
        if let Classified::Drop(reason) = classify(frame, &ME, &table) {
            counters.count(reason);
        }
    }
    assert_eq!(counters.get(DropReason::BadUdp), 2);
    assert_eq!(counters.get(DropReason::Truncated), 1);
    assert_eq!(counters.total(), 3);
}
