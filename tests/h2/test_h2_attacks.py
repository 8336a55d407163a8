"""test_h2_attacks.py - the HTTP/2 front under the known HTTP/2 attacks and at its limits, as a
client and an operator see it (docs/security.md; the contract of issue 15):

  max concurrent streams   SETTINGS says the limit; streams beyond it: RST_STREAM REFUSED_STREAM
  rapid reset              GOAWAY ENHANCE_YOUR_CALM, close; the backend's requests cancelled
  CONTINUATION flood       GOAWAY, close; the worker's memory bounded
  HPACK bomb               431 (or a reset) on that stream only; memory bounded
  SETTINGS / PING flood    (the client does not read) closed; memory bounded
  empty DATA flood         GOAWAY ENHANCE_YOUR_CALM
  connection-specific      RST_STREAM PROTOCOL_ERROR; the backend sees nothing
  unknown methods          400 as over HTTP/1.1 (get, FOO, PRI); the backend sees nothing
  stream id reused         never served twice, also after the connection was quiet
  zero window forever      the stream reset after timeouts.upstream_response; memory bounded
  body never sent          408 after timeouts.client_body
  idle connection          GOAWAY NO_ERROR after timeouts.client_idle, then close
  Upgrade: h2c             served as HTTP/1.1; the backend never sees Upgrade / HTTP2-Settings
  sleep                    an idle session sleeps (counted) and wakes on its next byte, unseen

  /usr/bin/python3 tests/h2/test_h2_attacks.py     (lifeguard and lg-origin from $LG_BINARY and
                                                    $LG_ORIGIN, else build/)

Every case runs on the h2c listener and again on the TLS listener (classes ending in Tls).
After each case a new client is served and the worker is the same process. Memory is the
worker's peak resident size (VmHWM, reset before the attack) minus its size before. Exit 77
(skipped) only when the h2 or hpack package or the binaries are missing.
"""

import os
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

try:
    import h2lib as h
    from h2lib import MIB
except ImportError as e:  # python3-h2 / python3-hpack missing
    print("skipped: %s (Debian python3-h2)" % e)
    sys.exit(77)

import socket  # noqa: E402
import ssl  # noqa: E402

import h2.config  # noqa: E402
import h2.connection  # noqa: E402
import h2.events  # noqa: E402
import harness  # noqa: E402  (tests/framing, on the path through h2lib)
import tls_support  # noqa: E402

# Memory a worker may gain during one attack (the attacks are sized well beyond it: 64 MiB of
# CONTINUATION, 40 MB of decoded headers, MBs of SETTINGS and PING, a 64 MiB response).
FLOOD_RSS = 16 * MIB
RESPONSE_RSS = 32 * MIB
BIG = "64m"  # the response a client never takes
RAPID_RESETS = 1000  # HEADERS + RST_STREAM pairs, well over the burst of 200
HANGING = 3  # requests the backend holds when the rapid reset begins
EMPTY_DATA = 1000  # empty DATA frames, well over 100
CONTINUATIONS = 4096  # of 16 KiB each: 64 MiB, well over max_header_size
FLOOD_FRAMES = 1000000  # SETTINGS or PING frames at most (the sending stops when blocked)
FLOOD_BLOCKED = 5  # seconds a flood's send may stay blocked before the client stops sending
# the HTTP/2 counters of /metrics (docs/configuration.md, "admin"), by listener
GOAWAYS = "lifeguard_http2_goaway_total"
RESETS = "lifeguard_http2_resets_total"
QUIET = 3  # seconds a connection stays quiet (lifeguard's idle sessions sleep after 1 s)
ENV = {}
ASAN = False  # lifeguard built with AddressSanitizer (setUpModule)


def setUpModule():
    for path in (h.binary(), h.binary().replace("lifeguard", "lg-origin")):
        if not os.path.exists(path) and "LG_ORIGIN" not in os.environ:
            print("skipped: %s missing (build first)" % path)
            sys.exit(77)
    ENV["pki"] = tls_support.make_pki()
    global ASAN
    with open(h.binary(), "rb") as f:
        ASAN = b"__asan_init" in f.read()


