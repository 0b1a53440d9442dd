//! IPRewriter (a subset) and RoundRobinIPMapper: address and port
//! rewriting with per-flow mappings, for a NAT or a load balancer.
//!
//! An IPRewriter has one input per input spec. A TCP or UDP packet is first
//! looked up in the rewriter's mappings: a packet of a mapped flow is
//! rewritten to the flow's new addresses and ports and leaves on the
//! mapping's forward output; a reply (the rewritten flow, reversed) is
//! rewritten back and leaves on its reverse output. A packet of no mapped
//! flow is handled by the spec of the input it came in on:
//!
//! - `drop`: dropped (counted as `no_mapping`);
//! - `pass OUT`: sent on unchanged, no mapping made;
//! - `keep FOUT ROUT`: a mapping that rewrites nothing (so replies are known);
//! - `pattern SADDR SPORT DADDR DPORT FOUT ROUT`: a mapping to these
//!   addresses and ports, `-` keeping a field; SPORT may be a range
//!   `LOW-HIGH`, from which each new flow gets the next free port;
//! - the name of a RoundRobinIPMapper: its patterns (same six fields each),
//!   used in turn, one per new flow.
//!
//! Checksums are updated incrementally (see `elements::ip`). Mappings never
//! expire (no clock reaches the graph): an FWP serves one flow, or a few,
//! and is torn down when idle; when the table is full new flows are dropped
//! (`mapping_table_full`) rather than old ones evicted.

use heapless::Vec;
use smoltcp::wire::{Ipv4Packet, TcpPacket, UdpPacket};

use super::ip::adjust;
use crate::args::{self, bad, ArgError};
use crate::error::ErrorKind;
use crate::verdict::{DropReason, Step};
use crate::{MAX_MAPPERS, MAX_MAPPINGS, MAX_PORTS, MAX_REWRITER_PATTERNS, MAX_REWRITER_SPECS};

const TCP: u8 = 6;
const UDP: u8 = 17;

/// A flow as a packet carries it: source and destination address and port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Tuple {
    saddr: u32,
    sport: u16,
    daddr: u32,
    dport: u16,
}

impl Tuple {
    fn reversed(self) -> Self {
        Self {
            saddr: self.daddr,
            sport: self.dport,
            daddr: self.saddr,
            dport: self.sport,
        }
    }

