#!/usr/bin/env python3
"""txbench.py — MULTI/EXEC load generator (Python 3, standard library only).

Opens N connections and, on each, repeatedly writes P transactions

    MULTI / INCR key:<rand> / INCR key:<rand> / EXEC

in one write (the four commands of a transaction, and P transactions, pipelined),
then waits for all of their replies before writing the next batch, until --count
transactions have completed in all. Keys are key:<12-digit random number below
--keyspace>, like redis-benchmark -r, so with several ringkv shards the two INCRs of
a transaction usually live on different shards.

Every reply is checked: +OK for MULTI, +QUEUED for each INCR and, for EXEC, an array
of two integers. Any other reply counts as an error; errors make the exit status 1.

Prints one redis-benchmark --csv style result (a header line, then
"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms",
"p99_latency_ms","max_latency_ms"), where rps is transactions per second and the
latency is that of one batch: from its write to its last reply.

Usage: scripts/txbench.py [-H HOST] [-p PORT] [-c CLIENTS] [-n COUNT] [-P PIPELINE]
                          [-r KEYSPACE] [--seed S]
"""

import argparse
import math
import random
import selectors
import socket
import sys
import time


def cmd(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


MULTI = cmd(b"MULTI")
EXEC = cmd(b"EXEC")
INCR_HEAD = b"*2\r\n$4\r\nINCR\r\n$16\r\nkey:"  # key:%012d is 16 bytes long


def transaction(rand, keyspace):
    return b"".join((
        MULTI,
        INCR_HEAD, b"%012d\r\n" % rand(keyspace),
        INCR_HEAD, b"%012d\r\n" % rand(keyspace),
        EXEC,
    ))


class Incomplete(Exception):
    pass


def parse(buf, pos):
    """One RESP2 reply at buf[pos:]: (kind, value, next_pos). kind is the type byte;
    value is the line for simple types, the payload for bulk strings, the list of
    (kind, value) for arrays (None for null bulk/array). Raises Incomplete."""
    end = buf.find(b"\r\n", pos)
    if end < 0:
        raise Incomplete
    kind = buf[pos]
    line = bytes(buf[pos + 1:end])
    pos = end + 2
    if kind == 0x24:  # '$'
        n = int(line)
        if n < 0:
            return kind, None, pos
        if len(buf) < pos + n + 2:
            raise Incomplete
        return kind, bytes(buf[pos:pos + n]), pos + n + 2
    if kind == 0x2A:  # '*'
        n = int(line)
        if n < 0:
            return kind, None, pos
        items = []
        for _ in range(n):
            k, v, pos = parse(buf, pos)
            items.append((k, v))
        return kind, items, pos
    return kind, line, pos  # '+', '-', ':'


PLUS, MINUS, COLON, STAR = 0x2B, 0x2D, 0x3A, 0x2A


def check(index, kind, value):
    """Is the index-th reply of a transaction (0 MULTI, 1-2 INCR, 3 EXEC) right?"""
    if index == 0:
        return kind == PLUS and value == b"OK"
    if index < 3:
        return kind == PLUS and value == b"QUEUED"
    return (kind == STAR and value is not None and len(value) == 2
            and all(k == COLON for k, _ in value))


class Client:
    __slots__ = ("sock", "buf", "replies", "expect", "started")

    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray()
        self.replies = 0  # replies of the current batch received so far
        self.expect = 0   # replies the current batch will get (4 per transaction)
        self.started = 0.0


def percentile(sorted_values, q):
    if not sorted_values:
        return 0.0
    # nearest rank: the smallest value with at least q% of the values at or below it
    i = max(0, math.ceil(q / 100 * len(sorted_values)) - 1)
    return sorted_values[min(i, len(sorted_values) - 1)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-H", "--host", default="127.0.0.1")
    ap.add_argument("-p", "--port", type=int, default=6379)
    ap.add_argument("-c", "--clients", type=int, default=50)
    ap.add_argument("-n", "--count", type=int, default=100000, help="transactions in all")
    ap.add_argument("-P", "--pipeline", type=int, default=1,
                    help="transactions per write on one connection")
    ap.add_argument("-r", "--keyspace", type=int, default=100000)
    ap.add_argument("--seed", type=int, default=None)
    a = ap.parse_args()
    if min(a.clients, a.count, a.pipeline, a.keyspace) < 1:
        ap.error("-c, -n, -P and -r must be positive")

    rng = random.Random(a.seed)
    rand = rng.randrange
    keyspace = a.keyspace

    sel = selectors.DefaultSelector()
    clients = []
    for _ in range(a.clients):
        s = socket.create_connection((a.host, a.port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.setblocking(False)
        c = Client(s)
        clients.append(c)

    issued = 0      # transactions written
    done = 0        # transactions whose EXEC reply arrived
    errors = 0
    first_error = None
    latencies = []  # seconds per batch

    def send_batch(c):
        nonlocal issued
        k = min(a.pipeline, a.count - issued)
        if k <= 0:
            return False
        issued += k
        payload = b"".join(transaction(rand, keyspace) for _ in range(k))
        c.replies = 0
        c.expect = 4 * k
        c.started = time.perf_counter()
        # All earlier replies have arrived, so the send buffer is empty and this small
        # write goes through at once; block for the rest if it ever does not.
        try:
            sent = c.sock.send(payload)
        except BlockingIOError:
            sent = 0
        if sent < len(payload):
            c.sock.setblocking(True)
            c.sock.sendall(payload[sent:])
            c.sock.setblocking(False)
        return True

    t0 = time.perf_counter()
    for c in clients:
        if send_batch(c):
            sel.register(c.sock, selectors.EVENT_READ, c)
        else:
            c.sock.close()
    active = len(sel.get_map())

    while active:
        for key, _ in sel.select():
            c = key.data
            try:
                data = c.sock.recv(262144)
            except BlockingIOError:
                continue
            if not data:
                print("txbench: server closed a connection", file=sys.stderr)
                sys.exit(1)
            buf = c.buf
            buf += data
            pos = 0
            n = len(buf)
            try:
                while pos < n:
                    kind, value, pos_next = parse(buf, pos)
                    pos = pos_next
                    i = c.replies % 4
                    if not check(i, kind, value):
                        errors += 1
                        if first_error is None:
                            first_error = (i, chr(kind), value)
                    c.replies += 1
                    if i == 3:
                        done += 1
            except Incomplete:
                pass
            del buf[:pos]
            if c.replies > c.expect:
                print("txbench: more replies than requests", file=sys.stderr)
                sys.exit(1)
            if c.replies == c.expect:
                latencies.append(time.perf_counter() - c.started)
                if not send_batch(c):
                    sel.unregister(c.sock)
                    c.sock.close()
                    active -= 1
    elapsed = time.perf_counter() - t0

    if done != a.count:
        print(f"txbench: {done} of {a.count} transactions completed", file=sys.stderr)
        sys.exit(1)
    latencies.sort()
    ms = [x * 1000 for x in latencies]
    avg = sum(ms) / len(ms)
    name = "MULTI/EXEC (2 INCR)"
    print('"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms",'
          '"p95_latency_ms","p99_latency_ms","max_latency_ms"')
    print(f'"{name}","{done / elapsed:.2f}","{avg:.3f}","{ms[0]:.3f}",'
          f'"{percentile(ms, 50):.3f}","{percentile(ms, 95):.3f}",'
          f'"{percentile(ms, 99):.3f}","{ms[-1]:.3f}"')
    if errors:
        print(f"txbench: {errors} unexpected replies; first: reply {first_error[0]} of a "
              f"transaction was {first_error[1]}{first_error[2]!r}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
