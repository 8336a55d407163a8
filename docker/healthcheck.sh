#!/bin/bash
# lifeguard-healthcheck - the image's HEALTHCHECK: GET /healthz on lifeguard's admin listener.
#
# The runtime image has no curl (it would bring about 10 MB of libraries for one request), so
# bash, which every Debian image has, makes the request through /dev/tcp. It is robust because
# it only ever talks to the loopback: a connect either succeeds or is refused at once, the read
# has its own timeout, and Docker's --timeout bounds the whole check anyway.
#
# LIFEGUARD_ADMIN (default 127.0.0.1:9901) is where the admin listener is reached from inside
# the container; set it when the configuration's admin.listen uses another port. The admin
# /healthz answers 200 while the master runs: it tells that lifeguard is alive, not that its
# backends are (see lifeguard_backend_up in /metrics for that).
set -u
addr=${LIFEGUARD_ADMIN:-127.0.0.1:9901}
host=${addr%:*} port=${addr##*:}
host=${host#[} host=${host%]}         # [::1]:9901 -> ::1
[ "$host" = 0.0.0.0 ] && host=127.0.0.1  # an admin on every address is reached on the loopback

if ! { exec 3<>"/dev/tcp/$host/$port"; } 2>/dev/null; then
    echo "unhealthy: cannot connect to the admin listener on $addr" >&2
    exit 1
fi
printf 'GET /healthz HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n' "$addr" >&3
if ! IFS= read -r -t 2 status <&3; then
    echo "unhealthy: no answer from $addr within 2s" >&2
    exit 1
fi
status=${status%$'\r'}
case $status in
"HTTP/1."?" 200 "*) echo "healthy: $status"; exit 0 ;;
esac
echo "unhealthy: $addr/healthz answered \"$status\"" >&2
exit 1
