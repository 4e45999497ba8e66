#!/usr/bin/env bash
# crash-trials.sh — many AOF crash trials: SIGKILL a `--appendfsync always` server
# under concurrent writers at random moments, restart, check that every acknowledged
# write survived and no MSET is half applied (the test in tests/aof_crash.rs).
#
# Usage: scripts/crash-trials.sh [TRIALS]     (default 200)
#   RINGKV_CRASH_SEED=<n> replays a failing run's random choices (the test prints it).
set -euo pipefail

cd "$(dirname "$0")/.."

N="${1:-200}"
[[ "$N" =~ ^[0-9]+$ ]] || { echo "usage: $0 [TRIALS]" >&2; exit 2; }

RINGKV_CRASH_TRIALS="$N" cargo test --release --test aof_crash crash -- --nocapture
