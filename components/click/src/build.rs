//! Building a graph from a configuration: the statement parser, each
//! element's arguments, connections, and the checks over the whole graph.
//!
//! ```text
//! config    := { statement? ";" } statement?
//! statement := endpoint { "->" endpoint }
//! endpoint  := [ "[" PORT "]" ] element [ "[" PORT "]" ]
//! element   := NAME "::" CLASS [ "(" args ")" ]     declaration
//!            | NAME                                 declared before
//!            | CLASS [ "(" args ")" ]               anonymous, named CLASS@N
//! ```
//!
//! Checks, in order: per statement as it is read (names, classes,
//! arguments, ports, an output connected twice), then over the whole graph
//! (one FromRing, every used output and every input connected, no push
//! cycle). The first error stops the build.

use crate::args::ArgError;
use crate::class::Class;
use crate::elements::{CheckIpHeader, MapperId};
use crate::error::{ConfigError, ErrorKind, Source};
use crate::graph::{Graph, Hop, Kind, Node, Queue, Summary};
use crate::lexer::{Lexer, Tok, Token};
use crate::verdict::ElementStats;
use crate::{
    args, Name, DEFAULT_QUEUE_CAPACITY, MAX_ELEMENTS, MAX_FRAME_LEN, MAX_NAME_LEN, MAX_PORTS,
};

/// Words that start Click statements this subset does not have.
const UNSUPPORTED: [&str; 5] = ["elementclass", "require", "define", "input", "output"];

pub(crate) fn build<const Q: usize>(g: &mut Graph<Q>, text: &str) -> Result<Summary, ConfigError> {
    let src = Source { text };
    let mut b = Builder {
        g,
        src,
        lx: Lexer::new(src),
    };
    loop {
        let t = b.lx.peek()?;
        match t.tok {
            Tok::End => break,
            Tok::Semi => {
                b.lx.next()?;
                continue;
            }
            _ => b.statement()?,
        }
        let t = b.lx.next()?;
        match t.tok {
            Tok::Semi => {}
            Tok::End => break,
            _ => return Err(b.syntax(t, "expected \";\" or \"->\"")),
        }
    }
    b.finish()
}

