#!/usr/bin/env bash
# bench/ab.sh - two lifeguard binaries side by side, in one run, interleaved: is B slower than A?
#
#   bench/ab.sh BIN_A BIN_B [ROUNDS]     (make bench-ab A=BIN_A [B=BIN_B] [ROUNDS=N])
#
# Same tests, config (bench/conf/lifeguard.yaml.in), load and placement as bench/run.sh, through
# the same functions (bench/lib.sh), without nginx and HAProxy. Every round starts both binaries
# afresh (each with its own port, nothing else differs) and runs each test on both, one right
# after the other: A then B in odd rounds, B then A in even ones (A B B A A B ...), so that drift
# and the slot within a pair weigh on both alike; use an even number of rounds. The origin is
# lg-origin next to BIN_B (else next to BIN_A; ORIGIN=path overrides).
#
# Writes bench/results/ab-STAMP/ (raw.csv with proxy A and B, meta.txt, conf/, logs/) and
# prints the table of bench/ab_report.py (also kept as ab.md there): per metric the median of A
# and of B with min–max, B/A of the medians, and B/A paired round by round. Touches no docs.
#
# Knobs (environment): ROUNDS (10), MIN_ROUNDS (2; later pairs of rounds are skipped when
# BUDGET=1500 s would be exceeded), TESTS ("idle ka close body"), and every knob of bench/lib.sh (KA_SECS,
# CONNS, IDLE_N, FOREIGN_MAX, RETRIES, ...; HARD_BUDGET defaults to BUDGET here).
set -euo pipefail

usage() { echo "usage: $0 BIN_A BIN_B [ROUNDS]   (two lifeguard binaries)" >&2; exit 2; }
[ $# -ge 2 ] || usage
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
declare -A BIN
for s in A B; do
    if [ $s = A ]; then b=$1; else b=$2; fi
    if [ ! -f "$b" ] || [ ! -x "$b" ]; then echo "bench: $b is not an executable file" >&2; usage; fi
    BIN[$s]=$(cd "$(dirname "$b")" && pwd)/$(basename "$b")
done
ROUNDS=${3:-${ROUNDS:-10}}
MIN_ROUNDS=${MIN_ROUNDS:-2}
BUDGET=${BUDGET:-1500}
HARD_BUDGET=${HARD_BUDGET:-$BUDGET}
TESTS=${TESTS:-"idle ka close body"}
ORIGIN=${ORIGIN:-$(dirname "${BIN[B]}")/lg-origin}
[ -x "$ORIGIN" ] || ORIGIN=$(dirname "${BIN[A]}")/lg-origin
[ -x "$ORIGIN" ] || { echo "bench: no lg-origin next to $1 or $2 (set ORIGIN=path)" >&2; exit 1; }
for t in $TESTS; do
    case $t in idle | ka | close | body) ;; *) echo "bench: unknown test '$t' in TESTS" >&2; exit 2 ;; esac
done
# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"

bench_check_tools wrk
STAMP=ab-$(date +%Y%m%d-%H%M%S)
bench_init "$ROOT/bench/results/$STAMP" "$ORIGIN"

for s in A B; do
    PORT[$s]=$(free_port)
    PIDS[$s]=""
    mkdir -p "$TMP/$s"
    render "$HERE/conf/lifeguard.yaml.in" "$TMP/$s/lifeguard.yaml" $s
    "${BIN[$s]}" -t -c "$TMP/$s/lifeguard.yaml" >/dev/null
done
cp "$TMP/A/lifeguard.yaml" "$RES/conf/" # B's differs only in its port

meta_machine
meta_http1
for s in A B; do
    meta "bin_$s" "${BIN[$s]}"
    meta "version_$s" "$("${BIN[$s]}" -V 2>&1 | head -1)"
    meta "sha256_$s" "$(sha256sum "${BIN[$s]}" | cut -c1-16)"
done
meta origin "$ORIGIN"
meta tests "$TESTS"
log "A = ${BIN[A]}"
log "B = ${BIN[B]}"
log "results in $RES; lifeguard on CPU $PROXY_CPU, origin and load on CPU $LOAD_CPU; syscall counting: $SYSCOUNT"

measure() { # ROUND NAME TEST
    case $3 in
    idle) measure_idle "$1" "$2" ;;
    ka | close) measure_requests "$1" "$2" "$3" ;;
    body) measure_body "$1" "$2" ;;
    esac
}

done_rounds=0
for ((round = 1; round <= ROUNDS; round++)); do
    # rounds come in pairs (A B, then B A): stop before a pair that would not fit in the budget
    if [ "$round" -gt "$MIN_ROUNDS" ] && [ $((round % 2)) = 1 ] &&
        [ $((SECONDS - T0 + 2 * (SECONDS - T0) / done_rounds)) -gt "$BUDGET" ]; then
        log "time budget: stopping after $done_rounds rounds"
        break
    fi
    if [ $((round % 2)) = 1 ]; then order="A B"; else order="B A"; fi
    log "round $round: $order"
    for s in $order; do start_proxy "$s" 2 "${BIN[$s]}" -c "$TMP/$s/lifeguard.yaml"; done
    sleep 1
    for s in $order; do measure_rest $round "$s"; done
    for s in $order; do sanity $round "$s"; done
    for t in $TESTS; do
        wait_quiet
        for s in $order; do measure $round "$s" "$t"; done
    done
    for s in $order; do
        measure_end $round "$s"
        stop_proxy "$s"
    done
    done_rounds=$round
done
meta rounds "$done_rounds"
meta loadavg_end "$(cut -d' ' -f1-3 /proc/loadavg)"
meta duration_s "$((SECONDS - T0))"

ln -sfn "$STAMP" "$ROOT/bench/results/ab-latest"
log "done in $((SECONDS - T0)) s"
python3 "$HERE/ab_report.py" "$RES" | tee "$RES/ab.md"
