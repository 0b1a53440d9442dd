#!/usr/bin/python3
"""Every memcached text-protocol command against a tenant, over TCP or UDP.

    memcached_protocol.py HOST PORT tcp|udp

The unmodified clients (libmemcached-tools, pymemcache) cover what they
implement; none speaks gat/gats/verbosity, and none sends more than set and
delete over UDP. This script sends the protocol's bytes itself, the same
table over both transports, and compares each reply with what memcached
1.6 answers. UDP requests carry memcached's 8-byte frame header (request
id, sequence 0, 1 datagram); replies are reassembled from their datagrams
by sequence number. Exits non-zero on the first difference, naming it.
"""

import re
import socket
import struct
import sys
import time

TIMEOUT = 10.0


# Every request is followed by `version`: its line marks where the reply
# to the request ends (some replies are several lines, an error line and
# another, or nothing at all for noreply).
SENTINEL = b"version\r\n"
SENTINEL_REPLY = b"VERSION 1.6.21-edgeos\r\n"


class Tcp:
    def __init__(self, host, port):
        self.sock = socket.create_connection((host, port), timeout=TIMEOUT)

    def ask(self, request):
        self.sock.sendall(request + SENTINEL)
        data = b""
        while not data.endswith(SENTINEL_REPLY):
            chunk = self.sock.recv(65536)
            if not chunk:
                raise AssertionError(f"connection closed after {data!r}")
            data += chunk
        return data[: -len(SENTINEL_REPLY)]

    def quit(self):
        self.sock.sendall(b"quit\r\n")
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True


class Udp:
    def __init__(self, host, port):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.settimeout(TIMEOUT)
        self.server = (host, port)
        self.request_id = 0

    def send(self, payload):
        """Sends `payload` as a new request: datagram 0 of 1."""
        self.request_id = (self.request_id + 1) & 0xFFFF
        self.sock.sendto(struct.pack(">HHHH", self.request_id, 0, 1, 0) + payload, self.server)

    def ask(self, request):
        self.send(request + SENTINEL)
        parts, total = {}, None
        while total is None or len(parts) < total:
            datagram, _ = self.sock.recvfrom(65536)
            request_id, sequence, count, _ = struct.unpack(">HHHH", datagram[:8])
            if request_id != self.request_id:
                continue  # a late reply to an earlier request
            parts[sequence], total = datagram[8:], count
        data = b"".join(parts[i] for i in range(total))
        if not data.endswith(SENTINEL_REPLY):
            raise AssertionError(f"reply {data!r} lacks the version line")
        return data[: -len(SENTINEL_REPLY)]

    def quit(self):
        """memcached answers `quit` over UDP with nothing, and drops the rest
        of its datagram; the next datagram is served as usual."""
        self.send(b"quit\r\n" + SENTINEL)
        self.sock.settimeout(1.0)
        try:
            datagram, _ = self.sock.recvfrom(65536)
            raise AssertionError(f"quit over UDP was answered: {datagram!r}")
        except socket.timeout:
            pass
        finally:
            self.sock.settimeout(TIMEOUT)
        return self.ask(b"") == b""


# Tenant A's item_size_max in system.toml (memcached's default -I 1m).
ITEM_SIZE_MAX = 1024 * 1024

def check(client, request, expected, what):
    try:
        reply = client.ask(request)
    except socket.timeout:
        raise AssertionError(f"{what}: sent {request[:80]!r}, no reply within {TIMEOUT} s") from None
    ok = expected.fullmatch(reply) if isinstance(expected, re.Pattern) else reply == expected
    if not ok:
        raise AssertionError(f"{what}: sent {request!r}, got {reply!r}, expected {expected!r}")
    return reply


