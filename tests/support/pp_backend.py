"""pp_backend.py - a backend that requires a PROXY protocol header on every connection.

    /usr/bin/python3 pp_backend.py --expect v1|v2 [--tcp] [--tls CERT KEY]

Listens on 127.0.0.1 (port 0) and prints "listening 127.0.0.1:PORT". Every connection must
start with exactly one header of the expected version, parsed strictly (HAProxy's
proxy-protocol.txt): v1 "PROXY TCP4|TCP6 SRC DST SPORT DPORT" CRLF or "PROXY UNKNOWN" CRLF;
v2 the 12-byte signature, version 2, command LOCAL (family UNSPEC, no address) or PROXY
(TCP4/TCP6 STREAM, an address block of 12 or 36 bytes, then TLVs that fill the rest exactly).
Anything else is logged as "bad" on stderr and the connection is closed.

--tls: after the header, in clear, the connection is TLS (server side, CERT a PEM leaf and
chain, KEY its key), as HAProxy's "accept-proxy ssl crt" reads it; a failed handshake is "bad".

What the header said is the connection's "peer": "SRC:SPORT>DST:DPORT", or "LOCAL".
HTTP (default): each request head gets 200 with the body
"conn=N peer=PEER target=TARGET req=K" LF (connections numbered from 1, requests on the
connection from 1, TARGET the request line's); a second PROXY header on a connection is a bad
request (400, close).
--tcp: the line "conn=N peer=PEER" LF is sent first, then every byte is echoed.
One line per connection goes to stderr (the harness's log): "conn N PEER", and with --tls
"tls N VERSION" once its handshake is done. A v2 header with TLVs adds the line "tlv N" with,
in their order, " authority=NAME" (PP2_TYPE_AUTHORITY) and " ssl=CLIENT/VERIFY/VERSION"
(PP2_TYPE_SSL: flags in hex, verify, PP2_SUBTYPE_SSL_VERSION), other types as " TYPE=HEX".
"""

import ipaddress
import re
import socket
import ssl
import struct
import sys
import threading

SIG = b"\r\n\r\n\x00\r\nQUIT\n"
V1 = re.compile(rb"PROXY (TCP4|TCP6) ([0-9a-fA-F.:]+) ([0-9a-fA-F.:]+) (0|[1-9][0-9]{0,4}) "
                rb"(0|[1-9][0-9]{0,4})\r\n")
V1_MAX = 107

lock = threading.Lock()
count = 0


class Bad(Exception):
    pass


def recv_exact(conn, n):
    data = b""
    while len(data) < n:
        got = conn.recv(n - len(data))
        if not got:
            raise Bad("closed inside the header")
        data += got
    return data


def port(text):
    p = int(text)
    if p > 65535:
        raise Bad("port out of range")
    return p


def parse_v1(conn):
    line = b""
    while not line.endswith(b"\r\n"):
        if len(line) >= V1_MAX:
            raise Bad("v1 header longer than 107 bytes")
        b = conn.recv(1)
        if not b:
            raise Bad("closed inside the header")
        line += b
    if line == b"PROXY UNKNOWN\r\n":
        return "LOCAL"
    m = V1.fullmatch(line)
    if m is None:
        raise Bad("malformed v1 header %r" % line)
    want = ipaddress.IPv4Address if m.group(1) == b"TCP4" else ipaddress.IPv6Address
    src, dst = want(m.group(2).decode()), want(m.group(3).decode())
    return "%s:%d>%s:%d" % (src, port(m.group(4)), dst, port(m.group(5)))


def parse_v2(conn):
    head = recv_exact(conn, 16)
    if head[:12] != SIG:
        raise Bad("no v2 signature %r" % head)
    ver_cmd, fam, length = head[12], head[13], struct.unpack("!H", head[14:16])[0]
    if ver_cmd == 0x20:
        if fam != 0 or length != 0:
            raise Bad("LOCAL with an address")
        return "LOCAL", ""
    if ver_cmd != 0x21:
        raise Bad("bad version/command %#x" % ver_cmd)
    if fam == 0x11 and length >= 12:
        body = recv_exact(conn, length)
        src, dst = ipaddress.IPv4Address(body[0:4]), ipaddress.IPv4Address(body[4:8])
        sport, dport = struct.unpack("!HH", body[8:12])
        tlvs = body[12:]
    elif fam == 0x21 and length >= 36:
        body = recv_exact(conn, length)
        src, dst = ipaddress.IPv6Address(body[0:16]), ipaddress.IPv6Address(body[16:32])
        sport, dport = struct.unpack("!HH", body[32:36])
        tlvs = body[36:]
    else:
        raise Bad("bad family %#x or length %d" % (fam, length))
    return "%s:%d>%s:%d" % (src, sport, dst, dport), describe_tlvs(tlvs)


