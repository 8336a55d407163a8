# shellcheck shell=bash
# bench/lib.sh - the measuring parts shared by bench/run.sh (lifeguard next to nginx and HAProxy)
# and bench/ab.sh (two lifeguard binaries side by side). Sourced, not run: the caller sets HERE
# (this directory) and, before calling bench_init, may override any knob below from the
# environment. bench_init RESULT_DIR ORIGIN_BINARY then creates the temporary directory (removed
# on exit, with every background process started here stopped by its PID), raw.csv, the clients
# and the origin.
#
# Each test is one function, ROUND NAME, that measures the proxy started by start_proxy NAME and
# appends its figures to raw.csv (round,proxy,test,metric,value): measure_rest, sanity,
# measure_idle, measure_requests (ka or close), measure_body, measure_end.
#
# Placement: proxies pinned to CPU $PROXY_CPU (0); the origin and every load generator (wrk,
# bulk_get, idle_conns) share CPU $LOAD_CPU (1). All traffic is on 127.0.0.1.

KA_SECS=${KA_SECS:-4}
WARMUP_SECS=${WARMUP_SECS:-3}
CLOSE_SECS=${CLOSE_SECS:-3}
BODY_SECS=${BODY_SECS:-3}
SYS_SECS=${SYS_SECS:-2}
CONNS=${CONNS:-50}
IDLE_N=${IDLE_N:-10000}
IDLE_RATE=${IDLE_RATE:-5000}
IDLE_INFLIGHT=${IDLE_INFLIGHT:-64}
SETTLE=${SETTLE:-3}
PROXY_CPU=0
LOAD_CPU=1
BODY_PATH=/size/67108864
# The machine may be shared (builds and tests of other people run on the same two cores). Every
# timed run measures the CPU time (utime+stime) used meanwhile by the processes that are not ours
# and still exist at its end (kernel threads excluded; children's cutime is not used, as it jumps
# by a whole job's time when a long job ends) and is run again, after waiting for a quiet
# machine, when that exceeds FOREIGN_MAX cores on average. Processes that both start and end
# within one run are not seen: this is a detector, not an exact account.
FOREIGN_MAX=${FOREIGN_MAX:-0.10}
RETRIES=${RETRIES:-2}
QUIET_WAIT=${QUIET_WAIT:-10}
HARD_BUDGET=${HARD_BUDGET:-400} # after this many seconds: no more retries or waiting

bench_check_tools() { # TOOL...: beyond those every bench needs
    local tool
    for tool in wrk taskset python3 cc curl ss "$@"; do
        command -v "$tool" >/dev/null || { echo "bench: $tool not found (scripts/deps.sh bench)" >&2; exit 1; }
    done
    [ "$(nproc)" -ge 2 ] || { echo "bench: needs at least 2 CPUs" >&2; exit 1; }
}

# ---------------------------------------------------------------- process bookkeeping and cleanup
# shellcheck source=bench/proc.sh
. "$HERE/proc.sh"

log() { printf '[bench %4ds] %s\n' $((SECONDS - T0)) "$*" | tee -a "$RES/run.log" >&2; }
emit() { echo "$1,$2,$3,$4,$5" >>"$CSV"; } # round proxy test metric value
calc() { awk "BEGIN { printf \"%.6g\", $* }"; }
meta() { echo "$1=$2" >>"$RES/meta.txt"; }

bench_init() { # RESULT_DIR ORIGIN_BINARY
    RES=$1
    TMP=$(mktemp -d "${TMPDIR:-/tmp}/lg-bench.XXXXXX")
    trap cleanup EXIT
    trap 'exit 130' INT TERM
    mkdir -p "$RES/conf" "$RES/logs"
    CSV="$RES/raw.csv"
    echo "round,proxy,test,metric,value" >"$CSV"
    : >"$RES/meta.txt"
    T0=$SECONDS
    WRK_OUT=$TMP/wrk.out
    BULK_OUT=$TMP/bulk.out

    ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
    NOFILE=$(ulimit -n)
    [ "$NOFILE" -ge $((IDLE_N + 200)) ] || {
        echo "bench: RLIMIT_NOFILE $NOFILE is too small for $IDLE_N idle connections" >&2; exit 1; }

    cc -O2 -Wall -Wextra -o "$TMP/idle_conns" "$HERE/idle_conns.c"
    cc -O2 -Wall -Wextra -o "$TMP/bulk_get" "$HERE/bulk_get.c"
    syscount_init
    start_origin "$2"
}

