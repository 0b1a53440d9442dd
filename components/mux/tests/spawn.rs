//! The spawn path through the multiplexer: a packet for a template's
//! service takes a slot (warm or cold), gets its flow entry and is queued
//! for the FWP; TCP spawns only on a SYN; limits refuse; idle, close, fault
//! and ring misbehaviour tear down, remove the flows and ask for a scrub;
//! a scrubbed slot is refilled.

mod common;

use common::*;
use edgeos_flow::{FlowTable, Protocol, ServiceKey};
use edgeos_fwp::{SlotPool, SlotState, SpawnPlan, TeardownReason, TemplateConfig, TemplateId, TemplateReady};
use edgeos_mux::{FirstReply, Fwps, TemplateRoute, MAX_TEMPLATES};
use edgeos_ring::{Buf, Producer};

const UDP: TemplateId = TemplateId(0);
const TCP: TemplateId = TemplateId(1);
const READY: TemplateReady =
    TemplateReady { serve_entry: 0x20_1000, restore_entry: 0x20_2000, park_entry: 0x20_3000, stack_top: 0x40_0000, image: 0x7800_0000 };
const MS: u64 = 1_000_000;

/// Slot 0: UDP echo on 7, one FWP for the service, a warm pool of one,
/// torn down after 5 ms idle. Slot 1: TCP on 8, one FWP per connection,
/// spawned on demand, at most one.
fn fwps() -> Fwps<2> {
    let mut pool = SlotPool::<2, MAX_TEMPLATES>::new();
    pool.configure(UDP, TemplateConfig::warm_pool(1, 1).with_idle_timeout(5 * MS)).unwrap();
    pool.configure(TCP, TemplateConfig::on_demand(1)).unwrap();
    pool.bind(0, UDP, false).unwrap();
    pool.bind(1, TCP, false).unwrap();
    let routes = heapless::Vec::from_iter([
        Some(TemplateRoute::new([ServiceKey { protocol: Protocol::Udp, port: 7 }], false)),
        Some(TemplateRoute::new([ServiceKey { protocol: Protocol::Tcp, port: 8 }], true)),
    ]);
    Fwps::new(pool, routes)
}

fn stat(line: &str, key: &str) -> u64 {
    let pair = line.split(' ').find(|kv| kv.split('=').next() == Some(key)).unwrap_or_else(|| panic!("{key} in {line}"));
    pair.split('=').nth(1).unwrap().parse().unwrap()
}

