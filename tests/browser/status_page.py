#!/usr/bin/env python3
"""The /status page in headless Chromium, driven through chromedriver (W3C WebDriver over HTTP,
python3 standard library only). Run by status_page.sh, which starts chromedriver and, unless it
is given a base URL, fake_admin.py; see that script for the usage.

With --fake-dir (the fake admin server) the test writes status.json itself:
  1. app/127.0.0.1:9001 "up" is shown up; request rates are computed from two polls;
  2. after status.json says "down", the page shows it down;
  3. while status.json cannot be fetched, the "connection lost" banner shows; it goes away again;
  4. realistic data (2 pools, 4 backends, one down, one ejected) is rendered and photographed.
Against a real lifeguard (no --fake-dir) it checks that --backend is shown up, runs --down-cmd,
then waits for the page to show the backend in --down-state.
"""
import argparse
import base64
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request


class Fail(Exception):
    pass


class WebDriver:
    """Just the W3C WebDriver calls this test needs."""

    def __init__(self, url):
        self.url = url.rstrip("/")
        self.sid = None

    def call(self, method, path, body=None, timeout=30):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return json.load(r).get("value")
        except urllib.error.HTTPError as e:
            try:
                v = json.load(e).get("value") or {}
            except ValueError:
                raise Fail("webdriver %s %s: HTTP %d" % (method, path, e.code))
            msg = (v.get("message") or "").splitlines()
            raise Fail("webdriver %s %s: %s: %s" % (method, path, v.get("error"), msg[0] if msg else ""))
        except OSError as e:
            raise Fail("webdriver %s %s: %s" % (method, path, e))

    def start(self, binary, args):
        caps = {"browserName": "chrome",
                "goog:chromeOptions": {"binary": binary, "args": args},
                "goog:loggingPrefs": {"browser": "ALL"}}
        v = self.call("POST", "/session", {"capabilities": {"alwaysMatch": caps}}, timeout=40)
        self.sid = v["sessionId"]

    def s(self, method, path, body=None):
        return self.call(method, "/session/%s%s" % (self.sid, path), body)

    def go(self, url):
        self.s("POST", "/url", {"url": url})

    def js(self, script, *args):
        return self.s("POST", "/execute/sync", {"script": script, "args": list(args)})

    def cdp(self, cmd, params):
        """A Chrome DevTools Protocol command (a chromedriver extension)."""
        return self.s("POST", "/goog/cdp/execute", {"cmd": cmd, "params": params})

    def screenshot(self, height):
        """The top `height` CSS pixels of the page, beyond the window if need be."""
        w = self.js("return document.documentElement.clientWidth;")
        v = self.cdp("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True,
                                                "clip": {"x": 0, "y": 0, "width": w, "height": height, "scale": 1}})
        return base64.b64decode(v["data"])

    def console(self):
        """Browser console entries since the last call (a chromedriver extension)."""
        try:
            return self.s("POST", "/se/log", {"type": "browser"}) or []
        except Fail:
            return []

    def quit(self):
        if self.sid:
            try:
                self.call("DELETE", "/session/" + self.sid, timeout=10)
            except Fail:
                pass
            self.sid = None


# ---- what the page shows, read from its DOM

JS_BACKEND = """
var e = document.querySelector('tr[data-backend="' + CSS.escape(arguments[0]) + '"]');
if (!e) return null;
var t = e.closest('table'), cells = {};
t.querySelectorAll('thead th').forEach(function (th, i) { cells[th.textContent] = e.cells[i].textContent; });
var b = e.querySelector('.badge');
return {state: e.getAttribute('data-state'), badge: b ? b.textContent : null,
        shown: e.getClientRects().length > 0 && getComputedStyle(e).visibility === 'visible', cells: cells};
"""
JS_BANNER = """
var b = document.getElementById('banner');
return b && !b.hidden && b.getClientRects().length ? b.textContent : null;
"""
JS_UPTIME = "var m = document.querySelector('[data-uptime]'); return m ? m.getAttribute('data-uptime') : null;"
JS_STATES = """
var r = {};
document.querySelectorAll('tr[data-backend]').forEach(function (e) { r[e.getAttribute('data-backend')] = e.getAttribute('data-state'); });
return r;
"""
JS_HEIGHT = "return Math.ceil(document.documentElement.getBoundingClientRect().height);"


