//! TCP connections: the slots of the connection area, the socket that
//! listens for the next connection, and one connection's serving pass.

use edgeos_memcache::{Conn, ConnectionEvent};
use smoltcp::iface::SocketHandle;
use smoltcp::socket::tcp;

use crate::{Memcached, SOCKET_RX_BUFFER, SOCKET_TX_BUFFER, TOO_MANY_CONNECTIONS};

/// A connection slot's state. A slot gets its socket when a connection
/// first needs it, and keeps it for the FWP's life: once its connection
/// ended, the socket listens for a later one.
pub struct Connection {
    /// The slot's socket, once one was created for it.
    handle: Option<SocketHandle>,
    /// Where the request stream stands.
    conn: Conn,
    /// A connection is on the socket (counted in the open connections).
    active: bool,
    /// The connection is past the limit: refuse it, as memcached does.
    turned_away: bool,
    /// Close once the replies are sent (`quit`, an over-long line, or the
    /// refusal).
    closing: bool,
}

impl Connection {
    /// A slot with no socket yet.
    pub const EMPTY: Connection = Connection { handle: None, conn: Conn::new(), active: false, turned_away: false, closing: false };
}

impl Memcached<'_> {
    /// Makes sure a socket listens for the next connection: once the
    /// listener took one (counting it, and marking it for refusal past
    /// the limit), the next is a slot whose connection ended, else a new
    /// one while slots last.
    pub(crate) fn keep_listening(&mut self) {
        let Some(open) = &mut self.open else { return };
        if !self.tcp {
            return;
        }
        if let Some(l) = open.listener {
            let c = &mut open.connections[l];
            let handle = c.handle.expect("a listener has a socket");
            if open.sockets.get::<tcp::Socket>(handle).state() == tcp::State::Listen {
                return;
            }
            c.active = true;
            c.turned_away = open.open >= self.max_connections;
            open.open += 1;
            if !c.turned_away {
                self.store.count_connection(ConnectionEvent::Opened);
            }
            open.listener = None;
        }
        let reusable = (0..open.created).find(|&i| {
            let c = &open.connections[i];
            !c.active && c.handle.is_some_and(|h| open.sockets.get::<tcp::Socket>(h).state() == tcp::State::Closed)
        });
        let slot = match reusable {
            Some(i) => i,
            None if open.created < open.connections.len() => {
                let (rx, rest) = core::mem::take(&mut open.spare).split_at_mut(SOCKET_RX_BUFFER);
                let (tx, rest) = rest.split_at_mut(SOCKET_TX_BUFFER);
                open.spare = rest;
                let mut socket = tcp::Socket::new(tcp::SocketBuffer::new(rx), tcp::SocketBuffer::new(tx));
                // Replies go out at once: the FWP runs only when frames
                // arrive, so a delayed ACK or a segment held for Nagle
                // would wait.
                socket.set_ack_delay(None);
                socket.set_nagle_enabled(false);
                let i = open.created;
                open.connections[i].handle = Some(open.sockets.add(socket));
                open.created += 1;
                i
            }
            // Every slot is busy: the next SYN is reset until one ends.
            None => return,
        };
        let handle = open.connections[slot].handle.expect("just ensured");
        let _ = open.sockets.get_mut::<tcp::Socket>(handle).listen(self.port);
        open.listener = Some(slot);
    }

    /// One pass over connection slot `i`: ends it if its socket closed,
    /// refuses it past the limit, or runs its requests as far as the
    /// socket's buffers allow. True if anything moved.
    pub(crate) fn serve_tcp(&mut self, i: usize, now: u64) -> bool {
        let Self { open, store, input, output, .. } = self;
        let Some(open) = open else { return false };
        let c = &mut open.connections[i];
        let Some(handle) = c.handle.filter(|_| c.active) else { return false };
        let socket = open.sockets.get_mut::<tcp::Socket>(handle);
        if matches!(socket.state(), tcp::State::TimeWait | tcp::State::Listen) {
            // TIME-WAIT (10 s in smoltcp) would keep the slot from the next
            // connection, and clients that open a connection per command
            // (libmemcached's tools) would run out: free it at once, as a
            // server closing with SO_LINGER 0 does. Listen: a handshake
            // that was reset went back to listening; this slot is not the
            // listener.
            socket.abort();
        }
        if !socket.is_open() {
            c.conn.abandon(store);
            if !c.turned_away {
                store.count_connection(ConnectionEvent::Closed);
            }
            (c.active, c.turned_away, c.closing) = (false, false, false);
            open.open -= 1;
            self.closed += 1;
            if open.listener.is_none() {
                self.keep_listening();
            }
            return false;
        }
        if c.closing {
            if socket.send_queue() == 0 {
                socket.close();
            }
            return false;
        }
        if c.turned_away {
            // As memcached: the refusal whatever the client sent, then FIN.
            if socket.can_send() && socket.send_slice(TOO_MANY_CONNECTIONS) == Ok(TOO_MANY_CONNECTIONS.len()) {
                c.closing = true;
                store.count_connection(ConnectionEvent::Rejected);
                return true;
            }
            return false;
        }
        let queued = socket.peek_slice(&mut input[..]).unwrap_or(0);
        let mut progressed = false;
        if queued > 0 || c.conn.is_streaming() {
            let room = socket.send_capacity() - socket.send_queue();
            let out = &mut output[..room.min(crate::OUTPUT)];
            let progress = c.conn.process(store, &input[..queued], now, out);
            let _ = socket.send_slice(&out[..progress.written]);
            discard(socket, progress.consumed);
            c.closing = progress.close;
            progressed = progress.consumed > 0 || progress.written > 0;
        }
        if !socket.may_recv() && socket.recv_queue() == 0 && !c.conn.is_streaming() && socket.may_send() {
            // The client finished sending and everything was answered.
            socket.close();
        }
        progressed
    }

    /// Serves the datagrams queued on the UDP socket.
    pub(crate) fn serve_udp(&mut self, now: u64) -> bool {
        let Self { open, store, output, datagram, .. } = self;
        let Some(handle) = open.as_ref().and_then(|open| open.udp) else { return false };
        let Some(open) = open else { return false };
        let socket = open.sockets.get_mut::<smoltcp::socket::udp::Socket>(handle);
        let mut progressed = false;
        while socket.can_send() {
            let Ok((len, meta)) = socket.recv_slice(&mut datagram[..]) else { break };
            progressed = true;
            // A reply that does not fit the tx queue loses its tail, as a
            // lost datagram would: the client sees the sequence gap.
            let _ = edgeos_memcache::protocol::udp::serve(store, &datagram[..len], now, &mut output[..], |reply| {
                let _ = socket.send_slice(reply, meta.endpoint);
            });
        }
        progressed
    }
}

/// Drops the first `n` received bytes, which the protocol has used.
fn discard(socket: &mut tcp::Socket<'_>, mut n: usize) {
    while n > 0 {
        match socket.recv(|queued| {
            let k = queued.len().min(n);
            (k, k)
        }) {
            Ok(k) if k > 0 => n -= k,
            _ => return,
        }
    }
}

