"""h2_streams.py - an HTTP/2 client (Python's h2, Debian python3-h2) that runs many concurrent
streams on ONE connection and checks every body by SHA-256 both ways. Run by
tests/integration/test_h2.c against lifeguard in front of lg-origin.

  /usr/bin/python3 tests/support/h2_streams.py --port PORT [--tls --ca CA.pem --sni NAME]
                   [--streams 100] [--expect-open N] [--max-size 1048576] [--seed 1]

Two waves of --streams concurrent streams on the same connection:
  uploads    POST /echo with a distinct random body (0..max-size bytes; every other stream
             without content-length): lg-origin's "body-sha256" line must be the body's
  downloads  GET /size/N?offset=O with distinct N and O: the body must be the lg-origin pattern
             from byte O (its SHA-256 computed here), with content-length N
Every stream must end with status 200. The client waits for the server's SETTINGS, then
respects its SETTINGS_MAX_CONCURRENT_STREAMS and flow control; a wave must have exactly --expect-open
streams open at once at its peak (default --streams: the server allowed them all).
Prints "ok streams=N max_open=M up=BYTES down=BYTES" and exits 0, or prints each problem
and exits 1. Bounded by --timeout seconds (default 60) of silence.
"""

import argparse
import hashlib
import random
import select
import socket
import ssl
import sys

import h2.config
import h2.connection
import h2.events
import h2.settings

