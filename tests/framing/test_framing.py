"""test_framing.py - the framing suite: every case of request_cases.py and response_cases.py
against the real lifeguard binary, with recording backends on loopback.

  /usr/bin/python3 tests/framing/test_framing.py              (lifeguard from $LG_BINARY or
                                                               build/lifeguard)
  /usr/bin/python3 tests/framing/test_framing.py -k cl_te     one family (unittest's -k)

Each case gets a fresh lifeguard (one worker); the three backends live for the whole run.
Routes send Host "scripted" to the scripted backend (response side), /internal/ to the
"internal" recording backend and the rest to "app". A request case checks lifeguard's
answer(s), the exact bytes each backend received, h11's reading of them, and that lifeguard
logged every request a backend got. A response case checks what the client received (parsed
by h11), the bytes that must never reach it, and whether lifeguard dropped that backend
connection. After each case lifeguard must exit 0 on SIGQUIT with no sanitizer report.
"""

import json
import os
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.join(HERE, "..", "support")]

import harness  # noqa: E402
import request_cases  # noqa: E402
import response_cases  # noqa: E402
from harness import BROKEN, NO_REQUEST, NOTHING, SILENT, Answer, Client  # noqa: E402
from recording_backend import RecordingBackend, Script, ScriptedBackend  # noqa: E402

ENV = {}


def config(access_log, app, internal, scripted):
    return (
        "workers: 1\n"
        "log: {level: info, error: stderr, access: %s, access_format: json}\n"
        "listeners:\n"
        "  web:\n"
        "    listen: 127.0.0.1:0\n"
        "    routes:\n"
        "      - host: scripted\n"
        "        pool: scripted\n"
        "      - path_prefix: /internal/\n"
        "        pool: internal\n"
        "      - pool: app\n"
        "pools:\n" % access_log
        + "".join(
            "  %s:\n"
            "    health_check: {type: none}\n"
            "    backends:\n"
            "      - address: 127.0.0.1:%d\n" % (name, port)
            for name, port in (("app", app), ("internal", internal), ("scripted", scripted))
        )
    )


def setUpModule():
    ENV["binary"] = os.environ.get("LG_BINARY") or os.path.join(HERE, "..", "..", "build",
                                                                 "lifeguard")
    ENV["tmpdir"] = tempfile.TemporaryDirectory(prefix="lg-framing-")
    ENV["tmp"] = ENV["tmpdir"].name
    ENV["app"] = RecordingBackend("app")
    ENV["internal"] = RecordingBackend("internal")
    ENV["scripted"] = ScriptedBackend("scripted")


def tearDownModule():
    for name in ("app", "internal", "scripted"):
        if name in ENV:
            ENV.pop(name).stop()
    if "tmpdir" in ENV:
        ENV.pop("tmpdir").cleanup()


def run_with_lifeguard(case, body):
    """A fresh lifeguard for each case (a case that gets a backend ejected or leaves a pooled
    connection in a bad state must not decide the next one). body(port) returns the problems
    and the requests h11 read at the backends. Adds the problems of the exit (status other
    than 0, a sanitizer report) and of lifeguard's own view: every request a backend got must
    be one lifeguard logged (same X-Request-Id, same method): nothing smuggled past it."""
    access = os.path.join(ENV["tmp"], "access.log")
    if os.path.exists(access):
        os.unlink(access)
    lg = harness.Lifeguard(ENV["binary"], config(access, ENV["app"].port, ENV["internal"].port,
                                                 ENV["scripted"].port))
    try:
        problems, seen = body(lg.port)
    finally:
        status = lg.stop()
        log = lg.log_text()
        lg.dir.cleanup()
    bad = [line for line in log.splitlines()
           if "Sanitizer" in line or "runtime error" in line or "[alert]" in line]
    if status != 0 or bad:
        problems.append("lifeguard exit status %s; log:\n%s" % (status, log))
    problems += check_logged(access, seen)
    if problems:
        raise AssertionError("%s\n%s" % (case.note, "\n".join(problems)) if case.note else
                             "\n".join(problems))


def check_logged(access, seen):
    """Problems when a request h11 read at a backend is not one lifeguard logged."""
    logged, out = set(), []
    with open(access, encoding="utf-8", errors="replace") as f:
        for line in f:
            try:
                entry = json.loads(line)
            except ValueError as e:
                out.append("the JSON access log has an invalid line (%s): %r" % (e, line))
                continue
            logged.add((entry["request_id"], entry["method"]))
    for r in seen:
        rid = [v for n, v in r["headers"] if n.lower() == "x-request-id"]
        if len(rid) != 1 or (rid[0], r["method"]) not in logged:
            out.append("a backend got %s %s (X-Request-Id %r) that lifeguard did not log as "
                       "forwarded; logged: %r" % (r["method"], r["target"], rid, sorted(logged)))
    return out