    /// Addresses then ports, as they appear in the TCP/UDP pseudo-header and header.
    fn words(self) -> [u8; 12] {
        let mut w = [0; 12];
        w[0..4].copy_from_slice(&self.saddr.to_be_bytes());
        w[4..8].copy_from_slice(&self.daddr.to_be_bytes());
        w[8..10].copy_from_slice(&self.sport.to_be_bytes());
        w[10..12].copy_from_slice(&self.dport.to_be_bytes());
        w
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pattern {
    saddr: Option<u32>,
    /// `None` keeps the source port; else the range new flows take ports from.
    sport: Option<(u16, u16)>,
    daddr: Option<u32>,
    dport: Option<u16>,
    fout: u8,
    rout: u8,
    /// The next source port to try in the range.
    next: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Spec {
    Drop,
    Pass(u8),
    Keep { fout: u8, rout: u8 },
    Pattern(u8),
    Mapper(u8),
}

#[derive(Debug, Clone, Copy)]
struct Mapper {
    first: u8,
    count: u8,
    next: u8,
}

#[derive(Debug, Clone, Copy)]
struct Mapping {
    owner: u8,
    proto: u8,
    from: Tuple,
    to: Tuple,
    fout: u8,
    rout: u8,
}

/// Every IPRewriter's specs and mappings, and every RoundRobinIPMapper's patterns.
#[derive(Debug)]
pub(crate) struct Tables {
    patterns: Vec<Pattern, MAX_REWRITER_PATTERNS>,
    specs: Vec<Spec, MAX_REWRITER_SPECS>,
    mappers: Vec<Mapper, MAX_MAPPERS>,
    mappings: Vec<Mapping, MAX_MAPPINGS>,
}

/// One IPRewriter: its input specs in [`Tables`], and the outputs they name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IpRewriter {
    first: u8,
    /// Also the number of inputs.
    pub specs: u8,
    /// One more than the highest output a spec names (0 when none does).
    pub outputs: u8,
    /// The outputs some spec names (bit `n` for output `n`).
    pub used: u16,
}

/// One RoundRobinIPMapper (an index into the mapper table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MapperId(pub u8);

const PATTERN: &str = "a rewrite pattern is SADDR SPORT DADDR DPORT FOUTPUT ROUTPUT (- keeps a field; SPORT may be LOW-HIGH)";
const SPEC: &str = "an IPRewriter input spec is drop, pass OUT, keep FOUT ROUT, pattern SADDR SPORT DADDR DPORT FOUT ROUT, or a RoundRobinIPMapper's name";

fn table_full<'s>(at: &'s str, what: &'static str) -> ArgError<'s> {
    ArgError {
        at,
        kind: ErrorKind::TableFull(what),
    }
}

impl Tables {
    pub const fn new() -> Self {
        Self {
            patterns: Vec::new(),
            specs: Vec::new(),
            mappers: Vec::new(),
            mappings: Vec::new(),
        }
    }

    pub fn clear(&mut self) {
        self.patterns.clear();
        self.specs.clear();
        self.mappers.clear();
        self.mappings.clear();
    }

    /// Mappings made so far (all rewriters).
    pub fn mappings(&self) -> usize {
        self.mappings.len()
    }

    /// Parses `RoundRobinIPMapper(PATTERN, ...)`.
    pub fn parse_mapper<'s>(&mut self, inner: &'s str) -> Result<MapperId, ArgError<'s>> {
        let first = self.patterns.len() as u8;
        let mut count = 0u8;
        for arg in args::split(inner) {
            let mut words = args::words(arg);
            let p = pattern(&mut words, arg)?;
            if let Some(extra) = words.next() {
                return Err(bad(extra, PATTERN));
            }
            self.patterns
                .push(p)
                .map_err(|_| table_full(arg, "more than 16 rewrite patterns in the graph"))?;
            count += 1;
        }
        if count == 0 {
            return Err(bad(
                inner,
                "a RoundRobinIPMapper needs at least one pattern",
            ));
        }
        let id = self.mappers.len() as u8;
        self.mappers
            .push(Mapper {
                first,
                count,
                next: 0,
            })
            .map_err(|_| table_full(inner, "more than 4 RoundRobinIPMappers in the graph"))?;
        Ok(MapperId(id))
    }

