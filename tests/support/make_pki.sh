#!/bin/sh
# make_pki.sh DIR - a throwaway PKI for the TLS tests, made with the openssl command at test
# time (no private key is ever committed). In DIR:
#   ca.pem ca.key         test root CA (ECDSA P-256), also the client CA of client_auth tests
#   int.pem               intermediate CA signed by the root; leaves below are signed by it
#   rsa.pem rsa.key       RSA 2048 leaf for www.example.com, example.com (+ int.pem)
#   ec.pem ec.key         ECDSA P-256 leaf for the same names (+ int.pem)
#   wild.pem wild.key     ECDSA leaf for *.example.org (+ int.pem)
#   exact.pem exact.key   RSA leaf for api.example.org (+ int.pem)
#   cn.pem cn.key         ECDSA leaf without subjectAltName, CN=cn.example.net (+ int.pem)
#   expired.pem .key      ECDSA leaf for old.example.com, valid 2020-2021 (+ int.pem)
#   weak.pem weak.key     RSA 1024 leaf for weak.example.com, below OpenSSL's security level
#   wrongorder.pem        the ec leaf, then the root before the intermediate (key: ec.key)
#   ec.ocsp               a DER OCSP response of the intermediate about the ec leaf
#   client.pem .key       client certificate CN=client one, signed by the root
#   rogue.pem .key        self-signed client certificate CN=rogue
set -eu
cd "$1"
exec 2>openssl.log

key_ec() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }
key_rsa() { openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1"; }
key_weak() { openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out "$1"; }

key_ec ca.key
openssl req -x509 -new -key ca.key -subj "/CN=lifeguard test CA" -days 3650 -out ca.pem \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
key_ec int.key
openssl req -new -key int.key -subj "/CN=lifeguard test intermediate" -out int.csr
printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n' >int.ext
openssl x509 -req -in int.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 3650 \
    -extfile int.ext -out int.pem

# leaf NAME ec|rsa "DNS:a,DNS:b" (empty: no subjectAltName): NAME.pem is leaf + int.pem
leaf() {
    "key_$2" "$1.key"
    openssl req -new -key "$1.key" -subj "/CN=$1 test leaf" -out "$1.csr"
    echo 'basicConstraints=CA:FALSE' >"$1.ext"
    echo 'extendedKeyUsage=serverAuth' >>"$1.ext"
    [ -z "$3" ] || echo "subjectAltName=$3" >>"$1.ext"
    openssl x509 -req -in "$1.csr" -CA int.pem -CAkey int.key -CAcreateserial -days 825 \
        -extfile "$1.ext" -out "$1.leaf"
    cat "$1.leaf" int.pem >"$1.pem"
}
leaf rsa rsa "DNS:www.example.com,DNS:example.com"
leaf ec ec "DNS:www.example.com,DNS:example.com"
leaf wild ec "DNS:*.example.org"
leaf exact rsa "DNS:api.example.org"
leaf weak weak "DNS:weak.example.com"
key_ec cn.key
openssl req -new -key cn.key -subj "/CN=cn.example.net" -out cn.csr
echo 'basicConstraints=CA:FALSE' >cn.ext
openssl x509 -req -in cn.csr -CA int.pem -CAkey int.key -CAcreateserial -days 825 \
    -extfile cn.ext -out cn.leaf
cat cn.leaf int.pem >cn.pem

# expired: only `openssl ca` sets dates in the past
key_ec expired.key
openssl req -new -key expired.key -subj "/CN=old.example.com" -out expired.csr
: >index.txt
echo 01 >ca.serial
cat >ca.cnf <<CNF
[ca]
default_ca = test
[test]
database = index.txt
serial = ca.serial
new_certs_dir = .
default_md = sha256
policy = any
unique_subject = no
x509_extensions = leaf
[any]
commonName = supplied
[leaf]
basicConstraints = CA:FALSE
subjectAltName = DNS:old.example.com
CNF
openssl ca -batch -config ca.cnf -cert int.pem -keyfile int.key -notext \
    -startdate 20200101000000Z -enddate 20210101000000Z -in expired.csr -out expired.leaf
cat expired.leaf int.pem >expired.pem

cat ec.leaf ca.pem int.pem >wrongorder.pem

openssl ocsp -issuer int.pem -cert ec.leaf -no_nonce -reqout ec.ocsp.req
: >ocsp-index.txt
openssl ocsp -index ocsp-index.txt -rsigner int.pem -rkey int.key -CA int.pem -ndays 7 \
    -reqin ec.ocsp.req -respout ec.ocsp >/dev/null

key_ec client.key
openssl req -new -key client.key -subj "/CN=client one/O=lifeguard tests" -out client.csr
printf 'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n' >client.ext
openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 825 \
    -extfile client.ext -out client.pem
key_ec rogue.key
openssl req -x509 -new -key rogue.key -subj "/CN=rogue" -days 30 -out rogue.pem
