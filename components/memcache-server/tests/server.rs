//! The memcached service against smoltcp clients on the other end of a
//! wire: TCP with pipelined and split requests on two connections at once,
//! UDP with memcached's frame header, and a connection closed by `quit`.

use edgeos_config::{Protocols, TenantConfig};
use edgeos_memcache::{Index, OwnedIndex};
use edgeos_memcache_server::{
    connection_memory, AreaTooSmall, Connection, ConnectionArea, Memcached, StoreConfigError, DATAGRAMS, ITEM_SIZE_MAX,
    SOCKET_RX_BUFFER, SOCKET_TX_BUFFER, TOO_MANY_CONNECTIONS,
};
use edgeos_tenant_net::wire::{wire, Port};
use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet, SocketStorage};
use smoltcp::socket::{tcp, udp};
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpAddress, IpCidr, Ipv4Address};

const SERVER_IP: [u8; 4] = [10, 0, 2, 15];
const PORT: u16 = 11211;
/// Connections the test servers serve at once.
const CONNECTIONS: usize = 8;

fn config(protocols: Protocols) -> TenantConfig {
    TenantConfig {
        ip: SERVER_IP,
        prefix_len: 24,
        gateway: [10, 0, 2, 2],
        mac: [0x52, 0x54, 0, 0x12, 0x34, 0x56],
        protocols,
        port: PORT,
        last_port: PORT,
        probes: false,
        item_size_max: 8 * 1024,
        per_flow: false,
        click_len: 0,
        max_connections: CONNECTIONS as u32,
        store_size: 0,
    }
}

struct Client {
    port: Port,
    iface: Interface,
    sockets: SocketSet<'static>,
}

impl Client {
    fn new(port: Port) -> Self {
        let mut port = port;
        let mac = HardwareAddress::Ethernet(EthernetAddress([0x52, 0x55, 10, 0, 2, 2]));
        let mut iface = Interface::new(Config::new(mac), &mut port, Instant::ZERO);
        iface.update_ip_addrs(|a| a.push(IpCidr::new(IpAddress::v4(10, 0, 2, 2), 24)).unwrap());
        let storage: &'static mut [SocketStorage<'static>] = Box::leak(Box::new([SocketStorage::EMPTY; 12]));
        Self { port, iface, sockets: SocketSet::new(storage) }
    }

    fn tcp(&mut self, local_port: u16) -> SocketHandle {
        let buffer = || tcp::SocketBuffer::new(vec![0; 65536]);
        let handle = self.sockets.add(tcp::Socket::new(buffer(), buffer()));
        let server = (IpAddress::Ipv4(Ipv4Address::from_octets(SERVER_IP)), PORT);
        self.sockets.get_mut::<tcp::Socket>(handle).connect(self.iface.context(), server, local_port).unwrap();
        handle
    }

    fn udp(&mut self) -> SocketHandle {
        let buffer = || udp::PacketBuffer::new(vec![udp::PacketMetadata::EMPTY; 8], vec![0u8; 16384]);
        let mut socket = udp::Socket::new(buffer(), buffer());
        socket.bind(40000).unwrap();
        self.sockets.add(socket)
    }
}

/// Runs both ends for `rounds` steps of 5 ms.
fn run(server: &mut Memcached<'_>, server_port: &mut Port, client: &mut Client, now: &mut Instant, rounds: usize) {
    for _ in 0..rounds {
        *now += Duration::from_millis(5);
        client.iface.poll(*now, &mut client.port, &mut client.sockets);
        server.serve(server_port, *now, 1_700_000_000);
    }
    client.iface.poll(*now, &mut client.port, &mut client.sockets);
}

fn received(client: &mut Client, handle: SocketHandle) -> Vec<u8> {
    let socket = client.sockets.get_mut::<tcp::Socket>(handle);
    let mut out = Vec::new();
    while socket.can_recv() {
        socket.recv(|data| {
            out.extend_from_slice(data);
            (data.len(), ())
        })
        .unwrap();
    }
    out
}

/// A connection area for `connections`, as an FWP lays it out.
fn area(connections: usize) -> ConnectionArea<'static> {
    ConnectionArea {
        sockets: Box::leak((0..connections + 2).map(|_| SocketStorage::EMPTY).collect()),
        connections: Box::leak((0..connections + 1).map(|_| Connection::EMPTY).collect()),
        udp_meta: Box::leak(vec![udp::PacketMetadata::EMPTY; 2 * DATAGRAMS].into_boxed_slice()),
        bytes: arena(2 * DATAGRAMS * 1400 + (connections + 1) * (SOCKET_RX_BUFFER + SOCKET_TX_BUFFER)),
    }
}

