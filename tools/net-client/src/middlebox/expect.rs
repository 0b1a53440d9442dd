//! What the node must transmit, and the judgement of a captured frame
//! against it.
//!
//! The translations are `click/firewall-nat.click`'s: an allowed client's
//! datagram leaves towards the backend from the node's address (ports
//! kept), the backend's reply leaves towards the client from the node's
//! address and the service port, and both lose one TTL (`DecIPTTL` follows
//! the rewriter in both directions). The Ethernet header is the
//! multiplexer's: from the node's MAC to the MAC it learned for the
//! destination.
//!
//! A captured frame is first recognised as a copy of what is awaited or
//! not, by what no translation changes: the UDP payload, or the TCP
//! sequence number (each segment the test sends has its own, and the
//! backend's are read off the hub, [`ViaUserNetwork`]). Anything else
//! (other traffic on QEMU's hub, a late retransmission of an earlier step,
//! the user network's own frames) is [`Verdict::Unrelated`] and ignored; a
//! copy is then checked field by field, and any difference is a wrong
//! translation.

use std::net::SocketAddrV4;

use smoltcp::wire::{ArpOperation, ArpRepr, TcpControl};

use super::packet::{self, Datagram, Frame, Host, Mac, Transport, BACKEND, NODE, USER_NETWORK_MAC};

/// What a captured frame is, for one awaited frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Not a copy of it: ignored.
    Unrelated,
    /// A copy with every field as required.
    Matches,
    /// A copy with these fields wrong.
    Wrong(Vec<String>),
}

/// Something the test waits to see in the capture.
pub trait Awaited {
    /// Judges one captured frame (and may remember it: see
    /// [`ViaUserNetwork`]).
    fn judge(&mut self, bytes: &[u8]) -> Verdict;
}

/// A datagram the node must transmit, as it must arrive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected(pub Frame);

/// What the node sends the backend for `sent`, a client's datagram to one
/// of its service ports.
pub fn towards_backend(sent: &Datagram) -> Expected {
    Expected(Frame {
        eth_src: NODE.mac,
        eth_dst: BACKEND.mac,
        datagram: Datagram {
            src: SocketAddrV4::new(NODE.ip, sent.src.port()),
            dst: SocketAddrV4::new(BACKEND.ip, sent.dst.port()),
            ttl: sent.ttl - 1,
            ..sent.clone()
        },
    })
}

/// What the node sends `client` for `reply`, the backend's datagram to the
/// node's address and the client's port.
pub fn towards_client(reply: &Datagram, client: Host) -> Expected {
    Expected(Frame {
        eth_src: NODE.mac,
        eth_dst: client.mac,
        datagram: Datagram {
            src: SocketAddrV4::new(NODE.ip, reply.src.port()),
            dst: SocketAddrV4::new(client.ip, reply.dst.port()),
            ttl: reply.ttl - 1,
            ..reply.clone()
        },
    })
}

impl Expected {
    /// The datagram as it must arrive.
    pub fn datagram(&self) -> &Datagram {
        &self.0.datagram
    }

    /// Whether `seen` is a copy of this datagram, however translated.
    fn is_copy(&self, seen: &Datagram) -> bool {
        let want = self.datagram();
        match (want.transport, seen.transport) {
            (Transport::Udp, Transport::Udp) => want.payload == seen.payload,
            (Transport::Tcp(want), Transport::Tcp(seen)) => want.seq == seen.seq,
            _ => false,
        }
    }
}

impl Expected {
    /// Judges one captured frame. The user network's own frames (the
    /// backend's, and its answers in the clients' names) share the hub
    /// with the node's and may carry the same payload or sequence number:
    /// what the node sends comes from any other MAC.
    pub fn judge(&self, bytes: &[u8]) -> Verdict {
        let Some(captured) = packet::parse(bytes) else {
            return Verdict::Unrelated;
        };
        let (want, seen) = (&self.0, &captured.frame);
        if seen.eth_src == USER_NETWORK_MAC || !self.is_copy(&seen.datagram) {
            return Verdict::Unrelated;
        }
        let mut wrong = Vec::new();
        let mut differ = |what: &str, seen: String, want: String| {
            if seen != want {
                wrong.push(format!("{what} {seen}, expected {want}"));
            }
        };
        differ(
            "ethernet source",
            Mac(seen.eth_src).to_string(),
            Mac(want.eth_src).to_string(),
        );
        differ(
            "ethernet destination",
            Mac(seen.eth_dst).to_string(),
            Mac(want.eth_dst).to_string(),
        );
        let (seen, want) = (&seen.datagram, &want.datagram);
        differ("source", seen.src.to_string(), want.src.to_string());
        differ("destination", seen.dst.to_string(), want.dst.to_string());
        differ("ttl", seen.ttl.to_string(), want.ttl.to_string());
        if let (Transport::Tcp(seen), Transport::Tcp(want)) = (seen.transport, want.transport) {
            differ("tcp header", seen.to_string(), want.to_string());
        }
        if seen.payload != want.payload {
            wrong.push(format!(
                "payload of {} bytes differs from the {} sent",
                seen.payload.len(),
                want.payload.len()
            ));
        }
        if !captured.ip_checksum_valid {
            wrong.push("IPv4 header checksum invalid".into());
        }
        if !captured.transport_checksum_valid {
            wrong.push(format!("{} checksum invalid", seen.protocol()));
        }
        if wrong.is_empty() {
            Verdict::Matches
        } else {
            Verdict::Wrong(wrong)
        }
    }
}

