#!/usr/bin/env bash
# Memory table: bytes per element after loading a dataset through
# `redis-cli --pipe` into ringkv (--threads 1 and 2) and redis-server on the
# same machine, as RSS growth and as INFO used_memory growth, per case:
#   str     1M keys `key:%010d` with 16-byte string values
#   int     1M keys with integer values
#   hash    one hash of 1M fields (9-byte fields and values; hashtable)
#   lphash  10k hashes of 50 fields each (listpack), per field
#   set     one set of 1M 9-byte members (hashtable)
#   intset  1k sets of 500 small integers each (intset), per member
#   oneset  100k sets of one 9-byte member each, per key
#   list    one list of 1M 9-byte elements (RPUSH), per element
#   onelist 100k lists of one 9-byte element each, per key
#   zset    one sorted set of 1M 9-byte members with integer scores (skiplist)
#   lpzset  10k sorted sets of 100 members each (listpack), per member
# Usage: scripts/memtable.sh [path/to/ringkv] [case...]   (default: all cases)
set -euo pipefail
BIN=${1:-${CARGO_TARGET_DIR:-target}/release/ringkv}
shift || true
CASES=${*:-str int hash lphash set intset oneset list onelist zset lpzset}
PORT=${PORT:-7391}
TMP=$(mktemp -d)
trap 'kill "$PID" 2>/dev/null || true; rm -rf "$TMP"' EXIT
PID=

# gen CASE: writes the case's RESP commands to stdout and its element count
# to $TMP/CASE.n.
gen() {
    awk -v kind="$1" -v nfile="$TMP/$1.n" '
    function bulk(s) { return sprintf("$%d\r\n%s\r\n", length(s), s) }
    function cmd(argc, body) { printf "*%d\r\n%s", argc, body }
    # `keys` keys named prefix%08d, each given `per` elements by `verb`;
    # members/fields are %08d-numbered (unique within a key).
    # pairs 2: a score before each member (ZADD).
    function fill(verb, prefix, keys, per, pairs, ints,    k, i, body, argc, e, m) {
        e = 0
        for (k = 0; k < keys; k++) {
            key = sprintf("%s%08d", prefix, k)
            for (i = 0; i < per; i += 100) {
                body = bulk(verb) bulk(key); argc = 2
                for (m = i; m < i + 100 && m < per; m++) {
                    if (pairs == 2) { body = body bulk(sprintf("%d", (m * 7919) % 1000003)); argc++ }
                    if (ints) body = body bulk(sprintf("%d", m * 7))
                    else body = body bulk(sprintf("m%08d", m))
                    argc++
                    if (pairs == 1) { body = body bulk(sprintf("v%08d", m)); argc++ }
                    e++
                }
                cmd(argc, body)
            }
        }
        print e > nfile
    }
    BEGIN {
        if (kind == "str" || kind == "int") {
            for (i = 0; i < 1000000; i++) {
                k = sprintf("key:%010d", i)
                v = (kind == "int") ? sprintf("%d", 1000000 + i) : sprintf("v%015d", i)
                cmd(3, bulk("SET") bulk(k) bulk(v))
            }
            print 1000000 > nfile
        }
        else if (kind == "hash")   fill("HSET", "hash:", 1, 1000000, 1, 0)
        else if (kind == "lphash") fill("HSET", "lph:", 10000, 50, 1, 0)
        else if (kind == "set")    fill("SADD", "set:", 1, 1000000, 0, 0)
        else if (kind == "intset") fill("SADD", "ints:", 1000, 500, 0, 1)
        else if (kind == "oneset") fill("SADD", "one:", 100000, 1, 0, 0)
        else if (kind == "list")   fill("RPUSH", "list:", 1, 1000000, 0, 0)
        else if (kind == "onelist") fill("RPUSH", "onel:", 100000, 1, 0, 0)
        else if (kind == "zset")   fill("ZADD", "zset:", 1, 1000000, 2, 0)
        else if (kind == "lpzset") fill("ZADD", "lpz:", 10000, 100, 2, 0)
    }'
}

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
used() { redis-cli -p "$PORT" INFO memory | tr -d '\r' | awk -F: '/^used_memory:/ {print $2}'; }
wait_up() { for _ in $(seq 100); do redis-cli -p "$PORT" PING >/dev/null 2>&1 && return; sleep 0.1; done; exit 1; }

measure() { # $1 name, $2 case, command...
    local name=$1 kind=$2; shift 2
    "$@" >/dev/null 2>&1 &
    PID=$!
    wait_up
    local r0 u0 r1 u1 n
    n=$(cat "$TMP/$kind.n")
    r0=$(rss_kb "$PID"); u0=$(used)
    redis-cli -p "$PORT" --pipe <"$TMP/$kind.resp" >/dev/null
    sleep 1
    r1=$(rss_kb "$PID"); u1=$(used)
    awk -v n="$n" -v name="$name" -v kind="$kind" -v r0="$r0" -v r1="$r1" -v u0="$u0" -v u1="$u1" \
        'BEGIN { printf "%-20s %-7s %8d %10.1f %14.1f\n", name, kind, n, (r1 - r0) * 1024 / n, (u1 - u0) / n }'
    kill "$PID"; wait "$PID" 2>/dev/null || true
    PID=
}

printf "%-20s %-7s %8s %10s %14s\n" server case elements "RSS B/el" "used_mem B/el"
for kind in $CASES; do
    gen "$kind" >"$TMP/$kind.resp"
    measure "redis-server" "$kind" redis-server --port "$PORT" --save "" --appendonly no
    for t in 1 2; do
        measure "ringkv --threads $t" "$kind" "$BIN" --port "$PORT" --threads "$t" --save "" --appendonly no
    done
    rm -f "$TMP/$kind.resp"
done