syscount_init() { # SYSCOUNT: perf (tracepoints), strace (-c) or none; PERF_EVENTS
    local tracepoints ev
    SYSCOUNT=none
    if command -v perf >/dev/null && perf stat -e raw_syscalls:sys_enter -- true >/dev/null 2>&1; then
        SYSCOUNT=perf
    elif command -v strace >/dev/null; then
        SYSCOUNT=strace
    fi
    CLK_TCK=$(getconf CLK_TCK)
    PERF_EVENTS=raw_syscalls:sys_enter
    if [ "$SYSCOUNT" = perf ]; then
        tracepoints=$(perf list tracepoint 2>/dev/null || true)
        for ev in epoll_wait epoll_pwait; do # also count epoll waits, where the kernel has them
            if grep -q "syscalls:sys_enter_$ev " <<<"$tracepoints"; then
                PERF_EVENTS="$PERF_EVENTS,syscalls:sys_enter_$ev"
            fi
        done
    fi
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

meta_machine() { # what the figures depend on, whichever proxies are measured
    meta date "$(date -u '+%Y-%m-%d %H:%M UTC')"
    meta cpu "$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
    meta cores "$(nproc)"
    meta kernel "$(uname -sr)"
    meta memory "$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
    meta os "$(. /etc/os-release && echo "$PRETTY_NAME")"
    meta virt "$(lscpu | awk -F': +' '/Hypervisor vendor/ { v = $2 } END { print (v ? v " guest" : "none") }'), container: $(systemd-detect-virt -c 2>/dev/null || echo none)"
    meta perf "$(perf --version 2>/dev/null || echo none)"
    meta syscount "$SYSCOUNT"
    meta proxy_cpu "$PROXY_CPU"
    meta load_cpu "$LOAD_CPU"
    meta foreign_max "$FOREIGN_MAX"
    meta retries "$RETRIES"
    meta nofile "$NOFILE"
    meta nice "$(nice)"
    meta loadavg_start "$(cut -d' ' -f1-3 /proc/loadavg)"
}
meta_http1() { # the knobs of the HTTP/1.1 tests (bench/run.sh, bench/ab.sh)
    meta wrk "$(wrk -v 2>&1 | head -1 | awk '{ print $2 }')"
    meta conns "$CONNS"
    meta ka_secs "$KA_SECS"
    meta warmup_secs "$WARMUP_SECS"
    meta close_secs "$CLOSE_SECS"
    meta body_secs "$BODY_SECS"
    meta sys_secs "$SYS_SECS"
    meta idle_n "$IDLE_N"
    meta idle_rate "$IDLE_RATE"
    meta idle_inflight "$IDLE_INFLIGHT"
    meta settle "$SETTLE"
}

# ---------------------------------------------------------------- /proc sampling
proc_tree() { # ROOT_PID -> ROOT_PID and all its descendants, space separated
    ps -e -o pid=,ppid= | awk -v root="$1" '
        { kids[$2] = kids[$2] " " $1 }
        END { q[1] = root; n = 1; out = "";
              for (i = 1; i <= n; i++) { out = out " " q[i]; m = split(kids[q[i]], k, " ");
                                         for (j = 1; j <= m; j++) q[++n] = k[j] }
              print substr(out, 2) }'
}
cpu_ticks() { # PIDS... -> utime+stime+cutime+cstime (fields 14-17 of /proc/PID/stat), summed
    local p t=0 v
    for p in "$@"; do
        v=$(awk '{ sub(/^.*\) /, ""); print $12 + $13 + $14 + $15 }' "/proc/$p/stat" 2>/dev/null) || v=0
        t=$((t + ${v:-0}))
    done
    echo "$t"
}
mem_kib() { # FIELD PIDS... -> sum of FIELD (VmRSS from status, Pss from smaps_rollup) in KiB
    local f=$1 p s=0 v file
    shift
    for p in "$@"; do
        if [ "$f" = Pss ]; then file=/proc/$p/smaps_rollup; else file=/proc/$p/status; fi
        v=$(awk -v f="$f:" '$1 == f { print $2 }' "$file" 2>/dev/null) || v=0
        s=$((s + ${v:-0}))
    done
    echo "$s"
}

# syscall counting around a command: sys_count PIDS_CSV OUTFILE CMD... ; prints the count
sys_count() {
    local pids=$1 out=$2 pid p args=()
    shift 2
    case $SYSCOUNT in
    perf)
        perf stat -x, -e "$PERF_EVENTS" -p "$pids" -o "$out" &
        pid=$!
        ;;
    strace)
        for p in ${pids//,/ }; do args+=(-p "$p"); done
        strace -f -c -o "$out" "${args[@]}" 2>/dev/null &
        pid=$!
        ;;
    none) "$@"; echo nan; return ;;
    esac
    sleep 0.3
    "$@"
    kill -INT "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    case $SYSCOUNT in
    perf)
        awk -F, '/syscalls:sys_enter_epoll_p?wait/ { n += $1 } END { print n + 0 }' "$out" >"$out.epoll"
        awk -F, '/raw_syscalls:sys_enter/ { print ($1 ~ /^[0-9]+$/) ? $1 : "nan" }' "$out"
        ;;
    strace)
        awk '$NF ~ /^epoll_p?wait$/ { n += $(NF - 2) } END { print n + 0 }' "$out" >"$out.epoll"
        awk '$NF == "total" { print $(NF - 2) }' "$out"
        ;;
    esac
}

