#!/bin/sh
# make_ocsp_pki.sh DIR PKI PORT - leaves for the ocsp: auto tests, made at test time in DIR by
# the intermediate of the test PKI in PKI (make_pki.sh), with `openssl ca` so that its database
# is the index of an `openssl ocsp` responder on 127.0.0.1:PORT:
#   good.pem good.key         ECDSA leaf for good.ocsp.test (+ int.pem), AIA OCSP
#                             http://127.0.0.1:PORT/ (a literal address), status good
#   revoked.pem revoked.key   ECDSA leaf for revoked.ocsp.test (+ int.pem), AIA OCSP
#                             http://localhost:PORT/status (a name, from /etc/hosts), revoked
#   named.pem named.key       ECDSA leaf for named.ocsp.test (+ int.pem), AIA OCSP
#                             http://ocsp.test:PORT/named (a name for a resolver), status good
#   index.txt                 the responder's index
#   good.ocsp revoked.ocsp    DER responses about those two, signed by the intermediate (1 day)
set -eu
cd "$1"
exec 2>openssl.log
: >index.txt
echo 1001 >serial
cat >ca.cnf <<CNF
[ca]
default_ca = test
[test]
database = index.txt
serial = serial
new_certs_dir = .
default_md = sha256
default_days = 30
policy = any
unique_subject = no
[any]
commonName = supplied
[good]
basicConstraints = CA:FALSE
subjectAltName = DNS:good.ocsp.test
authorityInfoAccess = OCSP;URI:http://127.0.0.1:$3/
[revoked]
basicConstraints = CA:FALSE
subjectAltName = DNS:revoked.ocsp.test
authorityInfoAccess = OCSP;URI:http://localhost:$3/status
[named]
basicConstraints = CA:FALSE
subjectAltName = DNS:named.ocsp.test
authorityInfoAccess = OCSP;URI:http://ocsp.test:$3/named
CNF
for name in good revoked named; do
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$name.key"
    openssl req -new -key "$name.key" -subj "/CN=$name.ocsp.test" -out "$name.csr"
    openssl ca -batch -config ca.cnf -extensions "$name" -cert "$2/int.pem" \
        -keyfile "$2/int.key" -notext -in "$name.csr" -out "$name.leaf"
    cat "$name.leaf" "$2/int.pem" >"$name.pem"
done
openssl ca -config ca.cnf -cert "$2/int.pem" -keyfile "$2/int.key" -revoke revoked.leaf
for name in good revoked; do
    openssl ocsp -issuer "$2/int.pem" -cert "$name.leaf" -no_nonce -reqout "$name.req"
    openssl ocsp -index index.txt -rsigner "$2/int.pem" -rkey "$2/int.key" -CA "$2/int.pem" \
        -ndays 1 -reqin "$name.req" -respout "$name.ocsp" >/dev/null
done