/// A server built as a template builds it, then opened as an FWP opens it.
fn serving(config: &TenantConfig, port: &mut Port, arena: &'static mut [u8]) -> Memcached<'static> {
    let mut server = Memcached::new(config, port, arena, index(), Instant::ZERO).unwrap();
    server.open(area(server.max_connections())).unwrap();
    server
}

/// A store's index for a test server: 1,024 items.
fn index() -> Index<'static> {
    Box::leak(Box::new(OwnedIndex::<1024>::new())).index()
}

/// A store's arena for a test server.
fn arena(bytes: usize) -> &'static mut [u8] {
    Box::leak(vec![0u8; bytes].into_boxed_slice())
}

/// Sends `request` over UDP in memcached's frame: request `id`, datagram 0 of 1.
fn send_udp(client: &mut Client, socket: SocketHandle, id: u8, request: &[u8]) {
    let server = (IpAddress::Ipv4(Ipv4Address::from_octets(SERVER_IP)), PORT);
    let mut datagram = vec![0, id, 0, 0, 0, 1, 0, 0];
    datagram.extend_from_slice(request);
    client.sockets.get_mut::<udp::Socket>(socket).send_slice(&datagram, server).unwrap();
}

#[test]
fn tcp_connections_pipeline_and_split_requests_udp_frames_and_quit() {
    let (mut server_port, client_port) = wire();
    let mut server = serving(&config(Protocols::BOTH), &mut server_port, arena(64 * 1024));
    let mut client = Client::new(client_port);
    let (a, b) = (client.tcp(50000), client.tcp(50001));
    let mut now = Instant::ZERO;
    run(&mut server, &mut server_port, &mut client, &mut now, 6);

    // Pipelined on A; a set split across two segments on B.
    client.sockets.get_mut::<tcp::Socket>(a).send_slice(b"set k 5 0 3\r\nabc\r\nget k\r\nincr n 1\r\n").unwrap();
    client.sockets.get_mut::<tcp::Socket>(b).send_slice(b"set big 0 0 10\r\n01234").unwrap();
    run(&mut server, &mut server_port, &mut client, &mut now, 4);
    client.sockets.get_mut::<tcp::Socket>(b).send_slice(b"56789\r\nget big k\r\n").unwrap();
    run(&mut server, &mut server_port, &mut client, &mut now, 4);
    assert_eq!(received(&mut client, a), b"STORED\r\nVALUE k 5 3\r\nabc\r\nEND\r\nNOT_FOUND\r\n");
    assert_eq!(received(&mut client, b), b"STORED\r\nVALUE big 0 10\r\n0123456789\r\nVALUE k 5 3\r\nabc\r\nEND\r\n");

    // UDP: memcached's frame header (request id 7, datagram 0 of 1) comes back.
    let u = client.udp();
    send_udp(&mut client, u, 7, b"get big\r\n");
    run(&mut server, &mut server_port, &mut client, &mut now, 4);
    let (reply, _) = client.sockets.get_mut::<udp::Socket>(u).recv().unwrap();
    assert_eq!(&reply[..8], &[0, 7, 0, 0, 0, 1, 0, 0]);
    assert_eq!(&reply[8..], b"VALUE big 0 10\r\n0123456789\r\nEND\r\n");

    // quit closes A; B keeps working.
    client.sockets.get_mut::<tcp::Socket>(a).send_slice(b"quit\r\n").unwrap();
    client.sockets.get_mut::<tcp::Socket>(b).send_slice(b"delete k\r\nget k\r\n").unwrap();
    run(&mut server, &mut server_port, &mut client, &mut now, 8);
    assert!(!client.sockets.get::<tcp::Socket>(a).may_recv(), "the server closed A");
    assert_eq!(received(&mut client, b), b"DELETED\r\nEND\r\n");
    assert_eq!(server.store().stats().curr_items, 1);
}

#[test]
fn a_tenant_answers_only_the_protocols_it_is_configured_for() {
    for (protocols, tcp_answers, udp_answers) in [(Protocols::TCP, true, false), (Protocols::UDP, false, true)] {
        let (mut server_port, client_port) = wire();
        let mut server = serving(&config(protocols), &mut server_port, arena(64 * 1024));
        let mut client = Client::new(client_port);
        let (t, u) = (client.tcp(50000), client.udp());
        let mut now = Instant::ZERO;
        run(&mut server, &mut server_port, &mut client, &mut now, 6);
        if tcp_answers {
            client.sockets.get_mut::<tcp::Socket>(t).send_slice(b"version\r\n").unwrap();
        }
        send_udp(&mut client, u, 1, b"version\r\n");
        run(&mut server, &mut server_port, &mut client, &mut now, 6);
        let connected = client.sockets.get::<tcp::Socket>(t).may_send();
        assert_eq!(connected, tcp_answers, "{protocols}: TCP connection");
        if tcp_answers {
            assert!(received(&mut client, t).starts_with(b"VERSION "), "{protocols}");
        }
        let reply = client.sockets.get_mut::<udp::Socket>(u).recv().ok().map(|(r, _)| r.to_vec());
        assert_eq!(reply.is_some(), udp_answers, "{protocols}: UDP reply {reply:?}");
    }
}