# ---------------------------------------------------------------- load generators (CPU $LOAD_CPU)
run_wrk() { # SECONDS URL [extra wrk args...] -> leaves RESULT line in $WRK_OUT
    local secs=$1 url=$2
    shift 2
    taskset -c $LOAD_CPU wrk -t1 -c"$CONNS" -d"${secs}s" --latency -s "$HERE/wrk_report.lua" "$@" \
        "$url" >"$WRK_OUT" 2>&1 || true
    cat "$WRK_OUT" >>"$RES/logs/wrk.log"
}
wrk_field() { sed -n "s/^RESULT.* $1=\([0-9]*\).*/\1/p" "$WRK_OUT"; }
run_bulk() { # SECONDS PORT
    taskset -c $LOAD_CPU "$TMP/bulk_get" "127.0.0.1:$2" "$BODY_PATH" "$1" >"$BULK_OUT" 2>&1 || true
    cat "$BULK_OUT" >>"$RES/logs/bulk.log"
}
bulk_field() { sed -n "s/.*\b$1=\([0-9.]*\).*/\1/p" "$BULK_OUT"; }

# ---------------------------------------------------------------- origin
start_origin() { # LG_ORIGIN_BINARY: sets ORIGIN_PORT and WANT_BODY_MD5
    taskset -c $LOAD_CPU "$1" --listen 127.0.0.1:0 --name origin --quiet \
        >"$TMP/origin.out" 2>"$TMP/origin.err" &
    STARTED+=($!)
    for _ in $(seq 50); do grep -q '^listening' "$TMP/origin.out" && break; sleep 0.1; done
    ORIGIN_PORT=$(sed -n 's/^listening 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$TMP/origin.out")
    [ -n "$ORIGIN_PORT" ] || { echo "bench: lg-origin did not start" >&2; cat "$TMP/origin.err" >&2; exit 1; }
    WANT_BODY_MD5=$(curl -s "http://127.0.0.1:$ORIGIN_PORT/size/1000000" | md5sum | cut -d' ' -f1)
}

# ---------------------------------------------------------------- proxies, by name
declare -A PORT   # NAME -> the port it listens on (set by the caller)
declare -A MASTER # NAME -> the process we started
declare -A PIDS   # NAME -> it and its descendants, space separated ("" when not running)
declare -A WORKER # NAME -> the worker serving traffic, as started

CERT_DIR="" # where bench/cert.sh made the certificate of the TLS templates (callers that use them)
render() { # TEMPLATE OUT NAME: a config template for NAME's port, the origin and $TMP/NAME
    sed -e "s/@PORT@/${PORT[$3]}/g" -e "s/@ORIGIN_PORT@/$ORIGIN_PORT/g" -e "s/@NOFILE@/$NOFILE/g" \
        -e "s#@DIR@#$TMP/$3#g" -e "s#@CERT@#$CERT_DIR/ecdsa.pem#g" -e "s#@KEY@#$CERT_DIR/ecdsa.key#g" \
        -e "s#@PEM@#$CERT_DIR/ecdsa-haproxy.pem#g" "$1" >"$2"
}

start_proxy() { # NAME NPROCS CMD...: run CMD on CPU $PROXY_CPU, wait for NPROCS processes and the port
    local name=$1 nprocs=$2 i n pid
    shift 2
    taskset -c $PROXY_CPU "$@" 2>>"$RES/logs/$name.err" &
    pid=$!
    STARTED+=("$pid")
    MASTER[$name]=$pid
    for i in $(seq 100); do
        n=$(proc_tree "$pid" | wc -w)
        if [ "$n" -ge "$nprocs" ] && [ -n "$(ss -Htln "sport = :${PORT[$name]}")" ]; then
            PIDS[$name]=$(proc_tree "$pid")
            WORKER[$name]=$(worker_pid "$name")
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    echo "bench: $name did not start; see $RES/logs/$name.err" >&2
    exit 1
}

start_kind() { # NAME KIND CONF: start_proxy NAME for KIND (lifeguard nginx haproxy caddy) with CONF
    local dir
    dir=$(dirname "$3")
    case $2 in
    lifeguard) start_proxy "$1" 2 "$BUILD/lifeguard" -c "$3" ;;
    nginx) start_proxy "$1" 2 nginx -p "$dir/" -e "$dir/startup-error.log" -c "$3" ;;
    haproxy) start_proxy "$1" 1 haproxy -db -f "$3" ;;
    caddy) start_proxy "$1" 1 env XDG_DATA_HOME="$dir" XDG_CONFIG_HOME="$dir" GOMAXPROCS=1 \
        caddy run --config "$3" --adapter caddyfile ;;
    esac
}