def tearDownModule():
    ENV.pop("pki").cleanup()


class H2Case(unittest.TestCase):
    """One lifeguard per class (TIMEOUTS and LIMITS into its config); TRANSPORT: h2c or tls."""

    TIMEOUTS = None
    LIMITS = None
    TRANSPORT = "h2c"

    @classmethod
    def setUpClass(cls):
        cls.proxy = h.Proxy(ENV["pki"].name, cls.TIMEOUTS, cls.LIMITS)
        cls.target = cls.proxy.targets[cls.TRANSPORT]
        cls.worker = cls.proxy.worker()

    @classmethod
    def tearDownClass(cls):
        status = cls.proxy.stop()
        if status != 0:
            raise AssertionError("lifeguard exited %s; its log:\n%s"
                                 % (status, cls.proxy.lg.log_text()[-4000:]))

    def setUp(self):
        self.clients = []

    def tearDown(self):
        for c in self.clients:
            c.close()
        self.assertEqual(self.proxy.lg.workers(), [self.worker], "the worker changed")

    def client(self, **kw):
        c = h.RawClient(self.target, **kw)
        self.clients.append(c)
        return c

    def assert_served(self):
        """A new, well-behaved client (the h2 package) gets its 200 from the app origin."""
        self.assertEqual(h.h2_get(self.target, "/"), (200, b"app\n"))

    def assert_goaway_close(self, c, code=None):
        """A GOAWAY (with code, or any error code when None), then the close."""
        closed = c.wait_closed()
        goaways = [f for f in c.frames if f.type == h.GOAWAY]
        if not goaways:
            self.fail("no GOAWAY, %s; frames received: %r"
                      % ("closed" if closed else "open after %ss" % h.WAIT, c.frames[-30:]))
        g = goaways[0]
        if code is None:
            self.assertNotEqual(g.code, h.NO_ERROR, "GOAWAY NO_ERROR for an attack")
        else:
            self.assertEqual(h.ERROR_NAMES.get(g.code), h.ERROR_NAMES[code], repr(g))
        self.assertTrue(closed, "still open %ss after %r" % (h.WAIT, g))
        return g

    def assert_rss(self, peak, bound, what):
        """The worker's peak RSS grew less than bound, printed as a figure; with an ASan
        binary only printed (its quarantine and shadow memory are not lifeguard's)."""
        grew = peak.growth()
        print("\n  %s [%s]: the worker's peak RSS grew %.1f MiB%s"
              % (what, self.TRANSPORT, grew / MIB, " (ASan: not checked)" if ASAN else ""),
              file=sys.stderr)
        if not ASAN:
            self.assertLess(grew, bound, "%s: the worker's peak RSS grew %.1f MiB"
                            % (what, grew / MIB))

    def metric(self, name, **labels):
        return self.proxy.metric(name, listener=self.target.listener, **labels)

    def wait_metric(self, name, at_least, **labels):
        """Waits (bounded) until the admin's /metrics has metric name (this listener, labels)
        at least at_least; its value."""
        deadline = time.monotonic() + h.WAIT
        while True:
            value = self.metric(name, **labels)
            if value >= at_least or time.monotonic() > deadline:
                self.assertGreaterEqual(value, at_least, "%s%r on /metrics" % (name, labels))
                return value
            time.sleep(0.05)

    def wait_stats(self, origin, key, value):
        """Waits (bounded) until origin's /stats has key == value; the last stats."""
        deadline = time.monotonic() + h.WAIT
        while True:
            st = origin.stats()
            if st[key] == value or time.monotonic() > deadline:
                self.assertEqual(st[key], value, "origin /stats: %r" % st)
                return st
            time.sleep(0.05)


class Limits(H2Case):
    LIMITS = {"max_concurrent_streams": 4}

    def test_max_concurrent_streams(self):
        """Streams beyond the limit the client acknowledged: a connection error (nghttp2's
        choice, RFC 9113 5.4.1), so the streams it held are cut; the origin never sees more than
        the limit, and other clients are served."""
        c = self.client()
        self.assertEqual(c.server_settings().get(h.MAX_CONCURRENT_STREAMS), 4)
        before = self.proxy.app.stats()["requests"]
        # six HEADERS in one write: four held by the origin for a second, two beyond the limit
        opened = [c.headers(path=p) for p in ["/delay/1000"] * 4 + ["/"] * 2]
        c.send(b"".join(f for _, f in opened))
        self.assert_goaway_close(c, h.PROTOCOL_ERROR)
        self.assertLessEqual(self.proxy.app.stats()["requests"] - before, 4)
        self.assert_served()


