#!/usr/bin/env bash
# bench/h2.sh - HTTP/2 rows of the benchmark: lifeguard next to nginx, HAProxy and Caddy, each
# speaking HTTP/2 to the client over TLS (ALPN h2) and over plain TCP with prior knowledge (h2c),
# one worker/thread each, HTTP/1.1 to the same origin, the same load.
#
#   bench/h2.sh [BUILD_DIR]          (make bench-h2)
#
# Uses BUILD_DIR/lifeguard and BUILD_DIR/lg-origin, the system's nginx, haproxy, caddy, h2load
# (nghttp2-client), curl and openssl, and builds bench/tls_client.c with cc. The configs are the
# HTTP/1.1 ones of bench/run.sh (conf/*.in) for h2c and of bench/tls.sh (conf/*-tls.*.in) for TLS,
# each with the edits that turn HTTP/2 on and make room for 1,024 idle upstream connections
# (h2_edit below; Caddy speaks h2 over TLS by default and has its own h2c template,
# conf/Caddyfile-h2c.in). An ECDSA P-256 certificate is made at start (bench/cert.sh). The
# processes, placement (proxy on CPU 0, origin and clients on CPU 1), CPU accounting and
# disturbance detection are bench/lib.sh's. Writes bench/results/h2-STAMP/
# (raw.csv with the proxy column "PROXY-tls" or "PROXY-h2c", meta.txt, the exact configs, logs;
# bench/results/latest-h2 points at it), then the HTTP/2 section of docs/benchmarks.md through
# bench/h2_report.py.
#
# Each round starts every proxy afresh for each transport (tls, h2c) and measures, in order:
# sanity (curl over HTTP/2: the origin's body), the idle test (IDLE_N connections, each after the
# preface and SETTINGS exchange, a 15 MiB connection window as Chrome gives, and one request, then
# read as a browser reads an idle connection, SETTINGS acknowledged: tls_client idle ... h2|h2c;
# RSS growth per connection, SETTLE seconds after the last one: lifeguard's idle sessions sleep
# after a second of quiet and the client's ACK), a warm-up (h2load, not measured), then for each shape CONNSxSTREAMS of SHAPES one
# timed `h2load -n H2_N -c CONNS -m STREAMS` (requests/s, CPU-s of all the proxy's processes per
# 100k requests). Every h2load run is bounded by H2_N requests and H2_TIMEOUT seconds.
#
# Knobs: ROUNDS (3), H2_N (100000), SHAPES ("1x100 50x10"), WARMUP_N (20000), H2_TIMEOUT (90 s),
# IDLE_N (5000), SETTLE (5 s), TRANSPORTS ("tls h2c"), PROXIES ("lifeguard nginx haproxy caddy"),
# and bench/lib.sh's FOREIGN_MAX, RETRIES (1 here), QUIET_WAIT, HARD_BUDGET (1200 s here).
set -euo pipefail

BUILD=${1:-build}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
[ -x "$BUILD/lg-origin" ] || { echo "h2 bench: $BUILD/lg-origin not found (build first)" >&2; exit 1; }
BUILD=$(cd "$BUILD" && pwd)
ROUNDS=${ROUNDS:-3}
H2_N=${H2_N:-100000}
SHAPES=${SHAPES:-"1x100 50x10"}
WARMUP_N=${WARMUP_N:-20000}
H2_TIMEOUT=${H2_TIMEOUT:-90}
IDLE_N=${IDLE_N:-5000}
SETTLE=${SETTLE:-5}
TRANSPORTS=${TRANSPORTS:-"tls h2c"}
PROXIES=${PROXIES:-"lifeguard nginx haproxy caddy"}
RETRIES=${RETRIES:-1}
HARD_BUDGET=${HARD_BUDGET:-1200}
# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"
# shellcheck source=bench/cert.sh
. "$HERE/cert.sh"

