"""harness.py - what the framing suite needs besides its tables: the vocabulary of the tables
(Answer, Fwd, Resp, ...), lifeguard as a process, a raw client, and the comparison of what a
backend received with what the case expects.

What lifeguard writes to a backend (the rebuilt head) is described once, in expected_segments():
request line with HTTP/1.1, the end-to-end header lines as received, Host when lifeguard adds
one, X-Forwarded-For/-Proto/-Host, exactly one framing header, Upgrade + Connection: upgrade
for a WebSocket, X-Request-Id when the client sent none. Adjust it there when that changes.
"""

import os
import re
import signal
import socket
import subprocess
import tempfile
import time

import h11

# Seconds a client waits for the next byte before it calls the answer missing, and seconds the
# backends are given to receive late bytes after the client is done. Raise them on a slow machine.
READ_TIMEOUT = float(os.environ.get("LG_FRAMING_TIMEOUT", "3"))
SETTLE = float(os.environ.get("LG_FRAMING_SETTLE", "0.15"))


# ---- vocabulary of the tables


class Answer:
    """What the client gets: a response with this status (or one of a tuple of statuses, where
    the RFCs and the reference proxies disagree); close: then the connection closes."""

    def __init__(self, status, close=False):
        self.statuses = status if isinstance(status, tuple) else (status,)
        self.status, self.close = self.statuses[0], close

    def accepts(self, status):
        return status in self.statuses

    def __repr__(self):
        return "%s%s" % (" or ".join(map(str, self.statuses)), " then close" if self.close else "")


OK = Answer(200)
BAD = Answer(400, close=True)  # smuggling vectors and malformed requests: 400 and close
NOT_IMPLEMENTED = Answer(501, close=True)  # a transfer coding lifeguard does not implement
# A request whose Transfer-Encoding does not end in chunked: RFC 9112 6.3 says 400, RFC 9110 and
# nginx 1.22 say 501 for a coding not understood; either refuses the body, which is what matters.
REFUSED_CODING = Answer((400, 501), close=True)
BAD_VERSION = Answer(505, close=True)
NOT_FOUND = Answer(404)
SWITCHED = Answer(101)
SILENT = "no answer (the request is still incomplete)"  # nothing within READ_TIMEOUT
BROKEN = "502, or a response cut off before its end (the head was already sent)"


class Nothing:
    """No byte reached any backend."""

    def __repr__(self):
        return "nothing"


class NoRequest:
    """The backends saw no complete request (nothing, or a head and a body cut short)."""

    def __repr__(self):
        return "no complete request"


NOTHING = Nothing()
NO_REQUEST = NoRequest()
BACKEND = "{backend}"  # stands for the backend's address (lifeguard's Host for HTTP/1.0)


class Fwd:
    """One request as lifeguard must forward it.

    line: "METHOD target" (the version is always HTTP/1.1); headers: the end-to-end header lines
    in order, as the backend must get them ("Name: value"); body: the decoded body; cl: the
    Content-Length to send (default: len(body) when there is a body, else none); chunked: sent
    chunked (any chunk sizes, no extensions), with these trailer lines; add_host: the Host line
    lifeguard adds (absolute-form, HTTP/1.0 without Host; BACKEND for the backend's address);
    xff: X-Forwarded-For values the client sent; upgrade: the protocol passed on; to: "app" or
    "internal", the pool (backend) that must get it; partial: only this much has arrived (the
    request is still open: h11 must not have a complete request).
    """

    def __init__(self, line, headers=("Host: t",), body=b"", cl=None, chunked=False,
                 trailers=(), add_host=None, xff=(), upgrade=None, to="app", partial=False):
        self.method, self.target = line.split(" ", 1)
        self.headers = list(headers)
        self.body = body
        self.cl = len(body) if cl is None and body and not chunked else cl
        self.chunked = chunked
        self.trailers = list(trailers)
        self.add_host = add_host
        self.xff = list(xff)
        self.upgrade = upgrade
        self.to = to
        self.partial = partial

    def host(self):
        if self.add_host is not None:
            return None if self.add_host == BACKEND else self.add_host
        for h in self.headers:
            if h.lower().startswith("host:"):
                return h.split(":", 1)[1].strip()
        return None

    def has_request_id(self):
        return any(h.lower().startswith("x-request-id:") for h in self.headers)

    def __repr__(self):
        return "%s %s" % (self.method, self.target)


class Case:
    """A request case: raw bytes from the client, the answers, what the backends receive."""

    def __init__(self, name, raw, answer, backend, note=""):
        self.name, self.raw, self.note = name, raw, note
        word = raw.lstrip(b"\r\n").split(b" ", 1)[0]
        self.method = "HEAD" if word == b"HEAD" else "GET"  # how the client reads the answers
        self.answers = answer if isinstance(answer, list) else [answer]
        self.backend = backend if isinstance(backend, (list, Nothing, NoRequest)) else [backend]