    /// Parses `IPRewriter(INPUTSPEC, ...)`; `mapper` resolves a name to a
    /// RoundRobinIPMapper declared before.
    pub fn parse<'s>(
        &mut self,
        inner: &'s str,
        mapper: impl Fn(&str) -> Option<MapperId>,
    ) -> Result<IpRewriter, ArgError<'s>> {
        let first = self.specs.len() as u8;
        let mut rw = IpRewriter {
            first,
            specs: 0,
            outputs: 0,
            used: 0,
        };
        let use_port = |rw: &mut IpRewriter, p: u8| {
            rw.outputs = rw.outputs.max(p + 1);
            rw.used |= 1 << p;
        };
        for arg in args::split(inner) {
            if usize::from(rw.specs) == MAX_PORTS {
                return Err(bad(
                    arg,
                    "an IPRewriter has at most 16 input specs (one input each)",
                ));
            }
            let mut words = args::words(arg);
            let Some(kind) = words.next() else {
                return Err(bad(arg, SPEC));
            };
            let spec = match kind {
                "drop" | "discard" => Spec::Drop,
                "pass" => {
                    let out = output(&mut words, arg)?;
                    use_port(&mut rw, out);
                    Spec::Pass(out)
                }
                "keep" => {
                    let (fout, rout) = (output(&mut words, arg)?, output(&mut words, arg)?);
                    use_port(&mut rw, fout);
                    use_port(&mut rw, rout);
                    Spec::Keep { fout, rout }
                }
                "pattern" => {
                    let p = pattern(&mut words, arg)?;
                    use_port(&mut rw, p.fout);
                    use_port(&mut rw, p.rout);
                    let id = self.patterns.len() as u8;
                    self.patterns.push(p).map_err(|_| {
                        table_full(arg, "more than 16 rewrite patterns in the graph")
                    })?;
                    Spec::Pattern(id)
                }
                name => {
                    let Some(MapperId(id)) = mapper(name) else {
                        return Err(ArgError {
                            at: name,
                            kind: ErrorKind::UnknownMapper,
                        });
                    };
                    let m = self
                        .mappers
                        .get(usize::from(id))
                        .copied()
                        .ok_or(bad(name, SPEC))?;
                    let first = usize::from(m.first);
                    for p in self
                        .patterns
                        .get(first..first + usize::from(m.count))
                        .unwrap_or(&[])
                    {
                        use_port(&mut rw, p.fout);
                        use_port(&mut rw, p.rout);
                    }
                    Spec::Mapper(id)
                }
            };
            if let Some(extra) = words.next() {
                return Err(bad(extra, SPEC));
            }
            self.specs
                .push(spec)
                .map_err(|_| table_full(arg, "more than 16 IPRewriter input specs in the graph"))?;
            rw.specs += 1;
        }
        if rw.specs == 0 {
            return Err(bad(inner, "an IPRewriter needs at least one input spec"));
        }
        Ok(rw)
    }

    /// The step for a packet whose IP header starts `ip`, arriving on `input`.
    pub fn process(&mut self, rw: IpRewriter, input: u8, ip: &mut [u8]) -> Step {
        let owner = rw.first;
        let spec = if input < rw.specs {
            self.specs
                .get(usize::from(rw.first + input))
                .copied()
                .unwrap_or(Spec::Drop)
        } else {
            Spec::Drop
        };
        let (proto, key) = match flow(ip) {
            Ok(flow) => flow,
            Err(DropReason::BadIpHeader) => return Step::Drop(DropReason::BadIpHeader),
            Err(reason) => {
                // Not rewritable (another protocol, a fragment, a broken
                // transport header): only `pass` lets it through.
                return match spec {
                    Spec::Pass(out) if reason != DropReason::BadL4Header => Step::Out(out),
                    _ => Step::Drop(reason),
                };
            }
        };
        for m in self
            .mappings
            .iter()
            .filter(|m| m.owner == owner && m.proto == proto)
        {
            if m.from == key {
                return rewrite(ip, proto, key, m.to, m.fout);
            }
            if m.to.reversed() == key {
                return rewrite(ip, proto, key, m.from.reversed(), m.rout);
            }
        }
        let (to, fout, rout) = match spec {
            Spec::Drop => return Step::Drop(DropReason::NoMapping),
            Spec::Pass(out) => return Step::Out(out),
            Spec::Keep { fout, rout } => (key, fout, rout),
            Spec::Pattern(i) => match self.apply(owner, proto, i, key) {
                Ok(x) => x,
                Err(reason) => return Step::Drop(reason),
            },
            Spec::Mapper(id) => {
                let Some(m) = self.mappers.get_mut(usize::from(id)) else {
                    return Step::Drop(DropReason::NoMapping);
                };
                let i = m.first + m.next;
                m.next = (m.next + 1) % m.count.max(1);
                match self.apply(owner, proto, i, key) {
                    Ok(x) => x,
                    Err(reason) => return Step::Drop(reason),
                }
            }
        };
        if self.mappings.is_full() {
            return Step::Drop(DropReason::MappingTableFull);
        }
        let _ = self.mappings.push(Mapping {
            owner,
            proto,
            from: key,
            to,
            fout,
            rout,
        });
        rewrite(ip, proto, key, to, fout)
    }

    /// Whether a flow rewritten to `to` would be indistinguishable from one
    /// already mapped (its replies would match both).
    fn taken(&self, owner: u8, proto: u8, to: Tuple) -> bool {
        self.mappings
            .iter()
            .any(|m| m.owner == owner && m.proto == proto && m.to == to)
    }

    /// The new flow pattern `i` makes of `key`, with its outputs.
    fn apply(
        &mut self,
        owner: u8,
        proto: u8,
        i: u8,
        key: Tuple,
    ) -> Result<(Tuple, u8, u8), DropReason> {
        let p = *self
            .patterns
            .get(usize::from(i))
            .ok_or(DropReason::NoMapping)?;
        let mut to = key;
        to.saddr = p.saddr.unwrap_or(key.saddr);
        to.daddr = p.daddr.unwrap_or(key.daddr);
        to.dport = p.dport.unwrap_or(key.dport);
        let Some((lo, hi)) = p.sport else {
            return if self.taken(owner, proto, to) {
                Err(DropReason::PortsExhausted)
            } else {
                Ok((to, p.fout, p.rout))
            };
        };
        // At most MAX_MAPPINGS ports are in use, so MAX_MAPPINGS + 1 tries
        // find a free one whenever the range is that large.
        let size = u32::from(hi - lo) + 1;
        let mut port = p.next.clamp(lo, hi);
        for _ in 0..size.min(MAX_MAPPINGS as u32 + 1) {
            to.sport = port;
            let next = if port == hi { lo } else { port + 1 };
            if !self.taken(owner, proto, to) {
                if let Some(p) = self.patterns.get_mut(usize::from(i)) {
                    p.next = next;
                }
                return Ok((to, p.fout, p.rout));
            }
            port = next;
        }
        Err(DropReason::PortsExhausted)
    }
}