def wait_for(what, probe, ok, timeout):
    """Calls probe() until ok(value) holds; Fail naming `what` and the last value on timeout."""
    end = time.monotonic() + timeout
    while True:
        v = probe()
        if ok(v):
            return v
        if time.monotonic() > end:
            raise Fail("after %.1f s the page still does not show %s (last seen: %s)" % (timeout, what, json.dumps(v)))
        time.sleep(0.1)


def backend(wd, key):
    return wd.js(JS_BACKEND, key)


def wait_state(wd, key, states, timeout):
    """Waits until backend `key` is shown in one of `states` (a comma-separated list)."""
    want = states.split(",")
    v = wait_for('backend %s in state "%s"' % (key, " or ".join(want)), lambda: backend(wd, key),
                 lambda v: v is not None and v["state"] in want, timeout)
    if v["badge"] != v["state"] or not v["shown"]:
        raise Fail("backend %s has data-state %s but its badge reads %r (visible: %s)"
                   % (key, v["state"], v["badge"], v["shown"]))
    print("ok: %s shown %s" % (key, v["state"]))
    return v


def wait_uptime(wd, uptime, timeout):
    """Waits until the page has rendered the snapshot whose uptime_seconds is `uptime`."""
    wait_for("the snapshot of uptime %s" % uptime, lambda: wd.js(JS_UPTIME),
             lambda v: v is not None and float(v) == uptime, timeout)


# ---- status.json for the fake admin server

def write_json(d, obj):
    tmp = os.path.join(d, "status.json.tmp")
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=1)
    os.replace(tmp, os.path.join(d, "status.json"))


def classes(n2, n3=0, n4=0, n5=0):
    return {"1xx": 0, "2xx": n2, "3xx": n3, "4xx": n4, "5xx": n5}


def basic(uptime, state, n):
    """One listener, one pool with two backends; `n` seconds of 100 requests/s on 9001."""
    b1 = {"address": "127.0.0.1:9001", "host": "127.0.0.1:9001", "state": state, "weight": 1,
          "active": 1, "requests": classes(500 + 95 * n, 0, 0, 5 * n), "failures": 0, "ejections": 0,
          "latency_ms": {"p50": 1.2, "p99": 8.5}, "check": {"result": "ok" if state == "up" else "connect refused", "seconds_ago": 0.4}}
    b2 = {"address": "127.0.0.1:9002", "host": "127.0.0.1:9002", "state": "up", "weight": 1,
          "active": 0, "requests": classes(500), "failures": 0, "ejections": 0,
          "latency_ms": {"p50": 0, "p99": 0}, "check": None}
    return {"version": "0.1.0", "generation": 1, "uptime_seconds": uptime, "reloads": 0,
            "worker_restarts": 0, "workers": 2, "connections_active": 1,
            "listeners": [{"name": "web", "address": "127.0.0.1:8080", "mode": "http",
                           "requests": classes(1000 + 95 * n, 0, 0, 5 * n), "bytes_in": 1000 * n,
                           "bytes_out": 100000 * n, "connections_active": 1, "connections_total": 10 + n}],
            "pools": [{"name": "app", "balance": "round_robin", "retries": 0, "no_backend": 0,
                       "latency_ms": {"p50": 1.2, "p99": 8.5}, "backends": [b1, b2]}]}