peers=()
for p in $PROXIES; do [ "$p" = lifeguard ] || peers+=("$p"); done
bench_check_tools h2load openssl "${peers[@]}"
STAMP=h2-$(date +%Y%m%d-%H%M%S)
bench_init "$ROOT/bench/results/$STAMP" "$BUILD/lg-origin"
cc -O2 -Wall -Wextra -o "$TMP/tls_client" "$HERE/tls_client.c" -lssl -lcrypto
CERT_DIR=$TMP/cert
make_cert "$CERT_DIR" ecdsa

# ---------------------------------------------------------------- configs: PROXY-TRANSPORT each
declare -A TEMPLATE=([lifeguard-h2c]=lifeguard.yaml [lifeguard-tls]=lifeguard-tls.yaml
    [nginx-h2c]=nginx.conf [nginx-tls]=nginx-tls.conf [haproxy-h2c]=haproxy.cfg
    [haproxy-tls]=haproxy-tls.cfg [caddy-h2c]=Caddyfile-h2c [caddy-tls]=Caddyfile-tls)
declare -A CONFS # PROXY-TRANSPORT -> the rendered config, named as in TEMPLATE with -TRANSPORT
# h2_edit PROXY TRANSPORT FILE: the edits that turn a rendered HTTP/1.1 config into the HTTP/2 one:
# HTTP/2 on, and room for IDLE_POOL idle upstream connections (64 in the HTTP/1.1 configs, where
# wrk keeps 50 requests in flight; here up to 500 are, each on its own HTTP/1.1 upstream
# connection: with 64 the others would be opened and closed per request, which measures TCP churn
# and the origin's accept queue, not HTTP/2). HAProxy's idle pool is unbounded by default.
IDLE_POOL=1024
h2_edit() {
    local f=$3 what
    case $1-$2 in
    lifeguard-*) what="http2: on under the listener (the default with tls, written out), max_idle: $IDLE_POOL"
        sed -i -e 's/^\( *\)mode: http$/&\n\1http2: on/' -e "s/max_idle: 64$/max_idle: $IDLE_POOL/" "$f" ;;
    nginx-*) what="http2 on the listen line, keepalive $IDLE_POOL"
        sed -i -e 's/^\( *listen [^;]*\) backlog=/\1 http2 backlog=/' \
            -e "s/^\( *\)keepalive 64;/\1keepalive $IDLE_POOL;/" "$f" ;;
    haproxy-tls) what='alpn h2,http/1.1 on the bind line'
        sed -i 's#alpn http/1.1#alpn h2,http/1.1#' "$f" ;;
    haproxy-h2c) what='proto h2 on the bind line'
        sed -i 's/^\( *bind [^ ]*\)/\1 proto h2/' "$f" ;;
    caddy-*) what="keepalive_idle_conns_per_host $IDLE_POOL (h1 h2 h3 by default over TLS; h2c in the template)"
        sed -i "s/^\(\s*\)\(reverse_proxy .*\)$/\1\2 {\n\1\ttransport http {\n\1\t\tkeepalive_idle_conns_per_host $IDLE_POOL\n\1\t}\n\1}/" "$f" ;;
    esac
    sed -i "1i # bench/h2.sh, $1 $2: conf/${TEMPLATE[$1-$2]}.in with $what" "$f"
    case $1 in haproxy) ;; *)
        grep -Eq "max_idle: $IDLE_POOL|keepalive $IDLE_POOL;|conns_per_host $IDLE_POOL" "$f" ||
            { echo "h2 bench: the upstream pool edit of $f did not apply (template changed?)" >&2; exit 1; } ;;
    esac
    case $1 in caddy) ;; *)
        grep -Eq 'http2: on|listen .* http2 backlog|alpn h2,|proto h2' "$f" ||
            { echo "h2 bench: the HTTP/2 edit of $f did not apply (template changed?)" >&2; exit 1; } ;;
    esac
}
check_conf() { # PROXY FILE: the proxy's own syntax check
    case $1 in
    lifeguard) "$BUILD/lifeguard" -t -c "$2" >/dev/null ||
        { echo "h2 bench: lifeguard rejects $2 (no HTTP/2 front yet? PROXIES='nginx haproxy caddy' runs the peers)" >&2; exit 1; } ;;
    nginx) nginx -t -q -p "$(dirname "$2")/" -e "$(dirname "$2")/startup-error.log" -c "$2" ;;
    haproxy) haproxy -c -q -f "$2" ;;
    caddy) caddy validate --config "$2" --adapter caddyfile >/dev/null 2>&1 ||
        { echo "h2 bench: caddy rejects $2" >&2; exit 1; } ;;
    esac
}
[[ " $PROXIES " != *" lifeguard "* ]] || [ -x "$BUILD/lifeguard" ] ||
    { echo "h2 bench: $BUILD/lifeguard not found (build first)" >&2; exit 1; }
