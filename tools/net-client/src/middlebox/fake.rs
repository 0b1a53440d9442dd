//! A stand-in for QEMU's hub, for the cases' tests, with two parties on it
//! besides the tap: the node, doing what `click/firewall-nat.click` says
//! (or misbehaving as told), written independently of `expect`; and the
//! user network, as far as the cases meet it: it carries the node's
//! datagrams to the backend's sockets on this host and their answers back
//! (with a TTL of its own, [`USER_TTL`]), and resets a SYN-ACK it has no
//! connection for in the client's name.

use std::collections::{HashMap, VecDeque};
use std::net::{SocketAddr, SocketAddrV4, TcpStream, UdpSocket};
use std::thread;
use std::time::{Duration, Instant};

use smoltcp::wire::{ArpOperation, ArpRepr, TcpControl};

use super::packet::{
    arp_reply, parse, parse_arp, Datagram, Frame, Host, Tcp, Transport, BACKEND, BLOCKED_CLIENT,
    NODE, USER_NETWORK_MAC,
};
use super::tap::Tap;

/// The TTL of the user network's frames here: not the 64 the test sends,
/// so that a check assuming 64 would fail.
pub const USER_TTL: u8 = 50;

/// How the node behaves.
pub struct Node {
    /// Refused flows are passed on too.
    pub leak: bool,
    /// Flows from these client ports are dropped.
    pub drop_client_ports: Vec<u16>,
    /// Done to every frame the node sends.
    pub spoil: fn(&mut Frame),
    /// Clients by port, as last seen (the multiplexer learns MACs so):
    /// the node's state, left to `Node::default()`.
    pub(super) clients: HashMap<u16, Host>,
}

impl Default for Node {
    fn default() -> Node {
        Node {
            leak: false,
            drop_client_ports: Vec::new(),
            spoil: |_| {},
            clients: HashMap::new(),
        }
    }
}

impl Node {
    fn on_frame(&mut self, bytes: &[u8]) -> Vec<Vec<u8>> {
        if let Some(arp) = parse_arp(bytes) {
            return match arp.arp {
                ArpRepr::EthernetIpv4 {
                    operation: ArpOperation::Request,
                    source_hardware_addr: mac,
                    source_protocol_addr: ip,
                    target_protocol_addr,
                    ..
                } if target_protocol_addr == NODE.ip => vec![arp_reply(NODE, Host { ip, mac })],
                _ => Vec::new(),
            };
        }
        let Some(captured) = parse(bytes) else {
            return Vec::new();
        };
        let (d, eth_src) = (captured.frame.datagram, captured.frame.eth_src);
        if captured.frame.eth_dst != NODE.mac || *d.dst.ip() != NODE.ip {
            return Vec::new();
        }
        let mut out = if *d.src.ip() == BACKEND.ip {
            let Some(client) = self.clients.get(&d.dst.port()).copied() else {
                return Vec::new();
            };
            Frame {
                eth_src: NODE.mac,
                eth_dst: client.mac,
                datagram: Datagram {
                    src: SocketAddrV4::new(NODE.ip, d.src.port()),
                    dst: SocketAddrV4::new(client.ip, d.dst.port()),
                    ttl: d.ttl - 1,
                    ..d
                },
            }
        } else {
            let allowed =
                *d.src.ip() != BLOCKED_CLIENT.ip && (20_000..=20_049).contains(&d.dst.port());
            if !(allowed || self.leak) || self.drop_client_ports.contains(&d.src.port()) {
                return Vec::new();
            }
            let client = Host {
                ip: *d.src.ip(),
                mac: eth_src,
            };
            self.clients.insert(d.src.port(), client);
            Frame {
                eth_src: NODE.mac,
                eth_dst: BACKEND.mac,
                datagram: Datagram {
                    src: SocketAddrV4::new(NODE.ip, d.src.port()),
                    dst: SocketAddrV4::new(BACKEND.ip, d.dst.port()),
                    ttl: d.ttl - 1,
                    ..d
                },
            }
        };
        (self.spoil)(&mut out);
        vec![out.emit()]
    }
}

/// The user network, with the backend's services at these addresses.
#[derive(Default)]
struct UserNetwork {
    udp_services: HashMap<u16, SocketAddr>,
    tcp_services: HashMap<u16, SocketAddr>,
    /// A socket per node port, and the service it talks to.
    udp: HashMap<u16, (u16, UdpSocket)>,
    tcp: HashMap<u16, TcpStream>,
    next_isn: u32,
}

impl UserNetwork {
    fn frame(
        src: SocketAddrV4,
        dst: SocketAddrV4,
        transport: Transport,
        payload: &[u8],
    ) -> Vec<u8> {
        Frame {
            eth_src: USER_NETWORK_MAC,
            eth_dst: NODE.mac,
            datagram: Datagram {
                src,
                dst,
                ttl: USER_TTL,
                transport,
                payload: payload.to_vec(),
            },
        }
        .emit()
    }

