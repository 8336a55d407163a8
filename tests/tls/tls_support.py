"""tls_support.py - what the TLS attack tests and the TLS scan share: the test PKI
(tests/support/make_pki.sh, made at test time, never committed), lifeguard with one TLS
listener (ECDSA and RSA certificates for www.example.com) in front of a recording backend,
an HTTPS request with Python's ssl module, the worker's pid, and raw TLS records and
ClientHellos built byte by byte for the inputs no TLS library sends.

Everything is on 127.0.0.1 (port 0). Debian's Python (/usr/bin/python3): h11 for the framing
harness comes from Debian.
"""

import os
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
sys.path[:0] = [os.path.join(ROOT, "tests", "framing"), os.path.join(ROOT, "tests", "support")]

import harness  # noqa: E402  (the framing suite's Lifeguard: start, log, stop)
from origin_proc import read_to_eof  # noqa: E402
from recording_backend import RecordingBackend  # noqa: E402

NAME = "www.example.com"
TIMEOUT = 10


def binary():
    return os.environ.get("LG_BINARY") or os.path.join(ROOT, "build", "lifeguard")


def make_pki():
    """A fresh PKI in a temp dir (the TemporaryDirectory: keep it alive, clean it up)."""
    d = tempfile.TemporaryDirectory(prefix="lg-tls-pki-")
    subprocess.run(["sh", os.path.join(ROOT, "tests", "support", "make_pki.sh"), d.name],
                   check=True, timeout=120)
    return d


def config(pki, backend_port, client_header="10s"):
    """One worker; listeners web (http) and l4 (tcp: TLS offload) on 127.0.0.1:0, each with the
    ECDSA then the RSA certificate."""
    tls = "    tls:\n      certificates:\n" + "".join(
        "        - cert: %s/%s.pem\n          key: %s/%s.key\n" % (pki, n, pki, n)
        for n in ("ec", "rsa"))
    return ("workers: 1\n"
            "log: {level: info, error: stderr, access: off}\n"
            "timeouts: {client_header: %s}\n"
            "listeners:\n"
            "  web:\n"
            "    listen: 127.0.0.1:0\n%s"
            "    routes:\n"
            "      - pool: app\n"
            "  l4:\n"
            "    listen: 127.0.0.1:0\n"
            "    mode: tcp\n%s"
            "    pool: app\n"
            "pools:\n"
            "  app:\n"
            "    health_check: {type: none}\n"
            "    backends:\n"
            "      - address: 127.0.0.1:%d\n" % (client_header, tls, tls, backend_port))


class Proxy:
    """A recording backend and lifeguard in front of it; stop() ends both. ports: of each
    listener by name."""

    def __init__(self, pki, client_header="10s"):
        self.pki = pki
        self.backend = RecordingBackend("app")
        try:
            self.lg = harness.Lifeguard(binary(), config(pki, self.backend.port, client_header))
        except Exception:
            self.backend.stop()
            raise
        self.port = self.lg.port
        self.ports = {"web": self.port, "l4": self.lg._wait_port("l4")}
        self.status = None

    def log(self):
        return self.lg.log_text()

    def workers(self):
        """The pids of the master's children (its workers)."""
        return self.lg.workers()

    def started_workers(self, n=1, timeout=30.0):
        """The pids of its workers once all n are forked: the listeners' ports are logged
        before the master forks, so right after start there may be none yet."""
        deadline = time.monotonic() + timeout
        while len(self.workers()) < n and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.workers()

    def stop(self):
        """lifeguard's exit status (0: a clean graceful exit); safe to call twice."""
        if self.status is not None:
            return self.status
        try:
            self.status = self.lg.stop()
            return self.status
        finally:
            self.backend.stop()


def client_context(pki, **versions):
    ctx = ssl.create_default_context(cafile=os.path.join(pki, "ca.pem"))
    for k, v in versions.items():
        setattr(ctx, k, v)
    return ctx


def https_get(port, pki, path="/", **versions):
    """GET over a verified TLS connection to NAME; (status line, negotiated version)."""
    ctx = client_context(pki, **versions)
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as raw:
        with ctx.wrap_socket(raw, server_hostname=NAME) as s:
            s.sendall(b"GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n"
                      % (path.encode(), NAME.encode()))
            data = read_to_eof(s)
            return data.split(b"\r\n", 1)[0].decode("latin-1"), s.version()


# ---- raw records


def record(ctype, body, version=0x0301):
    return struct.pack("!BHH", ctype, version, len(body)) + body


def _ext(etype, body):
    return struct.pack("!HH", etype, len(body)) + body


def sni_ext(name):
    entry = b"\x00" + struct.pack("!H", len(name)) + name
    return _ext(0, struct.pack("!H", len(entry)) + entry)


def client_hello(version=0x0303, sni=b"www.example.com", padding=0, tls13=True,
                 ciphers=(0x1301, 0x1302, 0xC02B, 0xC02F)):
    """A ClientHello handshake message (no record header): `version` in the legacy field,
    TLS 1.3 (supported_versions, key_share on x25519) when tls13, a padding extension of
    `padding` zero bytes."""
    exts = b""
    if sni is not None:
        exts += sni_ext(sni)
    exts += _ext(10, b"\x00\x04\x00\x1d\x00\x17")  # supported_groups: x25519, P-256
    exts += _ext(11, b"\x01\x00")  # ec_point_formats: uncompressed
    exts += _ext(13, b"\x00\x08\x04\x03\x08\x04\x04\x01\x05\x01")  # signature_algorithms
    if tls13:
        exts += _ext(43, b"\x04\x03\x04\x03\x03")  # supported_versions: 1.3, 1.2
        key = os.urandom(32)
        exts += _ext(51, struct.pack("!HHH", 36, 0x001D, 32) + key)  # key_share
    if padding:
        exts += _ext(21, bytes(padding))
    cs = b"".join(struct.pack("!H", c) for c in ciphers)
    body = (struct.pack("!H", version) + os.urandom(32) + b"\x20" + os.urandom(32)
            + struct.pack("!H", len(cs)) + cs + b"\x01\x00" + struct.pack("!H", len(exts)) + exts)
    return b"\x01" + struct.pack("!I", len(body))[1:] + body


def handshake_records(msg):
    """The handshake message in records of at most 16 KiB (a big ClientHello spans several)."""
    return b"".join(record(22, msg[i:i + 16384]) for i in range(0, len(msg), 16384))


def read_answer(sock, timeout=TIMEOUT):
    """What the server sent until it closed or went quiet: (bytes, closed)."""
    sock.settimeout(timeout)
    data = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return data, True
            data += chunk
    except socket.timeout:
        return data, False
    except ConnectionResetError:
        return data, True


def records(data):
    """The (type, body) of each whole record in data."""
    out, i = [], 0
    while i + 5 <= len(data):
        ctype, _, n = struct.unpack("!BHH", data[i:i + 5])
        out.append((ctype, data[i + 5:i + 5 + n]))
        i += 5 + n
    return out


def alerts(data):
    """The (level, description) of the plaintext alert records in data."""
    return [(b[0], b[1]) for t, b in records(data) if t == 21 and len(b) == 2]