/// The protocol and flow of a TCP or UDP packet that can be rewritten: not
/// a fragment, transport header accepted by smoltcp.
fn flow(ip: &[u8]) -> Result<(u8, Tuple), DropReason> {
    let hdr = match Ipv4Packet::new_checked(ip) {
        Ok(h) if h.version() == 4 => h,
        _ => return Err(DropReason::BadIpHeader),
    };
    let proto = u8::from(hdr.next_header());
    if proto != TCP && proto != UDP {
        return Err(DropReason::NotTcpUdp);
    }
    if hdr.more_frags() || hdr.frag_offset() != 0 {
        return Err(DropReason::Fragment);
    }
    let (sport, dport) = if proto == TCP {
        let t = TcpPacket::new_checked(hdr.payload()).map_err(|_| DropReason::BadL4Header)?;
        (t.src_port(), t.dst_port())
    } else {
        let u = UdpPacket::new_checked(hdr.payload()).map_err(|_| DropReason::BadL4Header)?;
        (u.src_port(), u.dst_port())
    };
    let key = Tuple {
        saddr: u32::from(hdr.src_addr()),
        sport,
        daddr: u32::from(hdr.dst_addr()),
        dport,
    };
    Ok((proto, key))
}

/// Rewrites the packet of flow `from` to flow `to` (addresses, ports, IP
/// header and TCP/UDP checksums), then on to `out`.
fn rewrite(ip: &mut [u8], proto: u8, from: Tuple, to: Tuple, out: u8) -> Step {
    if from == to {
        return Step::Out(out);
    }
    let Ok(mut hdr) = Ipv4Packet::new_checked(&mut *ip) else {
        return Step::Drop(DropReason::BadIpHeader);
    };
    let (old, new) = (from.words(), to.words());
    let (old_addrs, new_addrs): ([u8; 8], [u8; 8]) = (pick(&old), pick(&new));
    let check = adjust(hdr.checksum(), &old_addrs, &new_addrs);
    hdr.set_checksum(check);
    hdr.set_src_addr(to.saddr.into());
    hdr.set_dst_addr(to.daddr.into());
    let payload = hdr.payload_mut();
    if proto == TCP {
        let Ok(mut t) = TcpPacket::new_checked(payload) else {
            return Step::Drop(DropReason::BadL4Header);
        };
        t.set_checksum(adjust(t.checksum(), &old, &new));
        t.set_src_port(to.sport);
        t.set_dst_port(to.dport);
    } else {
        let Ok(mut u) = UdpPacket::new_checked(payload) else {
            return Step::Drop(DropReason::BadL4Header);
        };
        // A UDP checksum of 0 means "none", and stays so; a computed 0 is sent as 0xffff.
        if u.checksum() != 0 {
            let c = adjust(u.checksum(), &old, &new);
            u.set_checksum(if c == 0 { 0xffff } else { c });
        }
        u.set_src_port(to.sport);
        u.set_dst_port(to.dport);
    }
    Step::Out(out)
}