    fn on_frame(&mut self, bytes: &[u8]) -> Vec<Vec<u8>> {
        let Some(captured) = parse(bytes) else {
            return Vec::new();
        };
        let d = captured.frame.datagram;
        if captured.frame.eth_src == USER_NETWORK_MAC || *d.src.ip() != NODE.ip {
            return Vec::new();
        }
        let backend = SocketAddrV4::new(BACKEND.ip, d.dst.port());
        let node_port = d.src.port();
        match d.transport {
            Transport::Udp if *d.dst.ip() == BACKEND.ip => {
                if let Some(&at) = self.udp_services.get(&d.dst.port()) {
                    let (_, socket) = self.udp.entry(node_port).or_insert_with(|| {
                        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
                        socket.set_nonblocking(true).unwrap();
                        (d.dst.port(), socket)
                    });
                    socket.send_to(&d.payload, at).unwrap();
                }
                Vec::new()
            }
            Transport::Tcp(tcp) if *d.dst.ip() == BACKEND.ip => {
                match (tcp.control, self.tcp_services.get(&d.dst.port())) {
                    (TcpControl::Syn, Some(&at)) if tcp.ack.is_none() => {
                        self.tcp.insert(node_port, TcpStream::connect(at).unwrap());
                        self.next_isn += 64_000;
                        let syn_ack = Tcp {
                            control: TcpControl::Syn,
                            seq: self.next_isn,
                            ack: Some(tcp.seq.wrapping_add(1)),
                        };
                        vec![Self::frame(backend, d.src, Transport::Tcp(syn_ack), &[])]
                    }
                    (TcpControl::Rst, _) => {
                        self.tcp.remove(&node_port);
                        Vec::new()
                    }
                    _ => Vec::new(),
                }
            }
            // A SYN-ACK to a client: no connection of the user network's.
            Transport::Tcp(Tcp {
                control: TcpControl::Syn,
                ack: Some(ack),
                ..
            }) => {
                let rst = Tcp {
                    control: TcpControl::Rst,
                    seq: ack,
                    ack: None,
                };
                vec![Self::frame(d.dst, d.src, Transport::Tcp(rst), &[])]
            }
            _ => Vec::new(),
        }
    }

    /// The backend's answers, as frames to the node.
    fn poll(&mut self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut buf = [0u8; 2048];
        for (&node_port, (service, socket)) in &self.udp {
            while let Ok(n) = socket.recv(&mut buf) {
                out.push(Self::frame(
                    SocketAddrV4::new(BACKEND.ip, *service),
                    SocketAddrV4::new(NODE.ip, node_port),
                    Transport::Udp,
                    &buf[..n],
                ));
            }
        }
        out
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Port {
    Tap,
    Node,
    UserNetwork,
}

/// Starts the hub with `node` and the backend's services (port and where
/// its socket is); the tap is the test's end. The hub's thread ends once
/// nothing was injected for a few seconds (its test ended).
pub fn hub(
    mut node: Node,
    udp_services: &[(u16, SocketAddr)],
    tcp_services: &[(u16, SocketAddr)],
) -> (Tap, thread::JoinHandle<()>) {
    let (qemu, tap) = super::tap::tests::netdev_and_tap(Duration::from_millis(1));
    let mut user = UserNetwork {
        udp_services: udp_services.iter().copied().collect(),
        tcp_services: tcp_services.iter().copied().collect(),
        ..UserNetwork::default()
    };
    let thread = thread::spawn(move || {
        let mut buf = [0u8; 2048];
        let mut last_injected = Instant::now();
        let mut queue: VecDeque<(Port, Vec<u8>)> = VecDeque::new();
        while last_injected.elapsed() < Duration::from_secs(3) {
            if let Ok(n) = qemu.recv(&mut buf) {
                last_injected = Instant::now();
                queue.push_back((Port::Tap, buf[..n].to_vec()));
            }
            queue.extend(user.poll().into_iter().map(|f| (Port::UserNetwork, f)));
            // Every frame goes to every port but its sender's.
            while let Some((from, frame)) = queue.pop_front() {
                if from != Port::Tap {
                    let _ = qemu.send(&frame);
                }
                if from != Port::Node {
                    queue.extend(node.on_frame(&frame).into_iter().map(|f| (Port::Node, f)));
                }
                if from != Port::UserNetwork {
                    queue.extend(
                        user.on_frame(&frame)
                            .into_iter()
                            .map(|f| (Port::UserNetwork, f)),
                    );
                }
            }
        }
    });
    (tap, thread)
}
