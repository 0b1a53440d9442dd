//! The echo templates against a smoltcp client on the other end of a wire.

use edgeos_config::{Protocol, Protocols, TenantConfig};
use edgeos_echo::{Echo, EchoStorage, OneProtocolOnly};
use edgeos_tenant_net::wire::{wire, Port};
use smoltcp::iface::{Config, Interface, SocketSet, SocketStorage};
use smoltcp::socket::{tcp, udp};
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpAddress, IpCidr, Ipv4Address};

const SERVER_IP: [u8; 4] = [10, 0, 2, 15];
const CLIENT_IP: Ipv4Address = Ipv4Address::new(10, 0, 2, 2);

fn config(protocol: Protocol) -> TenantConfig {
    TenantConfig {
        ip: SERVER_IP,
        prefix_len: 24,
        gateway: [10, 0, 2, 2],
        mac: [0x52, 0x54, 0, 0x12, 0x34, 0x56],
        protocols: Protocols::only(protocol),
        port: 7,
        last_port: 7,
        probes: false,
        item_size_max: 0,
        per_flow: false,
        click_len: 0,
        max_connections: 0,
        store_size: 0,
    }
}

fn client(port: &mut Port) -> Interface {
    let mac = HardwareAddress::Ethernet(EthernetAddress([0x52, 0x55, 10, 0, 2, 2]));
    let mut iface = Interface::new(Config::new(mac), port, Instant::ZERO);
    iface.update_ip_addrs(|a| a.push(IpCidr::new(IpAddress::Ipv4(CLIENT_IP), 24)).unwrap());
    iface
}

/// Sends `payloads` to a UDP echo configured with `probes`; returns what
/// came back, the probe the template took and its echo count.
fn udp_round(probes: bool, payloads: &[&[u8]]) -> (Vec<Vec<u8>>, Option<edgeos_echo::Probe>, u64) {
    let (mut server_port, mut client_port) = wire();
    let storage = Box::leak(Box::new(EchoStorage::new()));
    let mut echo = Echo::new(&TenantConfig { probes, ..config(Protocol::Udp) }, Protocol::Udp, &mut server_port, storage, Instant::ZERO);
    let mut iface = client(&mut client_port);
    let mut storage = [SocketStorage::EMPTY; 1];
    let mut sockets = SocketSet::new(&mut storage[..]);
    let buffer = || udp::PacketBuffer::new(vec![udp::PacketMetadata::EMPTY; 8], vec![0u8; 4096]);
    let mut socket = udp::Socket::new(buffer(), buffer());
    socket.bind(40000).unwrap();
    let handle = sockets.add(socket);
    let server = (IpAddress::Ipv4(Ipv4Address::from_octets(SERVER_IP)), 7);
    let (mut now, mut received, mut probe) = (Instant::ZERO, Vec::new(), None);
    for payload in payloads {
        sockets.get_mut::<udp::Socket>(handle).send_slice(payload, server).unwrap();
        for _ in 0..4 {
            now += Duration::from_millis(10);
            iface.poll(now, &mut client_port, &mut sockets);
            echo.serve(&mut server_port, now);
            probe = probe.or(echo.take_probe());
        }
        iface.poll(now, &mut client_port, &mut sockets);
        while let Ok((data, _)) = sockets.get_mut::<udp::Socket>(handle).recv() {
            received.push(data.to_vec());
        }
    }
    (received, probe, echo.echoed())
}

#[test]
fn udp_echo_returns_each_datagram() {
    let pings: Vec<Vec<u8>> = (0..5).map(|i| format!("ping {i}").into_bytes()).collect();
    let payloads: Vec<&[u8]> = pings.iter().map(|p| &p[..]).collect();
    let (received, probe, echoed) = udp_round(false, &payloads);
    assert_eq!((received, probe, echoed), (pings.clone(), None, 5));
}

