# syntax=docker/dockerfile:1
#
# ringkv container image: a Rust builder stage, then a small Debian runtime
# with the binary, its default config and redis-cli (for the healthcheck).
#
#   docker build -t ringkv .
#   docker run --rm -p 6379:6379 \
#       --security-opt seccomp=deploy/seccomp-io_uring.json \
#       --ulimit memlock=-1 ringkv
#
# io_uring: Docker's default seccomp profile (Docker >= 25) refuses
# io_uring_setup/enter/register and glommio has no epoll fallback, so the
# container needs deploy/seccomp-io_uring.json (or seccomp=unconfined) and an
# unlimited (or >= 1 MiB per executor) RLIMIT_MEMLOCK. See README "Docker".

ARG RUST_VERSION=1
ARG DEBIAN_RELEASE=bookworm

FROM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS builder
WORKDIR /src
# Everything but what .dockerignore leaves out (target/, .git/).
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin ringkv \
 && install -D -m 0755 target/release/ringkv /out/usr/local/bin/ringkv \
 && mkdir -p /out/etc/ringkv \
 && if [ -f configs/ringkv.toml ]; then install -m 0644 configs/ringkv.toml /out/etc/ringkv/; fi

FROM debian:${DEBIAN_RELEASE}-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-tools \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 ringkv \
 && useradd --system --uid 10001 --gid ringkv --home-dir /data --shell /usr/sbin/nologin ringkv \
 && install -d -o ringkv -g ringkv -m 0750 /data
COPY --from=builder /out/ /
USER ringkv:ringkv
WORKDIR /data
VOLUME ["/data"]
EXPOSE 6379 9121
# Any setting can also come from RINGKV_* variables or a mounted file
# (`--config /etc/ringkv/ringkv.toml`); flags given here override the file.
ENTRYPOINT ["/usr/local/bin/ringkv"]
CMD ["--bind", "0.0.0.0", "--dir", "/data"]
# Alive = answers PING (NOAUTH also proves it answers once requirepass is set).
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD redis-cli -h 127.0.0.1 -p 6379 ping | grep -qE 'PONG|NOAUTH' || exit 1
STOPSIGNAL SIGTERM
