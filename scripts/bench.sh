#!/usr/bin/env bash
# bench.sh — the same load against ringkv and redis-server, side by side, on the same
# pinned CPUs; prints throughput, p99 latency, server CPU time per request and the
# ringkv/redis ratios.
#
# Usage: scripts/bench.sh [--threads T] [--server-cpus LIST] [--client-cpus LIST]
#                         [--requests N] [--requests-p16 N] [--only LIST]
#                         [--mset-requests N] [--tx-requests N] [--tx-clients N]
#                         [--pipe-keys N] [--aof always|everysec|no]
#                         [--baseline-threads N] [--baseline-cpus LIST]
#   --threads T         ringkv executors (default 1)
#   --server-cpus LIST  taskset list for both servers (default 1, or 1-T for T > 1)
#   --client-cpus LIST  taskset list for the clients (default 0)
#   --requests N        SET/GET requests per run with -P 1 (default 200000)
#   --requests-p16 N    SET/GET requests per run with -P 16 (default 10 x --requests)
#   --only LIST         comma-separated tests to run, of set,get,hset,sadd,spop,lpush,
#                       rpush,lpop,rpop,lrange_100,lrange_600,zadd,zpopmin,zrange_100,
#                       evalsha,fcall,bits,hll,mset,tx,pipe (default all)
#   --mset-requests N   MSET requests with -P 1, -P 16 runs 10 x N (default: a quarter
#                       of the SET/GET counts)
#   --tx-requests N     transactions with -P 1, -P 16 runs 10 x N (default: a quarter
#                       of the SET/GET counts)
#   --tx-clients N      connections of scripts/txbench.py (default 50)
#   --pipe-keys N       keys written by the mass insertion (default 1000000)
#   --aof MODE          both servers with appendonly yes and appendfsync MODE (their
#                       files in a scratch directory); default: no persistence
#   --baseline-threads N  in the same run, also bench ringkv with N executors on
#                       --baseline-cpus (default 1) and print the CPU per request of
#                       --threads T against it (the cost of hops and coordination)
#
# Tests, each against one server at a time, the client pinned to --client-cpus:
#   set, get  redis-benchmark -t set|get -c 50 -r 100000, with -P 1 and -P 16
#   hset, sadd, spop  the same for redis-benchmark's HSET myhash, SADD myset and
#             SPOP myset (run after sadd; SPOP finds an empty set once it popped all)
#   lpush, rpush, lpop, rpop, lrange_100, lrange_600  the same for redis-benchmark's
#             list tests on mylist (an lrange test first fills mylist with LPUSHes,
#             which its CPU time includes, for both servers alike)
#   zadd, zpopmin  the same for redis-benchmark's ZADD myzset and ZPOPMIN myzset
#   zrange_100  ZRANGE bigzset 0 99 WITHSCORES on a 1000-member sorted set (filled
#             once before the runs; not counted), -P 1 and -P 16
#   evalsha   EVALSHA of `return redis.call('incr', KEYS[1])` on key:<rand> (loaded
#             once with SCRIPT LOAD), -c 50 -r 100000, -P 1 and -P 16
#   fcall     FCALL of the same INCR as a function (FUNCTION LOAD REPLACE once),
#             -c 50 -r 100000, -P 1 and -P 16
#   bits      SETBIT/GETBIT in the middle of a 1 MB bitmap (made once, 8M bits; a
#             random offset would be zero-padded, which both servers refuse) and
#             BITCOUNT of it whole, -P 16 only
#   hll       PFADD hll element:<rand> and PFCOUNT hll, -P 16 only
#   mset      redis-benchmark -t mset (10 random keys per MSET, so with several ringkv
#             threads an MSET spans shards), -c 50 -r 100000, with -P 1 and -P 16
#   tx        scripts/txbench.py: MULTI / INCR key:<rand> / INCR key:<rand> / EXEC,
#             -c 50 -r 100000, 1 or 16 transactions per write, after a FLUSHALL;
#             a request is one transaction
#   pipe      mass insertion: redis-cli --pipe of N x SET key:<i> value:<i> in RESP
#             (generated once) after a FLUSHALL; DBSIZE must be N afterwards; a
#             request is one SET, and p99 does not apply
# RINGKV_BIN=/path/to/ringkv benches another build (default target/release/ringkv).
# Server CPU = utime+stime of the server process (all threads) from /proc/<pid>/stat,
# before and after each run. Each server is stopped before the next one starts.
set -euo pipefail

