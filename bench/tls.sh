#!/usr/bin/env bash
# bench/tls.sh - TLS rows of the benchmark: lifeguard next to nginx, HAProxy and Caddy, each
# terminating TLS with the same certificate, one worker/thread each, same origin, same load.
#
#   bench/tls.sh [BUILD_DIR]         (make bench-tls)
#
# Uses BUILD_DIR/lifeguard and BUILD_DIR/lg-origin, the system's nginx, haproxy, caddy, wrk and
# openssl, and builds bench/tls_client.c with cc. Certificates (a self-signed ECDSA P-256 one and
# an RSA 2048 one, for localhost and 127.0.0.1) are made at start with openssl in a private
# temporary directory, removed on exit. Writes bench/results/tls-STAMP/ (raw.csv, meta.txt, the
# exact configs, logs; bench/results/latest-tls points at it), then the TLS section of
# docs/benchmarks.md through bench/tls_report.py.
#
# Placement as bench/run.sh: the proxy on CPU 0, the origin and the clients on CPU 1. Rounds
# alternate the proxies, each with a fresh process: first with the ECDSA certificate (full
# handshakes, resumed handshakes, keep-alive, 64 MiB bodies, idle connections), then restarted
# with the RSA certificate (full handshakes). Every process started here is stopped by its PID.
#
# Knobs: ROUNDS (3), HS_SECS (3), HS_CONNS (16 connections at a time), KA_SECS (3), CONNS (50
# wrk connections), BULK_SECS (3), IDLE_N (5000), SETTLE (2 s), PROXIES ("lifeguard nginx
# haproxy caddy").
set -euo pipefail

BUILD=${1:-build}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
[ -x "$BUILD/lifeguard" ] && [ -x "$BUILD/lg-origin" ] || { echo "tls bench: build $BUILD first" >&2; exit 1; }
BUILD=$(cd "$BUILD" && pwd)
ROUNDS=${ROUNDS:-3}
HS_SECS=${HS_SECS:-3}
HS_CONNS=${HS_CONNS:-16}
KA_SECS=${KA_SECS:-3}
CONNS=${CONNS:-50}
BULK_SECS=${BULK_SECS:-3}
IDLE_N=${IDLE_N:-5000}
SETTLE=${SETTLE:-2}
PROXIES=${PROXIES:-"lifeguard nginx haproxy caddy"}
PROXY_CPU=0
LOAD_CPU=1
for tool in nginx haproxy caddy wrk openssl taskset python3 cc ss; do
    command -v "$tool" >/dev/null || { echo "tls bench: $tool not found (scripts/deps.sh bench)" >&2; exit 1; }
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/lg-tlsbench.XXXXXX")
# shellcheck source=bench/proc.sh
. "$HERE/proc.sh"
trap cleanup EXIT
trap 'exit 130' INT TERM

STAMP=tls-$(date +%Y%m%d-%H%M%S)
RES="$ROOT/bench/results/$STAMP"
mkdir -p "$RES/conf" "$RES/logs"
CSV="$RES/raw.csv"
echo "round,proxy,test,metric,value" >"$CSV"
T0=$SECONDS
log() { printf '[tls %4ds] %s\n' $((SECONDS - T0)) "$*" | tee -a "$RES/run.log" >&2; }
emit() { echo "$1,$2,$3,$4,$5" >>"$CSV"; }
calc() { awk "BEGIN { printf \"%.6g\", $* }"; }
meta() { echo "$1=$2" >>"$RES/meta.txt"; }
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
NOFILE=$(ulimit -n)
CLK_TCK=$(getconf CLK_TCK)

cc -O2 -Wall -Wextra -o "$TMP/tls_client" "$HERE/tls_client.c" -lssl -lcrypto

# ---------------------------------------------------------------- certificates (made now, never kept)
# shellcheck source=bench/cert.sh
. "$HERE/cert.sh"
for kt in ecdsa rsa; do make_cert "$TMP/cert" "$kt"; done

# ---------------------------------------------------------------- origin and ports
taskset -c $LOAD_CPU "$BUILD/lg-origin" --listen 127.0.0.1:0 --name origin --quiet \
    >"$TMP/origin.out" 2>"$TMP/origin.err" &