def _describe(r):
    if isinstance(r, str):
        return r
    status, headers, body, interim = r
    after = " after %r" % interim if interim else ""
    return "%d %r body %r%s" % (status, headers, body[:100], after)


class RequestCases(unittest.TestCase):
    """One test per request case; generated below."""

    def run_case(self, case):
        run_with_lifeguard(case, lambda port: self.exchange(case, port))

    def exchange(self, case, port):
        backends = {n: ENV[n] for n in ("app", "internal")}
        for b in backends.values():
            b.reset()
        c = Client(port)
        try:
            c.send(case.raw)
            problems = self.check_answers(c, case)
        finally:
            c.close()
        harness.settle()
        snaps = {n: b.snapshot() for n, b in backends.items()}
        seen = [r for snap in snaps.values() for r in snap["requests"]]
        return problems + self.check_backends(case, snaps), seen

    def check_answers(self, c, case):
        for i, want in enumerate(case.answers):
            if want is SILENT:
                r = c.read_response()
                if r != "timeout":
                    return ["answer %d: expected no answer yet, got %s" % (i + 1, _describe(r))]
                continue
            r = c.read_response(case.method, "websocket" if want.status == 101 else None)
            if isinstance(r, str) or not want.accepts(r[0]):
                return ["answer %d: expected %r, got %s" % (i + 1, want, _describe(r))]
        last = case.answers[-1]
        if isinstance(last, Answer) and last.close and not c.wait_close():
            return ["lifeguard did not close the connection after %r" % last]
        return []

    @staticmethod
    def check_backends(case, snaps):
        problems = ["backend %s: h11 refused what it received: %s" % (n, e)
                    for n, s in snaps.items() for e in s["errors"]]
        if case.backend is NOTHING:
            return [("backend %s received %r, expected nothing" % (n, s["raw"][:300]))
                    for n, s in snaps.items() if s["raw"]]
        if case.backend is NO_REQUEST:
            return [("backend %s received a complete request %r (raw %r)"
                     % (n, s["requests"], s["raw"][:300]))
                    for n, s in snaps.items() if s["requests"]]
        for name, snap in snaps.items():
            fwds = [f for f in case.backend if f.to == name]
            lg_addr = "127.0.0.1:%d" % ENV[name].port  # lifeguard's Host for HTTP/1.0
            segs = [seg for f in fwds for seg in harness.expected_segments(f, lg_addr)]
            why = harness.match_segments(snap["raw"], segs, partial=bool(fwds) and fwds[-1].partial)
            if why is not None:
                problems.append("backend %s: %s" % (name, why))
            complete = [f for f in fwds if not f.partial]
            if len(snap["requests"]) != len(complete):
                problems.append("backend %s: h11 read %d requests, expected %d: %r"
                                % (name, len(snap["requests"]), len(complete), snap["requests"]))
                continue
            for f, got in zip(complete, snap["requests"]):
                problems += compare_h11(name, f, got, lg_addr)
        return problems


def compare_h11(name, f, got, lg_addr):
    """h11's reading of a forwarded request against what lifeguard meant (Fwd f)."""
    want_hdrs = harness.header_pairs(f, lg_addr)
    rid_any = not f.has_request_id()  # lifeguard made the id: any value
    got_hdrs = [(n, None if rid_any and n.lower() == "x-request-id" else v)
                for n, v in got["headers"]]
    out = []
    if (got["method"], got["target"]) != (f.method, f.target):
        out.append("backend %s: h11 read %s %s, expected %s %s"
                   % (name, got["method"], got["target"], f.method, f.target))
    if got_hdrs != want_hdrs:
        out.append("backend %s: h11 read headers %r, expected %r" % (name, got_hdrs, want_hdrs))
    if got["body"] != f.body:
        out.append("backend %s: h11 read body %r, expected %r" % (name, got["body"][:200], f.body))
    want_trailers = [(t.split(":", 1)[0], t.split(":", 1)[1].strip()) for t in f.trailers]
    if got["trailers"] != want_trailers:
        out.append("backend %s: h11 read trailers %r, expected %r"
                   % (name, got["trailers"], want_trailers))
    return out