for p in $PROXIES; do
    for t in $TRANSPORTS; do
        i=$p-$t
        PORT[$i]=$(free_port)
        mkdir -p "$TMP/$i"
        stem=${TEMPLATE[$i]%%.*}
        CONFS[$i]=$TMP/$i/${stem%-"$t"}-$t${TEMPLATE[$i]#"$stem"}
        render "$HERE/conf/${TEMPLATE[$i]}.in" "${CONFS[$i]}" "$i"
        h2_edit "$p" "$t" "${CONFS[$i]}"
        check_conf "$p" "${CONFS[$i]}"
        cp "${CONFS[$i]}" "$RES/conf/"
    done
done

# ---------------------------------------------------------------- load and measurements
H2_OUT=$TMP/h2load.out
url() { if [ "${1##*-}" = tls ]; then echo "https://127.0.0.1:${PORT[$1]}/"; else echo "http://127.0.0.1:${PORT[$1]}/"; fi; }
run_h2load() { # CONNS STREAMS REQUESTS URL: h2load on CPU $LOAD_CPU, bounded; output in $H2_OUT
    taskset -c $LOAD_CPU timeout "$H2_TIMEOUT" h2load -t1 -c "$1" -m "$2" -n "$3" -N 10s "$4" \
        >"$H2_OUT" 2>&1 || true
    cat "$H2_OUT" >>"$RES/logs/h2load.log"
}
h2load_field() { # seconds | ok (2xx responses) | proto: from $H2_OUT
    case $1 in
    seconds) sed -n 's/^finished in \([0-9.]*\)\(u\?m\?s\),.*/\1 \2/p' "$H2_OUT" |
        awk '{ print $1 / ($2 == "s" ? 1 : $2 == "ms" ? 1e3 : 1e6) }' ;;
    ok) sed -n 's/^status codes: \([0-9]*\) 2xx.*/\1/p' "$H2_OUT" ;;
    proto) sed -n 's/^Application protocol: //p' "$H2_OUT" ;;
    esac
}

h2_sanity() { # ROUND NAME: the origin's body through the proxy over HTTP/2 (curl)
    local r=$1 name=$2 got want=$'origin\n 2' opt=--http2-prior-knowledge
    [ "${name##*-}" = tls ] && opt=--http2
    got=$(curl -sk -m 5 "$opt" -w ' %{http_version}' "$(url "$name")") || true
    [ "$got" = "$want" ] || log "SANITY $name: curl $opt returned '${got:0:60}', not '$want'"
    emit "$r" "$name" sanity ok "$([ "$got" = "$want" ] && echo 1 || echo 0)"
}

