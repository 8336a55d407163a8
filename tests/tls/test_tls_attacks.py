"""test_tls_attacks.py - hostile clients against a TLS listener: garbage instead of a
ClientHello, a truncated handshake, a ClientHello of 16 KiB of extensions (and one announcing
200 KiB), SNI with odd bytes, many half-open handshakes at once, a client alert in the middle
of the handshake, a client-initiated renegotiation on TLS 1.2, and TLS 1.0/1.1-only clients.

  /usr/bin/python3 tests/tls/test_tls_attacks.py     (lifeguard from $LG_BINARY or build/)

One lifeguard (one worker, timeouts.client_header 2s) serves the whole run; every attack is
made on its http listener and on its tcp listener with tls (TLS offload). After each attack
the client saw a close or an alert, lifeguard logged the attack at info, a normal HTTPS request
gets its 200, and the worker is the same process (it did not crash and was not respawned). At
the end lifeguard exits 0 on SIGQUIT with no error line and no sanitizer report.
"""

import os
import socket
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import tls_support as ts  # noqa: E402

CLIENT_HEADER = "2s"
HALF_OPEN = 200  # concurrent half-open handshakes: bounded, well under max_connections
ALERT_PROTOCOL_VERSION = 70
ALERT_HANDSHAKE_FAILURE = 40
TIMED_OUT = "client timed out in the TLS handshake (timeouts.client_header)"
ENV = {}


def setUpModule():
    ENV["pki"] = ts.make_pki()
    ENV["proxy"] = ts.Proxy(ENV["pki"].name, CLIENT_HEADER)
    ENV["workers"] = ENV["proxy"].started_workers()


def tearDownModule():
    ENV["proxy"].stop()
    ENV.pop("pki").cleanup()


