#!/usr/bin/env bash
# bench.sh — redis-benchmark against ringkv and redis-server, side by side, on the same
# pinned CPUs; prints throughput, p99 latency, server CPU time per request and the
# ringkv/redis ratios.
#
# Usage: scripts/bench.sh [--threads T] [--server-cpus LIST] [--client-cpus LIST]
#                         [--requests N] [--requests-p16 N]
#   --threads T         ringkv executors (default 1)
#   --server-cpus LIST  taskset list for both servers (default 1, or 1-T for T > 1)
#   --client-cpus LIST  taskset list for redis-benchmark (default 0)
#   --requests N        requests per run with -P 1 (default 200000)
#   --requests-p16 N    requests per run with -P 16 (default 10 x --requests)
#
# Each of SET and GET runs with -P 1 and -P 16, -c 50 -r 100000, against one server at
# a time. Server CPU = utime+stime of the server process (all threads) from
# /proc/<pid>/stat, before and after the run.
set -euo pipefail

cd "$(dirname "$0")/.."

THREADS=1
SERVER_CPUS=""
CLIENT_CPUS=0
REQ_P1=200000
REQ_P16=""

while [[ $# -gt 0 ]]; do
    case "$1" in
        --threads) THREADS=$2; shift 2 ;;
        --server-cpus) SERVER_CPUS=$2; shift 2 ;;
        --client-cpus) CLIENT_CPUS=$2; shift 2 ;;
        --requests) REQ_P1=$2; shift 2 ;;
        --requests-p16) REQ_P16=$2; shift 2 ;;
        -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
        *) echo "unknown option: $1" >&2; exit 2 ;;
    esac
done
[[ -n $SERVER_CPUS ]] || { [[ $THREADS -eq 1 ]] && SERVER_CPUS=1 || SERVER_CPUS="1-$THREADS"; }
[[ -n $REQ_P16 ]] || REQ_P16=$((REQ_P1 * 10))

for tool in redis-server redis-benchmark redis-cli taskset ss; do
    command -v "$tool" >/dev/null || { echo "bench.sh: $tool is not installed" >&2; exit 1; }
done

echo "building release..." >&2
cargo build --release --quiet

PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do
        kill -9 "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
}
trap cleanup EXIT INT TERM

free_port() {
    local p
    while :; do
        p=$((20000 + RANDOM % 40000))
        [[ -z $(ss -ltnH "sport = :$p") ]] && { echo "$p"; return; }
    done
}

# wait_ready PORT PID NAME: poll PING for up to 10 s; show the server's log on failure.
wait_ready() {
    local deadline=$((SECONDS + 10)) why=""
    until [[ $(redis-cli -p "$1" ping 2>/dev/null) == PONG ]]; do
        kill -0 "$2" 2>/dev/null || why="exited before it was ready"
        ((SECONDS < deadline)) || why="not ready after 10 s"
        if [[ -n $why ]]; then
            echo "$3 $why; its output:" >&2
            cat "$WORK/$3.log" >&2
            exit 1
        fi
        sleep 0.05
    done
}

TICK=$(getconf CLK_TCK)
# cpu_ticks PID: utime + stime of the whole process (fields 14 and 15).
cpu_ticks() {
    # Field 2 (comm) may contain spaces: drop everything up to the closing parenthesis.
    local stat
    stat=$(<"/proc/$1/stat")
    stat=${stat##*) }
    awk '{ print $12 + $13 }' <<<"$stat"
}

WORK=$(mktemp -d)
RESULTS=$WORK/results
trap 'cleanup; rm -rf "$WORK"' EXIT INT TERM

# bench NAME PORT PID: SET and GET with -P 1 and -P 16; one result line per run.
bench() {
    local name=$1 port=$2 pid=$3 p n test before after csv
    for p in 1 16; do
        n=$REQ_P1
        [[ $p -eq 16 ]] && n=$REQ_P16
        for test in set get; do
            before=$(cpu_ticks "$pid")
            csv=$(taskset -c "$CLIENT_CPUS" redis-benchmark -p "$port" -t "$test" -P "$p" \
                -c 50 -r 100000 -n "$n" --csv | tail -n 1)
            after=$(cpu_ticks "$pid")
            # "test","rps","avg","min","p50","p95","p99","max"
            awk -F'"' -v name="$name" -v p="$p" -v n="$n" -v ticks=$((after - before)) \
                -v hz="$TICK" '{ printf "%s %s %s %s %s %.3f\n", name, $2, p, $4, $14,
                                  ticks * 1e6 / hz / n }' <<<"$csv" >>"$RESULTS"
            echo "  $name ${test^^} -P $p: done" >&2
        done
    done
}

PORT=$(free_port)
echo "ringkv --threads $THREADS on CPUs $SERVER_CPUS, port $PORT" >&2
taskset -c "$SERVER_CPUS" target/release/ringkv --port "$PORT" --bind 127.0.0.1 \
    --threads "$THREADS" >"$WORK/ringkv.log" 2>&1 &
PID=$!
PIDS+=("$PID")
wait_ready "$PORT" "$PID" ringkv
bench ringkv "$PORT" "$PID"

PORT=$(free_port)
echo "redis-server on CPUs $SERVER_CPUS, port $PORT" >&2
taskset -c "$SERVER_CPUS" redis-server --port "$PORT" --bind 127.0.0.1 --save '' \
    --appendonly no >"$WORK/redis-server.log" 2>&1 &
PID=$!
PIDS+=("$PID")
wait_ready "$PORT" "$PID" redis-server
bench redis "$PORT" "$PID"

echo
echo "server CPUs: $SERVER_CPUS  client CPUs: $CLIENT_CPUS  ringkv threads: $THREADS"
echo "requests: $REQ_P1 (-P 1), $REQ_P16 (-P 16); -c 50 -r 100000"
echo
awk '
    function ratio(a, b) { return b > 0 ? sprintf("%.2f", a / b) : "n/a" }
    { key = $2 " " $3; rps[$1, key] = $4; p99[$1, key] = $5; cpu[$1, key] = $6
      if (!(key in seen)) { seen[key] = 1; order[++k] = key } }
    END {
        printf "%-8s %-5s %3s %14s %9s %14s\n", "server", "test", "P", "requests/s",
               "p99 ms", "CPU us/req"
        for (i = 1; i <= k; i++) {
            split(order[i], t, " ")
            for (s = 0; s < 2; s++) {
                srv = s ? "redis" : "ringkv"
                printf "%-8s %-5s %3s %14.0f %9.3f %14.3f\n", srv, t[1], t[2],
                       rps[srv, order[i]], p99[srv, order[i]], cpu[srv, order[i]]
            }
        }
        printf "\nratios ringkv/redis\n%-5s %3s %10s %9s %11s\n", "test", "P",
               "requests/s", "p99", "CPU us/req"
        for (i = 1; i <= k; i++) {
            split(order[i], t, " ")
            key = order[i]
            printf "%-5s %3s %10s %9s %11s\n", t[1], t[2],
                   ratio(rps["ringkv", key], rps["redis", key]),
                   ratio(p99["ringkv", key], p99["redis", key]),
                   ratio(cpu["ringkv", key], cpu["redis", key])
        }
    }' "$RESULTS"