/// An element as a statement names it, with the ports written around it.
struct Endpoint<'s> {
    node: u8,
    /// Where the element's name or class is written.
    at: Token<'s>,
    input: Option<(u32, Token<'s>)>,
    output: Option<(u32, Token<'s>)>,
}

struct Builder<'g, 's, const Q: usize> {
    g: &'g mut Graph<Q>,
    src: Source<'s>,
    lx: Lexer<'s>,
}

impl<'s, const Q: usize> Builder<'_, 's, Q> {
    fn syntax(&self, t: Token<'s>, expected: &'static str) -> ConfigError {
        self.src
            .error(t.at, ErrorKind::Syntax(expected), t.text(&self.src), "")
    }

    fn name_of(&self, node: u8) -> &str {
        self.g
            .nodes
            .get(usize::from(node))
            .map_or("", |n| n.name.as_str())
    }

    fn statement(&mut self) -> Result<(), ConfigError> {
        let mut prev = self.endpoint()?;
        if let Some((_, t)) = prev.input {
            return Err(self.syntax(t, "an input port needs a connection before it"));
        }
        while self.lx.peek()?.tok == Tok::Arrow {
            let arrow = self.lx.next()?;
            let next = self.endpoint()?;
            self.connect(&prev, &next, arrow)?;
            prev = next;
        }
        if let Some((_, t)) = prev.output {
            return Err(self.syntax(t, "an output port needs a connection after it"));
        }
        Ok(())
    }

    fn port(&mut self) -> Result<(u32, Token<'s>), ConfigError> {
        self.lx.next()?; // "["
        let t = self.lx.next()?;
        let Tok::Number(digits) = t.tok else {
            return Err(self.syntax(t, "expected a port number"));
        };
        let Some(n) = args::uint(digits) else {
            return Err(self.syntax(t, "expected a port number under 4294967296"));
        };
        let close = self.lx.next()?;
        if close.tok != Tok::Close {
            return Err(self.syntax(close, "expected \"]\""));
        }
        Ok((n, t))
    }

    fn endpoint(&mut self) -> Result<Endpoint<'s>, ConfigError> {
        let input = match self.lx.peek()?.tok {
            Tok::Open => Some(self.port()?),
            _ => None,
        };
        let t = self.lx.next()?;
        let Tok::Ident(word) = t.tok else {
            return Err(self.syntax(t, "expected an element name or class"));
        };
        if UNSUPPORTED.contains(&word) {
            return Err(self.src.error(t.at, ErrorKind::Unsupported, word, ""));
        }
        let node = if self.lx.peek()?.tok == Tok::Declare {
            self.lx.next()?;
            let c = self.lx.next()?;
            let Tok::Ident(class) = c.tok else {
                return Err(self.syntax(c, "expected an element class after \"::\""));
            };
            self.declare(Some((word, t)), class, c)?
        } else if let Some(i) = self.g.nodes.iter().position(|n| n.name == word) {
            if let Tok::Args(_) = self.lx.peek()?.tok {
                return Err(self
                    .src
                    .error(t.at, ErrorKind::ArgumentsToDeclared, word, word));
            }
            i as u8
        } else {
            self.declare(None, word, t)?
        };
        let output = match self.lx.peek()?.tok {
            Tok::Open => Some(self.port()?),
            _ => None,
        };
        Ok(Endpoint {
            node,
            at: t,
            input,
            output,
        })
    }

    /// Declares an element of class `class` (written at `ct`), named `name`
    /// or anonymous, reading its arguments if any follow.
    fn declare(
        &mut self,
        name: Option<(&'s str, Token<'s>)>,
        class: &'s str,
        ct: Token<'s>,
    ) -> Result<u8, ConfigError> {
        let index = self.g.nodes.len();
        let mut node_name = Name::new();
        if let Some((n, t)) = name {
            if n.len() > MAX_NAME_LEN {
                return Err(self.src.error(t.at, ErrorKind::NameTooLong, n, ""));
            }
            if Class::from_name(n).is_some() {
                return Err(self.src.error(t.at, ErrorKind::NameIsClass, n, ""));
            }
            if self.g.nodes.iter().any(|x| x.name == n) {
                return Err(self.src.error(t.at, ErrorKind::DuplicateName, n, n));
            }
            let _ = node_name.push_str(n);
        }
        let Some(class) = Class::from_name(class) else {
            return Err(self
                .src
                .error(ct.at, ErrorKind::UnknownClass, class, node_name.as_str()));
        };
        if node_name.is_empty() {
            // "Class@N": '@' cannot appear in a written name, so it never clashes.
            let _ = core::fmt::write(
                &mut node_name,
                format_args!("{}@{}", class.name(), index + 1),
            );
        }
        let at = name.map_or(ct.at, |(_, t)| t.at);
        if index == MAX_ELEMENTS {
            return Err(self
                .src
                .error(at, ErrorKind::TooManyElements, "", node_name.as_str()));
        }
        // The argument text; without parentheses, an empty slice just after the class.
        let inner = match self.lx.peek()?.tok {
            Tok::Args(inner) => {
                self.lx.next()?;
                Some(inner)
            }
            _ => None,
        };
        let class_end = ct.at + class.name().len();
        let text = inner.unwrap_or(&self.src.text[class_end..class_end]);
        let (kind, inputs, outputs, required) = match self.arguments(class, text, inner.is_some()) {
            Ok(spec) => spec,
            Err(e) => return Err(self.src.error_at(e.at, e.kind, node_name.as_str())),
        };
        if class == Class::FromRing {
            if self.g.source.is_some() {
                return Err(self
                    .src
                    .error(at, ErrorKind::SecondSource, "", node_name.as_str()));
            }
            self.g.source = Some(index as u8);
        }
        let node = Node {
            name: node_name,
            class,
            kind,
            at,
            inputs,
            outputs,
            required,
            fed: 0,
            out: [None; MAX_PORTS],
            out_at: [0; MAX_PORTS],
            stats: ElementStats::ZERO,
        };
        if self.g.nodes.push(node).is_err() {
            return Err(self.src.error(at, ErrorKind::TooManyElements, "", ""));
        }
        Ok(index as u8)
    }

    /// A class's arguments: its kind, inputs, outputs and required outputs.
    fn arguments(
        &mut self,
        class: Class,
        text: &'s str,
        given: bool,
    ) -> Result<(Kind, u8, u8, u16), ArgError<'s>> {
        let no_args = |kind: Kind, inputs, outputs, required| {
            if given && !args::trim(text).is_empty() {
                Err(args::bad(
                    args::trim(text),
                    "this element takes no arguments",
                ))
            } else {
                Ok((kind, inputs, outputs, required))
            }
        };
        let g = &mut *self.g;
        match class {
            Class::FromRing => no_args(Kind::FromRing, 0, 1, 1),
            Class::ToRing => no_args(Kind::ToRing, 1, 0, 0),
            Class::Discard => no_args(Kind::Discard, 1, 0, 0),
            Class::Counter => no_args(Kind::Counter, 1, 1, 1),
            Class::DecIPTTL => no_args(Kind::DecIpTtl, 1, 2, 1),
            Class::Strip | Class::Unstrip => {
                let n = byte_count(text)?;
                let kind = if class == Class::Strip {
                    Kind::Strip(n)
                } else {
                    Kind::Unstrip(n)
                };
                Ok((kind, 1, 1, 1))
            }
            Class::CheckIPHeader => Ok((Kind::CheckIpHeader(CheckIpHeader::parse(text)?), 1, 2, 1)),
            Class::Classifier => {
                let c = g.tables.classifier.parse(text)?;
                let all = ((1u32 << c.patterns) - 1) as u16;
                Ok((Kind::Classifier(c), 1, c.patterns, all))
            }
            Class::IPFilter => {
                let f = g.tables.ipfilter.parse(text)?;
                Ok((Kind::IpFilter(f), 1, f.outputs, f.used))
            }
            Class::IPRewriter => {
                let nodes = &g.nodes;
                let mapper = |name: &str| {
                    nodes
                        .iter()
                        .find(|n| n.name == name)
                        .and_then(|n| match n.kind {
                            Kind::Mapper(id) => Some(id),
                            _ => None,
                        })
                };
                let rw = g.tables.rewriter.parse(text, mapper)?;
                Ok((Kind::IpRewriter(rw), rw.specs, rw.outputs, rw.used))
            }
            Class::RoundRobinIPMapper => {
                let MapperId(id) = g.tables.rewriter.parse_mapper(text)?;
                Ok((Kind::Mapper(MapperId(id)), 0, 0, 0))
            }
            Class::Queue => {
                let capacity = queue_capacity(text)?;
                let first = g.queues.allocated;
                let wanted = first + usize::from(capacity);
                if wanted > Q {
                    return Err(ArgError {
                        at: text,
                        kind: ErrorKind::QueueSlots {
                            wanted,
                            available: Q,
                        },
                    });
                }
                g.queues.allocated = wanted;
                let q = Queue {
                    first: first as u16,
                    capacity,
                    head: 0,
                    len: 0,
                };
                Ok((Kind::Queue(q), 1, 1, 1))
            }
        }
    }

    fn connect(
        &mut self,
        from: &Endpoint<'s>,
        to: &Endpoint<'s>,
        arrow: Token<'s>,
    ) -> Result<(), ConfigError> {
        let (out, out_tok) = from.output.unwrap_or((0, from.at));
        let (inp, in_tok) = to.input.unwrap_or((0, to.at));
        let (f, t) = (usize::from(from.node), usize::from(to.node));
        let outputs = self.g.nodes[f].outputs;
        if out >= u32::from(outputs) {
            let kind = ErrorKind::NoSuchOutput { port: out, outputs };
            return Err(self.src.error(
                out_tok.at,
                kind,
                out_tok.text(&self.src),
                self.name_of(from.node),
            ));
        }
        let inputs = self.g.nodes[t].inputs;
        if inp >= u32::from(inputs) {
            let kind = ErrorKind::NoSuchInput { port: inp, inputs };
            return Err(self.src.error(
                in_tok.at,
                kind,
                in_tok.text(&self.src),
                self.name_of(to.node),
            ));
        }
        let (out, inp) = (out as usize, inp as u8);
        if self.g.nodes[f].out[out].is_some() {
            let kind = ErrorKind::OutputConnectedTwice { port: out as u8 };
            return Err(self
                .src
                .error(arrow.at, kind, "->", self.name_of(from.node)));
        }
        self.g.nodes[f].out[out] = Some(Hop {
            node: to.node,
            port: inp,
        });
        self.g.nodes[f].out_at[out] = arrow.at;
        self.g.nodes[t].fed |= 1 << inp;
        self.g.connections += 1;
        Ok(())
    }

    /// The checks over the whole graph.
    fn finish(self) -> Result<Summary, ConfigError> {
        let src = self.src;
        let g = self.g;
        if g.source.is_none() {
            return Err(src.error(0, ErrorKind::NoSource, "", ""));
        }
        for n in g.nodes.iter() {
            for port in 0..n.outputs {
                if n.required & (1 << port) != 0 && n.out[usize::from(port)].is_none() {
                    let kind = ErrorKind::OutputUnconnected { port };
                    return Err(src.error(n.at, kind, "", n.name.as_str()));
                }
            }
            for port in 0..n.inputs {
                if n.fed & (1 << port) == 0 {
                    let kind = ErrorKind::InputUnconnected { port };
                    return Err(src.error(n.at, kind, "", n.name.as_str()));
                }
            }
        }
        no_push_cycle(g, src)?;
        Ok(Summary {
            elements: g.nodes.len(),
            connections: g.connections,
            queue_slots: g.queues.allocated,
        })
    }
}

