//! IPFilter: rules `ACTION PATTERN` tried in order; the first whose pattern
//! matches decides. `allow` is output 0, a number is that output, `deny` and
//! `drop` drop; a packet no rule matches is dropped. Patterns are a subset of
//! Click's IPClassifier language (docs/click.md has the grammar), compiled
//! at configuration time into postfix programs over a bit stack, so
//! matching a packet allocates nothing and never recurses.

use heapless::Vec;
use smoltcp::wire::{Ipv4Packet, TcpPacket, UdpPacket};

use crate::args::{self, bad, ArgError};
use crate::error::ErrorKind;
use crate::verdict::{DropReason, Step};
use crate::{MAX_FILTER_OPS, MAX_FILTER_RULES, MAX_PORTS};

/// Most terms (primitives and operators) in one rule: the bit stack that
/// evaluates a rule is one `u64`, and no sensible rule comes close.
pub(crate) const MAX_RULE_OPS: usize = 64;

/// Deepest nesting of `(`, `!` and `not` in one rule (bounds the parser's recursion).
const MAX_DEPTH: usize = 16;

const TCP: u8 = 6;
const UDP: u8 = 17;
const ICMP: u8 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dir {
    Src,
    Dst,
    /// `src or dst` (the default).
    Either,
    /// `src and dst`.
    Both,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Const(bool),
    Proto(u8),
    Frag,
    Addr {
        dir: Dir,
        net: u32,
        mask: u32,
    },
    Port {
        dir: Dir,
        proto: Option<u8>,
        lo: u16,
        hi: u16,
    },
    Not,
    And,
    Or,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Out(u8),
    Drop,
}

#[derive(Debug, Clone, Copy)]
struct Rule {
    action: Action,
    first: u16,
    ops: u16,
}

/// Every IPFilter's rules, shared by the graph's IPFilters.
#[derive(Debug)]
pub(crate) struct Tables {
    ops: Vec<Op, MAX_FILTER_OPS>,
    rules: Vec<Rule, MAX_FILTER_RULES>,
}

/// One IPFilter: its rules in [`Tables`], and the outputs they name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IpFilter {
    first: u8,
    rules: u8,
    /// One more than the highest output a rule names (0 when none does).
    pub outputs: u8,
    /// The outputs some rule names (bit `n` for output `n`).
    pub used: u16,
}

/// What IPFilter reads of a packet, extracted once per packet.
#[derive(Debug, Clone, Copy)]
struct Fields {
    proto: u8,
    src: u32,
    dst: u32,
    /// Source and destination port of a TCP or UDP first fragment.
    ports: Option<(u16, u16)>,
    frag: bool,
}

impl Tables {
    pub const fn new() -> Self {
        Self {
            ops: Vec::new(),
            rules: Vec::new(),
        }
    }

    pub fn clear(&mut self) {
        self.ops.clear();
        self.rules.clear();
    }