def realistic(uptime, k):
    """Two listeners, two pools, four backends (one down, one ejected); k = seconds elapsed."""
    def be(addr, host, state, w, active, n2, n3, n4, n5, fails, ej, p50, p99, result, ago):
        return {"address": addr, "host": host, "state": state, "weight": w, "active": active,
                "requests": classes(n2, n3, n4, n5), "failures": fails, "ejections": ej,
                "latency_ms": {"p50": p50, "p99": p99},
                "check": None if result is None else {"result": result, "seconds_ago": ago}}
    app = [be("172.18.0.4:8000", "app:8000", "up", 1, 23, 4810233 + 589 * k, 10312 + 2 * k, 22841 + 9 * k, 1204 + 1 * k,
              3, 0, 3.1, 38.0, "ok", 0.6),
           be("172.18.0.7:8000", "app:8000", "ejected", 1, 0, 4790122, 10287, 22950, 9131, 41, 2, 5.4, 212.0, "ok", 0.6),
           ]
    api = [be("10.0.2.21:9000", "10.0.2.21:9000", "up", 3, 9, 1873321 + 231 * k, 0, 40122 + 6 * k, 2210 + 3 * k,
              0, 0, 11.8, 92.0, "ok", 1.3),
           be("10.0.2.22:9000", "10.0.2.22:9000", "down", 1, 0, 611230, 0, 13001, 1802, 17, 0, 14.2, 310.0,
              "connect refused", 1.3)]
    return {"version": "0.1.0", "generation": 3, "uptime_seconds": uptime, "reloads": 2,
            "worker_restarts": 0, "workers": 4, "connections_active": 317,
            "listeners": [
                {"name": "web", "address": "0.0.0.0:80", "mode": "http",
                 "requests": classes(9600355 + 589 * k, 20599 + 2 * k, 45791 + 9 * k, 10335 + 1 * k),
                 "bytes_in": 5123456789 + 301000 * k, "bytes_out": 190123456789 + 12400000 * k,
                 "connections_active": 281, "connections_total": 1290412 + 41 * k,
                 "tls": {"handshakes": {"ok": 1290002 + 40 * k, "failed": 410 + k, "resumed": 801233 + 27 * k},
                         "failures": {"no_shared_cipher": 12, "unsupported_protocol": 301 + k, "closed": 97},
                         "certificates": [cert(["example.com", "www.example.com"], "ec", 61),
                                          cert(["example.com", "www.example.com"], "rsa", 61),
                                          cert(["*.example.org"], "ec", 12)]}},
                {"name": "api", "address": "0.0.0.0:8081", "mode": "http",
                 "requests": classes(2484551 + 231 * k, 0, 53123 + 6 * k, 4012 + 3 * k),
                 "bytes_in": 923456789 + 96000 * k, "bytes_out": 8123456789 + 1150000 * k,
                 "connections_active": 36, "connections_total": 412230 + 12 * k}],
            "pools": [
                {"name": "app", "balance": "round_robin", "retries": 212, "no_backend": 0,
                 "latency_ms": {"p50": 3.4, "p99": 41.0}, "backends": app},
                {"name": "api", "balance": "least_conn", "retries": 97 + k, "no_backend": 3,
                 "latency_ms": {"p50": 12.1, "p99": 95.0}, "backends": api}]}


def cert(names, key, days):
    """A certificate of a tls listener as status.json has it, `days` from expiring."""
    return {"file": "/etc/lifeguard/%s.pem" % names[0].lstrip("*."), "names": names, "key": key,
            "issuer": "CN=Test CA", "not_before": 1700000000, "not_after": 1700000000 + 86400 * 400,
            "expires": "2025-01-01T00:00:00Z", "days_left": days}


def edges(uptime):
    """What the page must also cope with: a TCP listener, a pool without active checks, a DNS
    member not resolved yet, an unknown state, a pool without backends."""
    snap = basic(uptime, "unchecked", 0)
    snap["listeners"].append({"name": "pg", "address": "127.0.0.1:5433", "mode": "tcp",
                              "requests": classes(0), "bytes_in": 10, "bytes_out": 20,
                              "connections_active": 2, "connections_total": 5})
    snap["pools"][0]["backends"][0]["check"] = None
    snap["listeners"][0]["tls"] = {
        "handshakes": {"ok": 90, "failed": 10, "resumed": 45},
        "failures": {"no_shared_cipher": 4, "unsupported_protocol": 6},
        "certificates": [cert(["example.com", "www.example.com"], "ec", 400),
                         cert(["*.example.org"], "rsa", 5),
                         cert(["old.example.com"], "ec", -3)]}
    snap["pools"].append({"name": "db", "balance": "hash", "retries": 0, "no_backend": 7,
                          "latency_ms": {"p50": 0, "p99": 0},
                          "backends": [{"address": "", "host": "db:5432", "state": "unresolved", "weight": 1,
                                        "active": 0, "requests": classes(0), "failures": 0, "ejections": 0,
                                        "latency_ms": {"p50": 0, "p99": 0}, "check": None},
                                       {"address": "10.9.9.9:5432", "host": "db:5432", "state": "draining",
                                        "weight": 1, "active": 0, "requests": classes(0), "failures": 0,
                                        "ejections": 0, "latency_ms": {"p50": 0, "p99": 0},
                                        "check": {"result": "", "seconds_ago": 0}}]})
    snap["pools"].append({"name": "spare", "balance": "p2c", "retries": 0, "no_backend": 0,
                          "latency_ms": {"p50": 0, "p99": 0}, "backends": []})
    return snap


