#!/bin/sh
# The admin /status page in headless Chromium (through chromedriver), asserting what a user sees.
#
#   tests/browser/status_page.sh [--screenshot FILE | --no-screenshot]
#       Serves src/admin/status.html and a status.json the test rewrites from a fake admin server
#       (fake_admin.py): checks that app/127.0.0.1:9001 is shown up, the request rates, that it is
#       shown down once status.json says so, the connection-lost banner and the recovery, then
#       photographs realistic data to FILE (default docs/status-page.png).
#
#   tests/browser/status_page.sh --url http://127.0.0.1:PORT --down-cmd 'kill PID'
#                                [--backend POOL/ADDRESS] [--down-state down] [--screenshot FILE]
#       Against a running lifeguard admin listener: checks that the backend (default
#       app/127.0.0.1:9001) is shown up, runs the command that takes it down, and waits for the
#       page to show it in --down-state (default down; a list such as down,ejected accepts any).
#       No screenshot unless asked for.
#
# Options passed on to status_page.py: --wait SECONDS (per change, default 8), --width PIXELS
# (default 1280), --color-scheme light|dark (emulated prefers-color-scheme).
# Needs python3, chromium and chromedriver (Debian: chromium, chromium-driver); exits 77 (skip)
# when one is missing, 0 on success, 1 with a FAIL line otherwise. Bounded by LG_BROWSER_TIMEOUT
# seconds (default 50; the whole run stays under 60); every process it starts is stopped by its id.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
url=""
shot=default
pass=""
while [ $# -gt 0 ]; do
    case "$1" in
    --url) url=$2; shift 2 ;;
    --screenshot) shot=$2; shift 2 ;;
    --no-screenshot) shot=""; shift ;;
    --backend | --down-cmd | --down-state | --wait | --width | --color-scheme)
        pass="$pass $1 $(printf '%s' "$2" | sed "s/'/'\\\\''/g; s/^/'/; s/\$/'/")"; shift 2 ;;
    -h | --help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
    *) echo "status_page: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done

for tool in python3 chromium chromedriver; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "status_page: SKIP: $tool not found (Debian packages: python3 chromium chromium-driver)" >&2
        exit 77
    fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/lg-browser.XXXXXX")
pids=""
# Each helper runs in its own session (setsid), so its id is also its process group's: killing
# the group stops chromedriver together with the browser processes it started.
cleanup() {
    for p in $pids; do kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null || true; done
    for p in $pids; do wait "$p" 2>/dev/null || true; done
    for p in $pids; do kill -KILL -- "-$p" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {
    echo "FAIL: $*" >&2
    for f in "$tmp"/*.log; do
        [ -s "$f" ] && { echo "--- $(basename "$f") (last lines)" >&2; tail -n 15 "$f" >&2; }
    done
    exit 1
}

# Waits up to 10 s for file $1 to exist, or for process $2 to die.
wait_file() {
    i=0
    while [ ! -s "$1" ]; do
        kill -0 "$2" 2>/dev/null || return 1
        i=$((i + 1))
        [ $i -le 100 ] || return 1
        sleep 0.1
    done
}

fake=""
if [ -z "$url" ]; then
    mkdir "$tmp/www"
    setsid python3 "$here/fake_admin.py" "$tmp/www" "$root/src/admin/status.html" >"$tmp/fake_admin.log" 2>&1 &
    pids="$pids $!"
    wait_file "$tmp/www/port" $! || fail "the fake admin server did not start"
    url="http://127.0.0.1:$(cat "$tmp/www/port")"
    fake="--fake-dir '$tmp/www'"
    [ "$shot" = default ] && shot="$root/docs/status-page.png"
fi
[ "$shot" = default ] && shot=""
[ -n "$shot" ] && pass="$pass --screenshot '$(printf '%s' "$shot" | sed "s/'/'\\\\''/g")'"

# chromedriver on a port the kernel picked a moment ago (nothing else here binds ports).
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
setsid chromedriver --port="$port" --allowed-ips=127.0.0.1 --log-path="$tmp/chromedriver.log" >/dev/null 2>&1 &
pids="$pids $!"
drv=$!
i=0
until python3 -c "import urllib.request, sys; urllib.request.urlopen('http://127.0.0.1:$port/status', timeout=1)" 2>/dev/null; do
    kill -0 "$drv" 2>/dev/null || fail "chromedriver exited at start"
    i=$((i + 1))
    [ $i -le 50 ] || fail "chromedriver did not answer on port $port"
    sleep 0.2
done

mkdir "$tmp/profile"
echo "status_page: page $url/status, chromedriver :$port"
rc=0
eval "timeout -k 5 \"\${LG_BROWSER_TIMEOUT:-50}\" python3 \"\$here/status_page.py\" --driver http://127.0.0.1:$port \
    --url \"\$url\" --profile \"\$tmp/profile\" $fake $pass" || rc=$?
[ $rc -eq 124 ] && fail "timed out after ${LG_BROWSER_TIMEOUT:-50} s"
[ $rc -eq 0 ] || fail "see above (exit $rc)"