measure_shape() { # ROUND NAME CONNSxSTREAMS: one timed h2load run of H2_N requests
    local r=$1 name=$2 c=${3%x*} m=${3#*x} test ok secs proto
    test=c${c}m$m
    timed "$name" "$test" run_h2load "$c" "$m" "$H2_N" "$(url "$name")"
    ok=$(h2load_field ok)
    secs=$(h2load_field seconds)
    proto=$(h2load_field proto)
    [ "$proto" = h2 ] || [ "$proto" = h2c ] || log "WARN $name $test: h2load spoke '${proto:-nothing}'"
    [ "${ok:-0}" = "$H2_N" ] || log "WARN $name $test: ${ok:-0} of $H2_N requests got a 2xx ($(grep -m1 '^requests:' "$H2_OUT"))"
    emit "$r" "$name" "$test" errors "$((H2_N - ${ok:-0}))"
    emit "$r" "$name" "$test" h2 "$([ "$proto" = h2 ] || [ "$proto" = h2c ] && echo 1 || echo 0)"
    emit "$r" "$name" "$test" load_util "$T_LOAD"
    emit "$r" "$name" "$test" foreign_cores "$T_FOREIGN"
    emit "$r" "$name" "$test" tries "$T_TRIES"
    [ "${ok:-0}" -gt 0 ] && [ -n "$secs" ] || return 0
    emit "$r" "$name" "$test" rps "$(calc "$ok / $secs")"
    emit "$r" "$name" "$test" cpu_per_100k "$(calc "$T_CPU * 100000 / $ok")"
    emit "$r" "$name" "$test" cpu_util "$(calc "$T_CPU / $secs")"
}

measure_h2() { # ROUND PROXY TRANSPORT: a fresh proxy, every test
    local r=$1 name=$2-$3 shape
    start_kind "$name" "$2" "${CONFS[$name]}"
    sleep 1
    measure_rest "$r" "$name"
    h2_sanity "$r" "$name"
    # idle first, as in bench/run.sh: memory freed after the load runs would hide the growth
    measure_idle "$r" "$name" "$TMP/tls_client" idle "127.0.0.1:${PORT[$name]}" "$IDLE_N" "${3/tls/h2}"
    run_h2load 50 10 "$WARMUP_N" "$(url "$name")"
    for shape in $SHAPES; do measure_shape "$r" "$name" "$shape"; done
    measure_end "$r" "$name"
    stop_proxy "$name"
}

# ---------------------------------------------------------------- metadata, rounds, report
meta_machine
meta lifeguard "$("$BUILD/lifeguard" -V 2>&1 | head -1) ($(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo 'no commit'))"
meta nginx "$(nginx -v 2>&1 | sed 's/^nginx version: //')"
meta haproxy "$(haproxy -v 2>&1 | head -1 | sed 's/ - https.*//')"
meta caddy "$(caddy version 2>&1 | head -1)"
meta h2load "$(h2load --version 2>&1 | head -1)"
meta openssl "$(openssl version)"
meta proxies "$PROXIES"
meta shapes "$SHAPES"
meta transports "$TRANSPORTS"
meta idle_n "$IDLE_N"
meta settle "$SETTLE"
meta knobs "ROUNDS=$ROUNDS H2_N=$H2_N SHAPES='$SHAPES' WARMUP_N=$WARMUP_N H2_TIMEOUT=$H2_TIMEOUT IDLE_N=$IDLE_N SETTLE=$SETTLE TRANSPORTS='$TRANSPORTS'"
log "results in $RES; proxies on CPU $PROXY_CPU, origin and h2load on CPU $LOAD_CPU; origin :$ORIGIN_PORT"
for ((round = 1; round <= ROUNDS; round++)); do
    for p in $PROXIES; do
        for t in $TRANSPORTS; do
            log "round $round: $p $t"
            wait_quiet
            measure_h2 "$round" "$p" "$t"
        done
    done
done
meta rounds "$ROUNDS"
meta loadavg_end "$(cut -d' ' -f1-3 /proc/loadavg)"
meta duration_s "$((SECONDS - T0))"
ln -sfn "$STAMP" "$ROOT/bench/results/latest-h2"
python3 "$HERE/h2_report.py" "$RES"
log "done in $((SECONDS - T0)) s"
