"""h2lib.py - what the HTTP/2 attack suite needs: lifeguard with an h2c listener (`web`, plain,
`http2: on`) and a TLS listener (`secure`, h2 by ALPN) in front of two lg-origins (`app` for
everything, `rr` for paths under /rr/, so a case can count one origin's connections alone),
an admin listener for /metrics; a raw HTTP/2 client that writes frames byte by byte (for the
inputs no library sends) and reads every frame the server sends; a well-behaved client made
with the h2 package (Debian python3-h2); the worker's memory.

Everything is on 127.0.0.1, ports chosen by the kernel. Debian's Python (/usr/bin/python3).
"""

import os
import socket
import ssl
import struct
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
sys.path[:0] = [os.path.join(ROOT, "tests", d) for d in ("framing", "support", "tls")]

import h2.config  # noqa: E402
import h2.connection  # noqa: E402
import h2.events  # noqa: E402
import harness  # noqa: E402  (the framing suite's Lifeguard: start, log, workers, stop)
import hpack  # noqa: E402
import tls_support  # noqa: E402  (the test PKI and a client context for it)
from origin_proc import Origin, plain_get  # noqa: E402

# Seconds to wait for an event that must happen (a GOAWAY, a close, a timeout of lifeguard's):
# generous, since waiting long costs nothing when the event comes. Raise on a very slow machine.
WAIT = float(os.environ.get("LG_H2_WAIT", "30"))
MIB = 1024 * 1024

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
# frame types (RFC 9113 6)
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY = range(8)
WINDOW_UPDATE, CONTINUATION = 8, 9
# flags
END_STREAM, ACK, END_HEADERS, PADDED, PRIORITY_FLAG = 0x1, 0x1, 0x4, 0x8, 0x20
# error codes (RFC 9113 7)
NO_ERROR, PROTOCOL_ERROR, INTERNAL_ERROR, REFUSED_STREAM, CANCEL = 0x0, 0x1, 0x2, 0x7, 0x8
ENHANCE_YOUR_CALM = 0xB
ERROR_NAMES = {0: "NO_ERROR", 1: "PROTOCOL_ERROR", 2: "INTERNAL_ERROR", 3: "FLOW_CONTROL_ERROR",
               4: "SETTINGS_TIMEOUT", 5: "STREAM_CLOSED", 6: "FRAME_SIZE_ERROR",
               7: "REFUSED_STREAM", 8: "CANCEL", 9: "COMPRESSION_ERROR", 0xA: "CONNECT_ERROR",
               0xB: "ENHANCE_YOUR_CALM", 0xC: "INADEQUATE_SECURITY", 0xD: "HTTP_1_1_REQUIRED"}
# settings (RFC 9113 6.5.2)
HEADER_TABLE_SIZE, ENABLE_PUSH, MAX_CONCURRENT_STREAMS, INITIAL_WINDOW_SIZE = 1, 2, 3, 4
MAX_FRAME_SIZE, MAX_HEADER_LIST_SIZE = 5, 6


def binary():
    return tls_support.binary()


# ---- frames


def frame(ftype, flags, sid, payload=b""):
    """One frame: 24-bit length, type, flags, stream id, payload."""
    return struct.pack("!I", len(payload))[1:] + struct.pack("!BBI", ftype, flags, sid) + payload


def settings_frame(pairs=()):
    return frame(SETTINGS, 0, 0, b"".join(struct.pack("!HI", k, v) for k, v in pairs))


def rst_frame(sid, code=CANCEL):
    return frame(RST_STREAM, 0, sid, struct.pack("!I", code))


def ping_frame(data=b"12345678"):
    return frame(PING, 0, 0, data)


def hpack_int(value, prefix_bits, first=0):
    """An HPACK integer (RFC 7541 5.1) with `first` in the bits above the prefix."""
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first | value])
    out, value = bytearray([first | limit]), value - limit
    while value >= 128:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    out.append(value)
    return bytes(out)


