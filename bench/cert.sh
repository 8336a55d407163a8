# shellcheck shell=bash
# bench/cert.sh - the benchmark's certificates (sourced by bench/tls.sh and bench/h2.sh).
# make_cert DIR ecdsa|rsa: a self-signed certificate for localhost and 127.0.0.1, made now with
# openssl and never kept: DIR/KT.pem, DIR/KT.key and DIR/KT-haproxy.pem (both, for HAProxy).
make_cert() {
    local dir=$1 kt=$2 alg
    case $kt in
    ecdsa) alg=(-newkey ec -pkeyopt ec_paramgen_curve:P-256) ;;
    rsa) alg=(-newkey rsa:2048) ;;
    esac
    [ -d "$dir" ] || mkdir -m 700 "$dir"
    openssl req -x509 "${alg[@]}" -nodes -days 2 -subj "/CN=localhost" \
        -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
        -keyout "$dir/$kt.key" -out "$dir/$kt.pem" 2>/dev/null
    cat "$dir/$kt.pem" "$dir/$kt.key" >"$dir/$kt-haproxy.pem"
}
