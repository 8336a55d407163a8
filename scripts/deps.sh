#!/bin/sh
# Install the Debian packages lifeguard needs to build, test and benchmark, only when missing.
# Idempotent: a machine that has everything runs no apt command at all.
#   scripts/deps.sh          what the build needs (make, make run)
#   scripts/deps.sh test     also what the tests and checks use (criterion, dnsmasq, promtool,
#                            chromium, groff, ss, h11, h2 and nghttp/h2load, pmccabe for scripts/size.sh,
#                            clang-format for scripts/format-check.sh, testssl.sh and sslscan
#                            for the TLS scan, haproxy as a PROXY protocol sender and,
#                            with accept-proxy ssl, a backend, pebble as the ACME server of
#                            test_acme)
#   scripts/deps.sh fuzz     also clang and libFuzzer (make fuzz)
#   scripts/deps.sh bench    also nginx, caddy, wrk, gnuplot, perf (and the test set:
#                            h2load of nghttp2-client for make bench-h2)
#   scripts/deps.sh docker   also docker.io, docker-compose, debootstrap (make test-docker)
set -eu

# build: what `make` and `make run` need; test: what the test suite runs against; bench: peers;
# fuzz: the compiler and runtime of `make fuzz`
build="build-essential cmake pkg-config libssl-dev libyaml-dev libnghttp2-dev libjansson-dev node-llhttp curl"
test="libcriterion-dev python3 python3-h11 python3-h2 nghttp2-client openssl dnsmasq-base prometheus chromium chromium-driver groff-base iproute2 pmccabe clang-format testssl.sh sslscan haproxy pebble"
fuzz="clang libfuzzer-14-dev"
bench="nginx-light caddy wrk gnuplot-nox linux-perf strace"
docker="docker.io docker-compose debootstrap iptables"
case "${1:-build}" in
build) pkgs="$build" ;;
test) pkgs="$build $test" ;;
bench) pkgs="$build $test $bench" ;;
docker) pkgs="$build $test $docker" ;;
fuzz) pkgs="$build $fuzz" ;;
*) echo "usage: $0 [build|test|bench|docker|fuzz]" >&2; exit 2 ;;
esac

missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null; then SUDO=sudo; else
        echo "deps: missing packages:$missing (run as root to install them)" >&2; exit 1
    fi
else SUDO=""; fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
# Refresh the package lists only when an install fails on stale or absent lists.
$SUDO apt-get install -y -q --no-install-recommends $missing ||
    { $SUDO apt-get update -q && $SUDO apt-get install -y -q --no-install-recommends $missing; }
