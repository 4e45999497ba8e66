#!/usr/bin/env bash
# Worst PING latency during BGSAVE while one client writes to a big
# collection: loads a hash of N fields (default 1,000,000; 9-byte fields and
# values) and a set of N members, starts BGSAVE, and meanwhile one client
# sends HSET/SADD to them in a loop while another times PINGs one at a time.
# Prints the worst and the 99.9th percentile PING round trip, the save's
# duration, and the server's peak RSS growth during the save, for ringkv
# and for redis-server on the same machine.
#
#   scripts/bgsave-latency.sh [path/to/ringkv] [--fields N] [--threads T]
set -euo pipefail
BIN=${CARGO_TARGET_DIR:-target}/release/ringkv
if [[ $# -gt 0 && $1 != --* ]]; then BIN=$1; shift; fi
FIELDS=1000000
THREADS=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --fields) FIELDS=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
PORT=${PORT:-7393}
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

awk -v n="$FIELDS" 'BEGIN {
    for (i = 0; i < n; i += 100) {
        printf "*202\r\n$4\r\nHSET\r\n$3\r\nbig\r\n"
        for (m = i; m < i + 100; m++) printf "$9\r\nf%08d\r\n$9\r\nv%08d\r\n", m, m
        printf "*102\r\n$4\r\nSADD\r\n$4\r\nbigs\r\n"
        for (m = i; m < i + 100; m++) printf "$9\r\nm%08d\r\n", m
    }
}' >"$WORK/load.resp"

measure() { # name, command...
  local name=$1; shift
  "$@" >/dev/null 2>&1 &
  local pid=$!
  for _ in $(seq 100); do redis-cli -p "$PORT" PING >/dev/null 2>&1 && break; sleep 0.1; done
  redis-cli -p "$PORT" --pipe <"$WORK/load.resp" >/dev/null
  python3 - "$name" "$PORT" "$pid" <<'EOF'
import socket, sys, threading, time
name, port, pid = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])

def conn():
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s

def call(s, *args):
    """Sends one command; returns its reply (a simple line or one bulk string)."""
    s.sendall(b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args))
    data = b""
    while b"\r\n" not in data:
        data += s.recv(65536)
    head, _, rest = data.partition(b"\r\n")
    if head.startswith(b"$") and int(head[1:]) >= 0:
        need = int(head[1:]) + 2
        while len(rest) < need:
            rest += s.recv(65536)
        return rest[:need - 2]
    return head

def rss_kb():
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1])
    return 0

stop = False
def writer():
    s, i = conn(), 0
    while not stop:
        call(s, b"HSET", b"big", b"f%08d" % (i % 1000000), b"w%d" % i)
        call(s, b"SADD", b"bigs", b"new%d" % i)
        i += 1

ctl, ping = conn(), conn()
base = rss_kb()
t = threading.Thread(target=writer); t.start()
time.sleep(0.2)
start = time.monotonic()
call(ctl, b"BGSAVE")
rtts, peak = [], base
while True:
    t0 = time.perf_counter(); call(ping, b"PING"); rtts.append(time.perf_counter() - t0)
    if len(rtts) % 50 == 0:
        peak = max(peak, rss_kb())
        info = call(ctl, b"INFO", b"persistence")
        if b"rdb_bgsave_in_progress:0" in info and time.monotonic() - start > 0.05:
            break
took = time.monotonic() - start
stop = True; t.join()
rtts.sort()
p999 = rtts[int(len(rtts) * 0.999)]
print(f"{name:22} pings {len(rtts):6}  worst {rtts[-1]*1e3:7.2f} ms  p99.9 {p999*1e3:6.2f} ms  "
      f"save {took:5.2f} s  RSS growth {(peak-base)/1024:7.1f} MiB")
EOF
  kill "$pid"; wait "$pid" 2>/dev/null || true
  rm -f "$WORK"/*.rdb
}

echo "hash and set of $FIELDS elements each; one writer; PING timed one at a time"
measure "redis-server" redis-server --port "$PORT" --save "" --appendonly no --dir "$WORK"
measure "ringkv --threads $THREADS" "$BIN" --port "$PORT" --threads "$THREADS" --save "" --appendonly no --dir "$WORK"