/// Depth-first search over push connections (a Queue's output starts a new
/// push, so it is not followed); a connection back to an element still on
/// the path closes a cycle.
fn no_push_cycle<const Q: usize>(g: &Graph<Q>, src: Source<'_>) -> Result<(), ConfigError> {
    const WHITE: u8 = 0;
    const GREY: u8 = 1;
    const BLACK: u8 = 2;
    let mut colour = [WHITE; MAX_ELEMENTS];
    // (element, next output to follow); at most one entry per element.
    let mut stack: heapless::Vec<(usize, usize), MAX_ELEMENTS> = heapless::Vec::new();
    for root in 0..g.nodes.len() {
        if colour[root] != WHITE {
            continue;
        }
        colour[root] = GREY;
        let _ = stack.push((root, 0));
        while let Some(&mut (u, ref mut port)) = stack.last_mut() {
            let node = &g.nodes[u];
            let follows = !matches!(node.kind, Kind::Queue(_));
            if !follows || *port >= MAX_PORTS {
                colour[u] = BLACK;
                stack.pop();
                continue;
            }
            let p = *port;
            *port += 1;
            let Some(hop) = node.out[p] else { continue };
            let v = usize::from(hop.node);
            match colour[v] {
                GREY => {
                    let to = g.nodes[v].name.as_str();
                    return Err(src.error(
                        node.out_at[p],
                        ErrorKind::Cycle,
                        to,
                        node.name.as_str(),
                    ));
                }
                WHITE => {
                    colour[v] = GREY;
                    let _ = stack.push((v, 0));
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// `Strip(N)`/`Unstrip(N)`: exactly one byte count.
fn byte_count(text: &str) -> Result<u16, ArgError<'_>> {
    const N: &str = "expected one byte count from 0 to 1514";
    let mut all = args::split(text);
    let n = all.next().ok_or(args::bad(text, N))?;
    if let Some(extra) = all.next() {
        return Err(args::bad(extra, N));
    }
    match args::uint(n) {
        Some(v) if v as usize <= MAX_FRAME_LEN => Ok(v as u16),
        _ => Err(args::bad(n, N)),
    }
}

/// `Queue([CAPACITY])` or `Queue(CAPACITY n)`.
fn queue_capacity(text: &str) -> Result<u16, ArgError<'_>> {
    const CAP: &str = "expected a capacity from 1 to 1024 packets";
    let mut all = args::split(text);
    let Some(arg) = all.next() else {
        return Ok(DEFAULT_QUEUE_CAPACITY as u16);
    };
    if let Some(extra) = all.next() {
        return Err(args::bad(extra, CAP));
    }
    let value = match args::keyword(arg) {
        Some(("CAPACITY", v)) => v,
        Some(_) => {
            return Err(args::bad(
                arg,
                "Queue takes [CAPACITY] or the keyword CAPACITY n",
            ))
        }
        None => arg,
    };
    match args::uint(value) {
        Some(n) if (1..=1024).contains(&n) => Ok(n as u16),
        _ => Err(args::bad(value, CAP)),
    }
}