cd "$(dirname "$0")/.."

ALL_TESTS=set,get,hset,sadd,spop,lpush,rpush,lpop,rpop,lrange_100,lrange_600,zadd,zpopmin,zrange_100,evalsha,fcall,bits,hll,mset,tx,pipe
THREADS=1
SERVER_CPUS=""
CLIENT_CPUS=0
REQ_P1=200000
REQ_P16=""
ONLY=$ALL_TESTS
MSET_P1=""
TX_P1=""
TX_CLIENTS=50
PIPE_KEYS=1000000
AOF=""
BASE_THREADS=""
BASE_CPUS=1

while [[ $# -gt 0 ]]; do
    case "$1" in
        --threads) THREADS=$2; shift 2 ;;
        --server-cpus) SERVER_CPUS=$2; shift 2 ;;
        --client-cpus) CLIENT_CPUS=$2; shift 2 ;;
        --requests) REQ_P1=$2; shift 2 ;;
        --requests-p16) REQ_P16=$2; shift 2 ;;
        --only) ONLY=$2; shift 2 ;;
        --mset-requests) MSET_P1=$2; shift 2 ;;
        --tx-requests) TX_P1=$2; shift 2 ;;
        --tx-clients) TX_CLIENTS=$2; shift 2 ;;
        --pipe-keys) PIPE_KEYS=$2; shift 2 ;;
        --aof) AOF=$2; shift 2 ;;
        --baseline-threads) BASE_THREADS=$2; shift 2 ;;
        --baseline-cpus) BASE_CPUS=$2; shift 2 ;;
        -h|--help) sed -n '2,47p' "$0"; exit 0 ;;
        *) echo "unknown option: $1" >&2; exit 2 ;;
    esac
done
[[ -n $SERVER_CPUS ]] || { [[ $THREADS -eq 1 ]] && SERVER_CPUS=1 || SERVER_CPUS="1-$THREADS"; }
[[ -n $REQ_P16 ]] || REQ_P16=$((REQ_P1 * 10))
if [[ -n $MSET_P1 ]]; then MSET_P16=$((MSET_P1 * 10)); else
    MSET_P1=$((REQ_P1 / 4)); MSET_P16=$((REQ_P16 / 4)); fi
if [[ -n $TX_P1 ]]; then TX_P16=$((TX_P1 * 10)); else
    TX_P1=$((REQ_P1 / 4)); TX_P16=$((REQ_P16 / 4)); fi