def hpack_literal(name, value, indexed=False):
    """A literal field with a new name, not Huffman-coded: with incremental indexing (added to
    the decoder's dynamic table) when indexed, else without indexing."""
    return (hpack_int(0, 6, 0x40) if indexed else b"\0") + hpack_int(len(name), 7) + name \
        + hpack_int(len(value), 7) + value


def hpack_request(scheme, path=b"/"):
    """GET scheme://t/path from static-table entries and literals only, so a block written by
    hand leaves the decoder's dynamic table as it was."""
    static = {b"http": b"\x86", b"https": b"\x87"}
    return b"\x82" + static[scheme.encode()] + b"\x04" + hpack_int(len(path), 7) + path \
        + b"\x01\x01t"


class Frame:
    """A frame from the server. For HEADERS: `headers`, the decoded header list of the whole
    block (its CONTINUATIONs included), with `status`."""

    def __init__(self, ftype, flags, sid, payload):
        self.type, self.flags, self.sid, self.payload = ftype, flags, sid, payload
        self.headers = None

    @property
    def code(self):
        """The error code of a RST_STREAM or a GOAWAY."""
        at = 4 if self.type == GOAWAY else 0
        return struct.unpack("!I", self.payload[at:at + 4])[0]

    @property
    def last_sid(self):
        return struct.unpack("!I", self.payload[:4])[0] & 0x7FFFFFFF

    @property
    def settings(self):
        p = self.payload
        return dict(struct.unpack("!HI", p[i:i + 6]) for i in range(0, len(p) - 5, 6))

    @property
    def status(self):
        return int(dict(self.headers)[":status"])

    def __repr__(self):
        names = {DATA: "DATA", HEADERS: "HEADERS", RST_STREAM: "RST_STREAM", SETTINGS: "SETTINGS",
                 PING: "PING", GOAWAY: "GOAWAY", WINDOW_UPDATE: "WINDOW_UPDATE"}
        what = names.get(self.type, "type %d" % self.type)
        if self.type in (RST_STREAM, GOAWAY):
            what += " " + ERROR_NAMES.get(self.code, hex(self.code))
        if self.type == HEADERS:
            what += " %r" % (self.headers,)
        if self.type == DATA:
            what += " %d bytes" % len(self.payload)
        return "<%s stream %d flags 0x%x>" % (what, self.sid, self.flags)


def _strip_padding(f):
    """The header block fragment of a HEADERS frame (padding and priority removed)."""
    p, pad = f.payload, 0
    if f.flags & PADDED:
        pad, p = p[0], p[1:]
    if f.flags & PRIORITY_FLAG:
        p = p[5:]
    return p[:len(p) - pad]


# ---- targets: where a client connects


class Target:
    """A listener: port, and a TLS client context (ALPN h2) or None for h2c."""

    def __init__(self, port, ctx=None, scheme="http", listener="web"):
        self.port, self.ctx, self.scheme, self.listener = port, ctx, scheme, listener

    def connect(self, rcvbuf=None):
        """A connected socket speaking HTTP/2 from its first byte (the ALPN chose h2)."""
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        s.settimeout(WAIT)
        s.connect(("127.0.0.1", self.port))
        if self.ctx is None:
            return s
        s = self.ctx.wrap_socket(s, server_hostname=tls_support.NAME)
        if s.selected_alpn_protocol() != "h2":
            s.close()
            raise AssertionError("ALPN chose %r, not h2" % s.selected_alpn_protocol())
        return s


# ---- the raw client


class Closed(Exception):
    """The server closed the connection (EOF or reset)."""


