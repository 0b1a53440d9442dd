#!/usr/bin/python3
"""memcached's times follow the wall clock on `make run`'s configuration
(real-time guest clock): through pymemcache (Debian's python3-pymemcache).

    memcached_realtime.py HOST PORT

Stores one key for 3 s and one for 3 s then touched to 60 s, waits 5 s of
real time (the waiting is what is tested, not a synchronisation), and
expects the first gone and the second there, byte for byte. Prints how
far the tenant's `stats` time is from the host's (not checked: see
docs/memcached.md).
"""

import sys
import time

from pymemcache.client.base import Client


def expect(what, got, wanted):
    if got != wanted:
        raise AssertionError(f"{what}: got {got!r}, expected {wanted!r}")
    print(f"ok   {what}")


def main(host, port):
    client = Client((host, int(port)), connect_timeout=10, timeout=10, default_noreply=False)
    short, kept = b"realtime-short", b"realtime-kept"
    short_value, kept_value = bytes(range(256)) * 4, b"kept for 60 s by touch"
    expect("set a key with a 3 s TTL", client.set(short, short_value, expire=3), True)
    expect("set a key with a 3 s TTL, to be touched", client.set(kept, kept_value, expire=3), True)
    expect("touch it to 60 s", client.touch(kept, expire=60), True)
    expect("the 3 s key is there at first", client.get(short), short_value)

    stats = client.stats()
    guest_time = int(stats[b"time"])
    host_time = time.time()
    # Printed, not checked: the guest's unix time lagged the host's by 0.7 to
    # 119 s from run to run (longer with slower boots), for reasons not yet
    # established (docs/memcached.md). The TTLs below are relative, so they
    # hold whatever that offset.
    print(f"note stats time {guest_time} is {guest_time - host_time:+.1f} s from the host's (not checked)")

    time.sleep(5)
    expect("after 5 s of real time, the 3 s key is gone", client.get(short), None)
    expect("after 5 s of real time, the touched key is there", client.get(kept), kept_value)
    print("memcached_realtime: every check held")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(*sys.argv[1:])