fn pick(words: &[u8; 12]) -> [u8; 8] {
    let mut a = [0; 8];
    a.copy_from_slice(&words[..8]);
    a
}

fn output<'s>(words: &mut args::Words<'s>, arg: &'s str) -> Result<u8, ArgError<'s>> {
    const OUT: &str = "expected an output port 0 to 15";
    let w = words.next().ok_or(bad(&arg[arg.len()..], OUT))?;
    match args::uint(w) {
        Some(n) if (n as usize) < MAX_PORTS => Ok(n as u8),
        _ => Err(bad(w, OUT)),
    }
}

fn pattern<'s>(words: &mut args::Words<'s>, arg: &'s str) -> Result<Pattern, ArgError<'s>> {
    let mut field = || words.next().ok_or(bad(&arg[arg.len()..], PATTERN));
    let port = |s: &'s str| match args::uint(s) {
        Some(n) if (1..=65535).contains(&n) => Ok(n as u16),
        _ => Err(bad(s, "a port is 1 to 65535")),
    };
    let addr = |s: &'s str| match s {
        "-" => Ok(None),
        _ => args::ipv4(s)
            .map(|a| Some(u32::from(a)))
            .ok_or(bad(s, "expected an IPv4 address or -")),
    };
    let saddr = addr(field()?)?;
    let sport_word = field()?;
    let sport = match sport_word {
        "-" => None,
        w => match w.split_once('-') {
            Some((lo, hi)) => {
                let (lo, hi) = (
                    port(lo).map_err(|_| bad(w, PATTERN))?,
                    port(hi).map_err(|_| bad(w, PATTERN))?,
                );
                if lo > hi {
                    return Err(bad(w, "a port range is LOW-HIGH with LOW <= HIGH"));
                }
                Some((lo, hi))
            }
            None => {
                let p = port(w)?;
                Some((p, p))
            }
        },
    };
    let daddr = addr(field()?)?;
    let dport = match field()? {
        "-" => None,
        w => Some(port(w)?),
    };
    let fout = output(words, arg)?;
    let rout = output(words, arg)?;
    let next = sport.map_or(0, |(lo, _)| lo);
    Ok(Pattern {
        saddr,
        sport,
        daddr,
        dport,
        fout,
        rout,
        next,
    })
}

#[cfg(test)]
mod tests {
    extern crate std;

    use smoltcp::wire::{IpAddress, Ipv4Address};

    use super::*;
    use crate::testing::{self, ends, Frame};

    fn rewriter(specs: &'static str) -> (Tables, IpRewriter) {
        let mut t = Tables::new();
        let rw = t
            .parse(specs, |_| None)
            .unwrap_or_else(|e| panic!("{specs}: {e:?}"));
        (t, rw)
    }

    fn push(t: &mut Tables, rw: IpRewriter, input: u8, f: &mut Frame) -> Step {
        t.process(rw, input, &mut f[14..])
    }

