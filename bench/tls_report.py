#!/usr/bin/env python3
"""Write the TLS section of docs/benchmarks.md from one bench/tls.sh result directory.

    bench/tls_report.py [RESULT_DIR...]     (default: bench/results/latest-tls)

Several result directories pool their rounds (the medians and ranges are over all of them; the
configurations and versions shown are the last one's).

The section lies between the TLS_BEGIN and TLS_END marker lines (appended at the end of the page
the first time); bench/report.py keeps it when it rewrites the page. Reads RESULT_DIR/raw.csv,
meta.txt and conf/*, and bench/tls-notes.md (hand-written analysis, included as is).
"""
import os
import sys

from report import HERE, cell, load, ratio, replace_section, stat

TLS_BEGIN = "<!-- tls section: bench/tls_report.py -->"
TLS_END = "<!-- end of tls section -->"
PROXIES = ["lifeguard", "nginx", "haproxy", "caddy"]

# (test, metric, label, format, higher_is_better, target factor against the best other or None)
ROWS = [
    ("hs_ecdsa", "per_core_s", "full handshakes per worker CPU-second, ECDSA P-256", "{:,.0f}", True, 1.0),
    ("hs_ecdsa", "per_s", "full handshakes/s, ECDSA P-256 (wall clock)", "{:,.0f}", True, None),
    ("hs_rsa", "per_core_s", "full handshakes per worker CPU-second, RSA 2048", "{:,.0f}", True, 1.0),
    ("hs_rsa", "per_s", "full handshakes/s, RSA 2048 (wall clock)", "{:,.0f}", True, None),
    ("resume", "per_core_s", "resumed handshakes per worker CPU-second (tickets)", "{:,.0f}", True, 1.0),
    ("resume", "per_s", "resumed handshakes/s (wall clock)", "{:,.0f}", True, None),
    ("resume", "reused", "share of handshakes resumed", "{:.2f}", None, None),
    ("ka", "cpu_per_100k", "TLS keep-alive CPU-s per 100k requests", "{:.2f}", False, 0.85),
    ("ka", "rps", "TLS keep-alive req/s", "{:,.0f}", True, None),
    ("bulk", "mbps", "64 MiB over TLS, MB/s", "{:,.0f}", True, 1.0),
    ("bulk", "cpu_per_gb", "64 MiB over TLS, CPU-s per GB", "{:.2f}", False, None),
    ("idle", "bytes_per_conn", "bytes per idle TLS connection", "{:,.0f}", False, 0.5),
]


def best_other(data, test, metric, higher):
    sts = [(p, stat(data, p, test, metric)) for p in PROXIES[1:]]
    sts = [(p, s) for p, s in sts if s]
    if not sts:
        return None, None
    pick = max if higher else min
    return pick(sts, key=lambda ps: ps[1][0])


def table_row(data, test, metric, label, fmt, higher, factor):
    """One row: the medians (ranges) of PROXIES, lifeguard / the best other, target, met."""
    cells = [cell(stat(data, p, test, metric), fmt) for p in PROXIES]
    lg = stat(data, "lifeguard", test, metric)
    who, best = best_other(data, test, metric, higher) if higher is not None else (None, None)
    rel = "{} ({})".format(ratio(lg, best), who) if best else "–"
    tgt, met = "", ""
    if factor is not None and lg and best:
        tgt = "{} {:g}× best".format("≥" if higher else "≤", factor)
        ok = lg[0] >= factor * best[0] if higher else lg[0] <= factor * best[0]
        # "≥ the best" missed by less than the noise: the ranges overlap
        close = factor == 1.0 and (lg[2] >= best[1] if higher else lg[1] <= best[2])
        met = "yes" if ok else "≈ (ranges overlap)" if close else "**no**"
    return "| {} | {} | {} | {} | {} |".format(label, " | ".join(cells), rel, tgt, met)