class RawClient:
    """An HTTP/2 client that sends what it is told, frame by frame, and records every frame the
    server sends. It sends the preface and a SETTINGS frame with `settings` first, answers the
    server's SETTINGS with an ACK when it reads it (ack_settings), and nothing else on its own
    (no WINDOW_UPDATE, no PING ACK)."""

    def __init__(self, target, settings=(), ack_settings=True, rcvbuf=None):
        self.target = target
        self.sock = target.connect(rcvbuf)
        self.ack_settings = ack_settings
        self.enc, self.dec = hpack.Encoder(), hpack.Decoder()
        self.dec.max_header_list_size = 1 << 24
        self.frames, self.buf, self.block = [], b"", None
        self.closed = False
        self.record_acks = True  # False: SETTINGS and PING ACKs are not kept (floods)
        self.next_sid = 1
        self.send(PREFACE + settings_frame(settings))

    def send(self, data):
        """Send data; False when the server has closed (the rest is not sent)."""
        try:
            self.sock.sendall(data)
            return True
        except OSError:  # closed, reset, or blocked beyond the socket's timeout
            return False

    def block_of(self, headers):
        """An HPACK header block (the encoder's state follows the connection)."""
        return self.enc.encode(headers)

    def request_headers(self, method="GET", path="/", extra=()):
        return [(":method", method), (":scheme", self.target.scheme), (":path", path),
                (":authority", "t")] + list(extra)

    def headers(self, method="GET", path="/", extra=(), flags=END_HEADERS | END_STREAM):
        """(id, HEADERS frame) of the next stream, not sent yet (the encoder has seen it)."""
        sid, self.next_sid = self.next_sid, self.next_sid + 2
        return sid, frame(HEADERS, flags, sid,
                          self.block_of(self.request_headers(method, path, extra)))

    def request(self, method="GET", path="/", extra=(), end_stream=True):
        """Sends a HEADERS frame (END_HEADERS) opening the next stream; its id."""
        sid, f = self.headers(method, path, extra, END_HEADERS | (END_STREAM if end_stream else 0))
        self.send(f)
        return sid

    def read(self, timeout):
        """One read (at most timeout s); the frames it completed. Raises Closed at EOF."""
        if self.closed:
            raise Closed()
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(1 << 20)
        except (socket.timeout, ssl.SSLWantReadError):
            return []
        except (ConnectionResetError, BrokenPipeError, ssl.SSLZeroReturnError, ssl.SSLEOFError):
            data = b""  # a close, with or without TLS's close_notify; other errors propagate
        if not data:
            self.closed = True
            raise Closed()
        self.buf += data
        return self._parse()

    def _parse(self):
        out, buf, i = [], self.buf, 0
        while len(buf) - i >= 9:
            n = struct.unpack("!I", b"\0" + buf[i:i + 3])[0]
            if len(buf) - i < 9 + n:
                break
            ftype, flags, sid = struct.unpack("!BBI", buf[i + 3:i + 9])
            f = Frame(ftype, flags, sid & 0x7FFFFFFF, buf[i + 9:i + 9 + n])
            i += 9 + n
            self._on_frame(f)
            if self.record_acks or not (f.type in (SETTINGS, PING) and f.flags & ACK):
                self.frames.append(f)
                out.append(f)
        self.buf = buf[i:]
        return out

    def _on_frame(self, f):
        if f.type == SETTINGS and not f.flags & ACK and self.ack_settings:
            if HEADER_TABLE_SIZE in f.settings:  # the encoder follows (RFC 7541 4.2)
                self.enc.header_table_size = f.settings[HEADER_TABLE_SIZE]
            self.send(frame(SETTINGS, ACK, 0))
        if f.type == HEADERS:
            self.block = (f, _strip_padding(f))
        elif f.type == CONTINUATION and self.block is not None:
            self.block = (self.block[0], self.block[1] + f.payload)
        if f.type in (HEADERS, CONTINUATION) and f.flags & END_HEADERS and self.block:
            head, data = self.block
            head.headers = [(n.decode() if isinstance(n, bytes) else n,
                             v.decode() if isinstance(v, bytes) else v)
                            for n, v in self.dec.decode(data)]
            self.block = None

    def wait_for(self, pred, what, timeout=WAIT):
        """The first frame (seen before or arriving within timeout) for which pred is true;
        AssertionError saying what came instead."""
        for f in self.frames:
            if pred(f):
                return f
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                for f in self.read(max(0.01, deadline - time.monotonic())):
                    if pred(f):
                        return f
        except Closed:
            pass
        raise AssertionError("no %s within %ss (%s); frames received: %r"
                             % (what, timeout, "closed" if self.closed else "still open",
                                self.frames[-30:]))

    def wait_closed(self, timeout=WAIT):
        """True when the server closes within timeout (reading and recording what comes)."""
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                self.read(max(0.01, deadline - time.monotonic()))
        except Closed:
            return True
        return False

    def goaway(self, timeout=WAIT):
        return self.wait_for(lambda f: f.type == GOAWAY, "GOAWAY", timeout)

    def server_settings(self):
        return self.wait_for(lambda f: f.type == SETTINGS and not f.flags & ACK,
                             "SETTINGS").settings

    def response(self, sid, timeout=WAIT):
        """(status, body) of stream sid once it ended, or ("reset", code) when the server reset
        it; granting flow-control credit for what it reads."""
        status, body = None, b""
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            for f in self.frames[seen:]:
                if f.sid != sid:
                    continue
                if f.type == RST_STREAM:
                    return "reset", f.code
                if f.type == HEADERS and f.headers is not None and status is None:
                    status = f.status
                if f.type == DATA and f.payload:
                    body += f.payload
                    self.send(frame(WINDOW_UPDATE, 0, 0, struct.pack("!I", len(f.payload)))
                              + frame(WINDOW_UPDATE, 0, sid, struct.pack("!I", len(f.payload))))
                if f.type in (HEADERS, DATA) and f.flags & END_STREAM:
                    return status, body
            seen = len(self.frames)
            if time.monotonic() > deadline:
                raise AssertionError("stream %d did not end within %ss; frames: %r"
                                     % (sid, timeout, self.frames[-30:]))
            try:
                self.read(max(0.01, deadline - time.monotonic()))
            except Closed:
                raise AssertionError("connection closed before stream %d ended; frames: %r"
                                     % (sid, self.frames[-30:]))

    def close(self):
        self.sock.close()