def split_tlvs(data):
    out = []
    while data:
        if len(data) < 3 or len(data) - 3 < struct.unpack("!H", data[1:3])[0]:
            raise Bad("TLV past the header's length")
        n = struct.unpack("!H", data[1:3])[0]
        out.append((data[0], data[3:3 + n]))
        data = data[3 + n:]
    return out


def describe_tlvs(data):
    text = ""
    for kind, value in split_tlvs(data):
        if kind == 0x02:
            text += " authority=" + value.decode("ascii")
        elif kind == 0x20:
            if len(value) < 5:
                raise Bad("SSL TLV shorter than 5 bytes")
            client, verify = value[0], struct.unpack("!I", value[1:5])[0]
            sub = dict(split_tlvs(value[5:]))
            version = sub.get(0x21, b"-").decode("ascii")
            text += " ssl=%#04x/%d/%s" % (client, verify, version)
        else:
            text += " %#04x=%s" % (kind, value.hex())
    return text


def serve_http(conn, cid, peer):
    buf, req = b"", 0
    while True:
        while b"\r\n\r\n" not in buf:
            got = conn.recv(65536)
            if not got:
                return
            buf += got
        head, buf = buf.split(b"\r\n\r\n", 1)
        req += 1
        if head.startswith(b"PROXY") or head.startswith(SIG[:4] + b"\x00"):
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close"
                         b"\r\n\r\n")
            print("bad conn %d: a second PROXY header" % cid, file=sys.stderr, flush=True)
            return
        target = head.split(b"\r\n", 1)[0].split(b" ")[1:2]
        body = ("conn=%d peer=%s target=%s req=%d\n" %
                (cid, peer, target[0].decode("latin-1") if target else "", req)).encode()
        close = b"\r\nconnection: close" in head.lower()
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s" %
                     (len(body), b"Connection: close\r\n" if close else b"", body))
        if close:
            return


def serve_tcp(conn, cid, peer):
    conn.sendall(("conn=%d peer=%s\n" % (cid, peer)).encode())
    while True:
        got = conn.recv(65536)
        if not got:
            return
        conn.sendall(got)


def start_tls(conn, cid, tls):
    try:
        conn = tls.wrap_socket(conn, server_side=True)
    except (ssl.SSLError, OSError) as e:
        raise Bad("TLS handshake failed: %s" % e)
    print("tls %d %s" % (cid, conn.version()), file=sys.stderr, flush=True)
    return conn


def handle(conn, expect, tcp, tls):
    global count
    with lock:
        count += 1
        cid = count
    try:
        peer, tlvs = (parse_v1(conn), "") if expect == "v1" else parse_v2(conn)
        print("conn %d %s" % (cid, peer), file=sys.stderr, flush=True)
        if tlvs:
            print("tlv %d%s" % (cid, tlvs), file=sys.stderr, flush=True)
        if tls is not None:
            conn = start_tls(conn, cid, tls)
        (serve_tcp if tcp else serve_http)(conn, cid, peer)
    except Bad as e:
        print("bad conn %d: %s" % (cid, e), file=sys.stderr, flush=True)
    except OSError:
        pass
    finally:
        conn.close()


def main():
    expect = sys.argv[sys.argv.index("--expect") + 1]
    tcp = "--tcp" in sys.argv
    tls = None
    if "--tls" in sys.argv:
        at = sys.argv.index("--tls")
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(sys.argv[at + 1], sys.argv[at + 2])
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(128)
    print("listening 127.0.0.1:%d" % ls.getsockname()[1], flush=True)
    while True:
        conn, _ = ls.accept()
        threading.Thread(target=handle, args=(conn, expect, tcp, tls), daemon=True).start()


if __name__ == "__main__":
    main()
