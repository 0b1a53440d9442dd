#!/usr/bin/python3
"""A memcached FWP from the packet that spawns it to its first reply.

`ci/bench-memcached-start.sh` runs this against a booted node. Each run
waits until tenant B (template `--template`, scaled to zero when idle) has
no FWP, then sends one memcached `version` request over UDP: the datagram
spawns an FWP, which answers. The guest-side figure is the multiplexer's
`hop.first_reply_t<N>` (from the event that received the request to the
one that took the reply off the FWP's ring, in guest ns); this script
checks every reply and prints that summary.
"""
import argparse
import socket
import struct
import sys
import time


def stats(sock, address, query=b"stats"):
    """The node's counters (or, for b"hops", its time summaries) as a dict."""
    for _ in range(20):
        sock.sendto(query, address)
        try:
            line, _ = sock.recvfrom(4096)
        except socket.timeout:
            continue
        return dict(pair.split("=", 1) for pair in line.decode().split() if "=" in pair)
    sys.exit(f"memcached-start: no answer from the stats port {address}")


def wait_for(sock, address, key, value, within_s):
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if stats(sock, address).get(key) == value:
            return
        time.sleep(0.01)
    sys.exit(f"memcached-start: {key} not {value} within {within_s} s")


def version(sock, address, request_id):
    """One `version` request in memcached's UDP frame; its reply's line."""
    # Request id, sequence number 0, one datagram, reserved.
    header = struct.pack("!HHHH", request_id, 0, 1, 0)
    for _ in range(3):
        sock.sendto(header + b"version\r\n", address)
        try:
            reply, _ = sock.recvfrom(2048)
        except socket.timeout:
            continue
        if reply[:2] != header[:2]:
            sys.exit(f"memcached-start: reply to request {struct.unpack('!H', reply[:2])[0]}, sent {request_id}")
        return reply[8:].decode(errors="replace").strip()
    sys.exit(f"memcached-start: no reply to version request {request_id}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--to", default="127.0.0.1:15212", help="tenant B's forwarded UDP port")
    parser.add_argument("--stats", default="127.0.0.1:17777", help="the multiplexer's stats port")
    parser.add_argument("--template", type=int, default=4, help="tenant B's template index")
    parser.add_argument("--runs", type=int, default=100)
    args = parser.parse_args()
    host, port = args.to.rsplit(":", 1)
    target = (host, int(port))
    host, port = args.stats.rsplit(":", 1)
    stats_at = (host, int(port))
    t = f"t{args.template}"

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(2.0)
        before = stats(sock, stats_at)
        for run in range(args.runs):
            # Idle guest time passes at once under -icount sleep=off: the
            # idle timeout tears the last run's FWP down quickly.
            wait_for(sock, stats_at, f"{t}.active", "0", 120)
            line = version(sock, target, run & 0xFFFF)
            if not line.startswith("VERSION "):
                sys.exit(f"memcached-start: run {run}: answer {line!r}, not VERSION")
        after = stats(sock, stats_at)
        hops = stats(sock, stats_at, b"hops")
    spawned = {kind: int(after[f"fwp.spawned_{kind}"]) - int(before[f"fwp.spawned_{kind}"]) for kind in ("warm", "cold")}
    prefix = f"hop.first_reply_{t}."
    figures = {key[len(prefix):]: hops[key] for key in hops if key.startswith(prefix)}
    if int(figures.get("count", 0)) < args.runs:
        sys.exit(f"memcached-start: {figures.get('count', 0)} first replies summarised for {args.runs} runs: {figures}")
    print(
        f"memcached-start: {args.runs} runs ({spawned['warm']} warm spawns, {spawned['cold']} cold), "
        f"packet to first reply in guest ns: min {figures['min']} median {figures['median']} p99 {figures['p99']} "
        f"(count {figures['count']}); every reply {line!r}"
    )


if __name__ == "__main__":
    main()