JS_EDGES = """
var q = function (s) { return document.querySelector(s); };
var pg = Array.prototype.find.call(document.querySelectorAll('#listeners article'),
                                   function (e) { return e.querySelector('h3').textContent === 'pg'; });
var spare = Array.prototype.find.call(document.querySelectorAll('#pools section'),
                                      function (e) { return e.querySelector('h3').textContent === 'spare'; });
var row = q('tr[data-backend="app/127.0.0.1:9001"]');
return {pg: pg ? pg.querySelector('dd').textContent : null,
        spare: spare ? !spare.querySelector('.empty').hidden : null,
        check: row ? row.cells[row.cells.length - 1].textContent : null,
        unresolved: (q('tr[data-backend="db/db:5432"] .badge') || {}).textContent || null,
        other: (q('tr[data-backend="db/10.9.9.9:5432"] .badge') || {}).textContent || null,
        pgTls: pg ? pg.querySelector('.tlsb').hidden : null,
        certs: Array.prototype.map.call(document.querySelectorAll('#listeners .certs li'), function (li) {
          return [li.children[0].textContent, li.children[1].textContent, li.children[2].textContent,
                  li.children[2].className];
        })};
"""


# ---- the test

def check_console(wd):
    """Fails on anything but network errors in the browser console (those are expected while
    the test makes status.json unavailable)."""
    bad = [e.get("message", "") for e in wd.console()
           if e.get("level") == "SEVERE" and e.get("source") != "network"
           and "Failed to load resource" not in e.get("message", "")]
    if bad:
        raise Fail("the page logged errors:\n  " + "\n  ".join(bad))


def screenshot(wd, path):
    time.sleep(0.5)  # the 0.3 s transitions of the status mix bars
    png = wd.screenshot(int(wd.js(JS_HEIGHT)))
    if not png.startswith(b"\x89PNG\r\n\x1a\n"):
        raise Fail("the screenshot is not a PNG")
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    with open(path + ".tmp", "wb") as f:
        f.write(png)
    os.replace(path + ".tmp", path)
    print("ok: screenshot %s (%d bytes)" % (path, len(png)))