impl Awaited for Expected {
    fn judge(&mut self, bytes: &[u8]) -> Verdict {
        Expected::judge(self, bytes)
    }
}

/// The backend's datagram as the user network puts it on the hub for the
/// node: from the user network's MAC to the node's, from 10.0.2.100 and
/// `from_port` to the node's address and `to_port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FromBackend {
    /// The backend's port (the service's).
    pub from_port: u16,
    /// The node's port (the client's, kept by the NAT).
    pub to_port: u16,
    /// Which of the backend's datagrams.
    pub which: Which,
}

/// One of the backend's datagrams.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Which {
    /// The UDP datagram with this payload.
    Udp(Vec<u8>),
    /// The TCP SYN-ACK acknowledging this number (the client's ISN + 1).
    SynAck(u32),
}

impl FromBackend {
    /// The datagram, if `bytes` is it.
    pub fn find(&self, bytes: &[u8]) -> Option<Datagram> {
        let frame = packet::parse(bytes)?.frame;
        let d = &frame.datagram;
        let addressed = frame.eth_src == USER_NETWORK_MAC
            && frame.eth_dst == NODE.mac
            && d.src == SocketAddrV4::new(BACKEND.ip, self.from_port)
            && d.dst == SocketAddrV4::new(NODE.ip, self.to_port);
        let it = match (&self.which, d.transport) {
            (Which::Udp(payload), Transport::Udp) => *payload == d.payload,
            (Which::SynAck(ack), Transport::Tcp(tcp)) => {
                tcp.control == TcpControl::Syn && tcp.ack == Some(*ack)
            }
            _ => false,
        };
        (addressed && it).then_some(frame.datagram)
    }
}

/// The node's translation of a datagram of the backend's, to `client`:
/// the backend's datagram is first found on the hub as the user network
/// sent it (its TTL and, for TCP, its sequence number are the user
/// network's), then its translation is awaited as [`towards_client`]
/// makes it.
#[derive(Debug, Clone)]
pub struct ViaUserNetwork {
    /// The backend's datagram.
    pub from_backend: FromBackend,
    /// The client it must reach.
    pub client: Host,
    /// Whether the Ethernet destination is checked. It is the MAC the node
    /// learnt last for the client, and the user network's RST in a
    /// client's name (for an earlier flow of it) teaches the node its own:
    /// the churn, whose flows share clients, leaves it out.
    pub eth_dst_checked: bool,
    /// The translation, once the backend's datagram has been seen.
    pub expected: Option<Expected>,
}

impl ViaUserNetwork {
    /// Awaits the translation of `from_backend` to `client`.
    pub fn new(from_backend: FromBackend, client: Host) -> ViaUserNetwork {
        ViaUserNetwork {
            from_backend,
            client,
            eth_dst_checked: true,
            expected: None,
        }
    }
}

impl Awaited for ViaUserNetwork {
    fn judge(&mut self, bytes: &[u8]) -> Verdict {
        let Some(expected) = &self.expected else {
            // The user network's frame reaches the capture before the node
            // can have translated it; a later copy (the backend sent again)
            // is ignored by `Expected::judge` like every frame of its.
            if let Some(datagram) = self.from_backend.find(bytes) {
                self.expected = Some(towards_client(&datagram, self.client));
            }
            return Verdict::Unrelated;
        };
        if self.eth_dst_checked {
            return expected.judge(bytes);
        }
        let mut any_dst = expected.clone();
        if let Some(captured) = packet::parse(bytes) {
            any_dst.0.eth_dst = captured.frame.eth_dst;
        }
        any_dst.judge(bytes)
    }
}

/// The node's ARP reply to `asker`'s request for the node's address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArpAnswer {
    /// Who asked.
    pub asker: Host,
}