IFS=, read -ra SELECTED <<<"$ONLY"
[[ ${#SELECTED[@]} -gt 0 ]] || { echo "--only: no tests given" >&2; exit 2; }
for t in "${SELECTED[@]}"; do
    [[ ,$ALL_TESTS, == *,$t,* ]] || { echo "--only: unknown test '$t' (of $ALL_TESTS)" >&2; exit 2; }
done
# want TEST: was TEST selected?
want() { [[ ,$ONLY, == *,$1,* ]]; }

for n in "$REQ_P1" "$REQ_P16" "$MSET_P1" "$MSET_P16" "$TX_P1" "$TX_P16" "$TX_CLIENTS" \
         "$PIPE_KEYS" ${BASE_THREADS:+"$BASE_THREADS"}; do
    [[ $n =~ ^[0-9]+$ && $n -gt 0 ]] || { echo "bench.sh: counts must be positive (got '$n')" >&2; exit 2; }
done

TOOLS=(redis-server redis-cli taskset ss)
TOOLS+=(redis-benchmark)
want tx && TOOLS+=(python3)
for tool in "${TOOLS[@]}"; do
    command -v "$tool" >/dev/null || { echo "bench.sh: $tool is not installed" >&2; exit 1; }
done

echo "building release..." >&2
cargo build --release --quiet

PIDS=()
# stop_servers: kill every server still running and reap it.
stop_servers() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill -9 "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    PIDS=()
}
WORK=$(mktemp -d)
RESULTS=$WORK/results
PIPE_RESULTS=$WORK/pipe-results
: >"$RESULTS"
: >"$PIPE_RESULTS"
trap 'stop_servers; rm -rf "$WORK"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# free_port: a port with no TCP socket on it at all (listening, connected or TIME_WAIT),
# below the kernel's ephemeral range so that no client connection grabs it meanwhile.
free_port() {
    local low hi p
    read -r low _ </proc/sys/net/ipv4/ip_local_port_range
    if ((low > 11000)); then hi=$((low - 1)); low=10000; else low=61000; hi=65000; fi
    while :; do
        p=$((low + RANDOM % (hi - low + 1)))
        [[ -z $(ss -tanH "sport = :$p") ]] && { echo "$p"; return; }
    done
}

# wait_ready PORT PID: poll PING for up to 10 s. Status 0: ready; 1: the server exited;
# 2: not ready in time.
wait_ready() {
    local deadline=$((SECONDS + 10))
    until [[ $(redis-cli -p "$1" ping 2>/dev/null) == PONG ]]; do
        kill -0 "$2" 2>/dev/null || return 1
        ((SECONDS < deadline)) || return 2
        sleep 0.05
    done
}

# start_server ringkv|redis-server: start it pinned to the server CPUs on a free port,
# trying another port if that one was taken meanwhile; sets PORT and PID.
start_server() {
    local name=$1 try status
    for try in 1 2 3 4 5; do
        PORT=$(free_port)
        echo "$name$([[ $name == ringkv ]] && echo " --threads $THREADS") on CPUs" \
            "$SERVER_CPUS, port $PORT" >&2
        local persist=(--save '' --dir "$WORK/$name-data" --appendonly no)
        [[ -z $AOF ]] || persist=(--save '' --dir "$WORK/$name-data" --appendonly yes
                                  --appendfsync "$AOF")
        rm -rf "$WORK/$name-data" && mkdir -p "$WORK/$name-data"
        case $name in
            ringkv)
                taskset -c "$SERVER_CPUS" "${RINGKV_BIN:-target/release/ringkv}" --port "$PORT" \
                    --bind 127.0.0.1 --threads "$THREADS" "${persist[@]}" \
                    >"$WORK/$name.log" 2>&1 & ;;
            redis-server)
                taskset -c "$SERVER_CPUS" redis-server --port "$PORT" --bind 127.0.0.1 \
                    "${persist[@]}" >"$WORK/$name.log" 2>&1 & ;;
        esac
        PID=$!
        PIDS+=("$PID")
        status=0
        wait_ready "$PORT" "$PID" || status=$?
        ((status == 0)) && return 0
        stop_servers
        if ((status == 1)) && grep -qi "address already in use" "$WORK/$name.log"; then
            echo "  port $PORT was taken; trying another" >&2
            continue
        fi
        break
    done
    if ((status == 1)); then
        echo "$name exited before it was ready; its output:" >&2
    else
        echo "$name not ready after 10 s; its output:" >&2
    fi
    cat "$WORK/$name.log" >&2
    exit 1
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

# measure NAME PID TEST P N CMD...: run CMD (a client printing redis-benchmark --csv
# output) on the client CPUs and append "NAME TEST P rps p99 cpu_us_per_request".
measure() {
    local name=$1 pid=$2 test=$3 p=$4 n=$5 before after csv
    shift 5
    before=$(cpu_ticks "$pid")
    csv=$(taskset -c "$CLIENT_CPUS" "$@" | tail -n 1) || {
        echo "bench.sh: $name $test -P $p: $1 failed" >&2
        exit 1
    }
    after=$(cpu_ticks "$pid")
    # "test","rps","avg","min","p50","p95","p99","max"
    awk -F'"' -v name="$name" -v test="$test" -v p="$p" -v n="$n" \
        -v ticks=$((after - before)) -v hz="$TICK" '
        NF >= 15 && $4 > 0 { printf "%s %s %s %s %s %.3f\n", name, test, p, $4, $14,
                                    ticks * 1e6 / hz / n; ok = 1 }
        END { exit !ok }' <<<"$csv" >>"$RESULTS" || {
        echo "bench.sh: $name $test -P $p: no result from $1; it printed: $csv" >&2
        exit 1
    }
    echo "  $name $test -P $p: done" >&2
}