def commands(c, transport):
    p = transport.encode()  # keys differ per transport: the runs never meet
    check(c, b"flush_all\r\n", b"OK\r\n", "flush_all")
    check(c, b"version\r\n", b"VERSION 1.6.21-edgeos\r\n", "version")
    check(c, b"verbosity 1\r\n", b"OK\r\n", "verbosity")
    check(c, b"set %s:k 5 0 3\r\nabc\r\n" % p, b"STORED\r\n", "set")
    check(c, b"get %s:k\r\n" % p, b"VALUE %s:k 5 3\r\nabc\r\nEND\r\n" % p, "get")
    check(c, b"add %s:k 0 0 1\r\nx\r\n" % p, b"NOT_STORED\r\n", "add of a present key")
    check(c, b"add %s:a 0 0 1\r\nx\r\n" % p, b"STORED\r\n", "add")
    check(c, b"replace %s:none 0 0 1\r\nx\r\n" % p, b"NOT_STORED\r\n", "replace of a missing key")
    check(c, b"replace %s:k 0 0 3\r\nxyz\r\n" % p, b"STORED\r\n", "replace")
    check(c, b"append %s:k 0 0 2\r\n12\r\n" % p, b"STORED\r\n", "append")
    check(c, b"prepend %s:k 0 0 2\r\n00\r\n" % p, b"STORED\r\n", "prepend")
    check(c, b"get %s:k %s:a %s:none\r\n" % (p, p, p),
          b"VALUE %s:k 0 7\r\n00xyz12\r\nVALUE %s:a 0 1\r\nx\r\nEND\r\n" % (p, p), "get of several keys")
    reply = check(c, b"gets %s:k\r\n" % p, re.compile(rb"VALUE %s:k 0 7 (\d+)\r\n00xyz12\r\nEND\r\n" % p), "gets")
    unique = re.search(rb" (\d+)\r\n", reply).group(1)
    check(c, b"cas %s:k 0 0 1 %s\r\nc\r\n" % (p, unique), b"STORED\r\n", "cas with the current unique")
    check(c, b"cas %s:k 0 0 1 %s\r\nd\r\n" % (p, unique), b"EXISTS\r\n", "cas with a stale unique")
    check(c, b"cas %s:none 0 0 1 1\r\nd\r\n" % p, b"NOT_FOUND\r\n", "cas of a missing key")
    check(c, b"incr %s:n 1\r\n" % p, b"NOT_FOUND\r\n", "incr of a missing key")
    check(c, b"set %s:n 0 0 2\r\n10\r\n" % p, b"STORED\r\n", "set a number")
    check(c, b"incr %s:n 5\r\n" % p, b"15\r\n", "incr")
    check(c, b"decr %s:n 20\r\n" % p, b"0\r\n", "decr stops at 0")
    check(c, b"incr %s:n 18446744073709551615\r\n" % p, b"18446744073709551615\r\n", "incr to 2^64-1")
    check(c, b"incr %s:n 1\r\n" % p, b"0\r\n", "incr wraps at 2^64")
    check(c, b"incr %s:k 1\r\n" % p, b"CLIENT_ERROR cannot increment or decrement non-numeric value\r\n",
          "incr of a non-number")
    check(c, b"touch %s:k 100\r\n" % p, b"TOUCHED\r\n", "touch")
    check(c, b"touch %s:none 100\r\n" % p, b"NOT_FOUND\r\n", "touch of a missing key")
    check(c, b"gat 100 %s:k\r\n" % p, b"VALUE %s:k 0 1\r\nc\r\nEND\r\n" % p, "gat")
    check(c, b"gats 100 %s:k\r\n" % p, re.compile(rb"VALUE %s:k 0 1 \d+\r\nc\r\nEND\r\n" % p), "gats")
    check(c, b"delete %s:k\r\n" % p, b"DELETED\r\n", "delete")
    check(c, b"delete %s:k\r\n" % p, b"NOT_FOUND\r\n", "delete of a missing key")
    # noreply: the set answers nothing, the get behind it in the same
    # request (pipelined, or one datagram) is all that comes back.
    check(c, b"set %s:q 0 0 1 noreply\r\nz\r\nget %s:q\r\n" % (p, p), b"VALUE %s:q 0 1\r\nz\r\nEND\r\n" % p,
          "set noreply")
    check(c, b"delete %s:q noreply\r\nget %s:q\r\n" % (p, p), b"END\r\n", "delete noreply")
    # Expiry, as memcached reads exptime: negative is expired at once; up
    # to 30 days relative; beyond, an absolute unix time.
    now = int(time.time())
    check(c, b"set %s:neg 0 -1 1\r\nx\r\nget %s:neg\r\n" % (p, p), b"STORED\r\nEND\r\n", "negative exptime")
    check(c, b"set %s:past 0 %d 1\r\nx\r\nget %s:past\r\n" % (p, now - 60, p), b"STORED\r\nEND\r\n",
          "absolute exptime in the past")
    check(c, b"set %s:future 0 %d 1\r\nx\r\nget %s:future\r\n" % (p, now + 86400, p),
          b"STORED\r\nVALUE %s:future 0 1\r\nx\r\nEND\r\n" % p, "absolute exptime a day ahead")
    check(c, b"set %s:soon 0 2 1\r\nx\r\nget %s:soon\r\n" % (p, p), b"STORED\r\nVALUE %s:soon 0 1\r\nx\r\nEND\r\n" % p,
          "relative exptime of 2 s, read at once")
    deadline = time.monotonic() + 30
    while c.ask(b"get %s:soon\r\n" % p) != b"END\r\n":
        if time.monotonic() > deadline:
            raise AssertionError("an item set with exptime 2 was still there 30 s later")
        time.sleep(0.5)
    # Errors, each leaving the connection usable.
    check(c, b"bogus\r\n", b"ERROR\r\n", "unknown command")
    check(c, b"get %s\r\n" % (b"k" * 251), b"CLIENT_ERROR bad command line format\r\n", "a 251-byte key")
    check(c, b"set %s:k 0 0 3\r\nabcd\r\n" % p, b"CLIENT_ERROR bad data chunk\r\nERROR\r\n", "a data block longer than declared")
    if transport == "tcp":
        # Over UDP a request must fit one datagram the path does not
        # fragment (the mux drops IP fragments), so this one is TCP's only.
        over = ITEM_SIZE_MAX + 1
        check(c, b"set %s:big 0 0 %d\r\n%s\r\n" % (p, over, b"v" * over), b"SERVER_ERROR object too large for cache\r\n",
              "an item over the size limit")
    check(c, b"incr %s:n abc\r\n" % p, b"CLIENT_ERROR invalid numeric delta argument\r\n", "a bad delta")
    check(c, b"get %s:big\r\n" % p, b"END\r\n", "the refused item is not stored")
    stats = check(c, b"stats\r\n", re.compile(rb"(STAT [a-z_]+ [^\r]*\r\n)+END\r\n"), "stats")
    for name in [b"uptime", b"time", b"curr_items", b"total_items", b"cmd_get", b"cmd_set", b"get_hits",
                 b"get_misses", b"evictions", b"limit_maxbytes", b"version"]:
        if not re.search(rb"STAT %s " % name, stats):
            raise AssertionError(f"stats has no {name!r}: {stats!r}")
    # The tenant's clock is unix time (the timer service's real-time clock,
    # read at boot). Under `-icount sleep=off` guest time runs ahead of the
    # host's while the guest idles, so only minutes apart, never before.
    reported = int(re.search(rb"STAT time (\d+)\r\n", stats).group(1))
    if not time.time() - 60 <= reported <= time.time() + 3600:
        raise AssertionError(f"stats time {reported} is not unix time now ({int(time.time())})")
    check(c, b"flush_all\r\nget %s:a\r\n" % p, b"OK\r\nEND\r\n", "flush_all empties the store")
    if not c.quit():
        raise AssertionError("quit: " + ("the connection stayed open" if transport == "tcp" else "the next datagram was not served"))


def main():
    host, port, transport = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    client = Tcp(host, port) if transport == "tcp" else Udp(host, port)
    commands(client, transport)
    if transport == "tcp":
        # commands() ended with quit: our side closes too. The connection
        # limit is memcached_limits.py's.
        client.sock.close()
    print(f"every command answered as memcached does over {transport}")


if __name__ == "__main__":
    try:
        main()
    except (AssertionError, OSError) as e:
        print(f"memcached_protocol: {e}", file=sys.stderr)
        sys.exit(1)