    /// Parses `IPFilter(RULE, ...)` into the tables.
    pub fn parse<'s>(&mut self, inner: &'s str) -> Result<IpFilter, ArgError<'s>> {
        let first = self.rules.len() as u8;
        let mut f = IpFilter {
            first,
            rules: 0,
            outputs: 0,
            used: 0,
        };
        for arg in args::split(inner) {
            let rule = self.rule(arg)?;
            if let Action::Out(p) = rule.action {
                f.outputs = f.outputs.max(p + 1);
                f.used |= 1 << p;
            }
            if self.rules.push(rule).is_err() {
                return Err(ArgError {
                    at: arg,
                    kind: ErrorKind::TableFull("more than 32 IPFilter rules in the graph"),
                });
            }
            f.rules += 1;
        }
        if f.rules == 0 {
            return Err(bad(inner, "an IPFilter needs at least one rule"));
        }
        Ok(f)
    }

    fn rule<'s>(&mut self, arg: &'s str) -> Result<Rule, ArgError<'s>> {
        let mut p = RuleParser {
            toks: Tokens { s: arg, i: 0 },
            arg,
            ops: &mut self.ops,
            depth: 0,
            emitted: 0,
        };
        let first = p.ops.len() as u16;
        let action =
            match p.toks.next()? {
                Some("allow") => Action::Out(0),
                Some("deny" | "drop") => Action::Drop,
                Some(w) => match args::uint(w) {
                    Some(n) if (n as usize) < MAX_PORTS => Action::Out(n as u8),
                    _ => return Err(bad(
                        w,
                        "an IPFilter rule starts with allow, deny, drop or an output port 0 to 15",
                    )),
                },
                None => return Err(bad(arg, "an empty IPFilter rule")),
            };
        if p.toks.peek()?.is_none() {
            return Err(bad(
                arg,
                "expected a pattern after the action (all matches every packet)",
            ));
        }
        p.expr()?;
        if let Some(w) = p.toks.next()? {
            return Err(bad(w, "expected && or || (or the end of the rule)"));
        }
        Ok(Rule {
            action,
            first,
            ops: p.emitted,
        })
    }

    /// The step for a packet whose IP header starts `ip`.
    pub fn process(&self, f: IpFilter, ip: &[u8]) -> Step {
        let fields = match fields(ip) {
            Ok(fields) => fields,
            Err(reason) => return Step::Drop(reason),
        };
        let first = usize::from(f.first);
        let Some(rules) = self.rules.get(first..first + usize::from(f.rules)) else {
            return Step::Drop(DropReason::NoMatch);
        };
        for rule in rules {
            let first = usize::from(rule.first);
            let ops = self
                .ops
                .get(first..first + usize::from(rule.ops))
                .unwrap_or(&[]);
            if eval(ops, &fields) {
                return match rule.action {
                    Action::Out(p) => Step::Out(p),
                    Action::Drop => Step::Drop(DropReason::Denied),
                };
            }
        }
        Step::Drop(DropReason::NoMatch)
    }
}

fn fields(ip: &[u8]) -> Result<Fields, DropReason> {
    let ip = match Ipv4Packet::new_checked(ip) {
        Ok(ip) if ip.version() == 4 => ip,
        _ => return Err(DropReason::BadIpHeader),
    };
    let proto = u8::from(ip.next_header());
    let first_fragment = ip.frag_offset() == 0;
    let ports = match proto {
        TCP if first_fragment => {
            let t = TcpPacket::new_checked(ip.payload()).map_err(|_| DropReason::BadL4Header)?;
            Some((t.src_port(), t.dst_port()))
        }
        UDP if first_fragment => {
            let u = UdpPacket::new_checked(ip.payload()).map_err(|_| DropReason::BadL4Header)?;
            Some((u.src_port(), u.dst_port()))
        }
        _ => None,
    };
    Ok(Fields {
        proto,
        src: u32::from(ip.src_addr()),
        dst: u32::from(ip.dst_addr()),
        ports,
        frag: ip.more_frags() || !first_fragment,
    })
}

fn dir_test(dir: Dir, src: bool, dst: bool) -> bool {
    match dir {
        Dir::Src => src,
        Dir::Dst => dst,
        Dir::Either => src || dst,
        Dir::Both => src && dst,
    }
}

fn eval(ops: &[Op], f: &Fields) -> bool {
    // A stack of booleans, one bit each; the parser caps a rule at
    // MAX_RULE_OPS terms, so it never holds more than 64.
    let mut stack: u64 = 0;
    for op in ops {
        let value = match *op {
            Op::Const(b) => b,
            Op::Proto(p) => f.proto == p,
            Op::Frag => f.frag,
            Op::Addr { dir, net, mask } => dir_test(dir, f.src & mask == net, f.dst & mask == net),
            Op::Port { dir, proto, lo, hi } => match f.ports {
                Some((sport, dport)) if proto.is_none_or(|p| p == f.proto) => {
                    dir_test(dir, (lo..=hi).contains(&sport), (lo..=hi).contains(&dport))
                }
                _ => false,
            },
            Op::Not => {
                stack ^= 1;
                continue;
            }
            Op::And | Op::Or => {
                let a = stack & 1 == 1;
                let b = stack & 2 == 2;
                stack >>= 2;
                if *op == Op::And {
                    a && b
                } else {
                    a || b
                }
            }
        };
        stack = (stack << 1) | u64::from(value);
    }
    stack & 1 == 1
}

/// The tokens of one rule: `(`, `)`, `!`, `&&`, `||`, and words (runs of
/// anything else but whitespace); comments skipped.
struct Tokens<'s> {
    s: &'s str,
    i: usize,
}

