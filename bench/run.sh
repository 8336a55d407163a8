#!/usr/bin/env bash
# bench/run.sh - lifeguard next to nginx and HAProxy, one worker each, same origin, same load.
#
#   bench/run.sh [BUILD_DIR]          (make bench: BUILD_DIR is the Makefile's $(BUILD))
#
# Uses BUILD_DIR/lifeguard and BUILD_DIR/lg-origin as they are (it builds nothing but the two small
# clients bench/idle_conns.c and bench/bulk_get.c, with cc), the system's nginx, haproxy, wrk,
# perf (or strace) and gnuplot. Writes the raw results to bench/results/STAMP/ (raw.csv, meta.txt,
# the exact configs, logs, perf profiles), then docs/benchmarks.md and docs/bench-*.png through
# bench/report.py (which can be rerun alone: bench/report.py bench/results/STAMP).
#
# Placement: every proxy runs pinned to CPU $PROXY_CPU (0); the origin and every load generator
# (wrk, bulk_get, idle_conns) share CPU $LOAD_CPU (1). The three proxies take turns, one at a
# time, in rounds (lifeguard nginx haproxy, lifeguard nginx haproxy, ...), each round with a fresh
# proxy process; the origin stays up throughout. All traffic is on 127.0.0.1 with ports picked
# free at start. Every process started here is stopped by its PID on exit; temporary files live
# in one mktemp directory that is removed on exit.
#
# Knobs (environment): ROUNDS (default 5; at least 3 are run, later rounds are skipped when the
# time budget would be exceeded), BUDGET (seconds for the rounds, default 450), WARMUP_SECS (3:
# HAProxy needs ~3 s after start before its latency settles), KA_SECS, CLOSE_SECS, BODY_SECS,
# SYS_SECS (seconds of the measured runs and of the syscall-counting runs), CONNS (wrk
# connections, 50), IDLE_N (10000), IDLE_RATE (new connections/s, 5000), IDLE_INFLIGHT (64
# requests at most waiting at once), SETTLE (s, 3), PROFILE (1: perf record each proxy's worker
# during a keep-alive run after the rounds, skipped after PROFILE_BEFORE=480 s), PROXIES (default
# "lifeguard nginx haproxy"), POLICY (1: after lifeguard, each round measures keep-alive requests
# again on a route with five header rules and a rate limit: conf/lifeguard-policy.yaml.in), FOREIGN_MAX, RETRIES, QUIET_WAIT, HARD_BUDGET (see bench/lib.sh,
# which holds the measuring parts this script shares with bench/ab.sh).
set -euo pipefail

BUILD=${1:-build}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
[ -x "$BUILD/lifeguard" ] || { echo "bench: $BUILD/lifeguard not found (build first)" >&2; exit 1; }
[ -x "$BUILD/lg-origin" ] || { echo "bench: $BUILD/lg-origin not found (build first)" >&2; exit 1; }
BUILD=$(cd "$BUILD" && pwd)

ROUNDS=${ROUNDS:-5}
MIN_ROUNDS=${MIN_ROUNDS:-3}
BUDGET=${BUDGET:-450}
PROFILE=${PROFILE:-1}
POLICY=${POLICY:-1}
PROXIES=${PROXIES:-"lifeguard nginx haproxy"}
# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"

peers=()
for p in $PROXIES; do [ "$p" = lifeguard ] || peers+=("$p"); done
bench_check_tools "${peers[@]}"
STAMP=$(date +%Y%m%d-%H%M%S)
bench_init "$ROOT/bench/results/$STAMP" "$BUILD/lg-origin"

