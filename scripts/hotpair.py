#!/usr/bin/env python3
"""hotpair.py — contention on one hot key pair (Python 3, standard library only).

Opens N connections; each one alternates, one request at a time (no pipelining),

    MSET <k1> <v> <k2> <v>      (v = "<client>:<counter>", the same for both keys)
    MGET <k1> <k2>

until --count operations have completed in all. k1 and k2 are chosen so that with
ringkv's default slot table at --threads 2 they live on different shards (k1 in slots
0-8191, k2 in 8192-16383), so every request is a cross-shard transaction on the same
two keys.

Every reply is checked: +OK for MSET; for MGET two bulk strings that are equal (or
both null before the first MSET). A torn pair or any other reply counts as an error;
errors make the exit status 1.

Prints: ops/s, p50/p99/max latency of one request (ms), and the error count.

Usage: scripts/hotpair.py [-H HOST] [-p PORT] [-c CLIENTS] [-n COUNT]
Example (ringkv --threads 2 vs redis-server on the same machine):
    target/release/ringkv --port 7001 --threads 2 --save "" &
    redis-server --port 7002 --save "" --appendonly no &
    scripts/hotpair.py -p 7001 -c 64 -n 200000
    scripts/hotpair.py -p 7002 -c 64 -n 200000
"""

import argparse
import selectors
import socket
import sys
import time


def crc16(data):
    """CRC16-XMODEM, as Redis Cluster's key slot."""
    crc = 0
    for b in data:
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc


def hot_pair():
    """Two keys, one in each half of the slot space."""
    low = high = None
    i = 0
    while low is None or high is None:
        k = b"hot:%d" % i
        if crc16(k) % 16384 < 8192:
            low = low or k
        else:
            high = high or k
        i += 1
    return low, high


def cmd(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def parse_line(buf, nl):
    """A +simple or -error reply ending at nl: (value, rest)."""
    if buf[:1] == b"+":
        return buf[1:nl], buf[nl + 2:]
    if buf[:1] == b"-":
        return ("err", buf[1:nl]), buf[nl + 2:]
    raise ValueError("unexpected reply %r" % buf[:40])


def bulk_parse(buf):
    """One reply from buf: (value, rest), or None while incomplete. Bulk
    strings are bytes (None for null), arrays lists, errors ("err", text)."""
    nl = buf.find(b"\r\n")
    if nl < 0:
        return None
    if buf[:1] == b"$":
        n = int(buf[1:nl])
        if n < 0:
            return (None, buf[nl + 2:])
        if len(buf) < nl + 2 + n + 2:
            return None
        return (buf[nl + 2:nl + 2 + n], buf[nl + 4 + n:])
    if buf[:1] == b"*":
        rest = buf[nl + 2:]
        items = []
        for _ in range(int(buf[1:nl])):
            r = bulk_parse(rest)
            if r is None:
                return None
            items.append(r[0])
            rest = r[1]
        return (items, rest)
    return parse_line(buf, nl)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-H", "--host", default="127.0.0.1")
    ap.add_argument("-p", "--port", type=int, default=6379)
    ap.add_argument("-c", "--clients", type=int, default=64)
    ap.add_argument("-n", "--count", type=int, default=100000)
    a = ap.parse_args()

    k1, k2 = hot_pair()
    sel = selectors.DefaultSelector()
    clients = []
    for i in range(a.clients):
        s = socket.create_connection((a.host, a.port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.setblocking(False)
        c = {"sock": s, "id": i, "n": 0, "buf": b"", "sent": 0.0, "mset": True}
        clients.append(c)
        sel.register(s, selectors.EVENT_READ, c)

    lat = []
    errors = 0
    started = 0
    done = 0

    def send(c):
        nonlocal started
        c["mset"] = not c["mset"]
        if c["mset"]:
            v = b"%d:%d" % (c["id"], c["n"])
            req = cmd(b"MSET", k1, v, k2, v)
        else:
            req = cmd(b"MGET", k1, k2)
        c["n"] += 1
        c["sent"] = time.perf_counter()
        c["sock"].sendall(req)
        started += 1

    t0 = time.perf_counter()
    for c in clients:
        if started < a.count:
            send(c)
    while done < a.count:
        for key, _ in sel.select(timeout=10):
            c = key.data
            data = c["sock"].recv(65536)
            if not data:
                print("server closed a connection", file=sys.stderr)
                return 1
            c["buf"] += data
            r = bulk_parse(c["buf"])
            if r is None:
                continue
            value, c["buf"] = r
            lat.append(time.perf_counter() - c["sent"])
            done += 1
            if c["mset"]:
                ok = value == b"OK"
            else:
                ok = isinstance(value, list) and len(value) == 2 and value[0] == value[1]
            if not ok:
                errors += 1
                if errors <= 5:
                    print("bad reply: %r" % (value,), file=sys.stderr)
            if started < a.count:
                send(c)
    elapsed = time.perf_counter() - t0
    lat.sort()

    def pct(p):
        return lat[min(len(lat) - 1, int(len(lat) * p))] * 1000

    print(
        "ops/s %.0f  p50 %.2f ms  p99 %.2f ms  max %.2f ms  errors %d  (%d clients, %d ops, keys %s %s)"
        % (done / elapsed, pct(0.5), pct(0.99), lat[-1] * 1000, errors, a.clients, done,
           k1.decode(), k2.decode())
    )
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