impl<'s> Tokens<'s> {
    fn next(&mut self) -> Result<Option<&'s str>, ArgError<'s>> {
        let b = self.s.as_bytes();
        let mut i = self.i;
        // Skip whitespace and comments.
        loop {
            while i < b.len() && b[i].is_ascii_whitespace() {
                i += 1;
            }
            if b.get(i) == Some(&b'/') && b.get(i + 1) == Some(&b'/') {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            } else if b.get(i) == Some(&b'/') && b.get(i + 1) == Some(&b'*') {
                i += 2;
                while i < b.len() && !(b[i] == b'*' && b.get(i + 1) == Some(&b'/')) {
                    i += 1;
                }
                i = (i + 2).min(b.len());
            } else {
                break;
            }
        }
        let start = i;
        let Some(&c) = b.get(i) else {
            self.i = i;
            return Ok(None);
        };
        let end = match c {
            b'(' | b')' | b'!' => i + 1,
            b'&' | b'|' if b.get(i + 1) == Some(&c) => i + 2,
            b'&' | b'|' => return Err(bad(&self.s[i..i + 1], "expected && or ||")),
            _ => {
                while i < b.len() && !ends_word(b, i) {
                    i += 1;
                }
                i
            }
        };
        self.i = end;
        Ok(Some(&self.s[start..end]))
    }

    fn peek(&self) -> Result<Option<&'s str>, ArgError<'s>> {
        Tokens {
            s: self.s,
            i: self.i,
        }
        .next()
    }

    /// The token after the next one.
    fn peek2(&self) -> Result<Option<&'s str>, ArgError<'s>> {
        let mut t = Tokens {
            s: self.s,
            i: self.i,
        };
        t.next()?;
        t.next()
    }
}

/// Whether the byte at `i` ends a word: whitespace, punctuation, or a comment's start.
fn ends_word(b: &[u8], i: usize) -> bool {
    let c = b[i];
    c.is_ascii_whitespace()
        || matches!(c, b'(' | b')' | b'!' | b'&' | b'|')
        || (c == b'/' && matches!(b.get(i + 1), Some(b'/' | b'*')))
}

struct RuleParser<'s, 't> {
    toks: Tokens<'s>,
    arg: &'s str,
    ops: &'t mut Vec<Op, MAX_FILTER_OPS>,
    depth: usize,
    emitted: u16,
}

