# lifeguard container image (docs/docker.md).
#
#   docker build -t lifeguard .                              the proxy (the last stage, the default)
#   docker build --target origin -t lifeguard-origin .       the demo backend (tests/support/origin.c)
#   docker run -p 8080:8080 -v "$PWD/conf:/etc/lifeguard:ro" lifeguard
#
# Stages: `build` compiles both programs with Debian's packages (the same ones scripts/deps.sh
# installs); `origin` and the final stage hold one binary each on debian:bookworm-slim, with only
# the shared libraries that binary needs, installed from Debian so that image scanners see them.

FROM debian:bookworm-slim AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        build-essential cmake pkg-config libssl-dev libyaml-dev libnghttp2-dev libjansson-dev \
        node-llhttp \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Only what the build reads, so an edit elsewhere (docs, tests) keeps the build cache.
COPY CMakeLists.txt ./
COPY cmake/ cmake/
# dist/lifeguard.8.in: CMake makes the man page from it when it configures the build
COPY dist/ dist/
COPY src/ src/
COPY tests/support/ tests/support/
# RelWithDebInfo is what `make` builds and what the tests and benchmarks run; the debug
# information is stripped from the installed copy only.
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=RelWithDebInfo \
 && cmake --build /build -j"$(nproc)" --target lifeguard lg-origin \
 && install -D -m 0755 -s /build/lifeguard /out/lifeguard \
 && install -D -m 0755 -s /build/lg-origin /out/lg-origin \
 && /out/lifeguard -V

# ---- the demo backend: lg-origin on :8000, named after its container (one name per replica)
FROM debian:bookworm-slim AS origin
# lg-origin links libcrypto (libssl3) for the SHA-256 of /echo
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libssl3 \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/lg-origin /usr/local/bin/lg-origin
USER 10001:10001
EXPOSE 8000
# Docker sets HOSTNAME to the container's host name (its short id unless --hostname is given).
ENTRYPOINT ["/bin/sh", "-c", "exec lg-origin --listen 0.0.0.0:8000 --name \"${HOSTNAME:-origin}\" \"$@\"", "lg-origin"]

# ---- lifeguard (the default target)
FROM debian:bookworm-slim
# lifeguard links OpenSSL (libssl3), libyaml, nghttp2 and jansson (ACME); ca-certificates is the
# system store that ACME servers (Let's Encrypt) and TLS backends are verified against by
# default. /var/lib/lifeguard/acme, acme.storage's default, belongs to lifeguard's user, so a
# named volume mounted there starts with that owner.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libssl3 libyaml-0-2 \
        libnghttp2-14 libjansson4 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 lifeguard \
 && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home \
        --shell /usr/sbin/nologin lifeguard \
 && install -d -o 10001 -g 10001 -m 0700 /var/lib/lifeguard /var/lib/lifeguard/acme
COPY --from=build /out/lifeguard /usr/local/bin/lifeguard
COPY docker/conf/lifeguard.yaml /etc/lifeguard/lifeguard.yaml
# Numeric, so that runAsNonRoot checks (Kubernetes) can tell it is not root. Listening on
# 8080 and 9901 needs no capability.
USER 10001:10001
EXPOSE 8080 9901
# Liveness of the master: `lifeguard healthcheck` reads the configuration, finds admin.listen
# (wherever it is; a wildcard address is asked on the loopback) and asks its /healthz, in 3 s
# at most. Started with another file (`-c`)? Give the check the same one (--health-cmd).
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/lifeguard", "healthcheck", "-c", "/etc/lifeguard/lifeguard.yaml"]
# `docker stop` drains: in-flight requests finish (up to timeouts.drain), then exit 0.
# `docker kill -s HUP` reloads /etc/lifeguard/lifeguard.yaml; a broken file keeps the old one.
STOPSIGNAL SIGQUIT
# lifeguard runs as PID 1: its master reaps every child and takes signals through a signalfd.
ENTRYPOINT ["/usr/local/bin/lifeguard"]
CMD ["-c", "/etc/lifeguard/lifeguard.yaml"]