#[test]
fn probes_are_obeyed_only_when_configured() {
    let payloads: [&[u8]; 2] = [b"probe:spin", b"hello"];
    let (got, probe, _) = udp_round(true, &payloads);
    assert_eq!((got, probe), (vec![b"hello".to_vec()], Some(edgeos_echo::Probe::Spin)));
    let (got, probe, _) = udp_round(false, &payloads);
    assert_eq!((got, probe), (vec![b"probe:spin".to_vec(), b"hello".to_vec()], None), "a plain echo echoes them");
}

#[test]
fn tcp_sockets_listen_from_initialisation() {
    // A spawned FWP's first poll sees the SYN that spawned it: the sockets
    // must be listening in the template's initialised state, before any serve.
    let (mut server_port, _) = wire();
    let storage = Box::leak(Box::new(EchoStorage::new()));
    let echo = Echo::new(&config(Protocol::Tcp), Protocol::Tcp, &mut server_port, storage, Instant::ZERO);
    assert!(echo.listening());
    let storage = Box::leak(Box::new(EchoStorage::new()));
    let udp = Echo::new(&config(Protocol::Udp), Protocol::Udp, &mut server_port, storage, Instant::ZERO);
    assert!(udp.listening(), "a bound UDP socket counts");
    let both = TenantConfig { protocols: Protocols::BOTH, ..config(Protocol::Tcp) };
    assert_eq!(Echo::protocol_of(&both), Err(OneProtocolOnly));
    assert_eq!(Echo::protocol_of(&config(Protocol::Udp)), Ok(Protocol::Udp));
}

#[test]
fn tcp_echo_serves_two_connections_and_closes_after_the_peer() {
    let (mut server_port, mut client_port) = wire();
    let storage = Box::leak(Box::new(EchoStorage::new()));
    let mut echo = Echo::new(&config(Protocol::Tcp), Protocol::Tcp, &mut server_port, storage, Instant::ZERO);
    let mut iface = client(&mut client_port);
    let mut storage = [SocketStorage::EMPTY, SocketStorage::EMPTY];
    let mut sockets = SocketSet::new(&mut storage[..]);
    let handles: Vec<_> = (0..2)
        .map(|_| sockets.add(tcp::Socket::new(tcp::SocketBuffer::new(vec![0; 8192]), tcp::SocketBuffer::new(vec![0; 8192]))))
        .collect();
    let server = (IpAddress::Ipv4(Ipv4Address::from_octets(SERVER_IP)), 7);
    for (i, h) in handles.iter().enumerate() {
        sockets.get_mut::<tcp::Socket>(*h).connect(iface.context(), server, 50000 + i as u16).unwrap();
    }
    // A message larger than one segment, different per connection.
    let messages: Vec<Vec<u8>> = (0..2).map(|i| (0..3000).map(|b| (b * 7 + i) as u8).collect()).collect();
    let mut sent = [0usize; 2];
    let mut got: Vec<Vec<u8>> = vec![Vec::new(); 2];
    let mut now = Instant::ZERO;
    let mut open_seen = false;
    for _ in 0..400 {
        now += Duration::from_millis(5);
        open_seen |= echo.has_open_connections();
        for (i, h) in handles.iter().enumerate() {
            let socket = sockets.get_mut::<tcp::Socket>(*h);
            if socket.can_send() && sent[i] < messages[i].len() {
                sent[i] += socket.send_slice(&messages[i][sent[i]..]).unwrap();
                if sent[i] == messages[i].len() {
                    socket.close();
                }
            }
            if socket.can_recv() {
                socket.recv(|data| { got[i].extend_from_slice(data); (data.len(), ()) }).unwrap();
            }
        }
        iface.poll(now, &mut client_port, &mut sockets);
        echo.serve(&mut server_port, now);
    }
    assert_eq!(got, messages, "every byte came back, per connection");
    assert_eq!(echo.echoed(), 6000);
    assert!(open_seen);
    assert_eq!(echo.connections_closed(), 2, "both closed after the peers: an FWP per flow may exit");
    assert!(!echo.has_open_connections());
    for h in &handles {
        let state = sockets.get::<tcp::Socket>(*h).state();
        assert!(matches!(state, tcp::State::Closed | tcp::State::TimeWait), "{state}");
    }
}
