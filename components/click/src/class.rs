//! The element classes this crate implements.

/// An element class, spelt as in a configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    /// The graph's entry: frames from the FWP's receive ring. No inputs, one output.
    FromRing,
    /// The graph's exit: frames for the FWP's transmit ring. One input, no outputs.
    ToRing,
    /// Takes packets and does nothing with them. One input.
    Discard,
    /// Counts packets and bytes.
    Counter,
    /// `Strip(N)`: removes N bytes from the front.
    Strip,
    /// `Unstrip(N)`: puts N bytes back in front, from the headroom.
    Unstrip,
    /// Validates an IPv4 header and sets the IP header annotation; bad
    /// packets go to output 1 when it is connected.
    CheckIPHeader,
    /// Decrements the TTL; expiring packets go to output 1 when it is connected.
    DecIPTTL,
    /// Click's byte patterns, one output per pattern.
    Classifier,
    /// Allow/deny rules on addresses, ports and protocols.
    IPFilter,
    /// Address and port rewriting with per-flow mappings (a subset).
    IPRewriter,
    /// Patterns an IPRewriter uses in turn, one per new flow. No ports.
    RoundRobinIPMapper,
    /// Holds packets until [`Graph::pull`](crate::Graph::pull) takes them.
    Queue,
}

impl Class {
    /// Every class.
    pub const ALL: [Class; 13] = [
        Class::FromRing,
        Class::ToRing,
        Class::Discard,
        Class::Counter,
        Class::Strip,
        Class::Unstrip,
        Class::CheckIPHeader,
        Class::DecIPTTL,
        Class::Classifier,
        Class::IPFilter,
        Class::IPRewriter,
        Class::RoundRobinIPMapper,
        Class::Queue,
    ];

    /// The class's name in a configuration.
    pub const fn name(self) -> &'static str {
        match self {
            Class::FromRing => "FromRing",
            Class::ToRing => "ToRing",
            Class::Discard => "Discard",
            Class::Counter => "Counter",
            Class::Strip => "Strip",
            Class::Unstrip => "Unstrip",
            Class::CheckIPHeader => "CheckIPHeader",
            Class::DecIPTTL => "DecIPTTL",
            Class::Classifier => "Classifier",
            Class::IPFilter => "IPFilter",
            Class::IPRewriter => "IPRewriter",
            Class::RoundRobinIPMapper => "RoundRobinIPMapper",
            Class::Queue => "Queue",
        }
    }

    /// The class called `name` (case-sensitive, as in Click).
    pub fn from_name(name: &str) -> Option<Class> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }
}

impl core::fmt::Display for Class {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}