#[test]
fn the_item_limit_and_store_size_come_from_the_configuration() {
    let (mut server_port, client_port) = wire();
    let limited = TenantConfig { item_size_max: 1024, ..config(Protocols::TCP) };
    let mut server = serving(&limited, &mut server_port, arena(4096));
    let mut client = Client::new(client_port);
    let a = client.tcp(50000);
    let mut now = Instant::ZERO;
    run(&mut server, &mut server_port, &mut client, &mut now, 6);
    let big = format!("set big 0 0 1100\r\n{}\r\nset small 0 0 900\r\n{}\r\n", "b".repeat(1100), "s".repeat(900));
    client.sockets.get_mut::<tcp::Socket>(a).send_slice(big.as_bytes()).unwrap();
    run(&mut server, &mut server_port, &mut client, &mut now, 8);
    assert_eq!(received(&mut client, a), b"SERVER_ERROR object too large for cache\r\nSTORED\r\n");
    assert_eq!(server.store().stats().limit_maxbytes, 4096);

    for (asked, arena_bytes, error) in [
        (ITEM_SIZE_MAX as u32 + 1, 64 * 1024, StoreConfigError::ItemSizeTooLarge { asked: ITEM_SIZE_MAX as u32 + 1 }),
        (0, 4096, StoreConfigError::ArenaTooSmall { arena: 4096, item_size_max: ITEM_SIZE_MAX }),
    ] {
        let (mut port, _) = wire();
        let refused = Memcached::new(&TenantConfig { item_size_max: asked, ..config(Protocols::TCP) }, &mut port, arena(arena_bytes), index(), Instant::ZERO);
        assert_eq!(refused.err(), Some(error));
    }
    // A connection area smaller than the limit asks for is refused whole.
    let (mut port, _) = wire();
    let mut server = Memcached::new(&config(Protocols::TCP), &mut port, arena(64 * 1024), index(), Instant::ZERO).unwrap();
    assert_eq!(server.open(area(CONNECTIONS - 1)), Err(AreaTooSmall { connections: CONNECTIONS }));
    assert!(connection_memory(CONNECTIONS) > connection_memory(CONNECTIONS - 1));
}

#[test]
fn a_value_of_the_largest_size_streams_in_and_out_byte_for_byte() {
    let (mut server_port, client_port) = wire();
    let mut server = serving(&TenantConfig { item_size_max: 0, ..config(Protocols::TCP) }, &mut server_port, arena(3 << 20));
    let mut client = Client::new(client_port);
    let (writer, reader) = (client.tcp(50000), client.tcp(50001));
    let mut now = Instant::ZERO;
    run(&mut server, &mut server_port, &mut client, &mut now, 6);
    let value: Vec<u8> = (0..ITEM_SIZE_MAX as u32 - 3).map(|i| (i ^ (i >> 9)) as u8).collect();
    let mut request = b"set big 9 0 ".to_vec();
    request.extend_from_slice(format!("{}\r\n", value.len()).as_bytes());
    request.extend_from_slice(&value);
    request.extend_from_slice(b"\r\n");
    let mut exchange = |handle, request: &[u8], until: &[u8]| {
        let (mut sent, mut replies) = (0, Vec::new());
        for _ in 0..4000 {
            sent += client.sockets.get_mut::<tcp::Socket>(handle).send_slice(&request[sent..]).unwrap();
            run(&mut server, &mut server_port, &mut client, &mut now, 1);
            replies.extend(received(&mut client, handle));
            if replies.ends_with(until) {
                break;
            }
        }
        replies
    };
    assert_eq!(exchange(writer, &request, b"\r\n"), b"STORED\r\n");
    let reply = exchange(reader, b"get big\r\n", b"END\r\n");
    let mut expected = format!("VALUE big 9 {}\r\n", value.len()).into_bytes();
    expected.extend_from_slice(&value);
    expected.extend_from_slice(b"\r\nEND\r\n");
    assert!(reply == expected, "{} of {} bytes", reply.len(), expected.len());
    // One byte more than the limit: memcached's refusal, and the value is
    // skipped, so the connection goes on.
    let mut refused = format!("set big 0 0 {}\r\n", ITEM_SIZE_MAX - 2).into_bytes();
    refused.extend(std::iter::repeat_n(b'x', ITEM_SIZE_MAX - 2));
    refused.extend_from_slice(b"\r\nget big\r\n");
    let replies = exchange(writer, &refused, b"END\r\n");
    assert_eq!(replies, b"SERVER_ERROR object too large for cache\r\nEND\r\n", "a refused set drops the old value");
}