    /// Source and destination as `addr:port` strings, checking every checksum.
    fn flow_of(f: &Frame) -> (std::string::String, std::string::String) {
        let ip = Ipv4Packet::new_checked(&f[14..]).unwrap();
        assert!(ip.verify_checksum(), "IP header checksum");
        let (src, dst) = (
            IpAddress::Ipv4(ip.src_addr()),
            IpAddress::Ipv4(ip.dst_addr()),
        );
        let (sp, dp) = match u8::from(ip.next_header()) {
            TCP => {
                let t = TcpPacket::new_checked(ip.payload()).unwrap();
                assert!(t.verify_checksum(&src, &dst), "TCP checksum");
                (t.src_port(), t.dst_port())
            }
            _ => {
                let u = UdpPacket::new_checked(ip.payload()).unwrap();
                assert!(u.verify_checksum(&src, &dst), "UDP checksum");
                (u.src_port(), u.dst_port())
            }
        };
        (
            std::format!("{}:{sp}", ip.src_addr()),
            std::format!("{}:{dp}", ip.dst_addr()),
        )
    }

    #[test]
    fn a_nat_pattern_maps_new_flows_and_reverses_replies() {
        let (mut t, rw) = rewriter("pattern 192.0.2.1 1024-65535 - - 0 1, drop");
        assert_eq!((rw.specs, rw.outputs, rw.used), (2, 2, 0b11));
        let mut out = testing::tcp_frame(ends("10.0.0.5", "203.0.113.9"), 40000, 80, b"GET /");
        assert_eq!(push(&mut t, rw, 0, &mut out), Step::Out(0));
        assert_eq!(
            flow_of(&out),
            ("192.0.2.1:1024".into(), "203.0.113.9:80".into())
        );
        // The same flow again: the same mapping, no new one.
        let mut again = testing::tcp_frame(ends("10.0.0.5", "203.0.113.9"), 40000, 80, b"more");
        assert_eq!(push(&mut t, rw, 0, &mut again), Step::Out(0));
        assert_eq!(flow_of(&again).0, "192.0.2.1:1024");
        assert_eq!(t.mappings(), 1);
        // The reply, on the `drop` input: rewritten back, reverse output.
        let mut reply = testing::tcp_frame(ends("203.0.113.9", "192.0.2.1"), 80, 1024, b"200 OK");
        assert_eq!(push(&mut t, rw, 1, &mut reply), Step::Out(1));
        assert_eq!(
            flow_of(&reply),
            ("203.0.113.9:80".into(), "10.0.0.5:40000".into())
        );
        // Another inside flow gets the next port; an unknown outside one is dropped.
        let mut other = testing::udp_frame(ends("10.0.0.6", "203.0.113.9"), 40000, 53, b"q");
        assert_eq!(push(&mut t, rw, 0, &mut other), Step::Out(0));
        assert_eq!(flow_of(&other).0, "192.0.2.1:1025");
        let mut stranger = testing::tcp_frame(ends("203.0.113.9", "192.0.2.1"), 80, 2000, b"");
        assert_eq!(
            push(&mut t, rw, 1, &mut stranger),
            Step::Drop(DropReason::NoMapping)
        );
    }

    #[test]
    fn the_port_range_wraps_and_is_exhausted_with_a_drop() {
        let (mut t, rw) = rewriter("pattern 192.0.2.1 5000-5001 - - 0 0");
        for (i, expected) in [(1u16, "192.0.2.1:5000"), (2, "192.0.2.1:5001")] {
            let mut f = testing::udp_frame(ends("10.0.0.5", "203.0.113.9"), i, 53, b"q");
            assert_eq!(push(&mut t, rw, 0, &mut f), Step::Out(0));
            assert_eq!(flow_of(&f).0, expected);
        }
        let mut f = testing::udp_frame(ends("10.0.0.5", "203.0.113.9"), 3, 53, b"q");
        assert_eq!(
            push(&mut t, rw, 0, &mut f),
            Step::Drop(DropReason::PortsExhausted)
        );
        // The same flows to another destination do not collide.
        let mut f = testing::udp_frame(ends("10.0.0.5", "203.0.113.10"), 3, 53, b"q");
        assert_eq!(push(&mut t, rw, 0, &mut f), Step::Out(0));
    }

