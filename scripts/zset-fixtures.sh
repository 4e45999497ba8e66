#!/usr/bin/env bash
# Regenerates tests/fixtures/zset/*.hex: DUMP payloads of sorted sets from a
# local redis-server 7.0 (the unit tests in src/shard/value/zset/tests.rs
# compare ringkv's RDB bytes with them and load them), plus MEMORY USAGE of
# a 128-member packed set. Usage: scripts/zset-fixtures.sh [port]
set -euo pipefail
port=${1:-6391}
out=tests/fixtures/zset
dir=$(mktemp -d)
redis-server --port "$port" --save '' --appendonly no --dir "$dir" --daemonize yes >/dev/null
trap 'redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
cli() { redis-cli -p "$port" "$@"; }
dump() { # name key: the DUMP payload in hex
    python3 - "$port" "$2" >"$out/$1.hex" <<'PY'
import socket, sys
port, key = int(sys.argv[1]), sys.argv[2].encode()
s = socket.create_connection(("127.0.0.1", port))
s.sendall(b"*2\r\n$4\r\nDUMP\r\n$%d\r\n%s\r\n" % (len(key), key))
buf = b""
while True:
    buf += s.recv(65536)
    if b"\r\n" in buf:
        n = int(buf[1:buf.index(b"\r\n")])
        start = buf.index(b"\r\n") + 2
        if len(buf) >= start + n + 2:
            print(buf[start:start + n].hex())
            break
PY
}
cli flushall >/dev/null
cli config set rdbcompression no >/dev/null
# Packed: integer and string members, integral and fractional scores.
cli zadd packed 1 a 1.5 b -0 c 1e300 d inf e 3.0000000000000004 f -inf g 1e17 h 4611686018427387904 i 4611686018427387905 j 0.1 k -2.5 123 7 -77777 >/dev/null
cli zadd packed 2 a >/dev/null          # an update moves "a"
cli zrem packed k >/dev/null
dump packed packed
# Equal scores ordered by member bytes; a 64-byte member stays packed.
cli zadd ties 5 b 5 a 5 ab 5 "" 5 "$(printf 'x%.0s' $(seq 64))" >/dev/null
dump ties ties
# 129 members: a skiplist, written as type 5.
for i in $(seq 0 128); do echo "zadd big $((i * 7 % 129)).25 m$i"; done | cli >/dev/null
dump big big
# A 65-byte member: a skiplist of one.
cli zadd long 1 "$(printf 'y%.0s' $(seq 65))" >/dev/null
dump long long
# With compression on: the listpack arrives LZF-compressed.
cli config set rdbcompression yes >/dev/null
for i in $(seq 0 99); do echo "zadd lzf $i member:$i"; done | cli >/dev/null
dump lzf lzf
# MEMORY USAGE of 128 members of 9 bytes with random fractional scores.
for i in $(seq 0 127); do printf 'zadd mem %d.%d m%08d\n' $((i * 37 % 101)) $((i % 10)) "$i"; done | cli >/dev/null
echo "$(cli object encoding mem) $(cli memory usage mem)" >"$out/mem128.txt"
cli object encoding packed
cli object encoding big
