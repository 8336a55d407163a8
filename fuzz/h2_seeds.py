#!/usr/bin/python3
"""Write the seeds of fuzz/fuzz_h2.c into fuzz/corpus/h2/ (run with Debian's /usr/bin/python3,
which has python3-hpack). Each seed is the two control bytes fuzz_h2.c reads first, then what an
HTTP/2 client sends after the connection preface: frames built here one by one, so that the
malformed ones (a DATA after END_STREAM, a wrong content-length, CONTINUATION) are exact."""
import os
import struct
import sys

import hpack

DATA, HEADERS, RST, SETTINGS, PING, GOAWAY, WINDOW, CONT = 0, 1, 3, 4, 6, 7, 8, 9
END_STREAM, END_HEADERS, ACK = 0x1, 0x4, 0x1

# control bytes (fuzz_h2.c): backend mode, piece size, drain, half-close, deaf; clock jumps
SHORT, BIG, TRAILERS, CLOSE = 0, 1, 2, 3


def ctl(mode=SHORT, piece=0, drain=False, half_close=False, deaf=False, jump_mid=False,
        jump_end=False, short_jump=False):
    return bytes([mode | piece << 2 | drain << 5 | half_close << 6 | deaf << 7,
                  jump_mid | jump_end << 1 | short_jump << 2])


