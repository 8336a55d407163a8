#!/bin/sh
# `make run`: two demo backends (the project's test origin) on 127.0.0.1:9001 and :9002, and
# lifeguard in front of them with conf/lifeguard.yaml plus an HTTPS listener on :8443 (a
# self-signed certificate for localhost made here), in the foreground. Ctrl-C stops all.
set -eu
build=${1:-build}
cd "$(dirname "$0")/.."
tls="$build/demo-tls"
conf="$build/demo.yaml"

# a certificate for localhost, made again when it expires within a day
if ! openssl x509 -checkend 86400 -noout -in "$tls/localhost.pem" >/dev/null 2>&1; then
    mkdir -p "$tls"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
        -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
        -keyout "$tls/localhost.key" -out "$tls/localhost.pem" 2>/dev/null
fi
# conf/lifeguard.yaml with a second listener after `web`
awk -v dir="$(cd "$tls" && pwd)" '{ print }
    /^      - pool: app / && !done {
        print "  secure:"
        print "    listen: 0.0.0.0:8443"
        print "    tls:"
        print "      certificates:"
        print "        - cert: " dir "/localhost.pem"
        print "          key: " dir "/localhost.key"
        print "    routes:"
        print "      - pool: app"
        done = 1 }' conf/lifeguard.yaml >"$conf"
"$build/lifeguard" -t -c "$conf"
pids=""
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM
for n in 1 2; do
    "$build/lg-origin" --listen "127.0.0.1:900$n" --name "app$n" --quiet >/dev/null &
    pids="$pids $!"
done
sleep 0.3
for p in $pids; do
    kill -0 "$p" 2>/dev/null || { echo "run: a demo backend failed to start (ports 9001/9002 busy?)" >&2; exit 1; }
done

cat <<MSG

  lifeguard is starting with $conf
    proxy:      http://localhost:8080/          (answers alternate: app1, app2)
    https:      https://localhost:8443/         (HTTP/2 and HTTP/1.1; self-signed: curl -k,
                                                 or accept it once)
    status:     http://127.0.0.1:9901/status    (live; /metrics for Prometheus)
    try:        curl -i http://localhost:8080/echo
                curl -s http://localhost:8080/size/1048576 | wc -c
                curl -k https://localhost:8443/echo          (HTTP/2: curl -kI shows it)
                $build/lifeguard -s reload -c $conf   (reload: edit the file first)
  Ctrl-C stops lifeguard and the demo backends.

MSG
"$build/lifeguard" -c "$conf" &
lg=$!
pids="$pids $lg"
wait "$lg"
