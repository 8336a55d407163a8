#!/bin/bash
# tests/docker/run.sh - the Docker image and the Compose demo, for real (docs/docker.md).
#
# Starts a private Docker engine (its own data root, exec root, pid file and socket under a
# temporary folder; nothing of the host's Docker, if any, is used or touched), makes the base
# image debian:bookworm-slim with debootstrap from the machine's Debian mirror (the rootfs is
# cached in $LG_DOCKER_CACHE, default /var/cache/lifeguard-test), builds the unchanged Dockerfile
# (both targets), starts docker/compose.yaml (lifeguard in front of three replicas of lg-origin,
# found by the DNS name `app`) with a copy of docker/conf/ mounted, and checks:
#   - the image: non-root USER, STOPSIGNAL SIGQUIT, a HEALTHCHECK; the process runs as non-root
#   - the HEALTHCHECK turns healthy
#   - requests are spread over the three replicas that DNS gave, and a fourth replica (scale up)
#     gets traffic within resolve_interval
#   - logs: access lines on stdout, lifeguard's log on stderr; /metrics on the admin port
#   - `docker kill -s HUP` with a changed configuration takes effect while two clients (a new
#     connection per request, and one keep-alive connection) see no failed request; a broken
#     configuration then keeps the old one
#   - `docker stop` drains: a request in flight (/delay/2000) completes, exit code 0
# then removes everything it made (containers, networks, images, the engine and its folders).
#
# The engine runs with --iptables=false --ip-forward=false --bridge=none: it adds no iptables
# rule or chain, leaves net.ipv4.ip_forward alone and creates no docker0. It builds in the
# host's network namespace with `--network host` (the build's apt-get reaches the mirror like
# the host does; no bridge is involved). Then the same engine (same data root) is restarted in a
# network namespace of its own, with only a loopback: the Compose network's bridge, its veths,
# docker-proxy and the published ports live there, and the test's clients (curl) enter it. So
# the host's firewall never sees the containers' traffic: a host whose FORWARD policy is DROP
# with br_netfilter loaded (what a system Docker leaves) would otherwise drop the packets
# between lifeguard and the replicas. Nothing in that namespace routes anywhere. The script
# checks afterwards that iptables, ip_forward, the links and the mounts are as they were, and
# that no process is left in the namespace.
#
# Needs root (exit 77, skipped, otherwise). Installs docker.io, docker-compose and debootstrap
# when missing. Bounded by LG_DOCKER_TIMEOUT seconds (default 900).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CACHE=${LG_DOCKER_CACHE:-/var/cache/lifeguard-test}
LIMIT=${LG_DOCKER_TIMEOUT:-900}
PROJECT=lgtest
T0=$(date +%s)

log() { printf '[docker-test %4ds] %s\n' "$(($(date +%s) - T0))" "$*"; }
fail() {
    log "FAIL: $*"
    if [ -n "${LG:-}" ]; then
        log "last lines of lifeguard's log:"
        timeout 10 "$DOCKER" logs --tail 15 "$LG" 2>&1 | sed 's/^/    /'
    fi
    exit 1
}

if [ "$(id -u)" -ne 0 ]; then
    echo "tests/docker/run.sh: needs root (it starts its own Docker engine); skipped"
    exit 77
fi

# ---- packages
missing=""
for p in docker.io docker-compose debootstrap iptables curl; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    log "installing$missing"
    export DEBIAN_FRONTEND=noninteractive
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends $missing >/dev/null ||
        { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends $missing >/dev/null; }
fi
# Debian's client, whatever else is on PATH (another client may want BuildKit or buildx).
DOCKER=/usr/bin/docker
COMPOSE=/usr/bin/docker-compose
[ -x "$DOCKER" ] && [ -x "$COMPOSE" ] || fail "docker.io or docker-compose did not install"

