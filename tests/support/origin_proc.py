"""origin_proc.py - lg-origin (tests/support/origin.c) as a child process of a Python suite:
started on 127.0.0.1 (port 0), its port read from its first line, its /stats asked directly
(not through lifeguard), stopped by pid. Also the plain GET that reads a response to the close
(an origin's /stats, lifeguard's admin /metrics).
"""

import os
import re
import socket
import subprocess


def read_to_eof(sock):
    """Every byte the peer sends until it closes."""
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk


def plain_get(port, path):
    """The body of GET path on 127.0.0.1:port, with Connection: close."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n" % path.encode())
        return read_to_eof(s).split(b"\r\n\r\n", 1)[1]


def origin_binary(lifeguard_binary):
    """$LG_ORIGIN, else the lg-origin built next to lifeguard."""
    return os.environ.get("LG_ORIGIN") or os.path.join(os.path.dirname(lifeguard_binary),
                                                       "lg-origin")


class Origin:
    """One lg-origin; port: where it listens."""

    def __init__(self, lifeguard_binary, name="origin"):
        self.proc = subprocess.Popen([origin_binary(lifeguard_binary), "--listen", "127.0.0.1:0",
                                      "--name", name, "--quiet"],
                                     stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        m = re.search(r"listening 127\.0\.0\.1:(\d+)", line)
        if m is None:
            self.stop()
            raise RuntimeError("lg-origin did not start: %r" % line)
        self.port = int(m.group(1))

    def stats(self):
        """/stats as a dict: connections (accepted), requests (received), active (open now);
        neither counts /stats itself."""
        body = plain_get(self.port, "/stats").decode()
        return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", body)}

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
        self.proc.wait()
        self.proc.stdout.close()