class Attacks(unittest.TestCase):
    """On the http listener; each attack leaves the worker serving (checked in tearDown)."""

    LISTENER = "web"

    @property
    def port(self):
        return ENV["proxy"].ports[self.LISTENER]

    @property
    def failed(self):
        return "TLS handshake with 127.0.0.1 on listener %s failed: " % self.LISTENER

    def setUp(self):
        self.mark = len(ENV["proxy"].log())

    def tearDown(self):
        status, version = ts.https_get(self.port, ENV["pki"].name)
        self.assertEqual(status.split()[:2], ["HTTP/1.1", "200"])
        self.assertEqual(version, "TLSv1.3")
        self.assertEqual(ENV["proxy"].workers(), ENV["workers"], "the worker changed")

    def wait_log(self, needle, count=1):
        """The log since setUp once it has `count` lines with needle (waits a bounded time)."""
        deadline = time.monotonic() + ts.TIMEOUT
        while True:
            log = ENV["proxy"].log()[self.mark:]
            if sum(needle in line for line in log.splitlines()) >= count:
                return log
            if time.monotonic() > deadline:
                self.fail("%d x %r not logged; the log since the test began:\n%s"
                          % (count, needle, log))
            time.sleep(0.05)

    def assert_info(self, needle):
        log = self.wait_log(needle)
        line = next(x for x in log.splitlines() if needle in x)
        self.assertIn("[info]", line)
        return line

    def connect(self):
        return socket.create_connection(("127.0.0.1", self.port), timeout=ts.TIMEOUT)

    def send_and_read(self, data):
        with self.connect() as s:
            s.sendall(data)
            return ts.read_answer(s)

    # ---- the attacks

    def test_garbage_instead_of_client_hello(self):
        cases = [
            ("random bytes", b"\x00\xff" + os.urandom(4094)),
            ("a handshake record of junk", ts.record(22, os.urandom(512))),
            ("an alert record first", ts.record(21, b"\x02\x28")),
            ("a record longer than TLS allows", ts.record(22, bytes(18432))),
            ("an empty ClientHello", ts.record(22, b"\x01\x00\x00\x00")),
        ]
        for name, data in cases:
            with self.subTest(name):
                mark = len(ENV["proxy"].log())
                answer, closed = self.send_and_read(data)
                self.assertTrue(closed, "still open after %r" % answer)
                self.assertTrue(all(t == 21 for t, _ in ts.records(answer)), answer)
                self.mark = mark
                self.assert_info(self.failed)

    def test_truncated_handshake_closed_at_client_header(self):
        hello = ts.handshake_records(ts.client_hello())
        with self.connect() as s:
            s.sendall(hello[:len(hello) // 2])
            answer, closed = ts.read_answer(s, timeout=ts.TIMEOUT)
        self.assertTrue(closed, "lifeguard never closed the half handshake")
        self.assertEqual(answer, b"")
        self.assert_info(TIMED_OUT)

    def test_client_hello_of_16k_extensions(self):
        """16 KiB of padding: a ClientHello in two records, answered, then the handshake stalls
        and is closed at timeouts.client_header."""
        msg = ts.client_hello(padding=16384)
        answer, closed = self.send_and_read(ts.handshake_records(msg))
        got = ts.records(answer)
        self.assertTrue(got, "no answer to a ClientHello of %d bytes" % len(msg))
        self.assertEqual((got[0][0], got[0][1][:1]), (22, b"\x02"))  # ServerHello
        self.assertTrue(closed)
        self.assert_info(TIMED_OUT)

    def test_client_hello_announcing_200k(self):
        """A ClientHello whose header announces 200 KiB (over OpenSSL's limit for one), then
        64 KiB of it: refused with an alert as soon as the header is read."""
        body = bytes(64 * 1024)
        msg = b"\x01" + (200 * 1024).to_bytes(3, "big") + body
        answer, closed = self.send_and_read(ts.handshake_records(msg))
        self.assertTrue(closed)
        self.assertEqual([t for t, _ in ts.records(answer)], [21], answer)
        self.assertIn("excessive message size", self.assert_info(self.failed))

    def test_sni_with_odd_bytes(self):
        cases = [
            ("NUL", b"www.example.com\x00.evil", False),
            ("300 bytes", b"a" * 300, False),
            ("empty (as if none)", b"", True),
            ("non-ASCII", "wwẇ.exämple.com".encode(), True),
            ("byte 255", b"www.\xffexample.com", True),
            ("trailing dot", b"www.example.com.", True),
            ("upper case", b"WWW.EXAMPLE.COM", True),
        ]
        for name, sni, answered in cases:
            with self.subTest(name):
                self.mark = len(ENV["proxy"].log())
                with self.connect() as s:
                    s.sendall(ts.handshake_records(ts.client_hello(sni=sni)))
                    answer, closed = ts.read_answer(s, timeout=1)
                got = ts.records(answer)
                self.assertTrue(got, "no answer")
                if answered:
                    self.assertEqual((got[0][0], got[0][1][:1]), (22, b"\x02"))
                else:
                    self.assertTrue(closed)
                    self.assertEqual(got[0][0], 21, answer)
                self.assert_info(self.failed)

    def test_many_half_open_handshakes(self):
        """HALF_OPEN connections stop in the middle of their ClientHello; a full request still
        gets through meanwhile, and every one is closed at timeouts.client_header."""
        hello = ts.handshake_records(ts.client_hello())
        socks = []
        try:
            for _ in range(HALF_OPEN):
                s = self.connect()
                socks.append(s)
                s.sendall(hello[:100])
            status, _ = ts.https_get(self.port, ENV["pki"].name)
            self.assertEqual(status.split()[:2], ["HTTP/1.1", "200"])
            for s in socks:
                self.assertEqual(ts.read_answer(s), (b"", True))
        finally:
            for s in socks:
                s.close()
        self.wait_log(TIMED_OUT, HALF_OPEN)

    def test_client_alert_mid_handshake(self):
        with self.connect() as s:
            s.sendall(ts.handshake_records(ts.client_hello(tls13=False)))
            first, _ = ts.read_answer(s, timeout=1)
            self.assertEqual(ts.records(first)[0][0], 22)
            s.sendall(ts.record(21, bytes([2, ALERT_HANDSHAKE_FAILURE]), 0x0303))
            answer, closed = ts.read_answer(s)
        self.assertTrue(closed)
        self.assertEqual(answer, b"")
        self.assertIn("alert handshake failure", self.assert_info(self.failed))

    def test_renegotiation_refused(self):
        """openssl s_client's "R" asks for a renegotiation on TLS 1.2: refused with a
        no_renegotiation alert (the client gives up), and said at info."""
        cmd = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % self.port, "-tls1_2",
               "-servername", ts.NAME, "-CAfile", os.path.join(ENV["pki"].name, "ca.pem")]
        p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT)
        guard = threading.Timer(ts.TIMEOUT, p.kill)  # bounds every read below
        guard.start()
        try:
            out = b""
            for line in p.stdout:  # s_client reads stdin once the handshake is done
                out += line
                if line.startswith(b"    Verify return code"):
                    break
            p.stdin.write(b"R\n")
            p.stdin.flush()
            out += p.communicate()[0]
        finally:
            guard.cancel()
            if p.poll() is None:
                p.kill()
            p.wait()
        out = out.decode("latin-1")
        self.assertIn("Verify return code: 0 (ok)", out)
        self.assertIn("RENEGOTIATING", out)
        self.assertIn("no renegotiation", out)
        self.assert_info("listener %s: a client asked for a TLS renegotiation: refused"
                         % self.LISTENER)

    def test_old_protocol_only_client(self):
        """A ClientHello of TLS 1.0 or 1.1 without supported_versions: protocol_version."""
        cbc = (0xC013, 0xC014, 0x002F, 0x0035)  # ECDHE-RSA-AES*-SHA, AES*-SHA
        for version in (0x0301, 0x0302):
            with self.subTest(version=hex(version)):
                self.mark = len(ENV["proxy"].log())
                hello = ts.client_hello(version=version, tls13=False, ciphers=cbc)
                answer, closed = self.send_and_read(ts.handshake_records(hello))
                self.assertTrue(closed)
                self.assertIn((2, ALERT_PROTOCOL_VERSION), ts.alerts(answer))
                self.assertIn("unsupported protocol", self.assert_info(self.failed))


class TcpOffloadAttacks(Attacks):
    """The same on the tcp listener with tls (TLS offload: the relay starts after the
    handshake), whose normal request is relayed to the backend."""

    LISTENER = "l4"


class ZzEnd(unittest.TestCase):
    """Last (classes run by name): the end of the run."""

    def test_clean_exit(self):
        """No attack left an error line or a sanitizer report; SIGQUIT ends it cleanly."""
        proxy = ENV["proxy"]
        status = proxy.stop()
        log = proxy.log()
        self.assertEqual(status, 0, log)
        for bad in ("[error]", "[alert]", "AddressSanitizer", "runtime error:", "LeakSanitizer"):
            self.assertNotIn(bad, log)


if __name__ == "__main__":
    unittest.main(verbosity=2)
