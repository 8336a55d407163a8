"""recording_backend.py - a backend for the framing suite that records every byte it receives.

Two kinds, both on 127.0.0.1 (port 0), one thread per connection:

- ``RecordingBackend`` re-parses every request with h11 (a second, strict HTTP/1.1 parser),
  records the raw bytes of each connection and what h11 understood (method, target, header
  lines as received, body, trailers), and answers ``200`` with the body ``ok\\n``. A request
  asking for a WebSocket upgrade (``Connection: upgrade``, ``Upgrade: websocket``) gets a 101;
  the bytes after it are recorded unparsed. A request h11 rejects is recorded as an error and
  the connection is closed.
- ``ScriptedBackend`` answers every request head (up to the empty line) with the raw bytes of
  its current ``Script``, malformed or not, then keeps the connection open or closes it.

The test sets the case up with ``reset()`` and reads what arrived with ``snapshot()``. Every
connection remembers whether the proxy closed it (``peer_closed``), so a test can tell whether a
connection was given back to the proxy's pool or dropped.

Run alone (``/usr/bin/python3 tests/support/recording_backend.py``) it prints its port and then
one line per request h11 parsed, to look at what a proxy sends.
"""

import socket
import sys
import threading
import time

import h11

OK_BODY = b"ok\n"


def _items(headers):
    """h11 headers as (name as received, value) text pairs."""
    return [(n.decode("latin-1"), v.decode("latin-1")) for n, v in headers.raw_items()]


class Script:
    """A raw response to send for each request head; close: close the connection after it."""

    def __init__(self, data, close=False):
        self.data = data
        self.close = close


class _Conn:
    def __init__(self, cid):
        self.cid = cid
        self.peer_closed = False  # the proxy closed (EOF or reset)
        self.done = False  # the thread ended (either side closed)


class _Backend:
    """Listening socket, connection threads and the records shared by both kinds."""

    def __init__(self, name):
        self.name = name
        self.lock = threading.Lock()
        self.events = []  # (connection id, bytes) in arrival order, since reset()
        self.requests = []  # dicts made by the subclass, since reset()
        self.errors = []  # h11 errors, since reset()
        self.conns = []  # every connection since start
        self.new_conns = 0  # connections accepted since reset()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.stopping = False
        self.thread = threading.Thread(target=self._accept_loop, daemon=True)
        self.thread.start()

    def _accept_loop(self):
        while not self.stopping:
            try:
                s, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                conn = _Conn(len(self.conns))
                self.conns.append(conn)
                self.new_conns += 1
            threading.Thread(target=self._serve_conn, args=(s, conn), daemon=True).start()

    def _serve_conn(self, s, conn):
        s.settimeout(None)
        try:
            self.serve(s, conn)
        except OSError:
            conn.peer_closed = True
        finally:
            conn.done = True
            s.close()

    def _recv(self, s, conn):
        """Bytes from the proxy, recorded; b"" once it closed."""
        try:
            data = s.recv(65536)
        except OSError:
            data = b""
        if data:
            with self.lock:
                self.events.append((conn.cid, data))
        else:
            conn.peer_closed = True
        return data

    def reset(self):
        with self.lock:
            self.events, self.requests, self.errors, self.new_conns = [], [], [], 0

    def snapshot(self):
        """What arrived since reset(): raw bytes (all connections, in order), requests, errors."""
        with self.lock:
            return {
                "raw": b"".join(d for _, d in self.events),
                "conns": sorted({cid for cid, _ in self.events}),
                "requests": list(self.requests),
                "errors": list(self.errors),
                "new_conns": self.new_conns,
            }

    def wait_closed(self, cids, timeout):
        """True once the proxy closed every connection in cids (waits up to timeout s)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(self.conns[c].peer_closed or self.conns[c].done for c in cids):
                return True
            time.sleep(0.02)
        return False

    def stop(self):
        self.stopping = True
        self.sock.close()


class RecordingBackend(_Backend):
    """Records and re-parses every request with h11; answers 200 "ok" (101 to a WebSocket)."""

    def serve(self, s, conn):
        h = h11.Connection(h11.SERVER)
        cur = None
        while True:
            data = self._recv(s, conn)
            if not data:
                return  # a request cut short by the proxy is not one: the test sees none
            h.receive_data(data)
            try:
                while True:
                    ev = h.next_event()
                    if ev in (h11.NEED_DATA, h11.PAUSED) or isinstance(ev, h11.ConnectionClosed):
                        break
                    if isinstance(ev, h11.Request):
                        cur = {
                            "conn": conn.cid,
                            "method": ev.method.decode("latin-1"),
                            "target": ev.target.decode("latin-1"),
                            "headers": _items(ev.headers),
                            "body": b"",
                            "trailers": [],
                        }
                    elif isinstance(ev, h11.Data):
                        cur["body"] += ev.data
                    elif isinstance(ev, h11.EndOfMessage):
                        cur["trailers"] = _items(ev.headers)
                        with self.lock:
                            self.requests.append(cur)
                        if self._answer(s, h, cur):
                            self._tunnel(s, conn)
                            return
                        if h.our_state is h11.MUST_CLOSE:
                            return
                        h.start_next_cycle()
            except h11.RemoteProtocolError as e:
                with self.lock:
                    self.errors.append("connection %d: %s" % (conn.cid, e))
                return

    @staticmethod
    def _answer(s, h, req):
        """Answer one request; True when it switched protocols (a 101 was sent)."""
        hdrs = {n.lower(): v.lower() for n, v in req["headers"]}
        if hdrs.get("upgrade") == "websocket" and "upgrade" in hdrs.get("connection", ""):
            s.sendall(
                h.send(
                    h11.InformationalResponse(
                        status_code=101,
                        headers=[("Upgrade", "websocket"), ("Connection", "Upgrade")],
                    )
                )
            )
            return True
        out = h.send(h11.Response(status_code=200, headers=[("Content-Length", str(len(OK_BODY)))]))
        if req["method"] != "HEAD":
            out += h.send(h11.Data(data=OK_BODY))
        out += h.send(h11.EndOfMessage())
        s.sendall(out)
        return False

    def _tunnel(self, s, conn):
        while self._recv(s, conn):
            pass


class ScriptedBackend(_Backend):
    """Answers each request head with the raw bytes of self.script (a Script)."""

    def __init__(self, name):
        self.script = Script(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n")
        super().__init__(name)

    def serve(self, s, conn):
        buf = b""
        while True:
            data = self._recv(s, conn)
            if not data:
                return
            buf += data
            while b"\r\n\r\n" in buf:
                head, buf = buf.split(b"\r\n\r\n", 1)
                with self.lock:
                    self.requests.append({"conn": conn.cid, "head": head + b"\r\n\r\n"})
                    script = self.script
                s.sendall(script.data)
                if script.close:
                    s.shutdown(socket.SHUT_WR)
                    while self._recv(s, conn):
                        pass
                    return


def main():
    b = RecordingBackend("standalone")
    print("listening 127.0.0.1:%d" % b.port, flush=True)
    seen = 0
    try:
        while True:
            time.sleep(0.2)
            with b.lock:
                new, seen = b.requests[seen:], len(b.requests)
                errors, b.errors = b.errors, []
            for r in new:
                print(r, flush=True)
            for e in errors:
                print("h11 error:", e, flush=True)
    except KeyboardInterrupt:
        b.stop()


if __name__ == "__main__":
    sys.exit(main())
