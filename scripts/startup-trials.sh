#!/usr/bin/env bash
# startup-trials.sh — many start-ups and shutdowns of a multi-executor ringkv: a start-up
# that does not answer PING within 5 s, or a SIGTERM after which the process has not
# exited within 10 s, is reported (with its log tail and its threads' wait channels) and
# counted. Each trial writes an AOF with one executor, kills it with SIGKILL, then
# starts again with more executors than CPUs, so start-up replays and rewrites the AOF
# for the new layout (where a start-up stall was once seen under test load).
#
# Usage: scripts/startup-trials.sh [TRIALS] [THREADS]   (defaults 100, 4)
#   RINGKV_BIN=<path>  binary to try (default target/release/ringkv, built if missing)
#   PORT=<n>           first port used (default 17400; the trials use PORT and PORT+1)
# Exit status: 0 when every start-up answered, 1 otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."

TRIALS=${1:-100}
THREADS=${2:-4}
BIN=${RINGKV_BIN:-target/release/ringkv}
PORT=${PORT:-17400}
[[ -x $BIN ]] || cargo build --release --quiet

answers() { # port: PONG within 5 s?
    for _ in $(seq 1 50); do
        [[ "$(redis-cli -p "$1" ping 2>/dev/null)" == PONG ]] && return 0
        sleep 0.1
    done
    return 1
}

report() { # pid dir: log tail and wait channels, then SIGKILL
    tail -5 "$2/second.log"
    for task in /proc/"$1"/task/*; do
        echo "  thread $(cat "$task/comm" 2>/dev/null): $(cat "$task/wchan" 2>/dev/null)"
    done
    kill -9 "$1"
}

hung=0
for trial in $(seq 1 "$TRIALS"); do
    dir=$(mktemp -d)
    "$BIN" --port "$PORT" --threads 1 --save "" --dir "$dir" --appendonly yes \
        --appendfsync always >"$dir/first.log" 2>&1 &
    pid=$!
    answers "$PORT" || { echo "trial $trial: the 1-executor server did not start"; cat "$dir/first.log"; exit 1; }
    for j in $(seq 1 200); do echo "SET k$j v$j"; done | redis-cli -p "$PORT" >/dev/null
    kill -9 "$pid"; wait "$pid" 2>/dev/null || true

    "$BIN" --port $((PORT + 1)) --threads "$THREADS" --save "" --dir "$dir" --appendonly yes \
        --appendfsync always >"$dir/second.log" 2>&1 &
    pid=$!
    if answers $((PORT + 1)); then
        kill "$pid"
        for _ in $(seq 1 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            hung=$((hung + 1))
            echo "trial $trial: still running 10 s after SIGTERM (pid $pid)"
            report "$pid" "$dir"
        fi
    else
        hung=$((hung + 1))
        echo "trial $trial: no answer after 5 s (pid $pid)"
        report "$pid" "$dir"
    fi
    wait "$pid" 2>/dev/null || true
    rm -rf "$dir"
done
echo "$hung of $TRIALS start-ups or shutdowns with $THREADS executors hung"
[[ $hung -eq 0 ]]