#[test]
fn the_first_packet_spawns_a_warm_fwp_that_serves_and_idles_out() {
    let (driver, wa, wb) = (Wires::new(DMA_SLOTS * BUF), Wires::new(TENANT_SLOTS * BUF), Wires::new(TENANT_SLOTS * BUF));
    let fresh = Wires::new(TENANT_SLOTS * BUF);
    let mut tenant = Tenant::new(&wa, 7);
    let mut mux = mux(&driver, [&wa, &wb], FlowTable::new()).with_fwps(fwps());
    mux.start();
    // No checkpoint yet: refused, and counted as such.
    arrive(&driver, &udp_to_us(b"too early", 4000, 7));
    mux.on_driver();
    assert_eq!(mux.fwps().stats().refused_other, 1);
    assert_eq!(mux.stats().no_flow, 0, "a refused spawn is not an unrouted packet");
    // The template reports ready: slot 0 is restored towards the warm pool.
    mux.set_checkpoint(UDP, READY).unwrap();
    let refill = mux.fwps_mut().take_plans();
    assert_eq!(&refill[..], &[SpawnPlan { slot: 0, pc: READY.restore_entry, sp: READY.stack_top, generation: 0, then: READY.park_entry, image: READY.image }]);
    mux.restored(0).unwrap();
    // The first datagram spawns it warm: one register write at the serving entry.
    mux.set_now(100 * MS);
    arrive(&driver, &udp_to_us(b"hello", 4000, 7));
    let wake = mux.on_driver();
    let plans = mux.fwps_mut().take_plans();
    assert_eq!(&plans[..], &[SpawnPlan { slot: 0, pc: READY.serve_entry, sp: READY.stack_top, generation: 1, then: 0, image: 0 }]);
    // The pool's only other slot is template 1's: nothing to refill behind it.
    assert_eq!(wake.tenants, [0].into_iter().collect(), "a notification waits for the FWP: it finds its frame either way");
    assert_eq!(tenant.serve(), vec![b"hello".to_vec()], "the frame waited in its ring");
    // The FWP answers (its ARP request first) 7 µs after the frame arrived.
    mux.set_now(100 * MS + 7_000);
    mux.on_tenant(0); // the tenant's ARP request, answered by the mux
    assert_eq!(mux.fwps_mut().take_first_reply(), None, "an ARP request the mux answers is no reply");
    tenant.serve();
    mux.on_tenant(0);
    assert_eq!(departed(&driver).len(), 1, "the echo left: the service entry grants it");
    // Its first frame out, 7 µs after the packet that spawned it.
    assert_eq!(mux.fwps_mut().take_first_reply(), Some(FirstReply { template: UDP, ns: 7_000 }));
    // The service entry routes the next datagram, from any client.
    arrive(&driver, &udp_to_us(b"again", 4001, 7));
    mux.on_driver();
    assert!(mux.fwps_mut().take_plans().is_empty());
    assert_eq!(tenant.serve(), vec![b"again".to_vec()]);
    mux.on_tenant(0); // its echo of "again", sent at once
    assert_eq!(departed(&driver).len(), 1);
    assert_eq!(mux.fwps_mut().take_first_reply(), None, "only the first frame of a spawn");
    // A signal on its notification bit with nothing to send (another FWP's,
    // on a shared bit) is no traffic: it does not put the timeout off.
    mux.set_now(103 * MS);
    mux.on_tenant(0);
    assert!(departed(&driver).is_empty());
    // Idle for the timeout since its last traffic: torn down, its service
    // entry gone, scrubbed, refilled.
    mux.set_now(105 * MS + 7_000 - 1);
    assert_eq!(mux.expire_idle(), 0);
    mux.set_now(105 * MS + 7_000);
    assert_eq!(mux.expire_idle(), 1);
    assert_eq!(mux.fwps_mut().take_draining(), [0].into_iter().collect());
    assert!(mux.stats_line().as_str().contains(" flows=0 "), "{}", mux.stats_line().as_str());
    arrive(&driver, &udp_to_us(b"while draining", 4002, 7));
    mux.on_driver();
    assert_eq!(mux.fwps().stats().refused_exhausted, 1, "a draining slot is not reused");
    mux.scrubbed(0, tenant_ports(&fresh)).unwrap();
    assert_eq!(mux.fwps().pool().state(0), Ok(SlotState::Restoring));
    assert_eq!(mux.fwps_mut().take_plans()[0].then, READY.park_entry);
    let line = mux.stats_line();
    let line = line.as_str();
    for (key, value) in [("fwp.spawned_warm", 1), ("fwp.idle_teardowns", 1), ("fwp.scrubbed", 1), ("fwp.refills", 2), ("slots.restoring", 1), ("t0.delivered", 3), ("t0.sent", 2), ("t0.turnaround_max_ns", 7_000)] {
        assert_eq!(stat(line, key), value, "{key} in {line}");
    }
}