# ---- a well-behaved client (the h2 package)


def h2_response(sock, conn, what):
    """Read (answering as a client does, DATA acknowledged) until the one stream under way
    ends: (status, body), or ("reset", code). `what` names the request in failures."""
    status, body = None, b""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        data = sock.recv(1 << 16)
        if not data:
            raise AssertionError("connection closed before the response to %s" % what)
        for ev in conn.receive_data(data):
            if isinstance(ev, h2.events.ResponseReceived):
                status = int(dict(ev.headers)[b":status"])
            elif isinstance(ev, h2.events.DataReceived):
                body += ev.data
                conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            elif isinstance(ev, h2.events.StreamEnded):
                sock.sendall(conn.data_to_send())
                return status, body
            elif isinstance(ev, h2.events.StreamReset):
                return "reset", ev.error_code
            elif isinstance(ev, h2.events.ConnectionTerminated):
                raise AssertionError("GOAWAY before the response to %s: %r" % (what, ev))
        sock.sendall(conn.data_to_send())
    raise AssertionError("no response to %s within %ss" % (what, WAIT))


def h2_get(target, path="/"):
    """A GET on a fresh connection by the h2 package: (status, body), or ("reset", code)."""
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    sock = target.connect()
    try:
        sock.sendall(conn.data_to_send())
        conn.send_headers(1, [(":method", "GET"), (":scheme", target.scheme), (":path", path),
                              (":authority", "t")], end_stream=True)
        sock.sendall(conn.data_to_send())
        return h2_response(sock, conn, path)
    finally:
        sock.close()


