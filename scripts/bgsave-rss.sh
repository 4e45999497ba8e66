#!/usr/bin/env bash
# Peak memory during BGSAVE: ringkv (forkless, copy-on-write per slot table)
# against redis-server (fork). Loads N keys (default 2,000,000) into each
# server, starts BGSAVE while a writer keeps overwriting keys, and samples
# memory every 10 ms until the save is done.
#
#   scripts/bgsave-rss.sh [--keys N] [--threads T] [--value-size B]
#
# Memory is PSS from /proc/PID/smaps_rollup (pages shared with a fork child
# counted once), summed over the server and its children, so Redis's
# copy-on-write is charged exactly once too. Prints baseline, peak and the
# increase for each server.
set -euo pipefail

KEYS=2000000
THREADS=2
VALUE_SIZE=32
while [[ $# -gt 0 ]]; do
  case "$1" in
    --keys) KEYS=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --value-size) VALUE_SIZE=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

cd "$(dirname "$0")/.."
cargo build --release --quiet
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

python3 - "$KEYS" "$VALUE_SIZE" > "$WORK/load.resp" <<'EOF'
import sys
n, size = int(sys.argv[1]), int(sys.argv[2])
value = b"v" * size
out = sys.stdout.buffer
for i in range(n):
    key = b"key:%d" % i
    out.write(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(key), key, len(value), value))
EOF

measure() { # name port pid
  local name=$1 port=$2 pid=$3
  redis-cli -p "$port" --pipe < "$WORK/load.resp" > /dev/null
  python3 - "$name" "$port" "$pid" <<'EOF'
import subprocess, sys, time, os
name, port, pid = sys.argv[1], sys.argv[2], int(sys.argv[3])
def pss(p):
    total = 0
    for q in [p] + children(p):
        try:
            for line in open(f"/proc/{q}/smaps_rollup"):
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total * 1024
def children(p):
    try:
        return [int(c) for c in open(f"/proc/{p}/task/{p}/children").read().split()]
    except OSError:
        return []
def cli(*args):
    return subprocess.run(["redis-cli", "-p", port, *args], capture_output=True, text=True).stdout
base = pss(pid)
writer = subprocess.Popen(["redis-benchmark", "-p", port, "-t", "set", "-n", "100000000",
                           "-r", "2000000", "-d", "32", "-c", "4", "-q"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
time.sleep(0.5)
before = int(cli("lastsave").strip() or 0)
start = time.time()
cli("bgsave")
peak = base
while True:
    peak = max(peak, pss(pid))
    info = cli("info", "persistence")
    if "rdb_bgsave_in_progress:0" in info and int(cli("lastsave").strip() or 0) != before or time.time() - start > 300:
        break
    time.sleep(0.01)
elapsed = time.time() - start
writer.kill()
mib = lambda b: b / (1 << 20)
print(f"{name}: baseline {mib(base):.1f} MiB, peak during BGSAVE {mib(peak):.1f} MiB, "
      f"increase {mib(peak - base):.1f} MiB ({100.0 * (peak - base) / base:.1f}%), save {elapsed:.2f} s")
EOF
}

RK_PORT=7391; RD_PORT=7392
./target/release/ringkv --port $RK_PORT --threads "$THREADS" --dir "$WORK" --save "" > "$WORK/ringkv.log" 2>&1 &
RK_PID=$!
redis-server --port $RD_PORT --dir "$WORK" --dbfilename redis.rdb --save "" --appendonly no > "$WORK/redis.log" 2>&1 &
RD_PID=$!
sleep 1
echo "$KEYS keys of $VALUE_SIZE bytes; ringkv --threads $THREADS; a writer overwrites keys during the save"
measure ringkv $RK_PORT $RK_PID
measure redis-server $RD_PORT $RD_PID