stop_proxy() { # NAME
    local p
    stop_pid "${MASTER[$1]}" TERM
    # a worker that outlived its master would spoil the next measurement
    for p in ${PIDS[$1]}; do kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null; done
    PIDS[$1]=""
}

worker_pid() { # NAME: the process that serves traffic: the (single) child, or the process itself
    local kids
    kids=$(echo "${PIDS[$1]}" | cut -s -d' ' -f2-)
    if [ -n "$kids" ]; then echo "${kids%% *}"; else echo "${MASTER[$1]}"; fi
}

# ---------------------------------------------------------------- other activity on the machine
foreign_snap() { # FILE: "pid ticks comm" of every process that is neither ours nor a kernel thread
    local ours
    ours=" $(proc_tree $$) "
    { cat /proc/[0-9]*/stat 2>/dev/null || true; } | awk -v ours="$ours" '{
        pid = $1; c = $0; sub(/^[^(]*\(/, "", c); sub(/\) .*$/, "", c); gsub(/ /, "_", c)
        sub(/^.*\) /, ""); if (pid == 2 || $2 == 2 || index(ours, " " pid " ")) next
        print pid, $12 + $13, c }' >"$1"
}
foreign_delta() { # BEFORE AFTER -> ticks used by others in between; the top users go to foreign.top
    : >"$TMP/foreign.top"
    awk -v top="$TMP/foreign.top" 'NR == FNR { b[$1] = $2; next }
        { d = $2 - (($1 in b) ? b[$1] : 0); if (d > 0) { s += d; print d, $3 > top } }
        END { print s + 0 }' "$1" "$2"
}
foreign_top() { sort -rn "$TMP/foreign.top" | head -3 | awk '{ printf "%s %.2fs ", $2, $1 / '"$CLK_TCK"' }'; }
core_ticks() { awk -v c="cpu${1:-$PROXY_CPU}" '$1 == c { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
wait_quiet() { # wait (at most QUIET_WAIT s) for a 1 s window where others use < FOREIGN_MAX cores
    local t=$SECONDS f
    [ $((SECONDS - T0)) -lt "$HARD_BUDGET" ] || return 0
    while [ $((SECONDS - t)) -lt "$QUIET_WAIT" ]; do
        foreign_snap "$TMP/q0"
        sleep 1
        foreign_snap "$TMP/q1"
        f=$(foreign_delta "$TMP/q0" "$TMP/q1")
        awk -v f="$f" -v hz="$CLK_TCK" -v m="$FOREIGN_MAX" 'BEGIN { exit !(f / hz < m) }' && return 0
    done
    log "machine still busy after waiting ${QUIET_WAIT}s: $(foreign_top)"
}

# timed NAME TEST CMD...: run CMD (a load run) with CPU sampling of NAME's processes; again when
# others disturbed it. Sets T_CPU (proxy CPU s), T_CORE (CPU $PROXY_CPU busy s, softirq
# included), T_LOAD (CPU $LOAD_CPU busy, in cores), T_FOREIGN (cores used by other processes),
# T_TRIES.
timed() {
    local name=$1 test=$2 t0 t1 c0 c1 k0 k1 l0 l1 f
    shift 2
    T_TRIES=0
    while :; do
        T_TRIES=$((T_TRIES + 1))
        foreign_snap "$TMP/f0"
        c0=$(cpu_ticks ${PIDS[$name]})
        k0=$(core_ticks)
        l0=$(core_ticks $LOAD_CPU)
        t0=$(date +%s.%N)
        "$@"
        t1=$(date +%s.%N)
        l1=$(core_ticks $LOAD_CPU)
        k1=$(core_ticks)
        c1=$(cpu_ticks ${PIDS[$name]})
        foreign_snap "$TMP/f1"
        f=$(foreign_delta "$TMP/f0" "$TMP/f1")
        T_CPU=$(calc "($c1 - $c0) / $CLK_TCK")
        T_CORE=$(calc "($k1 - $k0) / $CLK_TCK")
        T_LOAD=$(calc "($l1 - $l0) / $CLK_TCK / ($t1 - $t0)")
        T_FOREIGN=$(calc "$f / $CLK_TCK / ($t1 - $t0)")
        if awk -v f="$T_FOREIGN" -v m="$FOREIGN_MAX" 'BEGIN { exit !(f > m) }'; then
            log "  $name $test disturbed: others used $T_FOREIGN cores ($(foreign_top))"
            if [ "$T_TRIES" -le "$RETRIES" ] && [ $((SECONDS - T0)) -lt "$HARD_BUDGET" ]; then
                wait_quiet
                continue
            fi
        fi
        return 0
    done
}

# ---------------------------------------------------------------- the tests: ROUND NAME each
measure_rest() { # memory at rest, 1 s after the start
    local r=$1 name=$2
    emit "$r" "$name" rest rss_kib "$(mem_kib VmRSS ${PIDS[$name]})"
    emit "$r" "$name" rest pss_kib "$(mem_kib Pss ${PIDS[$name]})"
    emit "$r" "$name" rest procs "$(echo "${PIDS[$name]}" | wc -w)"
}

sanity() { # correct bytes through the proxy
    local r=$1 name=$2 port=${PORT[$2]} ok=1 body
    body=$(curl -s -m 5 "http://127.0.0.1:$port/") || true
    [ "$body" = "origin" ] || { log "SANITY $name: GET / returned '${body:0:60}'"; ok=0; }
    [ "$(curl -s -m 10 "http://127.0.0.1:$port/size/1000000?chunked=1" | md5sum | cut -d' ' -f1)" = \
        "$WANT_BODY_MD5" ] || { log "SANITY $name: chunked 1 MB body differs"; ok=0; }
    "$TMP/bulk_get" "127.0.0.1:$port" "$BODY_PATH" 1 --verify >"$TMP/verify.out" 2>&1 ||
        { log "SANITY $name: 64 MiB body: $(tr '\n' ' ' <"$TMP/verify.out")"; ok=0; }
    body=$(curl -s -m 5 "http://127.0.0.1:$port/echo") || true
    grep -qi '^header X-Forwarded-For: 127.0.0.1' <<<"$body" ||
        { log "SANITY $name: no X-Forwarded-For at the origin"; ok=0; }
    emit "$r" "$name" sanity ok "$ok"
}

# RSS with IDLE_N idle connections minus RSS before; CLIENT (default: idle_conns, HTTP/1.1 keep-alive)
# opens them, prints "ready ok=N ..." and holds them until SIGTERM
measure_idle() { # ROUND NAME [CLIENT ARGS...]
    local r=$1 name=$2 idle_pid rss0 rss1 n
    shift 2
    [ $# -gt 0 ] || set -- "$TMP/idle_conns" "127.0.0.1:${PORT[$name]}" "$IDLE_N" "$IDLE_RATE" "$IDLE_INFLIGHT"
    sleep 1
    rss0=$(mem_kib VmRSS ${PIDS[$name]})
    taskset -c $LOAD_CPU "$@" >"$TMP/idle.out" 2>"$TMP/idle.err" &
    idle_pid=$!
    STARTED+=("$idle_pid")
    for _ in $(seq 900); do grep -q '^ready' "$TMP/idle.out" && break; sleep 0.1; done
    sleep "$SETTLE"
    rss1=$(mem_kib VmRSS ${PIDS[$name]})
    stop_pid "$idle_pid" TERM
    n=$(sed -n 's/^ready ok=\([0-9]*\).*/\1/p' "$TMP/idle.out")
    emit "$r" "$name" idle rss_before_kib "$rss0"
    emit "$r" "$name" idle rss_after_kib "$rss1"
    emit "$r" "$name" idle conns_ok "${n:-0}"
    emit "$r" "$name" idle closed_by_peer "$(sed -n 's/^done .*closed_by_peer=\([0-9]*\).*/\1/p' "$TMP/idle.out")"
    [ "${n:-0}" -gt 0 ] && emit "$r" "$name" idle bytes_per_conn "$(calc "($rss1 - $rss0) * 1024 / $n")"
    [ "${n:-0}" = "$IDLE_N" ] || log "WARN $name: only ${n:-0} of $IDLE_N idle connections got their response ($(head -c 300 "$TMP/idle.err"))"
    cat "$TMP/idle.out" "$TMP/idle.err" >>"$RES/logs/idle.log"
    sleep 1
}

measure_requests() { # ROUND NAME ka|close: wrk (ka after a warm-up), then a syscall-counting run
    local r=$1 name=$2 test=$3 url="http://127.0.0.1:${PORT[$2]}/" secs=$KA_SECS req n extra=()
    if [ "$test" = ka ]; then run_wrk "$WARMUP_SECS" "$url"; else extra=(-H 'Connection: close'); secs=$CLOSE_SECS; fi
    timed "$name" "$test" run_wrk "$secs" "$url" "${extra[@]}"
    req=$(wrk_field requests)
    secs=$(calc "$(wrk_field duration_us) / 1e6")
    emit "$r" "$name" "$test" rps "$(calc "$req / $secs")"
    emit "$r" "$name" "$test" p50_ms "$(calc "$(wrk_field p50_us) / 1000")"
    emit "$r" "$name" "$test" p99_ms "$(calc "$(wrk_field p99_us) / 1000")"
    emit "$r" "$name" "$test" errors "$(wrk_field errors)"
    emit "$r" "$name" "$test" cpu_per_100k "$(calc "$T_CPU * 100000 / $req")"
    emit "$r" "$name" "$test" core_per_100k "$(calc "$T_CORE * 100000 / $req")"
    emit "$r" "$name" "$test" cpu_util "$(calc "$T_CPU / $secs")"
    emit "$r" "$name" "$test" load_util "$T_LOAD"
    emit "$r" "$name" "$test" foreign_cores "$T_FOREIGN"
    emit "$r" "$name" "$test" tries "$T_TRIES"
    n=$(sys_count "${PIDS[$name]// /,}" "$TMP/sys.out" run_wrk "$SYS_SECS" "$url" "${extra[@]}")
    emit "$r" "$name" "$test" syscalls_per_req "$(calc "$n / $(wrk_field requests)")"
    emit "$r" "$name" "$test" epoll_per_req "$(calc "$(cat "$TMP/sys.out.epoll") / $(wrk_field requests)")"
}

measure_body() { # 64 MiB bodies, one connection, one request at a time
    local r=$1 name=$2 port=${PORT[$2]} n
    timed "$name" body run_bulk "$BODY_SECS" "$port"
    emit "$r" "$name" body mbps "$(calc "$(bulk_field bytes) / $(bulk_field seconds) / 1e6")"
    emit "$r" "$name" body cpu_per_gb "$(calc "$T_CPU / ($(bulk_field bytes) / 1e9)")"
    emit "$r" "$name" body core_per_gb "$(calc "$T_CORE / ($(bulk_field bytes) / 1e9)")"
    emit "$r" "$name" body cpu_util "$(calc "$T_CPU / $(bulk_field seconds)")"
    emit "$r" "$name" body errors "$(bulk_field errors)"
    emit "$r" "$name" body load_util "$T_LOAD"
    emit "$r" "$name" body foreign_cores "$T_FOREIGN"
    emit "$r" "$name" body tries "$T_TRIES"
    n=$(sys_count "${PIDS[$name]// /,}" "$TMP/sys.out" run_bulk "$SYS_SECS" "$port")
    emit "$r" "$name" body syscalls_per_mib "$(calc "$n / ($(bulk_field bytes) / 1048576)")"
}

measure_end() { # memory after the tests; a worker that changed PID has crashed and been respawned
    local r=$1 name=$2
    emit "$r" "$name" end rss_kib "$(mem_kib VmRSS ${PIDS[$name]})"
    if [ "$(proc_tree "${MASTER[$name]}" | tr ' ' '\n' | grep -cx "${WORKER[$name]}")" -ne 1 ]; then
        log "BUG? $name: worker ${WORKER[$name]} is gone (crash or respawn) during round $r"
        emit "$r" "$name" end worker_survived 0
    else
        emit "$r" "$name" end worker_survived 1
    fi
}