def run(a, wd):
    page = a.url.rstrip("/") + "/status"
    fake = a.fake_dir
    if a.color_scheme:
        wd.cdp("Emulation.setEmulatedMedia",
               {"features": [{"name": "prefers-color-scheme", "value": a.color_scheme}]})
    if fake:
        write_json(fake, basic(10.0, "up", 0))
    wd.go(page)
    v = wait_state(wd, a.backend, "up", a.wait)

    if fake:
        # A second poll, one second later by the master's clock: 100 requests, 5 of them 5xx.
        write_json(fake, basic(11.0, "up", 1))
        wait_uptime(wd, 11.0, a.wait)
        v = backend(wd, a.backend)
        if v["cells"].get("Req/s") != "100" or v["cells"].get("Errors") != "5.0%":
            raise Fail("backend %s: expected 100 req/s and 5.0%% errors, the page shows %s"
                       % (a.backend, json.dumps(v["cells"])))
        print("ok: rates from two polls: %s req/s, %s errors" % (v["cells"]["Req/s"], v["cells"]["Errors"]))
        write_json(fake, basic(12.0, "down", 1))
    else:
        print("running: %s" % a.down_cmd)
        subprocess.run(a.down_cmd, shell=True, check=True, timeout=a.wait)
    wait_state(wd, a.backend, a.down_state, a.wait)

    if fake:
        os.unlink(os.path.join(fake, "status.json"))
        msg = wait_for("the connection-lost banner", lambda: wd.js(JS_BANNER),
                       lambda v: v is not None and "Connection lost" in v, a.wait)
        print("ok: banner while status.json fails: %s" % msg)
        write_json(fake, basic(13.0, "down", 1))
        wait_for("the banner gone after recovery", lambda: wd.js(JS_BANNER), lambda v: v is None, a.wait)
        wait_uptime(wd, 13.0, a.wait)
        print("ok: banner gone after recovery")
        write_json(fake, edges(20.0))
        wait_uptime(wd, 20.0, a.wait)
        want = {"pg": "n/a", "spare": True, "check": "passive only", "unresolved": "unresolved", "other": "draining",
                "pgTls": True, "certs": [["example.com, www.example.com", "ec", "400 d", "ok"],
                                         ["*.example.org", "rsa", "5 d", "bad"], ["old.example.com", "ec", "expired", "bad"]]}
        got = wd.js(JS_EDGES)
        if got != want:
            raise Fail("edge cases: expected %s, the page shows %s" % (want, got))
        write_json(fake, edges(5.0))  # a master that restarted: its uptime went back
        wait_uptime(wd, 5.0, a.wait)
        print("ok: tcp listener, passive-only pool, unresolved member, unknown state, empty pool, restart, "
              "certificates and days left")
        check_console(wd)

        if a.screenshot:
            write_json(fake, realistic(3723.0, 0))
            wait_uptime(wd, 3723.0, a.wait)
            write_json(fake, realistic(3724.0, 1))
            wait_uptime(wd, 3724.0, a.wait)
            want = {"app/172.18.0.4:8000": "up", "app/172.18.0.7:8000": "ejected",
                    "api/10.0.2.21:9000": "up", "api/10.0.2.22:9000": "down"}
            got = wd.js(JS_STATES)
            if got != want:
                raise Fail("realistic data: expected backends %s, the page shows %s" % (want, got))
            print("ok: realistic data: %s" % ", ".join("%s %s" % kv for kv in sorted(got.items())))
    if a.screenshot:
        screenshot(wd, a.screenshot)
    check_console(wd)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--driver", required=True, help="chromedriver URL")
    p.add_argument("--url", required=True, help="admin base URL; the page is at URL/status")
    p.add_argument("--chromium", default="/usr/bin/chromium")
    p.add_argument("--profile", required=True, help="an empty directory for the browser profile")
    p.add_argument("--fake-dir", help="the fake admin server's directory: the test writes status.json")
    p.add_argument("--backend", default="app/127.0.0.1:9001", help="POOL/ADDRESS to watch")
    p.add_argument("--down-cmd", help="without --fake-dir: the command that takes --backend down")
    p.add_argument("--down-state", default="down",
                   help="the state the page must show after that (a comma-separated list: any of them)")
    p.add_argument("--screenshot", help="write a PNG of the page there")
    p.add_argument("--width", type=int, default=1280, help="window width in CSS pixels")
    p.add_argument("--color-scheme", choices=["light", "dark"], help="emulate prefers-color-scheme")
    p.add_argument("--wait", type=float, default=8.0, help="seconds to wait for each change")
    a = p.parse_args()
    if not a.fake_dir and not a.down_cmd:
        p.error("--down-cmd is needed with a real admin server")

    args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-dev-shm-usage", "--hide-scrollbars", "--force-color-profile=srgb",
            "--force-device-scale-factor=1", "--lang=en-US", "--window-size=%d,900" % a.width,
            "--user-data-dir=" + a.profile]
    wd = WebDriver(a.driver)
    try:
        wd.start(a.chromium, args)
        run(a, wd)
    except Fail as e:
        print("FAIL: %s" % e, file=sys.stderr)
        if wd.sid:
            try:
                b = wd.js(JS_BANNER)
                if b:
                    print("  the page's banner: %s" % b, file=sys.stderr)
            except Fail:
                pass
            seen = set()
            for c in wd.console():
                line = "  console %s: %s" % (c.get("level"), c.get("message"))
                if line not in seen:
                    seen.add(line)
                    print(line, file=sys.stderr)
        return 1
    except subprocess.SubprocessError as e:
        print("FAIL: --down-cmd: %s" % e, file=sys.stderr)
        return 1
    finally:
        wd.quit()
    print("PASS: status page")
    return 0


if __name__ == "__main__":
    sys.exit(main())
