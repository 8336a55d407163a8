"""test_python_ssl.py - lifeguard's TLS listener seen by Python's ssl module (a third-party
client: OpenSSL through CPython's bindings, with its own defaults): versions, ALPN, SNI with
an exact and a wildcard certificate, resumption, and an old client refused.

  /usr/bin/python3 tests/tls/test_python_ssl.py     (lifeguard and lg-origin from $LG_BINARY and
                                                     $LG_ORIGIN, else build/)
The certificates are made at run time by tests/support/make_pki.sh; nothing private is
committed.
"""

import os
import socket
import ssl
import subprocess
import sys
import tempfile
import unittest
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
sys.path[:0] = [os.path.join(ROOT, "tests", "framing"), os.path.join(ROOT, "tests", "support")]

import harness  # noqa: E402
from origin_proc import Origin  # noqa: E402

ENV = {}


def config(pki, origin_port):
    cert = lambda n: "        - {cert: %s/%s.pem, key: %s/%s.key}\n" % (pki, n, pki, n)
    return (
        "workers: 1\n"
        "log: {level: info, error: stderr, access: off}\n"
        "listeners:\n"
        "  web:\n"
        "    listen: 127.0.0.1:0\n"
        "    tls:\n"
        "      certificates:\n" + cert("ec") + cert("wild") + cert("rsa") +
        "    routes:\n"
        "      - pool: app\n"
        "pools:\n"
        "  app:\n"
        "    health_check: {type: none}\n"
        "    backends:\n"
        "      - address: 127.0.0.1:%d\n" % origin_port
    )


def setUpModule():
    build = os.path.join(ROOT, "build")
    binary = os.environ.get("LG_BINARY") or os.path.join(build, "lifeguard")
    ENV["tmp"] = tempfile.TemporaryDirectory(prefix="lg-pyssl-")
    pki = os.path.join(ENV["tmp"].name, "pki")
    os.mkdir(pki)
    subprocess.run(["sh", os.path.join(ROOT, "tests", "support", "make_pki.sh"), pki], check=True)
    ENV["pki"] = pki
    ENV["origin"] = Origin(binary, "py")
    ENV["lg"] = harness.Lifeguard(binary, config(pki, ENV["origin"].port))


def tearDownModule():
    status = ENV["lg"].stop()
    ENV["origin"].stop()
    ENV["tmp"].cleanup()
    if status != 0:
        raise RuntimeError("lifeguard exited %s" % status)


def context(max_version=None, min_version=None, alpn=("http/1.1",)):
    ctx = ssl.create_default_context(cafile=os.path.join(ENV["pki"], "ca.pem"))
    if max_version is not None:
        ctx.maximum_version = max_version
    if min_version is not None:
        ctx.minimum_version = min_version
    if alpn:
        ctx.set_alpn_protocols(list(alpn))
    return ctx


def connect(ctx, name="www.example.com", session=None):
    raw = socket.create_connection(("127.0.0.1", ENV["lg"].port), timeout=10)
    return ctx.wrap_socket(raw, server_hostname=name, session=session)


def get(s, path="/echo"):
    """One request on `s` (Connection: close); the whole response."""
    s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % path.encode())
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            return data.decode("latin-1")
        data += chunk


def san(s):
    return [v for k, v in s.getpeercert().get("subjectAltName", ()) if k == "DNS"]


class PythonSSL(unittest.TestCase):
    def test_tls13_alpn_and_forwarded_proto(self):
        with connect(context()) as s:
            self.assertEqual(s.version(), "TLSv1.3")
            self.assertEqual(s.selected_alpn_protocol(), "http/1.1")
            answer = get(s)
        self.assertTrue(answer.startswith("HTTP/1.1 200 "), answer)
        self.assertIn("header X-Forwarded-Proto: https", answer)

    def test_tls12_ecdhe_aead(self):
        with connect(context(max_version=ssl.TLSVersion.TLSv1_2)) as s:
            self.assertEqual(s.version(), "TLSv1.2")
            name, _, bits = s.cipher()
            self.assertTrue(name.startswith("ECDHE-"), name)
            self.assertTrue("GCM" in name or "CHACHA20" in name, name)
            self.assertTrue(get(s).startswith("HTTP/1.1 200 "))

    def test_alpn_without_http11_still_served(self):
        with connect(context(alpn=("spdy/3", "foo"))) as s:
            self.assertIsNone(s.selected_alpn_protocol())
            self.assertTrue(get(s).startswith("HTTP/1.1 200 "))

    def test_sni_exact_and_wildcard(self):
        with connect(context()) as s:
            self.assertIn("www.example.com", san(s))
        with connect(context(), name="shop.example.org") as s:
            self.assertIn("*.example.org", san(s))
        with connect(context(), name="WWW.EXAMPLE.COM") as s:
            self.assertIn("www.example.com", san(s))

    def test_old_client_refused(self):
        warnings.simplefilter("ignore", DeprecationWarning)  # asking for TLS 1.0/1.1 is the point
        old = context(max_version=ssl.TLSVersion.TLSv1_1, min_version=ssl.TLSVersion.TLSv1)
        old.set_ciphers("ALL:@SECLEVEL=0")
        with self.assertRaises(ssl.SSLError):
            connect(old)
        with connect(context()) as s:  # the worker goes on
            self.assertTrue(get(s).startswith("HTTP/1.1 200 "))

    def test_resumption_tls12_and_tls13(self):
        for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            ctx = context(max_version=version, min_version=version)
            with connect(ctx) as s:
                get(s)  # reads past the handshake: a TLS 1.3 ticket arrives after it
                session = s.session
                self.assertFalse(s.session_reused)
            with connect(ctx, session=session) as s:
                self.assertTrue(s.session_reused, version)
                self.assertTrue(get(s).startswith("HTTP/1.1 200 "))


if __name__ == "__main__":
    unittest.main(verbosity=2)