PIPE_FILE=$WORK/mass-insert.resp
FAILED=0
# pipe NAME PORT PID: FLUSHALL, then time redis-cli --pipe of $PIPE_FILE; check DBSIZE.
pipe() {
    local name=$1 port=$2 pid=$3 before after t0 t1 out dbsize
    [[ $(redis-cli -p "$port" flushall) == OK ]] || { echo "$name: FLUSHALL failed" >&2; exit 1; }
    before=$(cpu_ticks "$pid")
    t0=$(date +%s%N)
    out=$(taskset -c "$CLIENT_CPUS" redis-cli -p "$port" --pipe <"$PIPE_FILE" 2>&1) || {
        echo "$name: redis-cli --pipe failed: $out" >&2
        exit 1
    }
    t1=$(date +%s%N)
    after=$(cpu_ticks "$pid")
    dbsize=$(redis-cli -p "$port" dbsize)
    if [[ $out != *"errors: 0, replies: $PIPE_KEYS"* ]]; then
        echo "$name: redis-cli --pipe: expected no errors and $PIPE_KEYS replies; got: $out" >&2
        FAILED=1
    fi
    if [[ $dbsize != "$PIPE_KEYS" ]]; then
        echo "$name: DBSIZE is $dbsize after the mass insertion, expected $PIPE_KEYS" >&2
        FAILED=1
    fi
    awk -v name="$name" -v ns=$((t1 - t0)) -v ticks=$((after - before)) -v hz="$TICK" \
        -v n="$PIPE_KEYS" -v dbsize="$dbsize" -v pipe="$PIPE_RESULTS" 'BEGIN {
            printf "%s PIPE - %.2f - %.3f\n", name, n / (ns / 1e9), ticks * 1e6 / hz / n
            printf "%s %.3f %.3f %s\n", name, ns / 1e9, ticks / hz, dbsize >>pipe
        }' >>"$RESULTS"
    echo "  $name PIPE: done (DBSIZE $dbsize)" >&2
}