PATTERN_PERIOD = 4093  # LG_PATTERN_PERIOD of tests/support/lg_test_pattern.h
PERIOD = bytes(ord("a") + (j + j // 26) % 26 for j in range(PATTERN_PERIOD))
WINDOW = 16 << 20


def pattern(off, n):
    """Bytes [off, off+n) of lg-origin's body pattern (lg_pattern_byte)."""
    start = off % PATTERN_PERIOD
    reps = (start + n) // PATTERN_PERIOD + 1
    return (PERIOD * reps)[start:start + n]


class Stream:
    def __init__(self, method, path, body=b"", length=True, expect=None):
        self.method, self.path, self.body, self.length = method, path, body, length
        self.expect = expect  # SHA-256 hex of the expected download, or None (an upload)
        self.sent = 0
        self.id = None
        self.status = None
        self.headers = {}
        self.data = bytearray()
        self.done = False
        self.reset = None


class Client:
    def __init__(self, a):
        self.a = a
        sock = socket.create_connection(("127.0.0.1", a.port), timeout=a.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if a.tls:
            ctx = ssl.create_default_context(cafile=a.ca)
            ctx.set_alpn_protocols(["h2"])
            sock = ctx.wrap_socket(sock, server_hostname=a.sni)
            if sock.selected_alpn_protocol() != "h2":
                sys.exit("ALPN selected %r, not h2" % sock.selected_alpn_protocol())
        sock.setblocking(False)
        self.sock = sock
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        self.conn.initiate_connection()
        self.conn.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: WINDOW})
        self.conn.increment_flow_control_window(WINDOW)
        self.out = bytearray()
        self.by_id = {}
        self.goaway = None
        self.settings = False
        # the server's SETTINGS (its stream limit among them) before the first stream
        self.flush()
        while not self.settings:
            self.receive()

    def flush(self):
        self.out += self.conn.data_to_send()
        while self.out:
            try:
                n = self.sock.send(self.out)
            except (BlockingIOError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
                return
            del self.out[:n]

    def open(self, s):
        s.id = self.conn.get_next_available_stream_id()
        host = "%s:%d" % (self.a.sni if self.a.tls else "127.0.0.1", self.a.port)
        headers = [(":method", s.method), (":path", s.path), (":authority", host),
                   (":scheme", "https" if self.a.tls else "http"),
                   ("user-agent", "h2_streams.py")]
        if s.method == "POST" and s.length:
            headers.append(("content-length", str(len(s.body))))
        self.conn.send_headers(s.id, headers, end_stream=s.method != "POST")
        self.by_id[s.id] = s

    def pump_uploads(self):
        for s in self.by_id.values():
            if s.method != "POST" or s.sent > len(s.body) or s.reset is not None:
                continue
            while s.sent <= len(s.body):
                room = min(self.conn.local_flow_control_window(s.id),
                           self.conn.max_outbound_frame_size, len(s.body) - s.sent)
                last = s.sent + room == len(s.body)
                if room == 0 and not last:
                    break
                self.conn.send_data(s.id, s.body[s.sent:s.sent + room], end_stream=last)
                s.sent += room + (1 if last else 0)
                self.flush()
                if len(self.out) > (4 << 20):
                    return

    def receive(self):
        ready = select.select([self.sock], [self.sock] if self.out else [], [], self.a.timeout)
        if not ready[0] and not ready[1]:
            raise TimeoutError("nothing happened for %d s" % self.a.timeout)
        if not ready[0]:
            return
        try:
            data = self.sock.recv(1 << 20)
        except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
            return
        if not data:
            raise ConnectionError("the server closed the connection")
        for ev in self.conn.receive_data(data):
            self.event(ev)

    def event(self, ev):
        s = self.by_id.get(getattr(ev, "stream_id", None))
        if isinstance(ev, h2.events.RemoteSettingsChanged):
            self.settings = True
        elif isinstance(ev, h2.events.ResponseReceived):
            hd = {k.decode(): v.decode() for k, v in ev.headers}
            s.status = int(hd[":status"])
            s.headers = hd
        elif isinstance(ev, h2.events.DataReceived):
            s.data += ev.data
            self.conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
        elif isinstance(ev, h2.events.StreamEnded):
            s.done = True
        elif isinstance(ev, h2.events.StreamReset):
            s.reset = ev.error_code
            s.done = True
        elif isinstance(ev, h2.events.ConnectionTerminated):
            self.goaway = ev.error_code
            raise ConnectionError("GOAWAY %s" % ev.error_code)

    def run_wave(self, streams):
        """Open the streams (as many at once as the server allows); returns the most open."""
        todo, most = list(streams), 0
        while todo or any(not s.done for s in self.by_id.values()):
            limit = self.conn.remote_settings.max_concurrent_streams
            while todo and self.conn.open_outbound_streams < limit:
                self.open(todo.pop(0))
            most = max(most, self.conn.open_outbound_streams)
            self.pump_uploads()
            self.flush()
            self.receive()
            self.flush()
        return most


def waves(a):
    rnd = random.Random(a.seed)
    sizes = [0, 1, a.max_size] + [rnd.randrange(a.max_size + 1) for _ in range(a.streams - 3)]
    ups = [Stream("POST", "/echo?up=%d" % i, rnd.randbytes(sizes[i]), length=i % 2 == 0)
           for i in range(a.streams)]
    downs = []
    for i in range(a.streams):
        n, off = sizes[(i + 1) % a.streams] + i, i * 37
        downs.append(Stream("GET", "/size/%d?offset=%d" % (n, off),
                            expect=(n, hashlib.sha256(pattern(off, n)).hexdigest())))
    return ups, downs


def check(s):
    """The problems with one finished stream."""
    if s.reset is not None:
        return ["%s %s: reset (%s)" % (s.method, s.path, s.reset)]
    if s.status != 200:
        return ["%s %s: status %s" % (s.method, s.path, s.status)]
    if s.expect is None:
        want = hashlib.sha256(s.body).hexdigest()
        lines = dict(ln.split(" ", 1) for ln in s.data.decode().splitlines() if " " in ln)
        if lines.get("body-sha256") != want or lines.get("body-length") != str(len(s.body)):
            return ["%s %s: origin got %s bytes sha256 %s, sent %d sha256 %s" % (
                s.method, s.path, lines.get("body-length"), lines.get("body-sha256"),
                len(s.body), want)]
        return []
    n, want = s.expect
    got = hashlib.sha256(s.data).hexdigest()
    if got != want or len(s.data) != n or s.headers.get("content-length") != str(n):
        return ["%s %s: %d bytes sha256 %s (content-length %s), expected %d sha256 %s" % (
            s.method, s.path, len(s.data), got, s.headers.get("content-length"), n, want)]
    return []


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--tls", action="store_true")
    p.add_argument("--ca")
    p.add_argument("--sni", default="www.example.com")
    p.add_argument("--streams", type=int, default=100)
    p.add_argument("--expect-open", type=int)
    p.add_argument("--max-size", type=int, default=1 << 20)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--timeout", type=int, default=60)
    a = p.parse_args()
    c = Client(a)
    problems, most = [], []
    ups, downs = waves(a)
    for wave in (ups, downs):
        c.by_id = {}
        most.append(c.run_wave(wave))
        for s in wave:
            problems += check(s)
    expect = a.streams if a.expect_open is None else a.expect_open
    for i, m in enumerate(most):
        if m != expect:
            problems.append("wave %d: at most %d streams open at once, not %d (server's limit %d)"
                            % (i, m, expect, c.conn.remote_settings.max_concurrent_streams))
    for line in problems:
        print(line)
    if problems:
        return 1
    print("ok streams=%d max_open=%d up=%d down=%d" % (
        2 * a.streams, min(most), sum(len(s.body) for s in ups), sum(len(s.data) for s in downs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
