#!/usr/bin/python3
"""The memcached tenants through pymemcache (Debian's python3-pymemcache),
an unmodified client library, over TCP.

    memcached_pymemcache.py commands HOST PORT
        every storage, retrieval, arithmetic and admin call pymemcache has,
        noreply included, values of every size up to the item limit
    memcached_pymemcache.py eviction HOST PORT
        LRU eviction once the tenant's fixed store is full
    memcached_pymemcache.py isolation HOST PORT_A PORT_B
        two tenants: keys never cross, flushing one leaves the other
    memcached_pymemcache.py set|expect-missing HOST PORT KEY
        store KEY, or check that KEY is absent (tenant churn)
"""

import os
import sys

from pymemcache.client.base import Client

ITEM_SIZE_MAX = 1024 * 1024  # tenant A's item_size_max in system.toml, key included
ITEM_SIZE_MAX_B = 256 * 1024  # tenant B's
CONNECTIONS = 8  # connections used at once here (memcached_limits.py holds the tenant's 1,024)


def client(host, port):
    return Client((host, int(port)), connect_timeout=10, timeout=10, default_noreply=False)


def expect(what, got, wanted):
    if got != wanted:
        raise AssertionError(f"{what}: got {got!r}, expected {wanted!r}")


def commands(c, host, port):
    expect("flush_all", c.flush_all(), True)
    expect("version", c.version(), b"1.6.21-edgeos")
    expect("set", c.set("k", b"value", expire=0), True)
    expect("get", c.get("k"), b"value")
    expect("get of a missing key", c.get("missing"), None)
    expect("add of a present key", c.add("k", b"other"), False)
    expect("add", c.add("fresh", b"1"), True)
    expect("replace of a missing key", c.replace("missing", b"x"), False)
    expect("replace", c.replace("k", b"v2"), True)
    expect("append", c.append("k", b"-tail"), True)
    expect("prepend", c.prepend("k", b"head-"), True)
    expect("get after append and prepend", c.get("k"), b"head-v2-tail")
    value, unique = c.gets("k")
    expect("gets", value, b"head-v2-tail")
    expect("cas with the current unique", c.cas("k", b"swapped", unique), True)
    expect("cas with a stale unique", c.cas("k", b"again", unique), False)
    expect("cas of a missing key", c.cas("missing", b"x", unique), None)
    expect("set_many", c.set_many({f"m{i}": str(i).encode() for i in range(50)}), [])
    many = c.get_many([f"m{i}" for i in range(50)] + ["missing"])
    expect("get_many", many, {f"m{i}": str(i).encode() for i in range(50)})
    expect("gets_many keys", sorted(c.gets_many(["k", "fresh"])), ["fresh", "k"])
    expect("incr of a missing key", c.incr("n", 1), None)
    c.set("n", b"41")
    expect("incr", c.incr("n", 1), 42)
    expect("decr", c.decr("n", 50), 0)
    expect("touch", c.touch("k", 3600), True)
    expect("touch of a missing key", c.touch("missing", 10), False)
    expect("delete", c.delete("k"), True)
    expect("delete of a missing key", c.delete("k"), False)
    expect("delete_many", c.delete_many(["m0", "m1"]), True)
    expect("get of a deleted key", c.get("m0"), None)
    # noreply: pymemcache sends it and does not wait; the next call sees
    # the effect on the same connection.
    c.set("quiet", b"q", noreply=True)
    c.delete("fresh", noreply=True)
    expect("after set noreply", c.get("quiet"), b"q")
    expect("after delete noreply", c.get("fresh"), None)
    # Values of every size class up to the limit come back byte for byte.
    for size in [0, 1, 100, 1399, 1400, 1401, 4096, ITEM_SIZE_MAX - 64]:
        data = os.urandom(size)
        expect(f"set of {size} bytes", c.set(f"size{size}", data), True)
        expect(f"get of {size} bytes", c.get(f"size{size}"), data)
    try:
        c.set("toolarge", b"x" * (ITEM_SIZE_MAX + 1))
        raise AssertionError("an item over the limit was stored")
    except Exception as e:  # pymemcache raises MemcacheServerError
        expect("the error for an item over the limit", "object too large for cache" in str(e), True)
    stats = c.stats()
    for name in [b"curr_items", b"cmd_get", b"cmd_set", b"get_hits", b"get_misses", b"limit_maxbytes"]:
        if name not in stats:
            raise AssertionError(f"stats lack {name!r}: {stats}")
    # All the connections the tenant serves, open at once (this one among
    # them): each stores through its own, and each reads every key.
    others = [client(host, port) for _ in range(CONNECTIONS - 1)]
    clients = [c] + others
    for i, k in enumerate(clients):
        expect(f"set over connection {i}", k.set(f"conn{i}", str(i).encode()), True)
    for i, k in enumerate(clients):
        expect(f"get_many over connection {i}", k.get_many([f"conn{j}" for j in range(CONNECTIONS)]),
               {f"conn{j}": str(j).encode() for j in range(CONNECTIONS)})
    for k in others:
        k.close()
    print(f"pymemcache: every call answered over {CONNECTIONS} connections at once")