# ---- state of the host before, to check that it is the same afterwards
had_etc_docker_key=0; [ -e /etc/docker/key.json ] && had_etc_docker_key=1
had_run_docker=0; [ -e /run/docker ] && had_run_docker=1
had_run_containerd=0; [ -e /run/containerd ] && had_run_containerd=1 # the shims' sockets
cgroups_before=$(ls -d /sys/fs/cgroup/*/lifeguard-test 2>/dev/null || true)
bg_pids=""
TMP=$(mktemp -d /tmp/lg-docker.XXXXXX)
chmod 755 "$TMP"
NETNS="$TMP/netns" # the engine's own network namespace, kept by a bind mount on this file
snapshot() { # what the engine could leave behind on the host
    {
        echo "## iptables"
        iptables-save 2>/dev/null | sed '/^#/d; s/\[[0-9]*:[0-9]*\]//' || true
        echo "## ip6tables"
        ip6tables-save 2>/dev/null | sed '/^#/d; s/\[[0-9]*:[0-9]*\]//' || true
        echo "## ip_forward $(cat /proc/sys/net/ipv4/ip_forward)"
        echo "## links"
        ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | sort
    } >"$1"
}
export DOCKER_HOST="unix://$TMP/docker.sock"
export DOCKER_CONFIG="$TMP/client" # no credentials or settings of the host's user
export DOCKER_BUILDKIT=0 COMPOSE_DOCKER_CLI_BUILD=0
mkdir -p "$TMP/client"

# Start dockerd in the host's network namespace, or with `netns` in the test's own one
# (nsenter changes only the network namespace: mounts and cgroups are the host's, as before).
engine_start() {
    local in=() i
    [ "${1:-}" = netns ] && in=(nsenter "--net=$NETNS")
    log "starting dockerd (data root $TMP/data${1:+, in its own network namespace})"
    "${in[@]}" dockerd --data-root "$TMP/data" --exec-root "$TMP/exec" --pidfile "$TMP/dockerd.pid" \
        -H "unix://$TMP/docker.sock" --config-file "$TMP/daemon.json" \
        --containerd-namespace lifeguard-test --containerd-plugins-namespace lifeguard-test-plugins \
        --cgroup-parent /lifeguard-test \
        --iptables=false --ip6tables=false --ip-forward=false --ip-masq=false --bridge=none \
        >>"$TMP/dockerd.log" 2>&1 &
    dockerd_pid=$!
    for i in $(seq 1 60); do
        kill -0 "$dockerd_pid" 2>/dev/null || { tail -n 30 "$TMP/dockerd.log"; fail "dockerd exited"; }
        timeout 5 "$DOCKER" version >/dev/null 2>&1 && break
        [ "$i" = 60 ] && { tail -n 30 "$TMP/dockerd.log"; fail "dockerd did not start within 30s"; }
        sleep 0.5
    done
    log "dockerd $("$DOCKER" version -f '{{.Server.Version}}') is up"
}
# Stop dockerd by its pid (it stops the containerd it started), then whatever is left of it
engine_stop() {
    local pid i
    if [ -s "$TMP/dockerd.pid" ]; then
        pid=$(cat "$TMP/dockerd.pid")
        kill -TERM "$pid" 2>/dev/null
        for i in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
        kill -0 "$pid" 2>/dev/null && { log "dockerd did not stop: SIGKILL"; kill -KILL "$pid"; }
        rm -f "$TMP/dockerd.pid"
    fi
    # containerd and shims started for this engine carry $TMP in their command line
    for pid in $(pgrep -f -- "$TMP/" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
    return 0
}
# The processes in the engine's network namespace (none once everything is stopped)
netns_pids() {
    local ns
    ns=$(stat -L -c %i "$NETNS" 2>/dev/null) || return 0 # not made (yet)
    # "/proc/PID/ns/net -> net:[INODE]"
    ls -l /proc/[0-9]*/ns/net 2>/dev/null |
        awk -v ns="net:[$ns]" '$NF == ns {split($(NF - 2), p, "/"); print p[3]}'
}
# curl from inside the engine's network namespace, where the published ports are
nscurl() { nsenter --net="$NETNS" curl "$@"; }

