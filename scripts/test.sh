#!/usr/bin/env bash
# test.sh — the project's whole check: formatting, clippy with warnings as errors, no
# Mutex/RwLock in src/ (design: shards own their state, nothing on a request path is
# locked), rustdoc without warnings, and every test in release mode (integration tests
# start real servers; tests/layering.rs checks that no module names one above it).
set -euo pipefail

cd "$(dirname "$0")/.."

# Tools the integration tests drive (installed with apt-get when missing).
missing=0
for tool in redis-server redis-cli redis-benchmark nc ss; do
    command -v "$tool" >/dev/null 2>&1 || { echo "missing: $tool"; missing=1; }
done
if [[ $missing -eq 1 ]]; then
    SUDO=""
    [[ $(id -u) -eq 0 ]] || SUDO="sudo"
    $SUDO apt-get update
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends \
        redis-server redis-tools netcat-openbsd iproute2
fi

if command -v rustup >/dev/null 2>&1; then
    rustup component add rustfmt clippy
fi


echo "== cargo fmt --check"
cargo fmt --check

echo "== cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets -- -D warnings

echo "== no Mutex/RwLock in src/ (outside comments)"
# Strip // comments (including /// and //!) before matching.
locks=$(find src -name '*.rs' -print0 | xargs -0 awk '
    { code = $0; sub(/\/\/.*/, "", code) }
    code ~ /(^|[^A-Za-z0-9_])(Mutex|RwLock)[ \t]*(<|::|;|,|})/ { print FILENAME ":" FNR ": " $0 }')
if [[ -n $locks ]]; then
    echo "Mutex/RwLock found in src/:" >&2
    echo "$locks" >&2
    exit 1
fi

echo "== cargo doc (rustdoc warnings are errors: broken links, private links)"
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --quiet

echo "== cargo test --release"
cargo test --release