impl Awaited for ArpAnswer {
    fn judge(&mut self, bytes: &[u8]) -> Verdict {
        let Some(captured) = packet::parse_arp(bytes) else {
            return Verdict::Unrelated;
        };
        let ArpRepr::EthernetIpv4 {
            operation,
            source_hardware_addr,
            source_protocol_addr,
            target_hardware_addr,
            target_protocol_addr,
        } = captured.arp
        else {
            return Verdict::Unrelated;
        };
        if operation != ArpOperation::Reply
            || source_protocol_addr != NODE.ip
            || target_protocol_addr != self.asker.ip
        {
            return Verdict::Unrelated;
        }
        let wrong: Vec<String> = [
            ("ethernet source", captured.eth_src, NODE.mac),
            ("ethernet destination", captured.eth_dst, self.asker.mac),
            ("sender hardware address", source_hardware_addr, NODE.mac),
            (
                "target hardware address",
                target_hardware_addr,
                self.asker.mac,
            ),
        ]
        .into_iter()
        .filter(|(_, seen, want)| seen != want)
        .map(|(what, seen, want)| format!("{what} {}, expected {}", Mac(seen), Mac(want)))
        .collect();
        if wrong.is_empty() {
            Verdict::Matches
        } else {
            Verdict::Wrong(wrong)
        }
    }
}

/// Whether `bytes` is the node passing on `denied`, a datagram the Click
/// configuration must drop: a copy of it in any form, or anything from
/// the node to the backend on its ports.
pub fn leaked(denied: &Datagram, bytes: &[u8]) -> bool {
    if towards_backend(denied).judge(bytes) != Verdict::Unrelated {
        return true;
    }
    packet::parse(bytes).is_some_and(|captured| {
        let seen = &captured.frame.datagram;
        *seen.src.ip() == NODE.ip
            && *seen.dst.ip() == BACKEND.ip
            && seen.protocol() == denied.protocol()
            && (seen.src.port(), seen.dst.port()) == (denied.src.port(), denied.dst.port())
    })
}

#[cfg(test)]
mod tests {
    use smoltcp::wire::{TcpControl, ETHERNET_HEADER_LEN};

    use super::super::packet::{arp_reply, arp_request, made_up, Tcp};
    use super::*;

    const CLIENT: Host = made_up(50);

    fn request() -> Datagram {
        Datagram::udp(
            SocketAddrV4::new(CLIENT.ip, 41_000),
            SocketAddrV4::new(NODE.ip, 20_001),
            b"nat udp request",
        )
    }

    /// The frame a correct node sends for `request()`, built independently
    /// of `towards_backend`.
    fn translated() -> Frame {
        let mut datagram = Datagram::udp(
            SocketAddrV4::new(NODE.ip, 41_000),
            SocketAddrV4::new(BACKEND.ip, 20_001),
            b"nat udp request",
        );
        datagram.ttl = 63;
        Frame {
            eth_src: NODE.mac,
            eth_dst: BACKEND.mac,
            datagram,
        }
    }

    fn wrong(verdict: Verdict) -> Vec<String> {
        match verdict {
            Verdict::Wrong(why) => why,
            other => panic!("expected a wrong translation, got {other:?}"),
        }
    }

    #[test]
    fn a_correct_translation_matches() {
        assert_eq!(towards_backend(&request()), Expected(translated()));
        assert_eq!(
            towards_backend(&request()).judge(&translated().emit()),
            Verdict::Matches
        );
    }

    #[test]
    fn a_wrong_ttl_port_address_or_mac_is_named() {
        let expected = towards_backend(&request());
        type Spoil = fn(&mut Frame);
        let cases: [(&str, Spoil); 6] = [
            ("ttl 64, expected 63", |f| f.datagram.ttl = 64),
            ("source 10.0.2.15:41001, expected 10.0.2.15:41000", |f| {
                f.datagram.src.set_port(41_001)
            }),
            (
                "destination 10.0.2.100:20002, expected 10.0.2.100:20001",
                |f| f.datagram.dst.set_port(20_002),
            ),
            ("source 10.0.2.50:41000, expected 10.0.2.15:41000", |f| {
                f.datagram.src.set_ip(CLIENT.ip)
            }),
            (
                "destination 10.0.2.15:20001, expected 10.0.2.100:20001",
                |f| f.datagram.dst.set_ip(NODE.ip),
            ),
            (
                "ethernet destination 52:54:00:00:02:32, expected 52:55:0a:00:02:02",
                |f| f.eth_dst = CLIENT.mac,
            ),
        ];
        for (why, spoil) in cases {
            let mut frame = translated();
            spoil(&mut frame);
            assert_eq!(wrong(expected.judge(&frame.emit())), [why]);
        }
    }