# ---- lifeguard and its origins


def _yaml_map(d):
    return "{%s}" % ", ".join("%s: %s" % kv for kv in d.items())


def config(pki, app_port, rr_port, timeouts=None, limits=None):
    """One worker; listeners web (h2c prior knowledge and HTTP/1.1) and secure (TLS, h2 by
    ALPN), each routing /rr/ to pool rr and the rest to app; admin on 127.0.0.1:0."""
    tls = ("    tls:\n      certificates:\n"
           "        - {cert: %s/ec.pem, key: %s/ec.key}\n" % (pki, pki))
    routes = ("    routes:\n"
              "      - {path_prefix: /rr/, pool: rr}\n"
              "      - pool: app\n")
    pools = "".join("  %s:\n    health_check: {type: none}\n    backends:\n"
                    "      - address: 127.0.0.1:%d\n" % (n, p)
                    for n, p in (("app", app_port), ("rr", rr_port)))
    return ("workers: 1\n"
            "log: {level: info, error: stderr, access: off}\n"
            "admin: {listen: 127.0.0.1:0}\n"
            + ("timeouts: %s\n" % _yaml_map(timeouts) if timeouts else "")
            + ("limits: %s\n" % _yaml_map(limits) if limits else "")
            + "listeners:\n"
            "  web:\n"
            "    listen: 127.0.0.1:0\n"
            "    http2: on\n" + routes +
            "  secure:\n"
            "    listen: 127.0.0.1:0\n" + tls + routes +
            "pools:\n" + pools)


class Proxy:
    """lg-origins app and rr, lifeguard in front of them; targets h2c and tls; stop() ends all.
    pki: the directory made by tls_support.make_pki()."""

    def __init__(self, pki, timeouts=None, limits=None):
        self.app = Origin(binary(), "app")
        self.rr = Origin(binary(), "rr")
        self.lg = None
        self.status = None  # before anything can fail: stop() ends the origins then
        try:
            self.lg = harness.Lifeguard(binary(), config(pki, self.app.port, self.rr.port,
                                                         timeouts, limits))
            self.admin = self.lg.admin_port()
        except Exception:
            self.stop()
            raise
        ctx = tls_support.client_context(pki)
        ctx.set_alpn_protocols(["h2"])
        self.targets = {"h2c": Target(self.lg.port),
                        "tls": Target(self.lg.wait_port("listener secure: listening on"), ctx,
                                      "https", "secure")}

    def worker(self):
        workers = self.lg.workers()
        assert len(workers) == 1, "workers: %r" % workers
        return workers[0]

    def metrics(self):
        """/metrics from the admin listener, as text."""
        return plain_get(self.admin, "/metrics").decode()

    def metric(self, name, **labels):
        """The sum of the series of metric `name` that have these label values (0 if none)."""
        want = ['%s="%s"' % kv for kv in labels.items()]
        total = 0.0
        for line in self.metrics().splitlines():
            if line.startswith(name + "{") and all(w in line for w in want):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def stop(self):
        """lifeguard's exit status; safe to call twice."""
        if self.status is None and self.lg is not None:
            self.status = self.lg.stop()
        for o in (self.app, self.rr):
            o.stop()
        return self.status


# ---- memory of a worker


def _status_kib(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError("no %s in /proc/%d/status" % (field, pid))


class PeakRss:
    """The worker's peak resident memory over a stretch of a test: start() resets the kernel's
    high-water mark (clear_refs 5) and takes the resident size then; growth() is the peak since,
    minus that baseline, in bytes."""

    def __init__(self, pid):
        self.pid = pid
        with open("/proc/%d/clear_refs" % pid, "w") as f:
            f.write("5")
        self.base = _status_kib(pid, "VmRSS") * 1024

    def growth(self):
        return _status_kib(self.pid, "VmHWM") * 1024 - self.base