def section(resdir, data, meta):
    out = []
    w = out.append
    rounds = max((len(v) for v in data.values()), default=0)
    w(TLS_BEGIN)
    w("## TLS: lifeguard, nginx, HAProxy and Caddy")
    w("")
    w("From `bench/tls.sh` ({}; {} rounds in all, {}); median over the rounds, the range "
      "(min–max) in brackets. The machine was shared and busy (load average {} at start, {} at "
      "the end): compare within a row, not with other pages.".format(
          meta.get("date", "?"), rounds, meta.get("_runs", resdir), meta.get("loadavg_start", "?"),
          meta.get("loadavg_end", "?")))
    w("")
    w("| | " + " | ".join(PROXIES) + " | lifeguard / best other | target | met |")
    w("| --- |" + " ---: |" * len(PROXIES) + " ---: | --- | --- |")
    for row in ROWS:
        w(table_row(data, *row))
    w("")
    w("Negotiated with a default `openssl s_client`: " + "; ".join(
        "{} {}".format(p, meta.get("negotiated_" + p, "?")) for p in PROXIES) + ". Versions: "
      "nginx {}, {}, Caddy {}, lifeguard {}; {}.".format(
          meta.get("nginx", "?"), meta.get("haproxy", "?"), meta.get("caddy", "?"),
          meta.get("lifeguard", "?"), meta.get("openssl", "?")))
    w("")
    out += notes_block("tls-notes.md")
    w("### TLS method")
    w("")
    w("`bench/tls.sh build` ({}; runs of {} s). Each proxy terminates TLS 1.2/1.3 with "
      "its defaults otherwise (session tickets on, no session cache configured, kTLS off: this "
      "kernel has none), one worker process or thread (Caddy with `GOMAXPROCS=1`) pinned to CPU "
      "0; the origin (`lg-origin`) and every client on CPU 1. Certificates are made at start: "
      "`openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256` (and `-newkey rsa:2048`) "
      "`-nodes -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1`. Each "
      "round starts each proxy with the ECDSA certificate for every test, then again with the "
      "RSA one for the RSA handshakes.".format(meta.get("knobs", "?"), meta.get("duration_s", "?")))
    w("")
    w("- **Handshakes**: `tls_client hs 127.0.0.1:PORT 3 16 new|resume` (bench/tls_client.c, "
      "OpenSSL): 16 connections at a time, each a handshake, one `GET /` with `Connection: "
      "close`, the response read until the server closes; `new` offers no session (every "
      "handshake is full), `resume` offers the newest ticket its slot received. `openssl "
      "s_time` runs one connection at a time (latency-bound: the proxy idles between them) and "
      "h2load opens its connections once and sends every request over them (one handshake per "
      "connection, not a steady handshake rate). The client's own "
      "ECDHE and signature check load CPU 1 about as much as the server's work loads CPU 0, so "
      "the wall-clock rate is bound by the client on this 2-core machine: the comparison is "
      "per worker CPU-second (handshakes / the proxy's utime+stime).")
    w("- **Keep-alive**: `wrk -t1 -c50 -d3s https://127.0.0.1:PORT/` (Debian's wrk is linked "
      "with OpenSSL), after a 1 s warm-up; CPU is the proxy's utime+stime over the run.")
    w("- **64 MiB**: `tls_client bulk 127.0.0.1:PORT 3 /size/67108864`: one keep-alive "
      "connection, each response read whole with `SSL_read` into 64 KiB and dropped.")
    w("- **Idle**: `tls_client idle 127.0.0.1:PORT 5000`: connections opened one after the "
      "other, each a full handshake and one keep-alive `GET /`, then held; the proxy's RSS "
      "growth (all processes) 2 s after the last one, divided by the connections.")
    w("")
    out += conf_listing(resdir)
    w(TLS_END)
    return out


def notes_block(name):
    """bench/NAME (hand-written analysis) followed by an empty line, when it exists."""
    path = os.path.join(HERE, name)
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [f.read().rstrip(), ""]


def conf_listing(resdir):
    """The configs of a run (RESULT_DIR/conf/*) as markdown code blocks."""
    out = []
    confdir = os.path.join(resdir, "conf")
    for name in sorted(os.listdir(confdir)) if os.path.isdir(confdir) else []:
        out += ["`{}` (paths and ports as rendered by the run):".format(name), "",
                "```" + ("yaml" if name.endswith(".yaml") else "text")]
        with open(os.path.join(confdir, name)) as f:
            out.append(f.read().rstrip())
        out += ["```", ""]
    return out


def load_all(resdirs, keep_disturbed=False):
    data, metas = {}, []
    for d in resdirs:
        one, meta = load(d, keep_disturbed)
        metas.append(meta)
        for key, vals in one.items():
            data.setdefault(key, []).extend(vals)
    meta = dict(metas[-1])
    meta["date"] = ", ".join(m.get("date", "?") for m in metas)
    meta["duration_s"] = " s, ".join(m.get("duration_s", "?") for m in metas)
    meta["loadavg_start"] = metas[0].get("loadavg_start", "?")
    return data, meta


def main():
    resdirs = sys.argv[1:] or [os.path.join(HERE, "results", "latest-tls")]
    resdirs = [os.path.realpath(d) for d in resdirs]
    data, meta = load_all(resdirs)
    resdir = resdirs[-1]
    meta["_runs"] = ", ".join("`bench/results/{}`".format(os.path.basename(d)) for d in resdirs)
    page = replace_section(TLS_BEGIN, TLS_END, section(resdir, data, meta))
    print("tls report: wrote the TLS section of " + page)


if __name__ == "__main__":
    main()
