"""origin_proc.py - lg-origin (tests/support/origin.c) as a child process of a Python suite:
started on 127.0.0.1 (port 0), its port read from its first line, its /stats asked directly
(not through lifeguard), stopped by pid.
"""

import os
import re
import socket
import subprocess


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
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as s:
            s.sendall(b"GET /stats HTTP/1.1\r\nHost: o\r\nConnection: close\r\n\r\n")
            data = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        body = data.split(b"\r\n\r\n", 1)[1].decode()
        return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", body)}

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
        self.proc.wait()
        self.proc.stdout.close()
