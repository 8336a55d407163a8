"""h2_cancel.py - HTTP/2 (h2c prior knowledge, Python's h2) client for test_queue.c: a stream
the client resets while lifeguard holds it in a backend queue.

  /usr/bin/python3 tests/support/h2_cancel.py --port PORT [--wait 0.3] [--timeout 10]
                                             [--first /?cancelled] [--then /?after]

On one connection: GET --first (stream 1), --wait seconds later RST_STREAM(CANCEL) on it,
then GET --then (stream 3), whose response is awaited. Prints "after=STATUS" (and exits 0)
once stream 3 ended, or "timeout" and exits 1 after --timeout seconds of silence.
"""

import argparse
import socket
import sys
import time

import h2.config
import h2.connection
import h2.errors
import h2.events


def request(conn, sid, port, path):
    conn.send_headers(
        sid,
        [(":method", "GET"), (":path", path), (":scheme", "http"), (":authority", f"127.0.0.1:{port}")],
        end_stream=True,
    )


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--wait", type=float, default=0.3)
    ap.add_argument("--timeout", type=float, default=10)
    ap.add_argument("--first", default="/?cancelled")
    ap.add_argument("--then", default="/?after")
    a = ap.parse_args()

    sock = socket.create_connection(("127.0.0.1", a.port))
    sock.settimeout(a.timeout)
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    request(conn, 1, a.port, a.first)
    sock.sendall(conn.data_to_send())
    time.sleep(a.wait)
    conn.reset_stream(1, h2.errors.ErrorCodes.CANCEL)
    request(conn, 3, a.port, a.then)
    sock.sendall(conn.data_to_send())
    status = None
    while True:
        try:
            data = sock.recv(65536)
        except socket.timeout:
            print("timeout")
            return 1
        if not data:
            print("closed")
            return 1
        for ev in conn.receive_data(data):
            if isinstance(ev, h2.events.ResponseReceived) and ev.stream_id == 3:
                status = dict(ev.headers).get(b":status", b"?").decode()
            if isinstance(ev, h2.events.StreamEnded) and ev.stream_id == 3:
                print(f"after={status}")
                return 0
        sock.sendall(conn.data_to_send())


if __name__ == "__main__":
    sys.exit(main())