# bench NAME PORT PID: the selected tests; one result line per run.
bench() {
    local name=$1 port=$2 pid=$3 p n test
    for p in 1 16; do
        n=$REQ_P1
        [[ $p -eq 16 ]] && n=$REQ_P16
        for test in set get hset sadd spop lpush rpush lpop rpop lrange_100 lrange_600 zadd zpopmin; do
            want "$test" || continue
            measure "$name" "$pid" "${test^^}" "$p" "$n" \
                redis-benchmark -p "$port" -t "$test" -P "$p" -c 50 -r 100000 -n "$n" --csv
        done
    done
    if want zrange_100; then
        local args=(ZADD bigzset)
        for i in $(seq 0 999); do args+=("$i" "member:$i"); done
        redis-cli -p "$port" "${args[@]}" >/dev/null
        for p in 1 16; do
            n=$REQ_P1
            [[ $p -eq 16 ]] && n=$REQ_P16
            measure "$name" "$pid" ZRANGE_100 "$p" "$n" \
                redis-benchmark -p "$port" -P "$p" -c 50 -n "$n" --csv ZRANGE bigzset 0 99 WITHSCORES
        done
    fi
    if want evalsha; then
        local sha
        sha=$(redis-cli -p "$port" script load "return redis.call('incr', KEYS[1])")
        for p in 1 16; do
            n=$REQ_P1
            [[ $p -eq 16 ]] && n=$REQ_P16
            measure "$name" "$pid" EVALSHA "$p" "$n" \
                redis-benchmark -p "$port" -P "$p" -c 50 -r 100000 -n "$n" --csv \
                EVALSHA "$sha" 1 key:__rand_int__
        done
    fi
    if want fcall; then
        redis-cli -p "$port" function load replace \
            "#!lua name=bench
redis.register_function('incr1', function(keys) return redis.call('incr', keys[1]) end)" >/dev/null
        for p in 1 16; do
            n=$REQ_P1
            [[ $p -eq 16 ]] && n=$REQ_P16
            measure "$name" "$pid" FCALL "$p" "$n" \
                redis-benchmark -p "$port" -P "$p" -c 50 -r 100000 -n "$n" --csv \
                FCALL incr1 1 key:__rand_int__
        done
    fi
    if want bits; then
        redis-cli -p "$port" setbit bitmap 8388607 1 >/dev/null
        measure "$name" "$pid" SETBIT 16 "$REQ_P16" redis-benchmark -p "$port" -P 16 -c 50 \
            -n "$REQ_P16" --csv SETBIT bitmap 4194303 1
        measure "$name" "$pid" GETBIT 16 "$REQ_P16" redis-benchmark -p "$port" -P 16 -c 50 \
            -n "$REQ_P16" --csv GETBIT bitmap 4194303
        measure "$name" "$pid" BITCOUNT_1MB 16 $((REQ_P16 / 100)) redis-benchmark -p "$port" \
            -P 16 -c 50 -n $((REQ_P16 / 100)) --csv BITCOUNT bitmap
    fi
    if want hll; then
        measure "$name" "$pid" PFADD 16 "$REQ_P16" redis-benchmark -p "$port" -P 16 -c 50 \
            -r 1000000 -n "$REQ_P16" --csv PFADD hll element:__rand_int__
        measure "$name" "$pid" PFCOUNT 16 "$REQ_P16" redis-benchmark -p "$port" -P 16 -c 50 \
            -n "$REQ_P16" --csv PFCOUNT hll
    fi
    if want mset; then
        for p in 1 16; do
            n=$MSET_P1
            [[ $p -eq 16 ]] && n=$MSET_P16
            measure "$name" "$pid" MSET "$p" "$n" \
                redis-benchmark -p "$port" -t mset -P "$p" -c 50 -r 100000 -n "$n" --csv
        done
    fi
    if want tx; then
        # INCR needs integers: drop the string values SET and MSET left under key:*.
        [[ $(redis-cli -p "$port" flushall) == OK ]] || { echo "$name: FLUSHALL failed" >&2; exit 1; }
        for p in 1 16; do
            n=$TX_P1
            [[ $p -eq 16 ]] && n=$TX_P16
            measure "$name" "$pid" TX "$p" "$n" \
                python3 scripts/txbench.py -p "$port" -P "$p" -c "$TX_CLIENTS" -r 100000 -n "$n"
        done
    fi
    if want pipe; then
        pipe "$name" "$port" "$pid"
    fi
}

if want pipe; then
    echo "generating $PIPE_KEYS SET commands for the mass insertion..." >&2
    LC_ALL=C awk -v n="$PIPE_KEYS" 'BEGIN {
        for (i = 0; i < n; i++) {
            k = "key:" i; v = "value:" i
            printf "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", length(k), k, length(v), v
        } }' >"$PIPE_FILE"
fi

start_server ringkv
bench ringkv "$PORT" "$PID"
stop_servers

if [[ -n $BASE_THREADS ]]; then
    read -r MAIN_THREADS MAIN_CPUS <<<"$THREADS $SERVER_CPUS"
    THREADS=$BASE_THREADS SERVER_CPUS=$BASE_CPUS
    start_server ringkv
    bench baseline "$PORT" "$PID"
    stop_servers
    THREADS=$MAIN_THREADS SERVER_CPUS=$MAIN_CPUS
fi

start_server redis-server
bench redis "$PORT" "$PID"
stop_servers