#[test]
fn tcp_spawns_one_fwp_per_connection_only_on_a_syn_and_within_its_limit() {
    let (driver, wa, wb) = (Wires::new(DMA_SLOTS * BUF), Wires::new(TENANT_SLOTS * BUF), Wires::new(TENANT_SLOTS * BUF));
    let _b = Tenant::new(&wb, 8);
    let mut mux = mux(&driver, [&wa, &wb], FlowTable::new()).with_fwps(fwps());
    mux.start();
    mux.set_checkpoint(TCP, READY).unwrap();
    assert!(mux.fwps_mut().take_plans().is_empty(), "on demand: nothing restored ahead");
    arrive(&driver, &tcp_to_us(5000, 8, false));
    mux.on_driver();
    assert_eq!(mux.stats().no_flow, 1, "a stray ACK spawns nothing");
    arrive(&driver, &tcp_to_us(5000, 8, true));
    mux.on_driver();
    let plans = mux.fwps_mut().take_plans();
    assert_eq!(&plans[..], &[SpawnPlan { slot: 1, pc: READY.restore_entry, sp: READY.stack_top, generation: 1, then: READY.serve_entry, image: READY.image }]);
    assert_eq!(mux.tenant(1).unwrap().stats().delivered, 1);
    // Its flow routes the rest of the connection; a second connection is
    // refused: the template may serve one at a time.
    arrive(&driver, &tcp_to_us(5000, 8, false));
    arrive(&driver, &tcp_to_us(5001, 8, true));
    mux.on_driver();
    assert_eq!(mux.tenant(1).unwrap().stats().delivered, 2);
    assert_eq!(mux.fwps().stats().refused_limit, 1);
    // The FWP asks to exit: its flow goes, the slot drains; late segments
    // of the old connection are unrouted, and do not respawn it.
    assert_eq!(mux.teardown(1, TeardownReason::Closed), Ok(1));
    assert_eq!(mux.fwps_mut().take_draining(), [1].into_iter().collect());
    arrive(&driver, &tcp_to_us(5000, 8, false));
    mux.on_driver();
    assert_eq!(mux.stats().no_flow, 2);
    mux.scrubbed(1, tenant_ports(&wb)).unwrap();
    assert_eq!(mux.fwps().pool().state(1), Ok(SlotState::Free));
    arrive(&driver, &tcp_to_us(5001, 8, true));
    mux.on_driver();
    assert_eq!(mux.fwps_mut().take_plans()[0].generation, 2, "the next connection gets the slot again");
    assert_eq!(mux.fwps().stats().closed_teardowns, 1);
}

#[test]
fn faults_and_ring_misbehaviour_tear_the_fwp_down_and_spare_the_other() {
    let (driver, wa, wb) = (Wires::new(DMA_SLOTS * BUF), Wires::new(TENANT_SLOTS * BUF), Wires::new(TENANT_SLOTS * BUF));
    let fresh = (Wires::new(TENANT_SLOTS * BUF), Wires::new(TENANT_SLOTS * BUF));
    let mut a = Tenant::new(&wa, 7);
    let _b = Tenant::new(&wb, 8);
    let mut mux = mux(&driver, [&wa, &wb], FlowTable::new()).with_fwps(fwps());
    mux.start();
    mux.set_checkpoint(UDP, READY).unwrap();
    mux.set_checkpoint(TCP, READY).unwrap();
    mux.fwps_mut().take_plans();
    mux.restored(0).unwrap();
    arrive(&driver, &udp_to_us(b"x", 4000, 7));
    arrive(&driver, &tcp_to_us(5000, 8, true));
    mux.on_driver();
    assert_eq!(mux.fwps().pool().active(), 2);
    // Tenant B hands the mux a descriptor outside its tx region.
    {
        let mut outgoing = edgeos_ring::testing::Shared(&wb.rings[2]);
        outgoing.enqueue(Buf { offset: 1 << 30, len: 64, cookie: 0 }).unwrap().unwrap();
        outgoing.commit();
    }
    mux.on_tenant(1);
    assert_eq!(mux.tenant(1).unwrap().stats().misbehaviour, 1);
    assert_eq!(mux.fwps().stats().fault_teardowns, 1);
    assert_eq!(mux.fwps_mut().take_draining(), [1].into_iter().collect());
    assert!(matches!(mux.fwps().pool().state(1), Ok(SlotState::Draining { reason: TeardownReason::Fault, .. })));
    // A keeps serving; then its ring indices go wrong (the peer moved them
    // inconsistently), and it is torn down too.
    assert_eq!(a.serve(), vec![b"x".to_vec()]);
    mux.on_tenant(0);
    a.serve();
    mux.on_tenant(0);
    assert_eq!(departed(&driver).len(), 1, "A's echo left while B was torn down");
    wa.rings[2].borrow_mut().misbehave();
    mux.on_tenant(0);
    assert_eq!(mux.fwps().stats().fault_teardowns, 2);
    // Its broken ring looks pending for ever; torn down, it counts as
    // idle, so the glue's drain loop (on_tenant until tenant_idle) ends.
    assert!(mux.tenant_idle(0), "a torn-down tenant with a broken ring is idle");
    assert!(mux.tenant_idle(1));
    // A fault report for a slot already torn down changes nothing.
    mux.fault(0);
    assert_eq!(mux.fwps().stats().fault_teardowns, 2);
    assert!(mux.stats_line().as_str().contains(" flows=0 "));
    // Both come back once scrubbed.
    mux.scrubbed(0, tenant_ports(&fresh.0)).unwrap();
    mux.scrubbed(1, tenant_ports(&fresh.1)).unwrap();
    assert_eq!(mux.fwps().pool().counts().get(edgeos_fwp::StateKind::Draining), 0);
}