#[test]
fn every_connection_socket_serves_at_once_and_one_more_is_turned_away_as_memcached_does() {
    let (mut server_port, client_port) = wire();
    let mut server = serving(&config(Protocols::TCP), &mut server_port, arena(64 * 1024));
    let mut client = Client::new(client_port);
    let handles: Vec<_> = (0..=CONNECTIONS as u16).map(|i| client.tcp(50000 + i)).collect();
    let mut now = Instant::ZERO;
    run(&mut server, &mut server_port, &mut client, &mut now, 8);
    let (served, extra) = handles.split_at(CONNECTIONS);
    // Past the limit, memcached's words and the server's close, not a reset.
    assert_eq!(received(&mut client, extra[0]), TOO_MANY_CONNECTIONS);
    assert!(!client.sockets.get::<tcp::Socket>(extra[0]).may_recv(), "the server closed its side");
    assert_eq!(server.connections_rejected(), 1);
    for (i, h) in served.iter().enumerate() {
        let request = format!("set k{i} 0 0 1\r\n{}\r\n", i % 10);
        client.sockets.get_mut::<tcp::Socket>(*h).send_slice(request.as_bytes()).unwrap();
    }
    run(&mut server, &mut server_port, &mut client, &mut now, 8);
    for h in served {
        assert_eq!(received(&mut client, *h), b"STORED\r\n");
    }
    assert_eq!(server.store().stats().curr_items, CONNECTIONS as u64);
    let stats = server.store().stats();
    assert_eq!(
        (stats.curr_connections, stats.total_connections, stats.rejected_connections),
        (CONNECTIONS as u64, CONNECTIONS as u64, 1),
        "memcached's counters: the one turned away is no connection served"
    );

    // The turned-away client closes; once a served one has closed too, a
    // new connection is served, and one past the limit is turned away again.
    client.sockets.get_mut::<tcp::Socket>(extra[0]).close();
    client.sockets.get_mut::<tcp::Socket>(served[0]).close();
    run(&mut server, &mut server_port, &mut client, &mut now, 8);
    let again = client.tcp(51000);
    let past = client.tcp(51001);
    run(&mut server, &mut server_port, &mut client, &mut now, 8);
    client.sockets.get_mut::<tcp::Socket>(again).send_slice(b"get k1\r\n").unwrap();
    run(&mut server, &mut server_port, &mut client, &mut now, 8);
    assert_eq!(received(&mut client, again), b"VALUE k1 0 1\r\n1\r\nEND\r\n");
    assert_eq!(received(&mut client, past), TOO_MANY_CONNECTIONS);
    assert_eq!(server.connections_rejected(), 2);
}

#[test]
fn connections_closed_counts_each_ended_connection_once() {
    let (mut server_port, client_port) = wire();
    let mut server = serving(&config(Protocols::BOTH), &mut server_port, arena(64 * 1024));
    let mut client = Client::new(client_port);
    let mut now = Instant::ZERO;
    run(&mut server, &mut server_port, &mut client, &mut now, 2);
    assert_eq!((server.connections_closed(), server.has_open_connections()), (0, false), "listening is not open");

    let (a, b) = (client.tcp(50000), client.tcp(50001));
    run(&mut server, &mut server_port, &mut client, &mut now, 6);
    assert!(server.has_open_connections());
    // A closes politely; B is reset while open.
    client.sockets.get_mut::<tcp::Socket>(a).send_slice(b"set k 0 0 1\r\nx\r\n").unwrap();
    run(&mut server, &mut server_port, &mut client, &mut now, 4);
    assert_eq!(received(&mut client, a), b"STORED\r\n");
    client.sockets.get_mut::<tcp::Socket>(a).close();
    run(&mut server, &mut server_port, &mut client, &mut now, 8);
    assert_eq!(server.connections_closed(), 1);
    assert!(server.has_open_connections(), "B is still open");
    client.sockets.get_mut::<tcp::Socket>(b).abort();
    run(&mut server, &mut server_port, &mut client, &mut now, 8);
    assert_eq!((server.connections_closed(), server.has_open_connections()), (2, false));
    // More serving with nothing connected counts nothing more.
    run(&mut server, &mut server_port, &mut client, &mut now, 8);
    assert_eq!(server.connections_closed(), 2);
}