impl<'s> RuleParser<'s, '_> {
    fn emit(&mut self, op: Op, at: &'s str) -> Result<(), ArgError<'s>> {
        if usize::from(self.emitted) == MAX_RULE_OPS {
            return Err(bad(at, "an IPFilter rule has at most 64 terms"));
        }
        self.ops.push(op).map_err(|_| ArgError {
            at,
            kind: ErrorKind::TableFull("more than 256 IPFilter terms in the graph"),
        })?;
        self.emitted += 1;
        Ok(())
    }

    /// The next token, or an error at the rule's end saying what was expected.
    fn word(&mut self, expected: &'static str) -> Result<&'s str, ArgError<'s>> {
        match self.toks.next()? {
            Some(w) => Ok(w),
            None => Err(bad(&self.arg[self.arg.len()..], expected)),
        }
    }

    fn expr(&mut self) -> Result<(), ArgError<'s>> {
        self.term()?;
        while let Some(w @ ("||" | "or")) = self.toks.peek()? {
            self.toks.next()?;
            self.term()?;
            self.emit(Op::Or, w)?;
        }
        Ok(())
    }

    fn term(&mut self) -> Result<(), ArgError<'s>> {
        self.factor()?;
        while let Some(w @ ("&&" | "and")) = self.toks.peek()? {
            self.toks.next()?;
            self.factor()?;
            self.emit(Op::And, w)?;
        }
        Ok(())
    }

    fn factor(&mut self) -> Result<(), ArgError<'s>> {
        let w = self.word("expected a pattern")?;
        if self.depth == MAX_DEPTH {
            return Err(bad(w, "an IPFilter pattern nests at most 16 deep"));
        }
        self.depth += 1;
        match w {
            "!" | "not" => {
                self.factor()?;
                self.emit(Op::Not, w)?;
            }
            "(" => {
                self.expr()?;
                match self.toks.next()? {
                    Some(")") => {}
                    Some(other) => return Err(bad(other, "expected )")),
                    None => return Err(bad(w, "unbalanced (: no matching )")),
                }
            }
            _ => self.primitive(w)?,
        }
        self.depth -= 1;
        Ok(())
    }

    fn primitive(&mut self, w: &'s str) -> Result<(), ArgError<'s>> {
        let op = match w {
            "true" | "all" | "-" => Op::Const(true),
            "false" => Op::Const(false),
            "icmp" => Op::Proto(ICMP),
            "proto" => Op::Proto(self.proto()?),
            "ip" => match self.word("expected proto, frag or unfrag after ip")? {
                "proto" => Op::Proto(self.proto()?),
                "frag" => Op::Frag,
                "unfrag" => {
                    self.emit(Op::Frag, w)?;
                    Op::Not
                }
                other => return Err(bad(other, "expected proto, frag or unfrag after ip")),
            },
            "tcp" | "udp" => {
                let proto = if w == "tcp" { TCP } else { UDP };
                match self.toks.peek()? {
                    Some("src" | "dst" | "port") => {
                        let d = self.word("expected src, dst or port")?;
                        let dir = self.dir(d)?;
                        if dir.1 != "port" {
                            let p = self.word("expected port")?;
                            if p != "port" {
                                return Err(bad(p, "expected port after tcp/udp src/dst"));
                            }
                        }
                        self.ports(dir.0, Some(proto))?
                    }
                    _ => Op::Proto(proto),
                }
            }
            "src" | "dst" => {
                let (dir, _) = self.dir(w)?;
                let what =
                    self.word("expected host, net, port, tcp, udp or an address after src/dst")?;
                self.qualified(dir, what)?
            }
            "host" | "net" | "port" => self.qualified(Dir::Either, w)?,
            _ => match address(w) {
                Some(op) => op(Dir::Either),
                None => {
                    return Err(bad(
                        w,
                        "unknown IPFilter pattern word (docs/click.md lists the subset)",
                    ))
                }
            },
        };
        self.emit(op, w)
    }

    /// A direction starting with `first` (`src`, `dst`, `src or dst`,
    /// `src and dst`, ...); `port` alone means either. Returns the
    /// direction and the word that ended it (for `tcp port`).
    fn dir(&mut self, first: &'s str) -> Result<(Dir, &'s str), ArgError<'s>> {
        let single = match first {
            "src" => Dir::Src,
            "dst" => Dir::Dst,
            _ => return Ok((Dir::Either, first)),
        };
        let conj = self.toks.peek()?;
        let other = self.toks.peek2()?;
        let opposite = if first == "src" { "dst" } else { "src" };
        match (conj, other) {
            (Some("or"), Some(o)) if o == opposite => {
                self.toks.next()?;
                self.toks.next()?;
                Ok((Dir::Either, first))
            }
            (Some("and"), Some(o)) if o == opposite => {
                self.toks.next()?;
                self.toks.next()?;
                Ok((Dir::Both, first))
            }
            _ => Ok((single, first)),
        }
    }

    /// What follows a direction: `host A`, `net A/L`, `port P`,
    /// `tcp port P`, `udp port P`, or a bare address or network.
    fn qualified(&mut self, dir: Dir, what: &'s str) -> Result<Op, ArgError<'s>> {
        match what {
            "host" => {
                let a = self.word("expected an IPv4 address after host")?;
                match args::ipv4(a) {
                    Some(a) => Ok(Op::Addr {
                        dir,
                        net: u32::from(a),
                        mask: !0,
                    }),
                    None => Err(bad(a, "expected an IPv4 address after host")),
                }
            }
            "net" => {
                let n = self.word("expected ADDRESS/LENGTH after net")?;
                match address(n) {
                    Some(op) if n.contains('/') => Ok(op(dir)),
                    _ => Err(bad(
                        n,
                        "expected ADDRESS/LENGTH after net (e.g. 10.0.0.0/8)",
                    )),
                }
            }
            "port" => self.ports(dir, None),
            "tcp" | "udp" => {
                let p = self.word("expected port")?;
                if p != "port" {
                    return Err(bad(p, "expected port after src/dst tcp/udp"));
                }
                self.ports(dir, Some(if what == "tcp" { TCP } else { UDP }))
            }
            _ => match address(what) {
                Some(op) => Ok(op(dir)),
                None => Err(bad(
                    what,
                    "expected host, net, port, tcp, udp or an address after src/dst",
                )),
            },
        }
    }

    fn ports(&mut self, dir: Dir, proto: Option<u8>) -> Result<Op, ArgError<'s>> {
        const PORTS: &str = "expected a port number or range LOW-HIGH (0 to 65535)";
        let w = self.word(PORTS)?;
        let port = |s| args::uint(s).filter(|&n| n <= 65535).map(|n| n as u16);
        let (lo, hi) = match w.split_once('-') {
            Some((lo, hi)) => (port(lo), port(hi)),
            None => (port(w), port(w)),
        };
        match (lo, hi) {
            (Some(lo), Some(hi)) if lo <= hi => Ok(Op::Port { dir, proto, lo, hi }),
            _ => Err(bad(w, PORTS)),
        }
    }

    fn proto(&mut self) -> Result<u8, ArgError<'s>> {
        const PROTO: &str = "expected tcp, udp, icmp or a protocol number 0 to 255";
        let w = self.word(PROTO)?;
        match w {
            "tcp" => Ok(TCP),
            "udp" => Ok(UDP),
            "icmp" => Ok(ICMP),
            _ => match args::uint(w) {
                Some(n) if n <= 255 => Ok(n as u8),
                _ => Err(bad(w, PROTO)),
            },
        }
    }
}