cleanup() {
    local rc=$? pid i
    trap - EXIT INT TERM
    set +e
    log "cleaning up"
    for pid in $bg_pids; do kill "$pid" 2>/dev/null; done
    if [ -S "$TMP/docker.sock" ]; then
        timeout 90 "$COMPOSE" -p "$PROJECT" -f "$ROOT/docker/compose.yaml" down --remove-orphans -t 5 \
            >>"$TMP/compose.log" 2>&1
        timeout 60 "$DOCKER" rm -f $("$DOCKER" ps -aq) >/dev/null 2>&1
        timeout 60 "$DOCKER" rmi -f lifeguard:local lifeguard-origin:local debian:bookworm-slim \
            >/dev/null 2>&1
        log "containers, networks and images removed"
    fi
    engine_stop
    log "dockerd stopped"
    # nothing may stay in the engine's network namespace (docker-proxy, a client)
    for pid in $(netns_pids); do
        log "left in the network namespace: $pid $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)"
        kill -KILL "$pid" 2>/dev/null
        rc=1
    done
    # mounts (overlay layers, network namespaces) under the temporary folder, deepest first
    awk -v t="$TMP/" 'index($2, t) == 1 {print $2}' /proc/self/mounts | sort -r |
        while read -r m; do umount -l "$m" 2>/dev/null || log "cannot unmount $m"; done
    if awk -v t="$TMP/" 'index($2, t) == 1 {f=1} END {exit !f}' /proc/self/mounts; then
        log "mounts left under $TMP:"; grep -F "$TMP/" /proc/self/mounts
        rc=1
    fi
    [ "$had_etc_docker_key" = 0 ] && rm -f /etc/docker/key.json
    [ "$had_run_docker" = 0 ] && rm -rf --one-file-system /run/docker
    [ "$had_run_containerd" = 0 ] && rm -rf --one-file-system /run/containerd
    for i in /sys/fs/cgroup/*/lifeguard-test; do
        [ -d "$i" ] && ! grep -qxF "$i" <<<"$cgroups_before" && rmdir "$i" 2>/dev/null
    done
    snapshot "$TMP/host.after"
    if [ -s "$TMP/host.before" ] && ! diff -u "$TMP/host.before" "$TMP/host.after" >"$TMP/host.diff"; then
        log "the host changed (iptables, ip_forward or links):"
        cat "$TMP/host.diff"
        rc=1
    fi
    if [ "$rc" -ne 0 ] && [ -s "$TMP/dockerd.log" ]; then
        log "last lines of dockerd's log:"
        tail -n 20 "$TMP/dockerd.log"
    fi
    rm -rf --one-file-system "$TMP"
    log "done, exit $rc"
    exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 1' INT TERM
snapshot "$TMP/host.before"
# A watchdog bounds the whole run (each docker command has its own timeout as well). Its sleep
# goes with it, so that nothing holds the output open after the end (ctest waits for that).
(
    trap 'kill "$sp" 2>/dev/null; exit 0' TERM
    sleep "$LIMIT" &
    sp=$!
    wait "$sp"
    echo "[docker-test] time limit of ${LIMIT}s reached" >&2
    kill -TERM $$
) &
watchdog=$!
bg_pids="$watchdog"

# ---- the engine
cat >"$TMP/daemon.json" <<'EOF'
{ "log-driver": "json-file" }
EOF
engine_start

# ---- the base image: debootstrap --variant=minbase, slimmed like the official image, cached
mirror() { # the Debian mirror the host's apt uses
    local m=""
    if [ -r /etc/apt/sources.list.d/debian.sources ]; then
        m=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
    fi
    if [ -z "$m" ] && [ -r /etc/apt/sources.list ]; then
        m=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i !~ /^\[/ && $i !~ /\]$/ && $i ~ /:\/\//) { print $i; exit } }' /etc/apt/sources.list)
    fi
    echo "${m:-http://deb.debian.org/debian}"
}
base_tar="$CACHE/debian-bookworm-slim.tar"
if [ -s "$base_tar" ] && [ -z "$(find "$base_tar" -mtime +30)" ]; then
    log "base image from the cache $base_tar"
else
    M=$(mirror)
    log "debootstrap --variant=minbase bookworm from $M (cached afterwards in $CACHE)"
    rootfs="$TMP/rootfs"
    timeout 600 debootstrap --variant=minbase bookworm "$rootfs" "$M" >"$TMP/debootstrap.log" 2>&1 ||
        { tail -n 20 "$TMP/debootstrap.log"; fail "debootstrap failed"; }
    # as debian:bookworm-slim: no documentation, man pages or translations, apt cleans up
    cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
    cat >"$rootfs/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";
EOF
    echo 'Acquire::Languages "none";' >"$rootfs/etc/apt/apt.conf.d/docker-no-languages"
    # the host's sources (its mirror, updates and security), not only debootstrap's one line
    if [ -r /etc/apt/sources.list.d/debian.sources ]; then
        grep -v '^#' /etc/apt/sources.list.d/debian.sources >"$rootfs/etc/apt/sources.list.d/debian.sources"
        rm -f "$rootfs/etc/apt/sources.list"
    fi
    find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
    find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete
    rm -rf "$rootfs"/usr/share/{man,groff,info,lintian,linda}/* "$rootfs"/var/lib/apt/lists/* \
        "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/log/*.log
    find "$rootfs/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
    mkdir -p "$CACHE"
    tar -C "$rootfs" --numeric-owner --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' \
        -cf "$base_tar.new" .
    mv "$base_tar.new" "$base_tar"
    rm -rf --one-file-system "$rootfs"
fi
timeout 120 "$DOCKER" import -c 'CMD ["bash"]' "$base_tar" debian:bookworm-slim >/dev/null
log "debian:bookworm-slim imported: $("$DOCKER" image inspect -f '{{.Size}}' debian:bookworm-slim) bytes"

# `docker run`, without the warning that --ip-forward=false brings (no container here needs to
# reach beyond its own network)
drun() { "$DOCKER" run "$@" 2> >(grep -v 'IPv4 forwarding is disabled' >&2); }

# ---- the images, from the unchanged Dockerfile
log "docker build: lifeguard (Dockerfile, default target)"
tb=$(date +%s)
timeout 900 "$DOCKER" build --network host -t lifeguard:local "$ROOT" >"$TMP/build.log" 2>&1 ||
    { tail -n 40 "$TMP/build.log"; fail "docker build failed"; }
log "docker build: lifeguard-origin (--target origin)"
timeout 300 "$DOCKER" build --network host --target origin -t lifeguard-origin:local "$ROOT" \
    >>"$TMP/build.log" 2>&1 || { tail -n 40 "$TMP/build.log"; fail "docker build --target origin failed"; }
size=$("$DOCKER" image inspect -f '{{.Size}}' lifeguard:local)
osize=$("$DOCKER" image inspect -f '{{.Size}}' lifeguard-origin:local)
bsize=$("$DOCKER" image inspect -f '{{.Size}}' debian:bookworm-slim)
log "built in $(($(date +%s) - tb))s: lifeguard:local $size bytes ($(((size + 500000) / 1000000)) MB," \
    "base $(((bsize + 500000) / 1000000)) MB), lifeguard-origin:local $(((osize + 500000) / 1000000)) MB"
drun --rm lifeguard:local -V | sed 's/^/    /'
"$DOCKER" history --format '{{.Size}}\t{{.CreatedBy}}' lifeguard:local | grep -v '^0B' | cut -c1-110 |
    sed 's/^/    layer /'

cfg=$("$DOCKER" image inspect -f '{{.Config.User}}|{{.Config.StopSignal}}|{{join .Config.Healthcheck.Test " "}}' lifeguard:local)
log "image config: $cfg"
case $cfg in
0|0:*|root*|"|"*) fail "the image runs as root: $cfg" ;;
esac
[[ $cfg == *"|SIGQUIT|"* ]] || fail "STOPSIGNAL is not SIGQUIT: $cfg"
[[ $cfg == *"lifeguard healthcheck -c /etc/lifeguard/lifeguard.yaml" ]] || fail "no HEALTHCHECK: $cfg"
drun --rm lifeguard:local -t -c /etc/lifeguard/lifeguard.yaml | grep 'configuration ok' >/dev/null ||
    fail "the image's default configuration does not pass lifeguard -t"
# ACME in Docker (docs/tls.md): a named volume on the default acme.storage is writable by the
# image's user, and the system store that verifies Let's Encrypt is there
vol="lg-acme-$$"
"$DOCKER" volume create "$vol" >/dev/null || fail "docker volume create failed"
drun --rm -v "$vol:/var/lib/lifeguard/acme" --entrypoint /bin/sh lifeguard:local -c \
    'touch /var/lib/lifeguard/acme/probe && test -s /etc/ssl/certs/ca-certificates.crt' ||
    { "$DOCKER" volume rm "$vol" >/dev/null; fail "acme storage volume not writable by uid 10001, or no CA store"; }
"$DOCKER" volume rm "$vol" >/dev/null
log "acme storage: a named volume on /var/lib/lifeguard/acme is writable by uid 10001; CA store present"

# ---- configurations: v1 is docker/conf/lifeguard.yaml as shipped; v2 answers only /api/
mkdir -p "$TMP/conf" "$TMP/v2"
cp "$ROOT/docker/conf/lifeguard.yaml" "$TMP/conf/lifeguard.yaml"
sed 's|^      - pool: app$|      - path_prefix: /api/\n        pool: app|' \
    "$ROOT/docker/conf/lifeguard.yaml" >"$TMP/v2/lifeguard.yaml"
cmp -s "$TMP/conf/lifeguard.yaml" "$TMP/v2/lifeguard.yaml" &&
    fail "docker/conf/lifeguard.yaml no longer has the line '      - pool: app' this test edits"
drun --rm -v "$TMP/v2:/etc/lifeguard:ro" lifeguard:local -t -c /etc/lifeguard/lifeguard.yaml |
    grep 'configuration ok' >/dev/null || fail "the changed configuration does not pass lifeguard -t"
chmod -R a+rX "$TMP/conf" "$TMP/v2"

# ---- the same engine again, in a network namespace of its own: the host's firewall (a FORWARD
# policy of DROP with br_netfilter loaded) never sees the packets between the containers then
engine_stop
touch "$NETNS"
unshare --net="$NETNS" true || fail "cannot make a network namespace (unshare --net)"
nsenter --net="$NETNS" ip link set lo up
engine_start netns

# ---- compose: lifeguard in front of three replicas, ports published on the namespace's loopback
export LG_PUBLISH_HTTP=127.0.0.1: LG_PUBLISH_ADMIN=127.0.0.1: LG_CONF_DIR="$TMP/conf"
compose() { timeout 180 "$COMPOSE" -p "$PROJECT" -f "$ROOT/docker/compose.yaml" "$@"; }
log "docker-compose up (docker/compose.yaml, $("$COMPOSE" version --short))"
compose up -d --no-build >"$TMP/compose.log" 2>&1 || { cat "$TMP/compose.log"; fail "docker-compose up failed"; }
LG=$(compose ps -q lifeguard)
mapfile -t APPS < <(compose ps -q app)
[ -n "$LG" ] || fail "no lifeguard container"
[ "${#APPS[@]}" = 3 ] || fail "expected 3 app replicas, got ${#APPS[@]}"
sleep 1 # a lifeguard that cannot start exits within this (its log then says why)
[ "$("$DOCKER" inspect -f '{{.State.Running}}' "$LG")" = true ] ||
    fail "lifeguard is not running: $("$DOCKER" inspect -f '{{.State.Status}}, exit code {{.State.ExitCode}}' "$LG")"
http=$("$DOCKER" port "$LG" 8080/tcp | head -n 1)
admin=$("$DOCKER" port "$LG" 9901/tcp | head -n 1)
URL="http://$http" ADMIN="http://$admin"
log "lifeguard at $URL, admin at $ADMIN, replicas: $(for c in "${APPS[@]}"; do "$DOCKER" inspect -f '{{.Config.Hostname}}' "$c"; done | tr '\n' ' ')"

# (grep reads a file: `docker logs | grep -q` would fail under pipefail when grep stops early)
logs_have() { "$DOCKER" logs "$LG" >"$TMP/logs.all" 2>&1 && grep -q -- "$1" "$TMP/logs.all"; }

# ---- non-root: the master (PID 1) and every worker
uid=$("$DOCKER" exec "$LG" id -u)
[ "$uid" != 0 ] || fail "docker exec id -u says 0"
uids=$("$DOCKER" exec "$LG" sh -c 'for s in /proc/[0-9]*/status; do awk "/^Uid:/ {print \$2}" "$s"; done' | sort -u | tr '\n' ' ')
[ "$uids" = "$uid " ] || fail "processes run with uids '$uids', expected only $uid"
pid1=$("$DOCKER" exec "$LG" cat /proc/1/cmdline | tr '\0' ' ')
nofile=$("$DOCKER" exec "$LG" sh -c 'ulimit -n')
log "runs as uid $uid (every process), open files limit $nofile, PID 1 is: $pid1"
[[ $pid1 == /usr/local/bin/lifeguard* ]] || fail "PID 1 is not lifeguard"

# ---- the HEALTHCHECK turns healthy
th=$(date +%s)
for i in $(seq 1 60); do
    st=$("$DOCKER" inspect -f '{{.State.Health.Status}}' "$LG")
    [ "$st" = healthy ] && break
    [ "$i" = 60 ] && { "$DOCKER" inspect -f '{{json .State.Health}}' "$LG"; fail "not healthy after 60s: $st"; }
    sleep 1
done
# the output of the latest check (the first ones may have run before lifeguard listened)
hout=$("$DOCKER" inspect -f '{{range .State.Health.Log}}{{.Output}}{{end}}' "$LG" | awk 'NF {l = $0} END {print l}')
log "healthy after $(($(date +%s) - th))s: $hout"
[ "$hout" = healthy ] || fail "the health check printed '$hout', expected 'healthy'"

# ---- spread over the replicas found by DNS
names() { # N requests to PATH; prints the distinct answers, one per line, or FAIL lines
    local n=$1 path=$2 i code
    for i in $(seq 1 "$n"); do
        code=$(nscurl -s --max-time 3 -o "$TMP/body" -w '%{http_code}' "$URL$path") || true
        if [ "$code" = 200 ]; then head -n 1 "$TMP/body"; else echo "FAIL-$code"; fi
    done
}
# every replica answers within 30 s (the health checks mark them up one after the other)
wait_replicas() {
    local want got end=$(($(date +%s) + 30))
    want=$(for c in "${APPS[@]}"; do "$DOCKER" inspect -f '{{.Config.Hostname}}' "$c"; done | sort | tr '\n' ' ')
    while :; do
        got=$(names 12 / | sort -u | tr '\n' ' ')
        [ "$got" = "$want" ] && return 0
        [ "$(date +%s)" -ge "$end" ] && fail "replicas answering: '$got', expected '$want'"
        sleep 1
    done
}
[ "$(nscurl -s --max-time 10 -o /dev/null -w '%{http_code}' "$URL/")" = 200 ] ||
    fail "GET / through lifeguard is not answered with 200"
wait_replicas
counts=$(names 60 / | sort | uniq -c | awk '{printf "%s=%s ", $2, $1}')
log "60 requests spread over the 3 replicas: $counts"
[[ $counts != *FAIL* ]] || fail "failed requests: $counts"
[ "$(wc -w <<<"$counts")" = 3 ] || fail "not spread over 3 replicas: $counts"
for c in $counts; do [ "${c#*=}" -ge 10 ] || fail "uneven spread: $counts"; done

# ---- metrics and logs
nscurl -sS --max-time 5 "$ADMIN/metrics" >"$TMP/metrics" || fail "no /metrics on the admin port"
up=$(grep -c '^lifeguard_backend_up{.*} 1$' "$TMP/metrics" || true)
log "/metrics: $(wc -l <"$TMP/metrics") lines, lifeguard_backend_up = 1 for $up backends"
[ "$up" = 3 ] || { grep '^lifeguard_backend_up' "$TMP/metrics"; fail "expected 3 backends up in /metrics"; }
"$DOCKER" logs "$LG" 2>/dev/null >"$TMP/stdout.log"
"$DOCKER" logs "$LG" 2>"$TMP/stderr.log" >/dev/null
grep -q '"GET / HTTP/1.1" 200' "$TMP/stdout.log" || { head "$TMP/stdout.log"; fail "no access log line on stdout"; }
grep -q 'started' "$TMP/stderr.log" || { head "$TMP/stderr.log"; fail "no start line on stderr"; }
log "logs: $(wc -l <"$TMP/stdout.log") access lines on stdout, $(wc -l <"$TMP/stderr.log") log lines on stderr"

# ---- DNS is followed: a fourth replica gets traffic
compose up -d --no-build --no-recreate --scale app=4 app >>"$TMP/compose.log" 2>&1 ||
    { tail "$TMP/compose.log"; fail "scale to 4 failed"; }
mapfile -t APPS < <(compose ps -q app)
[ "${#APPS[@]}" = 4 ] || fail "expected 4 app replicas, got ${#APPS[@]}"
ts=$(date +%s)
wait_replicas
log "scaled to 4 replicas: all 4 answer after $(($(date +%s) - ts))s"

# ---- reload under load: docker kill -s HUP with a changed configuration
[ "$(nscurl -s -o /dev/null -w '%{http_code}' "$URL/")" = 200 ] || fail "/ is not 200 before the reload"
rm -f "$TMP/stop"
( # one new connection per request
    while [ ! -e "$TMP/stop" ]; do
        nscurl -s -o /dev/null --max-time 5 -w '%{http_code}\n' "$URL/api/loop" || true
    done >"$TMP/loop.codes"
) &
loop_pid=$!
( # one keep-alive connection (reconnecting when lifeguard closes it), 40 requests a second
    nscurl -s --max-time 60 --rate 40/s -w '\ncode=%{http_code}\n' "$URL/api/keepalive/[1-400]" \
        >"$TMP/ka.out" 2>&1 || true
) &
ka_pid=$!
bg_pids="$bg_pids $loop_pid $ka_pid"
sleep 2
cp "$TMP/v2/lifeguard.yaml" "$TMP/conf/.lifeguard.yaml.new"
mv "$TMP/conf/.lifeguard.yaml.new" "$TMP/conf/lifeguard.yaml" # replaced, as an editor does
t_hup=$(date +%s.%N)
"$DOCKER" kill -s HUP "$LG" >/dev/null
for i in $(seq 1 150); do
    [ "$(nscurl -s -o /dev/null -w '%{http_code}' "$URL/")" = 404 ] && break
    [ "$i" = 150 ] && fail "the new configuration (/ -> 404) did not take effect within 30s"
    sleep 0.2
done
took=$(awk -v a="$(date +%s.%N)" -v b="$t_hup" 'BEGIN {printf "%.1f", a - b}')
sleep 2
touch "$TMP/stop"
wait "$loop_pid" "$ka_pid"
total=$(wc -l <"$TMP/loop.codes")
bad=$(grep -vc '^200$' "$TMP/loop.codes" || true)
katotal=$(grep -c '^code=' "$TMP/ka.out" || true)
kabad=$(grep '^code=' "$TMP/ka.out" | grep -vc '^code=200$' || true)
log "reload took effect after ${took}s; during it: $total requests on new connections, $bad failed;" \
    "$katotal on keep-alive, $kabad failed"
[ "$bad" = 0 ] || { sort "$TMP/loop.codes" | uniq -c; fail "requests failed during the reload"; }
[ "$kabad" = 0 ] && [ "$katotal" = 400 ] ||
    { grep '^code=' "$TMP/ka.out" | sort | uniq -c; fail "keep-alive requests failed during the reload"; }
[ "$total" -ge 20 ] || fail "the client loop made only $total requests"
nscurl -sS --max-time 5 "$ADMIN/metrics" >"$TMP/metrics" || fail "no /metrics after the reload"
grep -q '^lifeguard_reloads_total 1$' "$TMP/metrics" || fail "/metrics does not count the reload"

# a broken file keeps the configuration that serves
printf 'listeners: [\n' >"$TMP/conf/.lifeguard.yaml.new"
mv "$TMP/conf/.lifeguard.yaml.new" "$TMP/conf/lifeguard.yaml"
"$DOCKER" kill -s HUP "$LG" >/dev/null
for i in $(seq 1 50); do
    logs_have 'reload failed' && break
    [ "$i" = 50 ] && fail "no 'reload failed' in the log after a broken configuration"
    sleep 0.2
done
c1=$(nscurl -s -o /dev/null -w '%{http_code}' "$URL/api/x")
c2=$(nscurl -s -o /dev/null -w '%{http_code}' "$URL/")
[ "$c1/$c2" = 200/404 ] || fail "after a broken reload: /api/x $c1, / $c2 (expected 200, 404)"
log "a broken configuration is refused, the previous one keeps serving"

# ---- docker stop drains: an in-flight slow request completes, exit code 0
nscurl -sS --max-time 20 -w ' %{http_code}' "$URL/api/delay/2000" >"$TMP/slow.out" 2>&1 &
slow_pid=$!
bg_pids="$bg_pids $slow_pid"
sleep 0.5
tstop=$(date +%s.%N)
timeout 60 "$DOCKER" stop -t 15 "$LG" >/dev/null
stopped=$(awk -v a="$(date +%s.%N)" -v b="$tstop" 'BEGIN {printf "%.1f", a - b}')
wait "$slow_pid" || true
code=$("$DOCKER" inspect -f '{{.State.ExitCode}}' "$LG")
log "docker stop took ${stopped}s, exit code $code, the in-flight request got: $(tr '\n' ' ' <"$TMP/slow.out")"
[[ $(cat "$TMP/slow.out") == *" 200" ]] || fail "the in-flight request did not complete"
[ "$code" = 0 ] || { "$DOCKER" logs --tail 20 "$LG"; fail "exit code $code, expected 0"; }
logs_have 'graceful stop' || fail "no 'graceful stop' in the log"

kill "$watchdog" 2>/dev/null || true
log "all checks passed in $(($(date +%s) - T0))s"
echo "1 passed, 0 failed"