    #[test]
    fn a_wrong_checksum_is_named() {
        let expected = towards_backend(&request());
        let mut bytes = translated().emit();
        let last = bytes.len() - 1;
        bytes[last] ^= 0x5a; // a payload byte: no longer a copy of the request
        assert_eq!(expected.judge(&bytes), Verdict::Unrelated);
        let mut bytes = translated().emit();
        let checksum_at = ETHERNET_HEADER_LEN + 20 + 6;
        bytes[checksum_at] ^= 0x01;
        assert_eq!(wrong(expected.judge(&bytes)), ["UDP checksum invalid"]);
        let mut bytes = translated().emit();
        bytes[ETHERNET_HEADER_LEN + 10] ^= 0x01;
        assert_eq!(
            wrong(expected.judge(&bytes)),
            ["IPv4 header checksum invalid"]
        );
    }

    #[test]
    fn tcp_translations_keep_flags_and_numbers() {
        let syn = Datagram::tcp(
            SocketAddrV4::new(CLIENT.ip, 42_000),
            SocketAddrV4::new(NODE.ip, 20_002),
            Tcp {
                control: TcpControl::Syn,
                seq: 0x1111_0000,
                ack: None,
            },
        );
        let expected = towards_backend(&syn);
        let good = expected.0.clone();
        assert_eq!(expected.judge(&good.emit()), Verdict::Matches);
        let mut rst = good.clone();
        rst.datagram.transport = Transport::Tcp(Tcp {
            control: TcpControl::Rst,
            seq: 0x1111_0000,
            ack: None,
        });
        assert_eq!(
            wrong(expected.judge(&rst.emit())),
            ["tcp header RST seq 286326784, expected SYN seq 286326784"]
        );
        let mut other_seq = good;
        other_seq.datagram.transport = Transport::Tcp(Tcp {
            control: TcpControl::Syn,
            seq: 0x1111_0001,
            ack: None,
        });
        assert_eq!(
            expected.judge(&other_seq.emit()),
            Verdict::Unrelated,
            "another segment"
        );
    }

    #[test]
    fn replies_go_back_to_the_client_from_the_service_port() {
        let reply = Datagram::udp(
            SocketAddrV4::new(BACKEND.ip, 20_001),
            SocketAddrV4::new(NODE.ip, 41_000),
            b"reply",
        );
        let Expected(frame) = towards_client(&reply, CLIENT);
        assert_eq!((frame.eth_src, frame.eth_dst), (NODE.mac, CLIENT.mac));
        assert_eq!(frame.datagram.src, SocketAddrV4::new(NODE.ip, 20_001));
        assert_eq!(frame.datagram.dst, SocketAddrV4::new(CLIENT.ip, 41_000));
        assert_eq!(frame.datagram.ttl, 63);
    }

    #[test]
    fn other_traffic_is_unrelated() {
        let expected = towards_backend(&request());
        // The request itself, reflected untranslated, is a copy, and wrong.
        assert!(matches!(
            expected.judge(&Frame::to_node(CLIENT, request()).emit()),
            Verdict::Wrong(_)
        ));
        let mut other = translated();
        other.datagram.payload = b"something else".to_vec();
        assert_eq!(expected.judge(&other.emit()), Verdict::Unrelated);
        assert_eq!(
            expected.judge(&arp_request(BACKEND, NODE.ip)),
            Verdict::Unrelated
        );
        assert_eq!(
            expected.judge(&crate::frames::Malformed::TruncatedIpv4.frame(0)),
            Verdict::Unrelated
        );
    }

    #[test]
    fn the_nodes_arp_reply_matches_and_a_wrong_one_is_named() {
        let mut answer = ArpAnswer { asker: BACKEND };
        assert_eq!(answer.judge(&arp_reply(NODE, BACKEND)), Verdict::Matches);
        let impostor = Host {
            mac: CLIENT.mac,
            ..NODE
        };
        assert_eq!(
            wrong(answer.judge(&arp_reply(impostor, BACKEND))),
            [
                "ethernet source 52:54:00:00:02:32, expected 52:54:00:12:34:56",
                "sender hardware address 52:54:00:00:02:32, expected 52:54:00:12:34:56",
            ]
        );
        // A request, a reply to someone else, a reply about someone else.
        assert_eq!(
            answer.judge(&arp_request(NODE, BACKEND.ip)),
            Verdict::Unrelated
        );
        assert_eq!(answer.judge(&arp_reply(NODE, CLIENT)), Verdict::Unrelated);
        assert_eq!(
            answer.judge(&arp_reply(CLIENT, BACKEND)),
            Verdict::Unrelated
        );
        assert_eq!(answer.judge(&translated().emit()), Verdict::Unrelated);
    }