STARTED+=($!)
for _ in $(seq 50); do grep -q '^listening' "$TMP/origin.out" && break; sleep 0.1; done
ORIGIN_PORT=$(sed -n 's/^listening 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$TMP/origin.out")
[ -n "$ORIGIN_PORT" ] || { echo "tls bench: lg-origin did not start" >&2; exit 1; }
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

declare -A TEMPLATE=([lifeguard]=lifeguard-tls.yaml [nginx]=nginx-tls.conf [haproxy]=haproxy-tls.cfg
    [caddy]=Caddyfile-tls)
render() { # PROXY KEYTYPE -> config path
    local out="$TMP/$1/${TEMPLATE[$1]}"
    mkdir -p "$TMP/$1"
    sed -e "s/@PORT@/$PORT/g" -e "s/@ORIGIN_PORT@/$ORIGIN_PORT/g" -e "s/@NOFILE@/$NOFILE/g" \
        -e "s#@DIR@#$TMP/$1#g" -e "s#@CERT@#$TMP/cert/$2.pem#g" -e "s#@KEY@#$TMP/cert/$2.key#g" \
        -e "s#@PEM@#$TMP/cert/$2-haproxy.pem#g" "$HERE/conf/${TEMPLATE[$1]}.in" >"$out"
    cp "$out" "$RES/conf/"
    echo "$out"
}

PROXY_PID=""
PROXY_PIDS=""
proc_tree() { ps -e -o pid=,ppid= | awk -v r="$1" '{ k[$2] = k[$2] " " $1 } END { q[1] = r; n = 1;
    for (i = 1; i <= n; i++) { m = split(k[q[i]], c, " "); for (j = 1; j <= m; j++) q[++n] = c[j] }
    for (i = 1; i <= n; i++) printf "%s ", q[i] }'; }
start_proxy() { # NAME KEYTYPE
    local name=$1 conf i want=2
    conf=$(render "$1" "$2")
    case $name in
    lifeguard) taskset -c $PROXY_CPU "$BUILD/lifeguard" -c "$conf" 2>>"$RES/logs/lifeguard.err" & ;;
    nginx) taskset -c $PROXY_CPU nginx -p "$TMP/nginx/" -e "$TMP/nginx/startup-error.log" -c "$conf" \
        2>>"$RES/logs/nginx.err" & ;;
    haproxy) taskset -c $PROXY_CPU haproxy -db -f "$conf" 2>>"$RES/logs/haproxy.err" & want=1 ;;
    caddy) XDG_DATA_HOME=$TMP/caddy XDG_CONFIG_HOME=$TMP/caddy GOMAXPROCS=1 taskset -c $PROXY_CPU \
        caddy run --config "$conf" --adapter caddyfile 2>>"$RES/logs/caddy.err" & want=1 ;;
    esac
    PROXY_PID=$!
    STARTED+=("$PROXY_PID")
    for i in $(seq 100); do
        PROXY_PIDS=$(proc_tree "$PROXY_PID")
        [ "$(wc -w <<<"$PROXY_PIDS")" -ge $want ] && [ -n "$(ss -Htln "sport = :$PORT")" ] && return 0
        sleep 0.1
    done
    echo "tls bench: $name did not start; see $RES/logs/$name.err" >&2
    exit 1
}
stop_proxy() {
    local p
    stop_pid "$PROXY_PID"
    for p in $PROXY_PIDS; do kill -KILL "$p" 2>/dev/null || true; done
    # the port must be free again for the next proxy
    for _ in $(seq 50); do [ -z "$(ss -Htln "sport = :$PORT")" ] && break; sleep 0.1; done
}
proc_sum() { # cpu|rss: utime+stime (ticks) or VmRSS (KiB), summed over the proxy's processes
    local p t=0 v
    for p in $PROXY_PIDS; do
        if [ "$1" = cpu ]; then
            v=$(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$p/stat" 2>/dev/null) || v=0
        else
            v=$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$p/status" 2>/dev/null) || v=0
        fi
        t=$((t + ${v:-0}))
    done
    echo "$t"
}
core0() { awk -v c="cpu$PROXY_CPU" '$1 == c { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }

# timed OUTFILE CMD...: runs CMD with its output in OUTFILE; sets T_CPU (proxy CPU s) and T_OTHER
# (cores of CPU 0 used by anything else meanwhile: the noise of a shared machine)
timed() {
    local out=$1 c0 k0 t0 c1 k1 t1
    shift
    c0=$(proc_sum cpu); k0=$(core0); t0=$(date +%s.%N)
    taskset -c $LOAD_CPU timeout 60 "$@" >"$out" 2>&1 || true
    t1=$(date +%s.%N); k1=$(core0); c1=$(proc_sum cpu)
    cat "$out" >>"$RES/logs/clients.log"
    T_CPU=$(calc "($c1 - $c0) / $CLK_TCK")
    T_OTHER=$(calc "(($k1 - $k0) - ($c1 - $c0)) / $CLK_TCK / ($t1 - $t0)")
}
field() { sed -n "s/.*\b$2=\([0-9.]*\).*/\1/p" "$1" | tail -1; }

measure_hs() { # ROUND PROXY TEST(hs_ecdsa|hs_rsa|resume) MODE
    local f=$TMP/hs.out n
    timed "$f" "$TMP/tls_client" hs "127.0.0.1:$PORT" "$HS_SECS" "$HS_CONNS" "$4"
    n=$(field "$f" handshakes)
    emit "$1" "$2" "$3" per_s "$(calc "$n / $(field "$f" seconds)")"
    emit "$1" "$2" "$3" per_core_s "$(calc "$n / ($T_CPU > 0 ? $T_CPU : 0.01)")"
    emit "$1" "$2" "$3" reused "$(calc "$(field "$f" reused) / ($n > 0 ? $n : 1)")"
    emit "$1" "$2" "$3" errors "$(field "$f" errors)"
    emit "$1" "$2" "$3" other_cores "$T_OTHER"
}

measure_ecdsa() { # ROUND PROXY
    local r=$1 p=$2 f=$TMP/run.out n rss0 rss1 idle_pid
    measure_hs "$r" "$p" hs_ecdsa new
    measure_hs "$r" "$p" resume resume
    # keep-alive: wrk over https (Debian's wrk is linked with OpenSSL), after a 1 s warm-up
    taskset -c $LOAD_CPU wrk -t1 -c"$CONNS" -d1s "https://127.0.0.1:$PORT/" >/dev/null 2>&1 || true
    timed "$f" wrk -t1 -c"$CONNS" -d"${KA_SECS}s" -s "$HERE/wrk_report.lua" "https://127.0.0.1:$PORT/"
    n=$(field "$f" requests)
    emit "$r" "$p" ka rps "$(calc "$n / ($(field "$f" duration_us) / 1e6)")"
    emit "$r" "$p" ka cpu_per_100k "$(calc "$T_CPU * 100000 / $n")"
    emit "$r" "$p" ka errors "$(field "$f" errors)"
    emit "$r" "$p" ka other_cores "$T_OTHER"
    # 64 MiB bodies over one keep-alive TLS connection
    timed "$f" "$TMP/tls_client" bulk "127.0.0.1:$PORT" "$BULK_SECS" /size/67108864
    n=$(field "$f" bytes)
    emit "$r" "$p" bulk mbps "$(calc "$n / $(field "$f" seconds) / 1e6")"
    emit "$r" "$p" bulk cpu_per_gb "$(calc "$T_CPU / ($n / 1e9)")"
    emit "$r" "$p" bulk errors "$(field "$f" errors)"
    emit "$r" "$p" bulk other_cores "$T_OTHER"
    # idle TLS connections: RSS growth per connection after each did one request
    sleep 1
    rss0=$(proc_sum rss)
    taskset -c $LOAD_CPU "$TMP/tls_client" idle "127.0.0.1:$PORT" "$IDLE_N" >"$TMP/idle.out" 2>&1 &
    idle_pid=$!
    STARTED+=("$idle_pid")
    for _ in $(seq 600); do grep -q '^ready' "$TMP/idle.out" && break; sleep 0.1; done
    sleep "$SETTLE"
    rss1=$(proc_sum rss)
    stop_pid "$idle_pid"
    cat "$TMP/idle.out" >>"$RES/logs/clients.log"
    n=$(field "$TMP/idle.out" ok)
    emit "$r" "$p" idle conns_ok "${n:-0}"
    [ "${n:-0}" -gt 0 ] && emit "$r" "$p" idle bytes_per_conn "$(calc "($rss1 - $rss0) * 1024 / $n")"
    emit "$r" "$p" idle rss_before_kib "$rss0"
}

: >"$RES/meta.txt"
meta date "$(date -u '+%Y-%m-%d %H:%M UTC')"
meta cpu "$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
meta kernel "$(uname -sr)"
meta lifeguard "$("$BUILD/lifeguard" -V 2>&1 | head -1) ($(git -C "$ROOT" rev-parse --short HEAD))"
meta nginx "$(nginx -V 2>&1 | sed -n 's/^nginx version: //p; s/^built with //p' | paste -sd' ')"
meta haproxy "$(haproxy -v 2>&1 | head -1 | sed 's/ - https.*//')"
meta caddy "$(caddy version 2>&1 | head -1) (Go crypto/tls, not OpenSSL)"
meta openssl "$(openssl version)"
meta knobs "ROUNDS=$ROUNDS HS_SECS=$HS_SECS HS_CONNS=$HS_CONNS KA_SECS=$KA_SECS CONNS=$CONNS BULK_SECS=$BULK_SECS IDLE_N=$IDLE_N"
meta loadavg_start "$(cut -d' ' -f1-3 /proc/loadavg)"
for p in $PROXIES; do # what each one negotiates with a default client
    start_proxy "$p" ecdsa
    meta "negotiated_$p" "$(openssl s_client -connect "127.0.0.1:$PORT" </dev/null 2>/dev/null |
        sed -n 's/^New, \(.*\)$/\1/p; s/^Server Temp Key: //p' | paste -sd' ')"
    stop_proxy
done

for ((round = 1; round <= ROUNDS; round++)); do
    for p in $PROXIES; do
        log "round $round: $p (ECDSA P-256)"
        start_proxy "$p" ecdsa
        measure_ecdsa "$round" "$p"
        stop_proxy
        log "round $round: $p (RSA 2048)"
        start_proxy "$p" rsa
        measure_hs "$round" "$p" hs_rsa new
        stop_proxy
    done
done
meta loadavg_end "$(cut -d' ' -f1-3 /proc/loadavg)"
meta duration_s "$((SECONDS - T0))"
ln -sfn "$STAMP" "$ROOT/bench/results/latest-tls"
python3 "$HERE/tls_report.py" "$RES"
log "done in $((SECONDS - T0)) s"
