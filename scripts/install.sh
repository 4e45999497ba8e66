#!/usr/bin/env bash
# install.sh — install ringkv as a systemd service on this host.
#
#   sudo scripts/install.sh [--no-build] [--binary PATH] [--enable] [--start]
#
# Installs the binary to /usr/local/bin/ringkv, configs/ringkv.toml to
# /etc/ringkv/ringkv.toml (an existing file is kept; the new one goes beside
# it as ringkv.toml.new), deploy/ringkv.service to /etc/systemd/system, and
# creates the `ringkv` system user. DESTDIR=/some/root stages everything under
# that root instead (for packaging; no user is created and systemctl is not
# called).
set -euo pipefail

cd "$(dirname "$0")/.."

build=1
binary=target/release/ringkv
enable=0
start=0
while [[ $# -gt 0 ]]; do
    case $1 in
        --no-build) build=0 ;;
        --binary) binary=$2; build=0; shift ;;
        --enable) enable=1 ;;
        --start) enable=1; start=1 ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) echo "install.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done

root=${DESTDIR:-}
if [[ -z $root && $(id -u) -ne 0 ]]; then
    echo "install.sh: run as root (or set DESTDIR to stage the files)" >&2
    exit 1
fi

if [[ $build -eq 1 ]]; then
    # Build as the invoking user when run through sudo, not as root.
    if [[ -n ${SUDO_USER:-} ]]; then
        sudo -u "$SUDO_USER" -- cargo build --release --locked --bin ringkv
    else
        cargo build --release --locked --bin ringkv
    fi
fi
[[ -x $binary ]] || { echo "install.sh: no binary at $binary" >&2; exit 1; }

install -D -m 0755 "$binary" "$root/usr/local/bin/ringkv"
install -D -m 0644 deploy/ringkv.service "$root/etc/systemd/system/ringkv.service"

if [[ -f configs/ringkv.toml ]]; then
    install -d -m 0755 "$root/etc/ringkv"
    if [[ -e $root/etc/ringkv/ringkv.toml ]]; then
        install -m 0644 configs/ringkv.toml "$root/etc/ringkv/ringkv.toml.new"
        echo "kept /etc/ringkv/ringkv.toml; the shipped one is ringkv.toml.new"
    else
        install -m 0644 configs/ringkv.toml "$root/etc/ringkv/ringkv.toml"
    fi
else
    # The server runs on its embedded defaults without a file, but the unit
    # passes --config: leave an empty (all-defaults) one.
    install -d -m 0755 "$root/etc/ringkv"
    [[ -e $root/etc/ringkv/ringkv.toml ]] || : > "$root/etc/ringkv/ringkv.toml"
fi

if [[ -n $root ]]; then
    echo "staged ringkv under $root"
    exit 0
fi

if ! getent passwd ringkv >/dev/null; then
    useradd --system --user-group --home-dir /var/lib/ringkv --no-create-home \
        --shell /usr/sbin/nologin --comment "ringkv data store" ringkv
fi

if command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then
    systemctl daemon-reload
    [[ $enable -eq 1 ]] && systemctl enable ringkv.service
    [[ $start -eq 1 ]] && systemctl restart ringkv.service
    echo "installed; start with: systemctl enable --now ringkv"
else
    echo "installed (systemd is not running here: the unit is in place for the next boot)"
fi