# ---------------------------------------------------------------- the three proxies
for p in lifeguard nginx haproxy lifeguard-policy; do PORT[$p]=$(free_port); mkdir -p "$TMP/$p"; done
render "$HERE/conf/lifeguard.yaml.in" "$TMP/lifeguard/lifeguard.yaml" lifeguard
render "$HERE/conf/lifeguard-policy.yaml.in" "$TMP/lifeguard-policy/lifeguard.yaml" lifeguard-policy
cp "$TMP/lifeguard-policy/lifeguard.yaml" "$RES/conf/lifeguard-policy.yaml"
"$BUILD/lifeguard" -t -c "$TMP/lifeguard-policy/lifeguard.yaml" >/dev/null
render "$HERE/conf/nginx.conf.in" "$TMP/nginx/nginx.conf" nginx
render "$HERE/conf/haproxy.cfg.in" "$TMP/haproxy/haproxy.cfg" haproxy
cp "$TMP/lifeguard/lifeguard.yaml" "$TMP/nginx/nginx.conf" "$TMP/haproxy/haproxy.cfg" "$RES/conf/"
"$BUILD/lifeguard" -t -c "$TMP/lifeguard/lifeguard.yaml" >/dev/null
case " $PROXIES " in *" nginx "*)
    nginx -t -q -p "$TMP/nginx/" -e "$TMP/nginx/startup-error.log" -c "$TMP/nginx/nginx.conf" ;; esac
case " $PROXIES " in *" haproxy "*) haproxy -c -q -f "$TMP/haproxy/haproxy.cfg" ;; esac

declare -A CONF=([lifeguard]=lifeguard.yaml [nginx]=nginx.conf [haproxy]=haproxy.cfg
    [lifeguard-policy]=lifeguard.yaml)
start_named() { start_kind "$1" "${1%-policy}" "$TMP/$1/${CONF[$1]}"; } # NAME: one of the above, one worker

measure_proxy() { # ROUND NAME
    local r=$1 name=$2 test
    start_named "$name"
    sleep 1
    measure_rest "$r" "$name"
    sanity "$r" "$name"
    measure_idle "$r" "$name"
    for test in ka close; do measure_requests "$r" "$name" "$test"; done
    measure_body "$r" "$name"
    measure_end "$r" "$name"
    stop_proxy "$name"
}

# lifeguard again, its route with five header rules and a rate limit: keep-alive requests only,
# for the cost of the policy next to the bare route (same round, same load)
measure_policy() { # ROUND
    local r=$1 name=lifeguard-policy ok=1 port
    start_named "$name"
    port=${PORT[$name]}
    sleep 1
    curl -s -m 5 -D - -o /dev/null "http://127.0.0.1:$port/" | grep -qi '^strict-transport-security: max-age' ||
        { log "SANITY $name: no Strict-Transport-Security in the response"; ok=0; }
    curl -s -m 5 "http://127.0.0.1:$port/echo" | grep -qi '^header X-Env: prod' ||
        { log "SANITY $name: no X-Env at the origin"; ok=0; }
    emit "$r" "$name" sanity ok "$ok"
    measure_requests "$r" "$name" ka
    stop_proxy "$name"
}

measure_direct() { # ROUND: the origin alone, for the ceiling the load side can reach
    local r=$1 url="http://127.0.0.1:$ORIGIN_PORT/" secs test extra=()
    PIDS[direct]=""
    for test in ka close; do
        if [ $test = ka ]; then extra=(); else extra=(-H 'Connection: close'); fi
        if [ $test = ka ]; then secs=$KA_SECS; else secs=$CLOSE_SECS; fi
        timed direct $test run_wrk "$secs" "$url" "${extra[@]}"
        secs=$(calc "$(wrk_field duration_us) / 1e6")
        emit "$r" direct $test rps "$(calc "$(wrk_field requests) / $secs")"
        emit "$r" direct $test p50_ms "$(calc "$(wrk_field p50_us) / 1000")"
        emit "$r" direct $test p99_ms "$(calc "$(wrk_field p99_us) / 1000")"
        emit "$r" direct $test load_util "$T_LOAD"
        emit "$r" direct $test foreign_cores "$T_FOREIGN"
    done
    timed direct body run_bulk "$BODY_SECS" "$ORIGIN_PORT"
    emit "$r" direct body mbps "$(calc "$(bulk_field bytes) / $(bulk_field seconds) / 1e6")"
    emit "$r" direct body load_util "$T_LOAD"
    emit "$r" direct body foreign_cores "$T_FOREIGN"
}