def eviction(c):
    """A full store evicts the least recently used items, and only those:
    write twice what it holds, reading "hot" between writes. Items of a
    256th of the store fill it by bytes before its index (a slot per KiB)
    is full, in 512 sets whatever the store's size."""
    limit = c.stats()[b"limit_maxbytes"]
    size = min(limit // 256, ITEM_SIZE_MAX_B - 64)
    c.set("hot", b"h" * 100)
    count = 2 * limit // size
    for i in range(count):
        c.set(f"fill{i}", bytes([i % 256]) * size)
        if i % 16 == 0:
            expect("the recently read item", c.get("hot"), b"h" * 100)
    stats = c.stats()
    if stats[b"evictions"] == 0:
        raise AssertionError(f"{count} items of {size} bytes in {limit} bytes evicted nothing")
    expect("the oldest item, evicted", c.get("fill0"), None)
    expect("the newest item", c.get(f"fill{count - 1}"), bytes([(count - 1) % 256]) * size)
    expect("the item read all along", c.get("hot"), b"h" * 100)
    print(f"pymemcache: {stats[b'evictions']} evictions of {count} items of {size} bytes in a store of {limit} bytes; "
          "the item read all along stayed")

def isolation(a, b):
    for c in (a, b):
        c.flush_all()
    a.set("shared-name", b"tenant A")
    b.set("shared-name", b"tenant B")
    a.set("only-in-a", b"a")
    expect("A's own value", a.get("shared-name"), b"tenant A")
    expect("B's own value", b.get("shared-name"), b"tenant B")
    expect("A's key seen from B", b.get("only-in-a"), None)
    expect("B's flush", b.flush_all(), True)
    expect("B after its flush", b.get("shared-name"), None)
    expect("A after B's flush", a.get_many(["shared-name", "only-in-a"]), {"shared-name": b"tenant A", "only-in-a": b"a"})
    print("pymemcache: two tenants share no key; flushing B left A intact")


def main():
    mode, host = sys.argv[1], sys.argv[2]
    if mode == "commands":
        commands(client(host, sys.argv[3]), host, sys.argv[3])
    elif mode == "eviction":
        eviction(client(host, sys.argv[3]))
    elif mode == "isolation":
        isolation(client(host, sys.argv[3]), client(host, sys.argv[4]))
    elif mode == "set":
        expect("set", client(host, sys.argv[3]).set(sys.argv[4], b"before the teardown"), True)
    elif mode == "expect-missing":
        expect("the key after a respawn", client(host, sys.argv[3]).get(sys.argv[4]), None)
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    try:
        main()
    except (AssertionError, OSError) as e:
        print(f"memcached_pymemcache: {e}", file=sys.stderr)
        sys.exit(1)