    #[test]
    fn the_mapping_table_fills_up_with_a_drop() {
        let (mut t, rw) = rewriter("keep 0 1");
        for sport in 1..=MAX_MAPPINGS as u16 {
            let mut f = testing::udp_frame(ends("10.0.0.5", "203.0.113.9"), sport, 53, b"q");
            assert_eq!(push(&mut t, rw, 0, &mut f), Step::Out(0));
        }
        let mut f = testing::udp_frame(ends("10.0.0.5", "203.0.113.9"), 9999, 53, b"q");
        assert_eq!(
            push(&mut t, rw, 0, &mut f),
            Step::Drop(DropReason::MappingTableFull)
        );
        // Known flows still pass, both ways.
        let mut f = testing::udp_frame(ends("203.0.113.9", "10.0.0.5"), 53, 7, b"a");
        assert_eq!(push(&mut t, rw, 0, &mut f), Step::Out(1));
    }

    #[test]
    fn a_round_robin_mapper_spreads_new_flows_over_its_backends() {
        let mut t = Tables::new();
        let m = t
            .parse_mapper("- - 10.1.0.1 8080 0 1, - - 10.1.0.2 8080 0 1")
            .unwrap();
        let rw = t.parse("lb, drop", |n| (n == "lb").then_some(m)).unwrap();
        assert_eq!((rw.outputs, rw.used), (2, 0b11));
        let mut backends = std::vec::Vec::new();
        for sport in 1000..1004 {
            let mut f = testing::tcp_frame(ends("198.51.100.7", "192.0.2.80"), sport, 80, b"x");
            assert_eq!(push(&mut t, rw, 0, &mut f), Step::Out(0));
            backends.push(flow_of(&f).1);
        }
        assert_eq!(
            backends,
            [
                "10.1.0.1:8080",
                "10.1.0.2:8080",
                "10.1.0.1:8080",
                "10.1.0.2:8080"
            ]
        );
        // The second backend's reply comes back from the virtual address.
        let mut reply = testing::tcp_frame(ends("10.1.0.2", "198.51.100.7"), 8080, 1001, b"y");
        assert_eq!(push(&mut t, rw, 1, &mut reply), Step::Out(1));
        assert_eq!(
            flow_of(&reply),
            ("192.0.2.80:80".into(), "198.51.100.7:1001".into())
        );
    }

    #[test]
    fn pass_lets_anything_well_formed_through_and_other_specs_refuse_it() {
        let (mut t, rw) = rewriter("pass 0, drop");
        let mut icmp = testing::icmp_echo_frame(ends("10.0.0.1", "10.0.0.2"));
        assert_eq!(push(&mut t, rw, 0, &mut icmp), Step::Out(0));
        assert_eq!(
            push(&mut t, rw, 1, &mut icmp),
            Step::Drop(DropReason::NotTcpUdp)
        );
        let mut frag = testing::udp_frame(ends("10.0.0.1", "10.0.0.2"), 1, 2, b"x");
        testing::ipv4_mut(&mut frag).set_more_frags(true);
        assert_eq!(push(&mut t, rw, 0, &mut frag), Step::Out(0));
        assert_eq!(
            push(&mut t, rw, 1, &mut frag),
            Step::Drop(DropReason::Fragment)
        );
        assert_eq!(t.mappings(), 0);
    }