class Attacks(H2Case):
    def test_settings_advertised(self):
        """The defaults: 128 streams, the header list bounded by max_header_size (16k)."""
        s = self.client().server_settings()
        self.assertEqual(s.get(h.MAX_CONCURRENT_STREAMS), 128, s)
        self.assertEqual(s.get(h.MAX_HEADER_LIST_SIZE), 16384, s)

    def test_rapid_reset(self):
        rr = self.proxy.rr
        self.assertEqual(rr.stats()["active"], 0)
        goaways, resets = self.metric(GOAWAYS), self.metric(RESETS, by="client")
        c = self.client()
        c.server_settings()
        hanging = [c.request(path="/rr/hang") for _ in range(HANGING)]
        self.wait_stats(rr, "active", HANGING)
        # one reset: that backend request is cancelled, the others stay
        c.send(h.rst_frame(hanging[0]))
        self.wait_stats(rr, "active", HANGING - 1)
        flood = b""
        for _ in range(RAPID_RESETS):
            sid, f = c.headers(path="/rr/hang")
            flood += f + h.rst_frame(sid)
        c.send(flood)
        self.assert_goaway_close(c, h.ENHANCE_YOUR_CALM)
        # every request to the backend is cancelled: the origin sees its connections closed
        self.wait_stats(rr, "active", 0)
        self.assert_served()
        # what an operator sees: nothing in progress on the backend, the GOAWAY, the resets
        self.assertIn('lifeguard_backend_active_connections{pool="rr"', self.proxy.metrics())
        self.assertEqual(self.proxy.metric("lifeguard_backend_active_connections", pool="rr"), 0)
        self.wait_metric(GOAWAYS, goaways + 1)
        self.wait_metric(RESETS, resets + 200, by="client")

    def test_continuation_flood(self):
        peak = h.PeakRss(self.worker)
        c = self.client()
        c.server_settings()
        sid, f = c.headers(flags=h.END_STREAM)  # no END_HEADERS: CONTINUATIONs follow
        c.send(f)
        piece = b"".join(h.hpack_literal(b"x-c%d" % i, b"c" * 1000) for i in range(16))
        cont = h.frame(h.CONTINUATION, 0, sid, piece)
        for _ in range(CONTINUATIONS // 64):
            if not c.send(cont * 64):
                break
        c.wait_closed()  # the memory first: it is measured whatever the end looks like
        self.assert_rss(peak, FLOOD_RSS, "CONTINUATION flood")
        self.assert_goaway_close(c)
        self.assert_served()

    def test_nine_continuations(self):
        """A small header block over a HEADERS and nine CONTINUATION frames (eight at most):
        a connection error, although the block is far under max_header_size."""
        c = self.client()
        c.server_settings()
        block = c.block_of(c.request_headers(extra=[("x-%d" % i, "v") for i in range(9)]))
        cut = [len(block) * i // 10 for i in range(11)]
        pieces = [block[a:b] for a, b in zip(cut, cut[1:])]
        sid = c.next_sid
        c.next_sid += 2
        frames = h.frame(h.HEADERS, h.END_STREAM, sid, pieces[0])
        for i, piece in enumerate(pieces[1:], 1):
            frames += h.frame(h.CONTINUATION, h.END_HEADERS if i == 9 else 0, sid, piece)
        c.send(frames)
        self.assert_goaway_close(c)
        self.assert_served()

    def test_stream_id_reused(self):
        """A stream id used before (1) sent again, then a new stream (3): the old id is never
        served twice (RFC 9113 5.1.1): the connection ends with a GOAWAY (nginx), or the
        HEADERS is ignored and stream 3 is served (nghttp2). Also after the connection was
        quiet for QUIET s (lifeguard puts an idle session to sleep after 1 s and rebuilds it
        when bytes come)."""
        for quiet in (0, QUIET):
            with self.subTest(quiet=quiet):
                before = self.proxy.app.stats()["requests"]
                c = self.client()
                self.assertEqual(c.response(c.request(path="/")), (200, b"app\n"))
                self.assertFalse(c.wait_closed(quiet))  # reading (and ACKing), as clients do
                c.send(h.frame(h.HEADERS, h.END_HEADERS | h.END_STREAM, 1,
                               c.block_of(c.request_headers())))
                try:
                    third = c.response(c.request(path="/"))
                except AssertionError:  # closed: it must have been a connection error
                    third = None
                    self.assert_goaway_close(c)
                if third is not None:
                    self.assertEqual(third, (200, b"app\n"))
                answers = [f for f in c.frames if f.sid == 1 and f.type == h.HEADERS]
                self.assertEqual(len(answers), 1, "stream 1 answered twice: %r" % answers)
                self.assertEqual(self.proxy.app.stats()["requests"] - before,
                                 1 if third is None else 2, "the origin got stream 1 twice")

    def test_hpack_bomb(self):
        """A 4000-byte header put in the dynamic table by stream 1, then referenced 10000
        times (one byte each) by stream 3: 40 MB decoded from a 10 KB block."""
        peak = h.PeakRss(self.worker)
        before = self.proxy.app.stats()["requests"]
        c = self.client()
        c.server_settings()
        req = h.hpack_request(self.target.scheme)
        first = req + h.hpack_literal(b"x-bomb", b"b" * 4000, indexed=True)
        bomb = req + b"\xbe" * 10000  # 0xbe: the dynamic table's entry 62, x-bomb
        for sid, block in ((1, first), (3, bomb), (5, req)):
            c.send(h.frame(h.HEADERS, h.END_HEADERS | h.END_STREAM, sid, block))
        c.next_sid = 7
        self.assertEqual(c.response(1), (200, b"app\n"))
        self.assertEqual(c.response(5), (200, b"app\n"))
        self.assertEqual(self.proxy.app.stats()["requests"] - before, 2, "the bomb reached it")
        self.assert_rss(peak, FLOOD_RSS, "HPACK bomb")
        r = c.response(3)
        self.assertTrue(r[0] == 431 or r[0] == "reset", "the bomb got %r" % (r,))
        self.assertFalse(c.closed)
        self.assert_served()

    def test_empty_data_flood(self):
        goaways = self.metric(GOAWAYS)
        c = self.client()
        c.server_settings()
        sid = c.request("POST", "/echo", end_stream=False)
        c.send(h.frame(h.DATA, 0, sid) * EMPTY_DATA)
        self.assert_goaway_close(c, h.ENHANCE_YOUR_CALM)
        self.wait_metric(GOAWAYS, goaways + 1)
        self.assert_served()

    def test_connection_specific_headers(self):
        """Each on its own stream of one connection: reset, the origin gets none of them."""
        before = self.proxy.app.stats()["requests"]
        c = self.client()
        c.server_settings()
        for field in (("connection", "keep-alive"), ("keep-alive", "timeout=5"),
                      ("proxy-connection", "keep-alive"), ("transfer-encoding", "chunked"),
                      ("upgrade", "websocket"), ("te", "gzip")):
            with self.subTest(field=field):
                sid = c.request(path="/", extra=[field])
                self.assertEqual(c.response(sid), ("reset", h.PROTOCOL_ERROR))
        self.assertEqual(self.proxy.app.stats()["requests"], before)
        # te: trailers is allowed, on the same connection
        self.assertEqual(c.response(c.request(path="/", extra=[("te", "trailers")])),
                         (200, b"app\n"))
        self.assertEqual(self.proxy.app.stats()["requests"] - before, 1)


    def test_methods_http11_refuses(self):
        """A :method llhttp refuses on an HTTP/1.1 request line gets the same 400 (nghttp2 takes
        any token); the origin gets none of them. Known methods pass on the same connection."""
        before = self.proxy.app.stats()["requests"]
        c = self.client()
        c.server_settings()
        for method in ("get", "head", "FOO", "PRI", "G" * 200):
            with self.subTest(method=method[:10]):
                self.assertEqual(c.response(c.request(method, "/"))[0], 400)
        self.assertEqual(self.proxy.app.stats()["requests"], before)
        for method in ("PATCH", "PROPFIND", "M-SEARCH"):
            self.assertEqual(c.response(c.request(method, "/")), (200, b"app\n"))
        self.assertEqual(self.proxy.app.stats()["requests"] - before, 3)


class Floods(H2Case):
    """The client floods and never reads: lifeguard's ACKs pile up on its side. No timeout of
    lifeguard's can end the connection within the wait: only the flood's detection can."""

    TIMEOUTS = {"client_header": "1h", "client_idle": "1h"}

    def flood(self, one):
        peak = h.PeakRss(self.worker)
        c = self.client(rcvbuf=4096)
        c.record_acks = False
        c.sock.settimeout(FLOOD_BLOCKED)
        batch = one * 1000
        for _ in range(FLOOD_FRAMES // 1000):
            if not c.send(batch):
                break
        self.assertTrue(c.wait_closed(), "still open %ss after the flood" % h.WAIT)
        goaways = [f for f in c.frames if f.type == h.GOAWAY]
        print("\n  flood [%s]: %s" % (self.TRANSPORT, goaways or "closed without GOAWAY"),
              file=sys.stderr)
        for g in goaways:
            self.assertNotEqual(g.code, h.NO_ERROR, "GOAWAY NO_ERROR for a flood")
        return peak

    def test_settings_flood(self):
        peak = self.flood(h.settings_frame())
        self.assert_rss(peak, FLOOD_RSS, "SETTINGS flood")
        self.assert_served()

    def test_ping_flood(self):
        peak = self.flood(h.ping_frame())
        self.assert_rss(peak, FLOOD_RSS, "PING flood")
        self.assert_served()


class Timeouts(H2Case):
    TIMEOUTS = {"client_header": "2s", "client_body": "1s", "client_idle": "2s",
                "upstream_response": "1s"}

    def test_zero_window_forever(self):
        """The client's stream window is 0 and it never grants more: lifeguard sends the head,
        no DATA, holds nowhere near the 64 MiB, and gives up at upstream_response."""
        rr = self.proxy.rr
        peak = h.PeakRss(self.worker)
        c = self.client(settings=[(h.INITIAL_WINDOW_SIZE, 0)])
        sid = c.request(path="/rr/size/" + BIG)
        head = c.wait_for(lambda f: f.type == h.HEADERS and f.sid == sid, "response HEADERS")
        self.assertEqual(head.status, 200)
        try:
            end = c.wait_for(lambda f: f.sid == sid and f.type == h.RST_STREAM
                             or f.type == h.GOAWAY, "RST_STREAM or GOAWAY")
        except AssertionError:
            if not c.closed:
                raise
            end = "closed"
        print("\n  zero window [%s]: %r" % (self.TRANSPORT, end), file=sys.stderr)
        self.assertEqual([f for f in c.frames if f.type == h.DATA and f.payload], [],
                         "DATA beyond a zero window")
        self.wait_stats(rr, "active", 0)  # the backend exchange was given up
        self.assert_rss(peak, RESPONSE_RSS, "zero window, %s response" % BIG)
        self.assert_served()

    def test_body_never_sent(self):
        c = self.client()
        sid = c.request("POST", "/echo", end_stream=False)
        status, _ = c.response(sid)
        self.assertEqual(status, 408)
        self.assert_served()

    def test_idle_connection(self):
        c = self.client()
        sid = c.request(path="/")
        self.assertEqual(c.response(sid), (200, b"app\n"))
        # not before its time: nothing for a quarter of client_idle (2s)
        self.assertRaises(AssertionError, c.goaway, 0.5)
        g = self.assert_goaway_close(c, h.NO_ERROR)
        self.assertEqual(g.last_sid, sid)

    def test_idle_without_request(self):
        c = self.client()
        self.assert_goaway_close(c, h.NO_ERROR)


class Upgrade(H2Case):
    """HTTP/1.1 on the h2c listener asking for Upgrade: h2c."""

    def test_upgrade_h2c_is_served_as_http11(self):
        before = self.proxy.app.stats()["requests"]
        c = harness.Client(self.target.port)
        try:
            c.send(b"GET /echo HTTP/1.1\r\nHost: t\r\nConnection: Upgrade, HTTP2-Settings\r\n"
                   b"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n")
            r = c.read_response()
        finally:
            c.close()
        self.assertIsInstance(r, tuple, r)
        status, _, body, interim = r
        self.assertEqual((status, interim), (200, []))
        seen = [line for line in body.decode().splitlines() if line.startswith("header ")]
        for line in seen:
            self.assertNotIn(line.split()[1].rstrip(":").lower(), ("upgrade", "http2-settings"),
                             "the backend saw %r" % line)
        self.assertIn("header Host: t", seen)
        self.assertEqual(self.proxy.app.stats()["requests"] - before, 1)


class Sleep(H2Case):
    """An idle connection gives its nghttp2 session back and takes a new one on its next byte;
    the client (the h2 package, acknowledging DATA and SETTINGS as browsers do) sees nothing of
    it: HPACK, windows and stream ids go on."""

    ASLEEP = "lifeguard_http2_connections_asleep"

    def exchange(self, s, c, sid, path, body=None):
        headers = [(":method", "POST" if body else "GET"), (":path", path), (":scheme", "http"),
                   (":authority", "t"), ("cookie", "a=1"), ("cookie", "b=2")]
        c.send_headers(sid, headers, end_stream=body is None)
        off = 0
        deadline = time.time() + h.WAIT
        while body and off < len(body):  # as the windows allow: lifeguard opens them as it reads
            n = min(c.local_flow_control_window(sid), c.max_outbound_frame_size, len(body) - off)
            if n > 0:
                c.send_data(sid, body[off:off + n], end_stream=off + n == len(body))
                off += n
            else:
                self.assertLess(time.time(), deadline, "the window stayed shut")
                s.sendall(c.data_to_send())
                c.receive_data(s.recv(65536))
        s.sendall(c.data_to_send())
        return h.h2_response(s, c, path)

    def quiet_until_asleep(self, s, c, want):
        """Read (and answer, as a client does) until `want` sessions of the listener sleep."""
        s.settimeout(0.2)
        deadline = time.time() + h.WAIT
        while self.proxy.metric(self.ASLEEP, listener=self.target.listener) != want:
            self.assertLess(time.time(), deadline, "no session went to sleep")
            try:
                c.receive_data(s.recv(65536))
                s.sendall(c.data_to_send())
            except (socket.timeout, ssl.SSLWantReadError):
                pass
        s.settimeout(h.WAIT)

    def test_idle_session_sleeps_and_wakes(self):
        s = self.target.connect()
        c = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        c.initiate_connection()
        c.increment_flow_control_window(1 << 24)
        s.sendall(c.data_to_send())
        sid = 1
        try:
            for _ in range(3):
                status, data = self.exchange(s, c, sid, "/size/300k")
                self.assertEqual((status, len(data)), (200, 300 * 1024))
                body = os.urandom(200000)
                status, data = self.exchange(s, c, sid + 2, "/echo", body)
                self.assertEqual(status, 200)
                self.assertIn(b"body-length 200000\n", data)
                self.assertIn(b"header cookie: a=1; b=2\n", data)
                sid += 4
                self.quiet_until_asleep(s, c, 1)
        finally:
            s.close()
        deadline = time.time() + h.WAIT
        while self.proxy.metric(self.ASLEEP, listener=self.target.listener) != 0:
            self.assertLess(time.time(), deadline, "the closed connection is still counted")
            time.sleep(0.1)
        self.assert_served()


def _tls_variants():
    """Each attack class again on the TLS listener (h2 by ALPN)."""
    for cls in (Limits, Attacks, Floods, Timeouts, Sleep):
        name = cls.__name__ + "Tls"
        globals()[name] = type(name, (cls,), {"TRANSPORT": "tls", "__doc__": cls.__doc__})


_tls_variants()

if __name__ == "__main__":
    unittest.main(verbosity=2)
