#!/usr/bin/python3
"""Per-connection memcached tenants are isolated from one another: through
pymemcache (Debian's python3-pymemcache).

    memcached_tenants.py HOST PORT COUNT

Opens COUNT connections to a per-connection memcached template, one after
another (QEMU's forwarded ports accept with a listen backlog of one), so
each is its own tenant with its own FWP and store. Every tenant stores
the same key with a value of its own, then every tenant reads it back and
must find its own value byte for byte, and a key another tenant stored
only in its store must be missing: a tenant that saw another's data, or a
shared store, fails. Then all connections close.
"""

import sys

from pymemcache.client.base import Client


def expect(what, got, wanted):
    if got != wanted:
        raise AssertionError(f"{what}: got {got!r}, expected {wanted!r}")


def value_of(tenant):
    # Distinct per tenant, and long enough to cross a segment boundary.
    return (f"tenant {tenant}: ".encode() + bytes(range(256))) * 8


def main(host, port, count):
    count = int(count)
    tenants = []
    for tenant in range(count):
        client = Client((host, int(port)), connect_timeout=30, timeout=30, default_noreply=False)
        # The first request opens the connection: it spawns the tenant's FWP.
        expect(f"tenant {tenant} stores the shared key", client.set(b"shared", value_of(tenant)), True)
        expect(f"tenant {tenant} stores its own key", client.set(f"own-{tenant}".encode(), b"x"), True)
        tenants.append(client)
    print(f"ok   {count} tenants, each on its own connection, stored the same key")
    for tenant, client in enumerate(tenants):
        expect(f"tenant {tenant} reads its own value of the shared key", client.get(b"shared"), value_of(tenant))
        other = (tenant + 1) % count
        if other != tenant:
            expect(f"tenant {tenant} does not see tenant {other}'s key", client.get(f"own-{other}".encode()), None)
        stats = client.stats()
        expect(f"tenant {tenant}'s store holds its two items", int(stats[b"curr_items"]), 2)
    print(f"ok   each of the {count} tenants found its own value and none of the others' keys")
    for client in tenants:
        client.close()
    print("memcached_tenants: every check held")


if __name__ == "__main__":
    main(*sys.argv[1:])