echo
echo "server CPUs: $SERVER_CPUS  client CPUs: $CLIENT_CPUS  ringkv threads: $THREADS  aof: ${AOF:-off}"
{ want set || want get; } &&
    echo "requests: $REQ_P1 (-P 1), $REQ_P16 (-P 16); -c 50 -r 100000"
want mset &&
    echo "MSET (10 keys): $MSET_P1 (-P 1), $MSET_P16 (-P 16); -c 50 -r 100000"
want tx &&
    echo "TX (MULTI, 2 x INCR, EXEC; txbench.py): $TX_P1 (-P 1), $TX_P16 (-P 16) transactions; -c $TX_CLIENTS -r 100000"
want pipe &&
    echo "PIPE: $PIPE_KEYS x SET key:N value:N, redis-cli --pipe"
echo
awk '
    function ratio(a, b) { return (a != "-" && b > 0) ? sprintf("%.2f", a / b) : "n/a" }
    function ms(v) { return v == "-" ? sprintf("%9s", "-") : sprintf("%9.3f", v) }
    { key = $2 " " $3; rps[$1, key] = $4; p99[$1, key] = $5; cpu[$1, key] = $6
      if (!(key in seen)) { seen[key] = 1; order[++k] = key } }
    END {
        printf "%-8s %-5s %3s %14s %9s %14s\n", "server", "test", "P", "requests/s",
               "p99 ms", "CPU us/req"
        for (i = 1; i <= k; i++) {
            split(order[i], t, " ")
            for (s = 0; s < 2; s++) {
                srv = s ? "redis" : "ringkv"
                printf "%-8s %-5s %3s %14.0f %s %14.3f\n", srv, t[1], t[2],
                       rps[srv, order[i]], ms(p99[srv, order[i]]), cpu[srv, order[i]]
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

if [[ -n $BASE_THREADS ]]; then
    echo
    echo "ringkv --threads $THREADS (CPUs $SERVER_CPUS) against --threads $BASE_THREADS" \
         "(CPUs $BASE_CPUS), same run"
    awk '
        { key = $2 " " $3; rps[$1, key] = $4; cpu[$1, key] = $6
          if ($1 == "ringkv") order[++k] = key }
        END {
            printf "%-5s %3s %12s %12s %12s %12s %7s\n", "test", "P", "base req/s",
                   "req/s", "base us/req", "CPU us/req", "ratio"
            for (i = 1; i <= k; i++) {
                split(order[i], t, " ")
                b = cpu["baseline", order[i]]; c = cpu["ringkv", order[i]]
                printf "%-5s %3s %12.0f %12.0f %12.3f %12.3f %7s\n", t[1], t[2],
                       rps["baseline", order[i]], rps["ringkv", order[i]], b, c,
                       (b > 0 ? sprintf("%.2f", c / b) : "n/a")
            }
        }' "$RESULTS"
fi

if want pipe; then
    echo
    echo "mass insertion: $PIPE_KEYS x SET via redis-cli --pipe ($(stat -c %s "$PIPE_FILE") bytes)"
    awk '
        { wall[$1] = $2; cpu[$1] = $3; db[$1] = $4 }
        END {
            printf "%-8s %10s %14s %10s\n", "server", "wall s", "server CPU s", "DBSIZE"
            for (s = 0; s < 2; s++) {
                srv = s ? "redis" : "ringkv"
                printf "%-8s %10.3f %14.3f %10s\n", srv, wall[srv], cpu[srv], db[srv]
            }
            printf "ratio ringkv/redis: wall %s, server CPU %s\n",
                   (wall["redis"] > 0 ? sprintf("%.2f", wall["ringkv"] / wall["redis"]) : "n/a"),
                   (cpu["redis"] > 0 ? sprintf("%.2f", cpu["ringkv"] / cpu["redis"]) : "n/a")
        }' "$PIPE_RESULTS"
fi

if ((FAILED)); then
    echo "bench.sh: the mass insertion check failed (see above)" >&2
    exit 1
fi