/// `A.B.C.D` (a host) or `A.B.C.D/LEN` (a network; host bits ignored), as
/// an address test waiting for its direction.
fn address(w: &str) -> Option<impl Fn(Dir) -> Op> {
    let (addr, len) = match w.split_once('/') {
        Some((a, l)) => (a, args::uint(l).filter(|&l| l <= 32)?),
        None => (w, 32),
    };
    let addr = u32::from(args::ipv4(addr)?);
    let mask = if len == 0 { 0 } else { !0u32 << (32 - len) };
    Some(move |dir| Op::Addr {
        dir,
        net: addr & mask,
        mask,
    })
}

#[cfg(test)]
mod tests {
    use smoltcp::wire::IpProtocol;

    use super::*;
    use crate::testing::{self, ends};

    fn filter(rules: &'static str) -> (Tables, IpFilter) {
        let mut t = Tables::new();
        let f = t.parse(rules).unwrap_or_else(|e| panic!("{rules}: {e:?}"));
        (t, f)
    }

    fn run(rules: &'static str, frame: &[u8]) -> Step {
        let (t, f) = filter(rules);
        t.process(f, &frame[14..])
    }

    fn tcp(src: &str, dst: &str, sport: u16, dport: u16) -> testing::Frame {
        testing::tcp_frame(ends(src, dst), sport, dport, b"x")
    }

    fn udp(src: &str, dst: &str, sport: u16, dport: u16) -> testing::Frame {
        testing::udp_frame(ends(src, dst), sport, dport, b"x")
    }

    #[test]
    fn protocol_numbers_are_smoltcps() {
        assert_eq!(TCP, u8::from(IpProtocol::Tcp));
        assert_eq!(UDP, u8::from(IpProtocol::Udp));
        assert_eq!(ICMP, u8::from(IpProtocol::Icmp));
    }

    #[test]
    fn the_first_matching_rule_decides() {
        let rules = "allow src 10.0.0.0/8 && tcp dst port 80, 2 udp, deny all";
        let (_, f) = filter(rules);
        assert_eq!((f.outputs, f.used), (3, 0b101));
        assert_eq!(
            run(rules, &tcp("10.1.2.3", "192.0.2.1", 4000, 80)),
            Step::Out(0)
        );
        assert_eq!(
            run(rules, &tcp("11.1.2.3", "192.0.2.1", 4000, 80)),
            Step::Drop(DropReason::Denied)
        );
        assert_eq!(
            run(rules, &tcp("10.1.2.3", "192.0.2.1", 4000, 81)),
            Step::Drop(DropReason::Denied)
        );
        assert_eq!(
            run(rules, &udp("11.1.2.3", "192.0.2.1", 4000, 81)),
            Step::Out(2)
        );
        assert_eq!(
            run("allow tcp", &udp("1.1.1.1", "2.2.2.2", 1, 2)),
            Step::Drop(DropReason::NoMatch)
        );
    }