class Resp:
    """What the client must get on the response side: status, decoded body, header checks."""

    def __init__(self, status, body=b"", headers=None, close=False):
        self.status, self.body, self.headers, self.close = status, body, headers or {}, close

    def __repr__(self):
        return "%d %r" % (self.status, self.body)


class RCase:
    """A response case: what the scripted backend sends, what the client must get.

    method: the client's request method; upgrade: the client asks for this protocol; never:
    bytes that must not reach the client; reuse: False when lifeguard must close that backend
    connection afterwards (its state is unknown), True when it may keep it.
    """

    def __init__(self, name, script, expect, method="GET", upgrade=None, never=(), reuse=None,
                 close=False, note=""):
        self.name, self.script, self.expect, self.note = name, script, expect, note
        self.method, self.upgrade, self.never = method, upgrade, list(never)
        self.reuse, self.close = reuse, close


def req(*lines, body=b""):
    """A request from its lines (str, latin-1) joined with CRLF, the empty line, then body."""
    return "".join(line + "\r\n" for line in lines).encode("latin-1") + b"\r\n" + body


def post(*headers, body=b"", target="/"):
    """POST target HTTP/1.1 with Host: t and these header lines."""
    return req("POST %s HTTP/1.1" % target, "Host: t", *headers, body=body)


def get(target="/", *headers):
    return req("GET %s HTTP/1.1" % target, "Host: t", *headers)


# ---- what lifeguard writes to a backend

RID = "request id"  # a segment: X-Request-Id's value, whatever lifeguard generated


class Chunked:
    """A segment: a chunked body whose decoded data and trailer lines are given."""

    def __init__(self, body, trailers):
        self.body, self.trailers = body, trailers


def expected_segments(f, backend_addr):
    """The bytes lifeguard must write for Fwd f: literal bytes, RID and Chunked segments."""
    lines = ["%s %s HTTP/1.1" % (f.method, f.target)] + f.headers
    if f.add_host is not None:
        lines.append("Host: " + (backend_addr if f.add_host == BACKEND else f.add_host))
    lines.append("X-Forwarded-For: " + ", ".join(f.xff + ["127.0.0.1"]))
    lines.append("X-Forwarded-Proto: http")
    if f.host() is not None:
        lines.append("X-Forwarded-Host: " + f.host())
    if f.chunked:
        lines.append("Transfer-Encoding: chunked")
    elif f.cl is not None:
        lines.append("Content-Length: %d" % f.cl)
    if f.upgrade is not None:
        lines += ["Upgrade: " + f.upgrade, "Connection: upgrade"]
    head = "".join(line + "\r\n" for line in lines).encode("latin-1")
    tail = [b"\r\n"]
    if f.chunked:
        tail.append(Chunked(f.body, f.trailers))
    else:
        tail[0] += f.body
    if f.has_request_id():
        return [head] + tail
    return [head + b"X-Request-Id: ", RID, b"\r\n"] + tail


def _match_chunked(raw, pos, seg):
    """Match a strictly framed chunked body at raw[pos:]; (new pos, None) or (pos, why)."""
    data = b""
    while True:
        m = re.compile(rb"([0-9A-Fa-f]{1,16})\r\n").match(raw, pos)
        if m is None:
            return pos, ("a chunk-size line (hex digits, CRLF, no extension) at %r"
                         % raw[pos:pos + 40])
        size, pos = int(m.group(1), 16), m.end()
        if size == 0:
            break
        if raw[pos + size:pos + size + 2] != b"\r\n":
            return pos, "CRLF after %d bytes of chunk data at %r" % (size, raw[pos:pos + 40])
        data += raw[pos:pos + size]
        pos += size + 2
    if data != seg.body:
        return pos, "chunked body %r, expected %r" % (data[:200], seg.body[:200])
    want = "".join(t + "\r\n" for t in seg.trailers).encode("latin-1") + b"\r\n"
    if raw[pos:pos + len(want)] != want:
        return pos, "trailer section %r, expected %r" % (raw[pos:pos + len(want) + 20], want)
    return pos + len(want), None


def match_segments(raw, segments, partial=False):
    """None when raw is exactly the segments (a prefix of them when partial), else why not."""
    pos = 0
    for seg in segments:
        if isinstance(seg, bytes):
            got = raw[pos:pos + len(seg)]
            if got != seg:
                if partial and seg.startswith(got) and pos + len(got) == len(raw):
                    return None
                return "bytes differ:\n  expected %r\n  received %r" % (seg, got)
            pos += len(seg)
        elif seg is RID:
            m = re.compile(rb"[0-9A-Za-z._-]{1,64}").match(raw, pos)
            if m is None:
                return "an X-Request-Id value at %r" % raw[pos:pos + 40]
            pos = m.end()
        else:
            pos, why = _match_chunked(raw, pos, seg)
            if why is not None:
                return why
    if pos != len(raw):
        return ("%d unexpected bytes after what was expected: %r"
                % (len(raw) - pos, raw[pos:pos + 200]))
    return None