def frame(ftype, flags, sid, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", sid) + payload


def settings(**kv):
    ids = {"window": 4, "frame": 5, "streams": 3, "header_list": 6}
    return frame(SETTINGS, 0, 0, b"".join(struct.pack(">HI", ids[k], v) for k, v in kv.items()))


def window(sid, inc):
    return frame(WINDOW, 0, sid, struct.pack(">I", inc))


class Client:
    def __init__(self):
        self.enc = hpack.Encoder()

    def headers(self, sid, fields, end_stream=False, split=0):
        block = self.enc.encode(fields)
        flags = END_STREAM if end_stream else 0
        if not split:
            return frame(HEADERS, flags | END_HEADERS, sid, block)
        out = frame(HEADERS, flags, sid, block[:split])
        rest = block[split:]
        while rest:
            part, rest = rest[:split], rest[split:]
            out += frame(CONT, 0 if rest else END_HEADERS, sid, part)
        return out

    def get(self, sid, path="/", extra=(), authority="h2.test", end_stream=True, method="GET"):
        fields = [(":method", method), (":scheme", "http"), (":authority", authority),
                  (":path", path)] + list(extra)
        return self.headers(sid, fields, end_stream)


def start():
    return settings(window=65535, header_list=65536) + frame(SETTINGS, ACK, 0)


def seeds():
    c = Client()
    yield "get", ctl(), start() + c.get(1)
    c = Client()
    yield "get_pieces_half_close", ctl(piece=2, half_close=True), start() + c.get(1, "/api/x?y=1")
    c = Client()
    post = c.get(1, "/api/upload", [("content-type", "text/plain"), ("content-length", "1000")],
                 method="POST", end_stream=False)
    yield "post_length", ctl(piece=4), start() + post + frame(DATA, 0, 1, b"a" * 600) + \
        frame(DATA, END_STREAM, 1, b"b" * 400)
    c = Client()
    post = c.get(1, "/upload", method="POST", end_stream=False)
    trailers = c.headers(1, [("x-checksum", "abc")], end_stream=True)
    yield "post_chunks_trailers", ctl(TRAILERS), start() + post + frame(DATA, 0, 1, b"x" * 100) + \
        frame(DATA, 0, 1, b"") + frame(DATA, 0, 1, b"y" * 50) + trailers
    c = Client()
    post = c.get(1, "/", [("content-length", "10")], method="PUT", end_stream=False)
    yield "length_short", ctl(), start() + post + frame(DATA, END_STREAM, 1, b"12345")
    c = Client()
    post = c.get(1, "/", [("content-length", "3")], method="POST", end_stream=False)
    yield "length_long", ctl(), start() + post + frame(DATA, END_STREAM, 1, b"123456")
    c = Client()
    yield "data_after_end_stream", ctl(), start() + c.get(1) + frame(DATA, END_STREAM, 1, b"late")
    c = Client()
    yield "many_streams", ctl(piece=5), start() + b"".join(c.get(2 * i + 1, f"/s{i}") for i in range(12))
    c = Client()
    yield "big_response_windows", ctl(BIG), start() + c.get(1) + c.get(3) + window(0, 1 << 20) + \
        window(1, 1 << 20) + frame(RST, 0, 3, struct.pack(">I", 8)) + window(1, 100000)
    c = Client()
    post = c.get(1, "/", method="POST", end_stream=False)
    yield "reset_mid_body", ctl(piece=4), start() + post + frame(DATA, 0, 1, b"z" * 2000) + \
        frame(RST, 0, 1, struct.pack(">I", 8)) + c.get(3)
    c = Client()
    yield "deaf_client", ctl(BIG, deaf=True), start() + c.get(1) + c.get(3) + window(0, 1 << 24) + \
        window(1, 1 << 24) + window(3, 1 << 24)
    c = Client()
    yield "reset_after_get", ctl(BIG), start() + c.get(1) + frame(RST, 0, 1, struct.pack(">I", 8))
    c = Client()
    yield "cookies_host", ctl(), start() + c.get(
        1, "/", [("cookie", "a=1"), ("cookie", "b=2"), ("host", "other.test"), ("x-y", "z")],
        authority="h2.test")
    c = Client()
    yield "host_only", ctl(), start() + c.headers(
        1, [(":method", "GET"), (":scheme", "http"), (":path", "/"), ("host", "h2.test")], True)
    c = Client()
    yield "header_list_over", ctl(), start() + c.get(1, "/", [("x-big", "v" * 1100)]) + c.get(3)
    c = Client()
    yield "header_list_at", ctl(), start() + c.get(1, "/", [("x-big", "v" * 900)])
    c = Client()
    yield "continuation", ctl(piece=1), start() + \
        c.headers(1, [(":method", "GET"), (":scheme", "http"), (":authority", "h2.test"),
                      (":path", "/continued"), ("x-a", "1" * 200)], True, split=20)
    c = Client()
    yield "goaway_ping", ctl(), start() + c.get(1) + frame(PING, 0, 0, b"12345678") + \
        frame(GOAWAY, 0, 0, struct.pack(">II", 1, 0))
    c = Client()
    yield "drain", ctl(BIG, drain=True), start() + c.get(1) + c.get(3) + c.get(5)
    c = Client()
    post = c.get(1, "/", [("content-length", "5")], method="POST", end_stream=False)
    yield "backend_closes", ctl(CLOSE), start() + post + frame(DATA, END_STREAM, 1, b"hello") + c.get(3)
    c = Client()
    yield "connect_upgrade", ctl(), start() + c.headers(
        1, [(":method", "CONNECT"), (":authority", "h2.test:443")], True) + c.get(
        3, "/", [("connection", "keep-alive"), ("te", "trailers"), ("transfer-encoding", "chunked")])


def backend_answers():
    c = Client()
    paths = ["/204", "/304", "/100", "/101", "/close", "/bad", "/hop"]
    yield "backend_answers", ctl(), start() + window(0, 1 << 20) + b"".join(
        c.get(2 * i + 1, p) for i, p in enumerate(paths)) + c.get(17, "/", method="HEAD")
    c = Client()
    post = c.get(1, "/100", [("content-length", "4"), ("expect", "100-continue")], method="POST",
                 end_stream=False)
    yield "expect_continue", ctl(piece=3), start() + post + frame(DATA, END_STREAM, 1, b"body")


def timeouts():
    c = Client()
    post = c.get(1, "/", [("content-length", "100")], method="POST", end_stream=False)
    yield "timeout_mid_body", ctl(piece=4, jump_mid=True), start() + post + \
        frame(DATA, 0, 1, b"a" * 40) + frame(DATA, 0, 1, b"b" * 40)
    c = Client()
    yield "timeout_slow_reader", ctl(BIG, jump_end=True), start() + c.get(1) + c.get(3)
    c = Client()
    yield "timeout_idle", ctl(jump_end=True), start() + c.get(1)
    yield "timeout_no_request", ctl(jump_mid=True, jump_end=True), start() + frame(PING, 0, 0, b"pingpong")
    c = Client()
    # pieces of 64 bytes: the clock jumps after the second, while the PINGs are under way; the
    # worker's trim runs (idle connections); then a SETTINGS ACK and a new stream
    yield "timeout_then_more", ctl(piece=4, jump_mid=True), start() + c.get(1) + \
        frame(PING, 0, 0, b"pingpong") * 24 + frame(SETTINGS, ACK, 0) + c.get(3, "/after")
    c = Client()
    # the same with a short jump: the trim asks the idle session to sleep (a SETTINGS which, on
    # the current wip/h2, sets HEADER_TABLE_SIZE 0), the client's ACK lets it, the next stream
    # wakes it
    first = start() + c.get(1) + frame(PING, 0, 0, b"pingpong") * 24 + frame(SETTINGS, ACK, 0)
    c.enc.header_table_size = 0  # as the SETTINGS acknowledged asks (HEADER_TABLE_SIZE 0)
    yield "short_jump_sleep_wake", ctl(piece=4, jump_mid=True, short_jump=True), first + \
        c.get(3, "/after")
    c = Client()
    yield "timeout_backend", ctl(jump_mid=True, jump_end=True), start() + c.get(1, "/hang") + \
        frame(PING, 0, 0, b"12345678") * 4


def floods():
    c = Client()
    post = c.get(1, "/", method="POST", end_stream=False)
    yield "empty_data_flood", ctl(), start() + post + frame(DATA, 0, 1) * 110 + frame(DATA, END_STREAM, 1)
    c = Client()
    # lifeguard's GOAWAY (ENHANCE_YOUR_CALM) from inside nghttp2's callback, then a frame size
    # error: nghttp2 1.52 asserts (iframe->state == NGHTTP2_IB_IGN_ALL) and the worker aborts
    post = c.get(1, "/", method="POST", end_stream=False)
    yield "regress-calm-then-frame-size-error", ctl(), start() + post + frame(DATA, 0, 1) * 101 + \
        frame(PING, 0, 0, b"1234567")
    c = Client()
    # rapid reset (CVE-2023-44487): past the burst of 200, nghttp2 ends the connection
    yield "rapid_reset", ctl(), start() + b"".join(
        c.get(2 * i + 1) + frame(RST, 0, 2 * i + 1, struct.pack(">I", 8)) for i in range(230))


def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "h2")
    os.makedirs(out, exist_ok=True)
    for name, head, body in list(seeds()) + list(backend_answers()) + list(timeouts()) + list(floods()):
        with open(os.path.join(out, name), "wb") as f:
            f.write(head + body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