    #[test]
    fn primitives() {
        let t = tcp("10.0.0.1", "192.0.2.7", 1234, 80);
        let u = udp("10.0.0.1", "192.0.2.7", 1234, 53);
        let cases: &[(&'static str, &testing::Frame, bool)] = &[
            ("allow true", &t, true),
            ("allow all", &t, true),
            ("allow -", &t, true),
            ("allow false", &t, false),
            ("allow tcp", &t, true),
            ("allow udp", &t, false),
            ("allow icmp", &t, false),
            ("allow ip proto 6", &t, true),
            ("allow proto udp", &u, true),
            ("allow ip proto 255", &u, false),
            ("allow host 10.0.0.1", &t, true),
            ("allow host 192.0.2.7", &t, true),
            ("allow src host 192.0.2.7", &t, false),
            ("allow dst host 192.0.2.7", &t, true),
            ("allow src and dst host 10.0.0.1", &t, false),
            ("allow src or dst host 10.0.0.1", &t, true),
            ("allow dst or src net 10.0.0.0/8", &t, true),
            ("allow net 192.0.2.0/24", &t, true),
            ("allow net 192.0.2.255/24", &t, true),
            ("allow 192.0.2.0/25", &t, true),
            ("allow 192.0.2.128/25", &t, false),
            ("allow 0.0.0.0/0", &t, true),
            ("allow 10.0.0.1", &t, true),
            ("allow src 10.0.0.0/8", &t, true),
            ("allow dst 10.0.0.0/8", &t, false),
            ("allow port 80", &t, true),
            ("allow port 1234", &t, true),
            ("allow src port 80", &t, false),
            ("allow dst port 80", &t, true),
            ("allow dst port 1-1023", &t, true),
            ("allow dst port 81-1023", &t, false),
            ("allow tcp port 80", &t, true),
            ("allow udp port 80", &t, false),
            ("allow tcp dst port 80", &t, true),
            ("allow tcp src port 80", &t, false),
            ("allow dst tcp port 80", &t, true),
            ("allow src udp port 1234", &u, true),
            ("allow udp dst port 53", &u, true),
            ("allow src and dst port 0-65535", &u, true),
            ("allow ip frag", &t, false),
            ("allow ip unfrag", &t, true),
            ("allow !tcp", &t, false),
            ("allow not tcp", &u, true),
            ("allow !(tcp || udp)", &u, false),
            ("allow tcp and dst port 80", &t, true),
            ("allow udp or tcp && port 9", &t, false),
            ("allow (udp or tcp) && port 80", &t, true),
            ("allow udp || tcp && port 80", &t, true),
            ("allow !!tcp", &t, true),
            (
                "allow tcp // a comment\n && /* another */ port 80",
                &t,
                true,
            ),
        ];
        for &(rule, frame, expected) in cases {
            let got = run(rule, frame) == Step::Out(0);
            assert_eq!(got, expected, "{rule}");
        }
    }

    #[test]
    fn ports_do_not_match_icmp_or_later_fragments() {
        let icmp = testing::icmp_echo_frame(ends("10.0.0.1", "10.0.0.2"));
        assert_eq!(
            run("allow port 0-65535", &icmp),
            Step::Drop(DropReason::NoMatch)
        );
        assert_eq!(run("allow icmp", &icmp), Step::Out(0));
        let mut frag = udp("10.0.0.1", "10.0.0.2", 1, 2);
        testing::ipv4_mut(&mut frag).set_frag_offset(64);
        testing::ipv4_mut(&mut frag).fill_checksum();
        assert_eq!(
            run("allow port 0-65535", &frag),
            Step::Drop(DropReason::NoMatch)
        );
        assert_eq!(run("allow ip frag", &frag), Step::Out(0));
        let mut first = udp("10.0.0.1", "10.0.0.2", 1, 2);
        testing::ipv4_mut(&mut first).set_more_frags(true);
        assert_eq!(
            run("deny ip frag, allow all", &first),
            Step::Drop(DropReason::Denied)
        );
        assert_eq!(
            run("allow dst port 2", &first),
            Step::Out(0),
            "a first fragment has its ports"
        );
    }

    #[test]
    fn malformed_packets_are_dropped_not_matched() {
        let t = tcp("10.0.0.1", "10.0.0.2", 1, 80);
        // Every truncation inside the IP or TCP header.
        for len in 14..t.len() - 1 {
            let step = run("allow all", &t[..len]);
            assert!(
                matches!(
                    step,
                    Step::Drop(DropReason::BadIpHeader | DropReason::BadL4Header)
                ),
                "{len}: {step:?}"
            );
        }
        // A TCP data offset past the segment.
        let mut bad_off = t.clone();
        testing::l4_mut(&mut bad_off)[12] = 0xf0;
        assert_eq!(
            run("allow all", &bad_off),
            Step::Drop(DropReason::BadL4Header)
        );
        // A UDP length past the datagram.
        let mut bad_len = udp("10.0.0.1", "10.0.0.2", 1, 2);
        testing::l4_mut(&mut bad_len)[4..6].copy_from_slice(&900u16.to_be_bytes());
        assert_eq!(
            run("allow all", &bad_len),
            Step::Drop(DropReason::BadL4Header)
        );
        // Not IPv4.
        let mut v6 = t.clone();
        testing::ipv4_mut(&mut v6).set_version(6);
        assert_eq!(run("allow all", &v6), Step::Drop(DropReason::BadIpHeader));
        // Other protocols need no transport header.
        let mut other = t.clone();
        testing::ipv4_mut(&mut other).set_next_header(IpProtocol::Unknown(99));
        assert_eq!(run("allow ip proto 99", &other), Step::Out(0));
    }

    #[test]
    fn bad_rules_name_the_offending_word() {
        let mut t = Tables::new();
        for (rule, at) in [
            ("permit all", "permit"),
            ("16 all", "16"),
            ("allow", "allow"),
            ("allow tcp &&", ""),
            ("allow tcp & udp", "&"),
            ("allow tcp udp", "udp"),
            ("allow (tcp", "("),
            ("allow (tcp udp)", "udp"),
            ("allow tcp)", ")"),
            ("allow src host 10.0.0", "10.0.0"),
            ("allow net 10.0.0.0", "10.0.0.0"),
            ("allow net 10.0.0.0/33", "10.0.0.0/33"),
            ("allow port 65536", "65536"),
            ("allow port 90-80", "90-80"),
            ("allow port http", "http"),
            ("allow ip proto 256", "256"),
            ("allow ip vers 4", "vers"),
            ("allow tcp src 80", "80"),
            ("allow src tcp 80", "80"),
            ("allow src", ""),
            ("allow ether host 1", "ether"),
            ("allow 10.0.0.1/", "10.0.0.1/"),
            ("", ""),
        ] {
            let e = t.parse(rule).unwrap_err();
            assert_eq!(e.at, at, "{rule}");
            assert!(matches!(e.kind, ErrorKind::BadArgument(_)), "{rule}");
        }
    }

    #[test]
    fn nesting_and_rule_size_are_bounded() {
        let mut t = Tables::new();
        let deep = "allow ((((((((((((((((((tcp))))))))))))))))))";
        assert!(matches!(
            t.parse(deep).unwrap_err().kind,
            ErrorKind::BadArgument(_)
        ));
        let nots = "allow ! ! ! ! ! ! ! ! ! ! ! ! ! ! ! ! ! tcp";
        assert!(t.parse(nots).is_err());
        let long = "allow tcp || tcp || tcp || tcp || tcp || tcp || tcp || tcp || tcp || tcp || tcp || tcp || tcp || tcp || tcp || tcp || tcp || tcp || tcp || tcp || tcp || tcp || tcp || tcp || tcp || tcp || tcp || tcp || tcp || tcp || tcp || tcp || tcp";
        assert_eq!(
            t.parse(long).unwrap_err().kind,
            ErrorKind::BadArgument("an IPFilter rule has at most 64 terms")
        );
    }

    #[test]
    fn the_graph_wide_tables_fill_up_with_an_error() {
        let mut t = Tables::new();
        for _ in 0..32 {
            t.parse("allow tcp").unwrap();
        }
        assert!(matches!(
            t.parse("allow tcp").unwrap_err().kind,
            ErrorKind::TableFull(_)
        ));
        let mut t = Tables::new();
        let rule = "allow tcp || tcp || tcp || tcp || tcp || tcp || tcp || tcp || tcp || tcp || tcp || tcp || tcp || tcp || tcp || tcp"; // 31 ops
        for _ in 0..8 {
            t.parse(rule).unwrap();
        }
        assert!(matches!(
            t.parse(rule).unwrap_err().kind,
            ErrorKind::TableFull(_)
        ));
    }
}