def header_pairs(f, backend_addr):
    """The (name, value) pairs h11 must see for Fwd f; None as the value of X-Request-Id."""
    # the complete lines of the first segment: not the request line, not "X-Request-Id: "
    head = expected_segments(f, backend_addr)[0].decode("latin-1").split("\r\n")[1:-1]
    pairs = [(line.split(":", 1)[0], line.split(":", 1)[1].strip(" \t")) for line in head if line]
    if not f.has_request_id():
        pairs.append(("X-Request-Id", None))
    return pairs


# ---- lifeguard


class Lifeguard:
    """The real binary with a config in a temp dir; stderr (the error log) to a file."""

    def __init__(self, binary, yaml):
        self.dir = tempfile.TemporaryDirectory(prefix="lg-framing-")
        self.config = os.path.join(self.dir.name, "lifeguard.yaml")
        self.log_path = os.path.join(self.dir.name, "error.log")
        with open(self.config, "w") as f:
            f.write(yaml)
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([binary, "-c", self.config], stdout=subprocess.DEVNULL,
                                     stderr=self.log, start_new_session=True)
        self.port = self._wait_port("web")

    def log_text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def _wait_port(self, listener):
        return self.wait_port(r"listener %s: listening on" % listener)

    def admin_port(self):
        """The admin listener's port (the config has `admin: {listen: 127.0.0.1:0}`)."""
        return self.wait_port(r"admin: listening on")

    def workers(self):
        """The pids of the master's children (its workers)."""
        out = []
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % pid) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.proc.pid and fields[0] != "Z":
                out.append(int(pid))
        return sorted(out)

    def wait_port(self, prefix):
        """The port of the first log line "PREFIX 127.0.0.1:PORT" (waits up to 10 s)."""
        deadline = time.monotonic() + 10
        pat = re.compile(prefix + r" 127\.0\.0\.1:(\d+)")
        while time.monotonic() < deadline:
            m = pat.search(self.log_text())
            if m:
                return int(m.group(1))
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        self.stop()
        raise RuntimeError("lifeguard did not start:\n" + self.log_text())

    def stop(self):
        """SIGQUIT (graceful: the worker writes its access log out), then SIGKILL to its
        process group (its workers) after 10 s; exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # a worker left behind
        except ProcessLookupError:
            pass
        self.log.close()
        return self.proc.returncode


# ---- the client side


class Client:
    """A raw connection to lifeguard; responses parsed with h11 (strict)."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=READ_TIMEOUT)
        self.h = h11.Connection(h11.CLIENT)
        self.raw = b""
        self.eof = False

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self):
        """One read into h11; False on timeout."""
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return False
        except OSError:
            data = b""
        self.raw += data
        self.eof = not data
        self.h.receive_data(data)
        return True

    def read_response(self, method="GET", upgrade=None):
        """(status, headers dict, body, interim statuses) of the next response, or a string
        saying what happened instead: "closed", "timeout", "invalid: ..." or "cut off: ..."."""
        hdrs = [("Host", "t")]
        if upgrade:
            hdrs += [("Connection", "upgrade"), ("Upgrade", upgrade)]
        if self.h.our_state is h11.DONE and self.h.their_state is h11.DONE:
            self.h.start_next_cycle()
        if self.h.our_state is h11.IDLE:
            self.h.send(h11.Request(method=method, target="/", headers=hdrs))
            self.h.send(h11.EndOfMessage())
        status, headers, body, interim = None, {}, b"", []
        try:
            while True:
                ev = self.h.next_event()
                if ev is h11.NEED_DATA:
                    if self.eof:
                        break
                    if not self._fill():
                        return "timeout" if status is None else "cut off: timeout in the body"
                    continue
                if isinstance(ev, h11.InformationalResponse):
                    if ev.status_code == 101:
                        return 101, _hdict(ev.headers), b"", interim
                    interim.append(ev.status_code)
                elif isinstance(ev, h11.Response):
                    status, headers = ev.status_code, _hdict(ev.headers)
                elif isinstance(ev, h11.Data):
                    body += ev.data
                elif isinstance(ev, h11.EndOfMessage):
                    return status, headers, body, interim
                elif isinstance(ev, h11.ConnectionClosed) or ev is h11.PAUSED:
                    break
        except h11.RemoteProtocolError as e:
            return ("invalid: %s" % e) if status is None else ("cut off: %s" % e)
        return "closed" if status is None else "cut off: closed in the body"

    def wait_close(self):
        """True when lifeguard closes within READ_TIMEOUT (whatever else arrives)."""
        while not self.eof:
            if not self._fill():
                return False
        return True

    def close(self):
        self.sock.close()


def _hdict(headers):
    return {n.decode("latin-1").lower(): v.decode("latin-1") for n, v in headers}


def settle():
    time.sleep(SETTLE)