# ---------------------------------------------------------------- metadata
meta_machine
meta_http1
meta lifeguard "$("$BUILD/lifeguard" -V 2>&1 | head -1) ($(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$BUILD/CMakeCache.txt" 2>/dev/null))"
meta lifeguard_git "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo 'no commit')$(GIT_OPTIONAL_LOCKS=0 git -C "$ROOT" status --porcelain -- src 2>/dev/null | grep -q . && echo ' + uncommitted changes in src/')"
meta nginx "$(nginx -v 2>&1 | sed 's/^nginx version: //')"
meta haproxy "$(haproxy -v 2>&1 | head -1 | sed 's/ - https.*//')"
meta proxies "$PROXIES"

log "results in $RES; proxies on CPU $PROXY_CPU, origin and load on CPU $LOAD_CPU; origin :$ORIGIN_PORT"
log "syscall counting: $SYSCOUNT; RLIMIT_NOFILE $NOFILE"

# ---------------------------------------------------------------- rounds
done_rounds=0
for ((round = 1; round <= ROUNDS; round++)); do
    if [ "$round" -gt "$MIN_ROUNDS" ] && [ $((SECONDS - T0 + (SECONDS - T0) / done_rounds)) -gt "$BUDGET" ]; then
        log "time budget: stopping after $done_rounds rounds"
        break
    fi
    for p in $PROXIES; do
        log "round $round: $p"
        wait_quiet
        measure_proxy "$round" "$p"
        if [ "$p" = lifeguard ] && [ "$POLICY" = 1 ]; then
            log "round $round: lifeguard, route with header rules and a rate limit"
            wait_quiet
            measure_policy "$round"
        fi
    done
    log "round $round: direct (no proxy)"
    measure_direct "$round"
    done_rounds=$round
done
meta rounds "$done_rounds"

# ---------------------------------------------------------------- profiles (not measured)
if [ "$PROFILE" = 1 ] && [ "$SYSCOUNT" = perf ] && [ $((SECONDS - T0)) -lt "${PROFILE_BEFORE:-480}" ]; then
    for p in $PROXIES; do
        log "profile: $p (perf record of the worker during a keep-alive run)"
        start_named "$p"
        w=${WORKER[$p]}
        run_wrk "$WARMUP_SECS" "http://127.0.0.1:${PORT[$p]}/"
        taskset -c $LOAD_CPU wrk -t1 -c"$CONNS" -d5s "http://127.0.0.1:${PORT[$p]}/" >/dev/null 2>&1 &
        wpid=$!
        STARTED+=("$wpid")
        sleep 0.5
        perf record -q -F 1999 -p "$w" -o "$TMP/perf-$p.data" -- sleep 3 >/dev/null 2>&1 || true
        wait "$wpid" || true
        perf report -i "$TMP/perf-$p.data" --stdio --no-children --sort dso,sym --percent-limit 0.3 \
            2>/dev/null | grep -v '^#' | grep -v '^$' >"$RES/perf-$p.txt" || true
        perf report -i "$TMP/perf-$p.data" --stdio --no-children --sort dso \
            2>/dev/null | grep -v '^#' | grep -v '^$' >"$RES/perf-$p-dso.txt" || true
        stop_proxy "$p"
    done
fi
meta loadavg_end "$(cut -d' ' -f1-3 /proc/loadavg)"
meta duration_s "$((SECONDS - T0))"

ln -sfn "$STAMP" "$ROOT/bench/results/latest"
log "writing docs/benchmarks.md and docs/bench-*.png"
python3 "$HERE/report.py" "$RES"
log "done in $((SECONDS - T0)) s"
