#!/usr/bin/env python3
"""A stand-in for lifeguard's admin listener, for the browser test of the /status page.

usage: fake_admin.py DIR PAGE

  GET /status       PAGE, as text/html
  GET /status.json  DIR/status.json as it is now (the test rewrites it between polls with a
                    rename, so a poll never sees half a file); 503 while it does not exist
  GET /healthz      200 ok

Listens on 127.0.0.1 with a port the kernel picks and writes that port to DIR/port (renamed into
place, so a reader never sees a partial number). Stops on SIGTERM or SIGINT.
"""
import http.server
import os
import signal
import sys


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-lifeguard-admin"

    def send(self, code, ctype, body):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path == "/status":
            with open(self.server.page, "rb") as f:
                self.send(200, "text/html; charset=utf-8", f.read())
        elif path == "/status.json":
            try:
                with open(os.path.join(self.server.dir, "status.json"), "rb") as f:
                    body = f.read()
            except FileNotFoundError:
                self.send(503, "text/plain", b"status.json not available\n")
                return
            self.send(200, "application/json", body)
        elif path == "/healthz":
            self.send(200, "text/plain", b"ok\n")
        else:
            self.send(404, "text/plain", b"not found\n")

    do_HEAD = do_GET

    def log_message(self, fmt, *args):
        pass


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: fake_admin.py DIR PAGE")
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    srv.dir, srv.page = sys.argv[1], sys.argv[2]
    port_file = os.path.join(srv.dir, "port")
    with open(port_file + ".tmp", "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.replace(port_file + ".tmp", port_file)

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    srv.server_close()


if __name__ == "__main__":
    main()