#[test]
fn a_pool_refills_behind_a_warm_spawn_when_asked() {
    let (driver, wa, wb) = (Wires::new(DMA_SLOTS * BUF), Wires::new(TENANT_SLOTS * BUF), Wires::new(TENANT_SLOTS * BUF));
    let _a = Tenant::new(&wa, 7);
    let mut pool = SlotPool::<2, MAX_TEMPLATES>::new();
    pool.configure(UDP, TemplateConfig::warm_pool(1, 2)).unwrap();
    pool.bind(0, UDP, false).unwrap();
    pool.bind(1, UDP, false).unwrap();
    let route = TemplateRoute::new([ServiceKey { protocol: Protocol::Udp, port: 7 }], true);
    let fwps = Fwps::new(pool, heapless::Vec::from_iter([Some(route)]));
    let mut mux = mux(&driver, [&wa, &wb], FlowTable::new()).with_fwps(fwps);
    mux.start();
    mux.set_checkpoint(UDP, READY).unwrap();
    assert_eq!(mux.fwps_mut().take_plans().iter().map(|p| p.slot).collect::<Vec<_>>(), [0]);
    mux.restored(0).unwrap();
    arrive(&driver, &udp_to_us(b"first flow", 4000, 7));
    mux.on_driver();
    let plans = mux.fwps_mut().take_plans();
    assert_eq!(plans.iter().map(|p| (p.slot, p.then)).collect::<Vec<_>>(), [(0, 0)], "the spawn alone");
    mux.refill_pools();
    let plans = mux.fwps_mut().take_plans();
    assert_eq!(plans.iter().map(|p| (p.slot, p.then)).collect::<Vec<_>>(), [(1, READY.park_entry)], "then the refill");
    assert_eq!(mux.fwps().stats().refills, 2);
    mux.refill_pools();
    assert!(mux.fwps_mut().take_plans().is_empty(), "at target: nothing more");
}

#[test]
fn a_template_serving_tcp_and_udp_on_one_port_gets_both_in_one_fwp() {
    let (driver, wa, wb) = (Wires::new(DMA_SLOTS * BUF), Wires::new(TENANT_SLOTS * BUF), Wires::new(TENANT_SLOTS * BUF));
    let _a = Tenant::new(&wa, 11211);
    let mut pool = SlotPool::<2, MAX_TEMPLATES>::new();
    pool.configure(UDP, TemplateConfig::on_demand(1)).unwrap();
    pool.bind(0, UDP, false).unwrap();
    let services = [Protocol::Tcp, Protocol::Udp].map(|protocol| ServiceKey { protocol, port: 11211 });
    let fwps = Fwps::new(pool, heapless::Vec::from_iter([Some(TemplateRoute::new(services, false))]));
    let mut mux = mux(&driver, [&wa, &wb], FlowTable::new()).with_fwps(fwps);
    mux.start();
    mux.set_checkpoint(UDP, READY).unwrap();
    // A datagram spawns the tenant's FWP; its service entries then route
    // TCP to the same port to it too, a stray ACK included.
    arrive(&driver, &udp_to_us(b"get k\r\n", 4000, 11211));
    mux.on_driver();
    assert_eq!(mux.fwps_mut().take_plans().iter().map(|p| p.slot).collect::<Vec<_>>(), [0]);
    arrive(&driver, &tcp_to_us(5000, 11211, true));
    arrive(&driver, &tcp_to_us(5001, 11211, false));
    mux.on_driver();
    assert!(mux.fwps_mut().take_plans().is_empty(), "no second FWP for the same tenant");
    assert_eq!(mux.tenant(0).unwrap().stats().delivered, 3);
    assert_eq!((mux.stats().no_flow, mux.fwps().stats().refused_limit), (0, 0));
    assert!(mux.stats_line().as_str().contains(" flows=2 "), "{}", mux.stats_line().as_str());
    // Torn down, both entries go: nothing routes to the drained slot.
    mux.teardown(0, TeardownReason::IdleTimeout).unwrap();
    assert!(mux.stats_line().as_str().contains(" flows=0 "), "{}", mux.stats_line().as_str());
    arrive(&driver, &tcp_to_us(5001, 11211, false));
    mux.on_driver();
    assert_eq!(mux.stats().no_flow, 1, "a stray ACK after teardown is unrouted");
}

