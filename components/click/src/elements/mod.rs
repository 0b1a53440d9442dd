//! The elements that keep arguments or state beyond a number: each parses
//! its own arguments (as in Click) into graph-wide tables and processes
//! packets from them. The trivial ones (FromRing, ToRing, Discard, Counter,
//! Strip, Unstrip, Queue) live in the engine, `graph.rs`.

pub(crate) mod classifier;
pub(crate) mod ip;
pub(crate) mod ipfilter;
pub(crate) mod rewriter;

pub(crate) use classifier::Classifier;
pub(crate) use ip::{dec_ip_ttl, CheckIpHeader};
pub(crate) use ipfilter::IpFilter;
pub(crate) use rewriter::{IpRewriter, MapperId};