    #[test]
    fn malformed_packets_never_create_mappings() {
        let (mut t, rw) = rewriter("pattern 192.0.2.1 - - - 0 0");
        let good = testing::tcp_frame(ends("10.0.0.1", "10.0.0.2"), 1, 2, b"payload");
        for len in 0..good.len() - 7 {
            let mut f = good.clone();
            let step = t.process(rw, 0, &mut f[14.min(len)..len]);
            assert!(
                matches!(
                    step,
                    Step::Drop(DropReason::BadIpHeader | DropReason::BadL4Header)
                ),
                "{len}: {step:?}"
            );
        }
        assert_eq!(t.mappings(), 0);
    }

    #[test]
    fn a_udp_datagram_without_checksum_keeps_none() {
        let (mut t, rw) = rewriter("pattern 192.0.2.1 - - - 0 0");
        let mut f = testing::udp_frame(ends("10.0.0.1", "10.0.0.2"), 1, 2, b"x");
        testing::l4_mut(&mut f)[6..8].copy_from_slice(&[0, 0]);
        assert_eq!(push(&mut t, rw, 0, &mut f), Step::Out(0));
        assert_eq!(&testing::l4_mut(&mut f)[6..8], &[0, 0]);
        assert_eq!(
            testing::ipv4_mut(&mut f).src_addr(),
            Ipv4Address::new(192, 0, 2, 1)
        );
    }

    #[test]
    fn a_wrong_checksum_stays_wrong_by_the_same_amount() {
        let (mut t, rw) = rewriter("pattern 192.0.2.1 - - - 0 0");
        let mut f = testing::tcp_frame(ends("10.0.0.1", "10.0.0.2"), 1, 2, b"x");
        let c = u16::from_be_bytes([testing::l4_mut(&mut f)[16], testing::l4_mut(&mut f)[17]]);
        testing::l4_mut(&mut f)[16..18].copy_from_slice(&(c ^ 0x0100).to_be_bytes());
        assert_eq!(push(&mut t, rw, 0, &mut f), Step::Out(0));
        let ip = Ipv4Packet::new_checked(&f[14..]).unwrap();
        let (src, dst) = (
            IpAddress::Ipv4(ip.src_addr()),
            IpAddress::Ipv4(ip.dst_addr()),
        );
        assert!(!TcpPacket::new_checked(ip.payload())
            .unwrap()
            .verify_checksum(&src, &dst));
    }

    #[test]
    fn bad_specs_name_the_offending_word() {
        let mut t = Tables::new();
        let m = t.parse_mapper("- - 10.0.0.1 80 0 1").unwrap();
        for (specs, at, kind) in [
            ("", "", "bad"),
            ("pass", "", "bad"),
            ("pass 16", "16", "bad"),
            ("keep 0", "", "bad"),
            ("drop 1", "1", "bad"),
            ("pattern 1.2.3.4 - - -", "", "bad"),
            ("pattern 1.2.3 - - - 0 1", "1.2.3", "bad"),
            ("pattern - 0 - - 0 1", "0", "bad"),
            ("pattern - 70000 - - 0 1", "70000", "bad"),
            ("pattern - 9-5 - - 0 1", "9-5", "bad"),
            ("pattern - 1-x - - 0 1", "1-x", "bad"),
            ("pattern - - - - 0 1 2", "2", "bad"),
            ("roundrobin", "roundrobin", "mapper"),
        ] {
            let e = t.parse(specs, |n| (n == "lb").then_some(m)).unwrap_err();
            assert_eq!(e.at, at, "{specs}");
            match kind {
                "mapper" => assert_eq!(e.kind, ErrorKind::UnknownMapper),
                _ => assert!(
                    matches!(e.kind, ErrorKind::BadArgument(_)),
                    "{specs}: {e:?}"
                ),
            }
        }
        assert!(t.parse_mapper("").is_err());
        assert!(t.parse_mapper("- - 10.0.0.1 80 0").is_err());
        assert!(t.parse_mapper("- - 10.0.0.1 80 0 1 9").is_err());
    }
}