class ResponseCases(unittest.TestCase):
    """One test per response case; generated below."""

    def run_case(self, case):
        run_with_lifeguard(case, lambda port: self.exchange(case, port))

    def exchange(self, case, port):
        sb = ENV["scripted"]
        sb.script = Script(case.script, close=case.close)
        sb.reset()
        c = Client(port)
        try:
            hdrs = "Host: scripted\r\n"
            if case.upgrade:
                hdrs += "Connection: Upgrade\r\nUpgrade: %s\r\n" % case.upgrade
            c.send(("%s / HTTP/1.1\r\n%s\r\n" % (case.method, hdrs)).encode())
            r = c.read_response(case.method, case.upgrade)
            problems = self.check_response(case, r)
            harness.settle()
            c.sock.settimeout(harness.SETTLE)
            if not c.eof:
                c._fill()  # bytes lifeguard sent after the response (a smuggled one)
        finally:
            c.close()
        problems += ["the client received %r: %r" % (n, c.raw[:300]) for n in case.never
                     if n in c.raw]
        snap = sb.snapshot()
        if case.reuse is False and not sb.wait_closed(snap["conns"], harness.READ_TIMEOUT):
            problems.append("lifeguard kept the backend connection after that answer")
        if case.reuse is True and snap["conns"] and sb.conns[snap["conns"][-1]].peer_closed:
            problems.append("lifeguard closed a backend connection it could have kept")
        return problems, []

    @staticmethod
    def check_response(case, r):
        want = case.expect
        if want is BROKEN:
            if isinstance(r, str) and (r == "closed" or r.startswith("cut off")):
                return []
            if not isinstance(r, str) and r[0] == 502:
                return []
            return ["expected %s; got %s" % (BROKEN, _describe(r))]
        if isinstance(r, str):
            return ["expected %r; got %s" % (want, r)]
        status, headers, body, _ = r
        if isinstance(want, Answer):
            return [] if want.accepts(status) else ["expected %r; got %s" % (want, _describe(r))]
        out = []
        if (status, body) != (want.status, want.body):
            out.append("expected %r; got %s" % (want, _describe(r)))
        for k, v in want.headers.items():
            if headers.get(k) != v:
                out.append("header %s: expected %r, got %r" % (k, v, headers.get(k)))
        return out


class Comparator(unittest.TestCase):
    """The byte comparison itself, on hand-made input: a comparator that accepts anything would
    make every case pass."""

    ADDR = "127.0.0.1:1"

    def segs(self, f):
        return harness.expected_segments(f, self.ADDR)

    def head(self, extra=""):
        return ("POST / HTTP/1.1\r\nHost: t\r\nX-Forwarded-For: 127.0.0.1\r\n"
                "X-Forwarded-Proto: http\r\nX-Forwarded-Host: t\r\n%s"
                "X-Request-Id: 0123abcd\r\n\r\n" % extra).encode()

    def test_exact_length_body(self):
        f = harness.Fwd("POST /", body=b"hello")
        raw = self.head("Content-Length: 5\r\n") + b"hello"
        self.assertIsNone(harness.match_segments(raw, self.segs(f)))
        self.assertIsNotNone(harness.match_segments(raw + b"G", self.segs(f)))
        self.assertIsNotNone(harness.match_segments(raw[:-1], self.segs(f)))
        self.assertIsNone(harness.match_segments(raw[:-1], self.segs(f), partial=True))
        self.assertIsNotNone(harness.match_segments(raw.replace(b"t\r\nX-F", b"T\r\nX-F", 1),
                                                    self.segs(f)))

    def test_chunked_framing_is_strict(self):
        f = harness.Fwd("POST /", body=b"hello world", chunked=True, trailers=["X-Sum: 1"])
        head = self.head("Transfer-Encoding: chunked\r\n")
        good = [b"5\r\nhello\r\n6\r\n world\r\n0\r\nX-Sum: 1\r\n\r\n",
                b"b\r\nhello world\r\n0\r\nX-Sum: 1\r\n\r\n"]
        bad = [b"5;x=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Sum: 1\r\n\r\n",
               b"5\nhello\r\n6\r\n world\r\n0\r\nX-Sum: 1\r\n\r\n",
               b"5\r\nhelloXX6\r\n world\r\n0\r\nX-Sum: 1\r\n\r\n",
               b"b\r\nhello world\r\n0\r\n\r\n",
               b"b\r\nhello world\r\n0\r\nX-Sum: 1\r\n\n",
               b"b\r\nhello worle\r\n0\r\nX-Sum: 1\r\n\r\n"]
        for body in good:
            self.assertIsNone(harness.match_segments(head + body, self.segs(f)), body)
        for body in bad:
            self.assertIsNotNone(harness.match_segments(head + body, self.segs(f)), body)

    def test_h11_view_must_match(self):
        f = harness.Fwd("GET /a", [])
        got = {"method": "GET", "target": "/a", "body": b"", "trailers": [],
               "headers": [("X-Forwarded-For", "127.0.0.1"), ("X-Forwarded-Proto", "http"),
                           ("X-Request-Id", "x")]}
        self.assertEqual(compare_h11("app", f, got, self.ADDR), [])
        got["target"] = "/b"
        self.assertNotEqual(compare_h11("app", f, got, self.ADDR), [])


def _add_tests(cls, cases, prefix):
    names = set()
    for case in cases:
        if case.name in names:
            raise ValueError("duplicate case name %s" % case.name)
        names.add(case.name)
        setattr(cls, "test_%s_%s" % (prefix, case.name),
                lambda self, case=case: self.run_case(case))


_add_tests(RequestCases, request_cases.CASES, "req")
_add_tests(ResponseCases, response_cases.CASES, "rsp")

if __name__ == "__main__":
    unittest.main(verbosity=2)