/// Slot 1 is a dynamic FWP of the TCP template: it takes no connection
/// until the FWP manager reports it created, then serves like any slot.
#[test]
fn a_dynamic_slot_takes_connections_only_once_the_manager_created_it() {
    let (driver, wa, wb) = (Wires::new(DMA_SLOTS * BUF), Wires::new(TENANT_SLOTS * BUF), Wires::new(TENANT_SLOTS * BUF));
    let mut pool = SlotPool::<2, MAX_TEMPLATES>::new();
    pool.configure(UDP, TemplateConfig::warm_pool(1, 1)).unwrap();
    pool.configure(TCP, TemplateConfig::on_demand(1)).unwrap();
    pool.bind(0, UDP, false).unwrap();
    let routes = heapless::Vec::from_iter([
        Some(TemplateRoute::new([ServiceKey { protocol: Protocol::Udp, port: 7 }], false)),
        Some(TemplateRoute::new([ServiceKey { protocol: Protocol::Tcp, port: 8 }], true)),
    ]);
    let mut mux = mux(&driver, [&wa, &wb], FlowTable::new()).with_fwps(Fwps::new(pool, routes));
    mux.start();
    mux.set_checkpoint(TCP, READY).unwrap();
    assert_eq!(mux.fwps().pool().state(1), Ok(SlotState::Initialising));

    arrive(&driver, &tcp_to_us(5000, 8, true));
    mux.on_driver();
    assert!(mux.fwps_mut().take_plans().is_empty(), "nothing to spawn before the manager created the FWP");
    assert_eq!(mux.fwps().stats().refused_exhausted + mux.fwps().stats().refused_other, 1);

    mux.slot_created(1, TCP, tenant_ports(&wb)).unwrap();
    assert_eq!(mux.fwps().pool().state(1), Ok(SlotState::Free));
    assert_eq!(
        mux.slot_created(1, TCP, tenant_ports(&wb)),
        Err(edgeos_fwp::SlotError::WrongState(1, SlotState::Free)),
        "a second report of the same creation changes nothing"
    );
    arrive(&driver, &tcp_to_us(5001, 8, true));
    mux.on_driver();
    let plans = mux.fwps_mut().take_plans();
    assert_eq!(plans.len(), 1, "the next SYN spawns it (cold: restored from the checkpoint first)");
    assert_eq!((plans[0].slot, plans[0].pc), (1, READY.restore_entry));

    // It faults: instead of a scrub, the glue has it destroyed and created
    // anew. Until then the slot takes nothing.
    mux.fault(1);
    assert_eq!(mux.fwps_mut().take_draining(), [1].into_iter().collect());
    assert_eq!(mux.retire(1), Ok(()));
    assert_eq!(mux.fwps().stats().replaced, 1);
    assert_eq!(mux.fwps().pool().state(1), Ok(SlotState::Initialising));
    assert_eq!(mux.retire(1), Err(edgeos_fwp::SlotError::WrongState(1, SlotState::Initialising)), "only a draining slot");
    arrive(&driver, &tcp_to_us(5002, 8, true));
    mux.on_driver();
    assert!(mux.fwps_mut().take_plans().is_empty(), "no FWP behind the slot while it is replaced");
    mux.slot_created(1, TCP, tenant_ports(&wb)).unwrap();
    arrive(&driver, &tcp_to_us(5003, 8, true));
    mux.on_driver();
    assert_eq!(mux.fwps_mut().take_plans().len(), 1, "the new FWP serves the next connection");

    // It ends normally (a renewing template's FWP): replaced all the same,
    // counted apart from faults.
    mux.teardown(1, TeardownReason::Closed).unwrap();
    assert_eq!(mux.fwps_mut().take_draining(), [1].into_iter().collect());
    assert_eq!(mux.retire(1), Ok(()));
    assert_eq!((mux.fwps().stats().replaced, mux.fwps().stats().renewed), (1, 1));
    assert_eq!(mux.fwps().pool().state(1), Ok(SlotState::Initialising));
}
