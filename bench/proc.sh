# shellcheck shell=bash
# bench/proc.sh - process bookkeeping shared by every bench script (sourced): STARTED lists every
# background process started here; cleanup (the EXIT trap) stops them by PID, newest first, and
# removes $TMP.
STARTED=() # every background process started here, stopped by PID on exit

stop_pid() { # PID [SIGNAL]: signal it, wait up to 5 s, then SIGKILL
    local pid=$1 sig=${2:-TERM} i
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    kill -"$sig" "$pid" 2>/dev/null || true
    for i in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local i
    set +e
    for ((i = ${#STARTED[@]} - 1; i >= 0; i--)); do stop_pid "${STARTED[i]}"; done
    rm -rf "$TMP"
}