    #[test]
    fn the_user_networks_own_frames_are_never_the_nodes() {
        let mut from_user_network = translated();
        from_user_network.eth_src = USER_NETWORK_MAC;
        assert_eq!(
            towards_backend(&request()).judge(&from_user_network.emit()),
            Verdict::Unrelated
        );
    }

    /// The backend's reply to `request()` as the user network sends it,
    /// with its own TTL.
    fn backend_reply(ttl: u8) -> Frame {
        let mut datagram = Datagram::udp(
            SocketAddrV4::new(BACKEND.ip, 20_001),
            SocketAddrV4::new(NODE.ip, 41_000),
            b"reply",
        );
        datagram.ttl = ttl;
        Frame {
            eth_src: USER_NETWORK_MAC,
            eth_dst: NODE.mac,
            datagram,
        }
    }

    fn reply_via_user_network() -> ViaUserNetwork {
        ViaUserNetwork::new(
            FromBackend {
                from_port: 20_001,
                to_port: 41_000,
                which: Which::Udp(b"reply".to_vec()),
            },
            CLIENT,
        )
    }

    #[test]
    fn a_reply_is_awaited_as_the_user_network_sent_it_less_one_ttl() {
        let mut awaited = reply_via_user_network();
        let Expected(translation) = towards_client(&backend_reply(40).datagram, CLIENT);
        // Before the backend's reply was seen, its translation is not
        // recognised; the reply itself never matches.
        assert_eq!(awaited.judge(&translation.emit()), Verdict::Unrelated);
        assert_eq!(awaited.judge(&backend_reply(40).emit()), Verdict::Unrelated);
        assert_eq!(translation.datagram.ttl, 39);
        assert_eq!(awaited.judge(&backend_reply(40).emit()), Verdict::Unrelated);
        assert_eq!(awaited.judge(&translation.emit()), Verdict::Matches);
        let mut wrong_mac = translation.clone();
        wrong_mac.eth_dst = USER_NETWORK_MAC;
        assert_eq!(
            wrong(awaited.judge(&wrong_mac.emit())),
            ["ethernet destination 52:55:0a:00:02:02, expected 52:54:00:00:02:32"]
        );
        awaited.eth_dst_checked = false;
        assert_eq!(awaited.judge(&wrong_mac.emit()), Verdict::Matches);
    }

    #[test]
    fn the_backends_datagram_is_found_by_its_ends_and_payload_or_ack() {
        let find = reply_via_user_network().from_backend;
        assert!(find.find(&backend_reply(64).emit()).is_some());
        let mut other = backend_reply(64);
        other.datagram.dst.set_port(41_001);
        assert_eq!(find.find(&other.emit()), None);
        let mut from_a_client = backend_reply(64);
        from_a_client.eth_src = CLIENT.mac;
        assert_eq!(find.find(&from_a_client.emit()), None);
        let syn_ack = |ack| Frame {
            datagram: Datagram::tcp(
                SocketAddrV4::new(BACKEND.ip, 20_002),
                SocketAddrV4::new(NODE.ip, 42_000),
                Tcp {
                    control: TcpControl::Syn,
                    seq: 64_001,
                    ack: Some(ack),
                },
            ),
            ..backend_reply(64)
        };
        let find = FromBackend {
            from_port: 20_002,
            to_port: 42_000,
            which: Which::SynAck(0x1111_0001),
        };
        let seen = find
            .find(&syn_ack(0x1111_0001).emit())
            .expect("the SYN-ACK");
        assert_eq!(seen.ttl, 64);
        assert_eq!(find.find(&syn_ack(0x1111_0002).emit()), None);
    }

    #[test]
    fn a_denied_datagram_leaks_as_any_copy_or_on_its_ports() {
        let denied = request();
        assert!(leaked(&denied, &translated().emit()));
        let mut mistranslated = translated();
        mistranslated.datagram.ttl = 64;
        assert!(leaked(&denied, &mistranslated.emit()));
        let mut other_payload = translated();
        other_payload.datagram.payload = b"another datagram of the flow".to_vec();
        assert!(leaked(&denied, &other_payload.emit()), "its ports");
        let mut other_flow = other_payload.clone();
        other_flow.datagram.src.set_port(41_003);
        assert!(!leaked(&denied, &other_flow.emit()));
        assert!(!leaked(&denied, &arp_reply(NODE, BACKEND)));
    }
}
