#!/usr/bin/env bash
# Memory table: RSS growth per key after loading 1,000,000 keys `key:%010d`
# through `redis-cli --pipe`, with 16-byte string values and with integer
# values, into ringkv (--threads 1 and 2) and redis-server on the same machine;
# also INFO used_memory growth per key next to RSS growth.
# Usage: scripts/memtable.sh [path/to/ringkv]   (default: target/release/ringkv)
set -euo pipefail
BIN=${1:-${CARGO_TARGET_DIR:-target}/release/ringkv}
N=${N:-1000000}
PORT=${PORT:-7391}
TMP=$(mktemp -d)
trap 'kill "$PID" 2>/dev/null || true; rm -rf "$TMP"' EXIT
PID=

gen() { # $1 = str|int
    awk -v n="$N" -v kind="$1" 'BEGIN {
        for (i = 0; i < n; i++) {
            k = sprintf("key:%010d", i)
            v = (kind == "int") ? sprintf("%d", 1000000 + i) : sprintf("v%015d", i)
            printf "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", length(k), k, length(v), v
        }
    }'
}
gen str >"$TMP/str.resp"
gen int >"$TMP/int.resp"

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
used() { redis-cli -p "$PORT" INFO memory | tr -d '\r' | awk -F: '/^used_memory:/ {print $2}'; }
wait_up() { for _ in $(seq 100); do redis-cli -p "$PORT" PING >/dev/null 2>&1 && return; sleep 0.1; done; exit 1; }

measure() { # $1 name, $2 kind, command...
    local name=$1 kind=$2; shift 2
    "$@" >/dev/null 2>&1 &
    PID=$!
    wait_up
    local r0 u0 r1 u1
    r0=$(rss_kb "$PID"); u0=$(used)
    redis-cli -p "$PORT" --pipe <"$TMP/$kind.resp" >/dev/null
    sleep 1
    r1=$(rss_kb "$PID"); u1=$(used)
    awk -v n="$N" -v name="$name" -v kind="$kind" -v r0="$r0" -v r1="$r1" -v u0="$u0" -v u1="$u1" \
        'BEGIN { printf "%-20s %-4s %10.1f %14.1f\n", name, kind, (r1 - r0) * 1024 / n, (u1 - u0) / n }'
    kill "$PID"; wait "$PID" 2>/dev/null || true
    PID=
}

printf "%-20s %-4s %10s %14s\n" server vals "RSS B/key" "used_mem B/key"
for kind in str int; do
    measure "redis-server" "$kind" redis-server --port "$PORT" --save "" --appendonly no
    for t in 1 2; do
        measure "ringkv --threads $t" "$kind" "$BIN" --port "$PORT" --threads "$t" --save "" --appendonly no
    done
done
