#!/usr/bin/env python3
"""Write the HTTP/2 section of docs/benchmarks.md from bench/h2.sh result directories.

    bench/h2_report.py [RESULT_DIR...]     (default: bench/results/latest-h2)

Several result directories pool their rounds, as bench/tls_report.py does (whose table rows and
loader this uses). The section lies between the H2_BEGIN and H2_END marker lines (appended at the
end of the page the first time); bench/report.py and bench/tls_report.py keep it. Reads
RESULT_DIR/raw.csv (proxy column PROXY-TRANSPORT), meta.txt and conf/*, and bench/h2-notes.md
(hand-written analysis, included as is).
"""
import os
import sys

from report import HERE, check_problems, disturbed_text, replace_section, stat
from tls_report import PROXIES, best_other, conf_listing, load_all, notes_block, table_row

H2_BEGIN = "<!-- h2 section: bench/h2_report.py -->"
H2_END = "<!-- end of h2 section -->"
TRANSPORT = {"tls": "TLS (ALPN h2)", "h2c": "h2c (prior knowledge)"}
CPU_TARGET = 0.8  # issue 15: CPU per request <= 0.8x the best peer
IDLE_TARGET = 0.5  # bytes per idle HTTP/2 connection <= 0.5x the best peer


def rows(meta):
    """(test, metric, label, format, higher_is_better, target factor or None) for the table."""
    out = []
    for t in meta.get("transports", "tls h2c").split():
        for shape in meta.get("shapes", "1x100 50x10").split():
            c, m = shape.split("x")
            test = "{}_c{}m{}".format(t, c, m)
            what = "{}, {} connection{} × {} streams".format(TRANSPORT[t], c, "" if c == "1" else "s", m)
            out += [(test, "rps", what + ": req/s", "{:,.0f}", True, None),
                    (test, "cpu_per_100k", what + ": CPU-s per 100k requests", "{:.2f}", False, CPU_TARGET),
                    (test, "cpu_util", what + ": proxy CPU use (cores)", "{:.2f}", None, None),
                    (test, "load_util", what + ": load side, CPU 1 use (cores)", "{:.2f}", None, None)]
    for t in meta.get("transports", "tls h2c").split():
        out.append((t + "_idle", "bytes_per_conn", "bytes per idle HTTP/2 connection, " + TRANSPORT[t],
                    "{:,.0f}", False, IDLE_TARGET))
    return out


def by_transport(data):
    """(PROXY-TRANSPORT, TEST, METRIC) -> (PROXY, TRANSPORT_TEST, METRIC), for tls_report's rows."""
    out = {}
    for (inst, test, metric), vals in data.items():
        proxy, _, transport = inst.rpartition("-")
        out[(proxy, transport + "_" + test, metric)] = vals
    return out


def fair(clean, every, table, fmax):
    """Per row: the clean runs when every proxy measured has one, else every run of every proxy
    (on a machine busy all along, clean runs of one proxy against disturbed ones of the others
    would compare moments, not proxies). Returns the data and the tests that use every run."""
    out, every_run = dict(clean), set()
    proxies = {k[0] for k in every}
    for test in {row[0] for row in table}:
        runs = [every.get((p, test, "foreign_cores")) for p in proxies]
        if any(r and not any(v <= fmax for v in r) for r in runs):
            every_run.add(test)
    for key, vals in every.items():
        if key[1] in every_run:
            out[key] = vals
    return out, every_run


def ratio_row(data, test, metric, label, higher):
    """Each proxy's median over the best peer's (nginx, HAProxy, Caddy) in that row."""
    _, best = best_other(data, test, metric, higher)
    cells = []
    for p in PROXIES:
        st = stat(data, p, test, metric)
        cells.append("{:.2f}×".format(st[0] / best[0]) if st and best and best[0] else "–")
    return "| {} | {} |".format(label, " | ".join(cells))


def section(resdir, raw, meta, every):
    table = rows(meta)
    data, every_run = fair(by_transport(raw), by_transport(every), table,
                           float(meta.get("foreign_max", "inf")))
    out = []
    w = out.append
    rounds = max((len(v) for v in raw.values()), default=0)
    w(H2_BEGIN)
    w("## HTTP/2: lifeguard, nginx, HAProxy and Caddy")
    w("")
    w("From `bench/h2.sh` ({}; {} rounds in all, {}); median over the rounds, the range (min–max) "
      "in brackets. The machine: {}, {} cores, {}, {}; shared with other helpers' builds and "
      "tests (load average {} at start, {} at the end). {}".format(
          meta.get("date", "?"), rounds, meta.get("_runs", resdir), meta.get("cpu", "?"),
          meta.get("cores", "?"), meta.get("kernel", "?"), meta.get("virt", "?"),
          meta.get("loadavg_start", "?"), meta.get("loadavg_end", "?"), disturbed_text(meta)))
    w("")
    w("| | " + " | ".join(PROXIES) + " | lifeguard / best other | target | met |")
    w("| --- |" + " ---: |" * len(PROXIES) + " ---: | --- | --- |")
    for row in table:
        w(table_row(data, *(row[:2] + (row[2] + (" †" if row[0] in every_run else ""),) + row[3:])))
    w("")
    if every_run:
        w("† No clean run of some proxy in this row: the medians are over every run of every "
          "proxy, disturbed or not (clean runs of one proxy against disturbed runs of the others "
          "would compare moments of the machine, not proxies); this overrides the rule above.")
        w("")
    w("Each proxy's median as a multiple of the best peer's (nginx, HAProxy, Caddy) in the row:")
    w("")
    w("| | " + " | ".join(PROXIES) + " |")
    w("| --- |" + " ---: |" * len(PROXIES))
    for test, metric, label, _, higher, factor in table:
        if factor is not None or metric == "rps":
            w(ratio_row(data, test, metric, label, higher))
    w("")
    insts = sorted({k[0] for k in raw})
    shapes = ["c{}m{}".format(*s.split("x")) for s in meta.get("shapes", "1x100 50x10").split()]
    problems = check_problems(raw, meta, insts, shapes)
    problems += ["{} {}: h2load did not speak HTTP/2".format(i, t) for i in insts for t in shapes
                 if any(v != 1 for v in raw.get((i, t, "h2"), []))]
    w("Checks: " + ("; ".join(problems) if problems else "every sanity check (curl over HTTP/2 "
                    "returned the origin's body), every h2load request (2xx) and every idle "
                    "connection succeeded, and no worker was replaced") + ". Versions: nginx {}, "
      "{}, Caddy {}, lifeguard {}; {}; {}.".format(meta.get("nginx", "?"), meta.get("haproxy", "?"),
                                            meta.get("caddy", "?"), meta.get("lifeguard", "?"),
                                            meta.get("h2load", "?"), meta.get("openssl", "?")))
    w("")
    out += notes_block("h2-notes.md")
    w("### HTTP/2 method")
    w("")
    w("`bench/h2.sh build` (`make bench-h2`; {}; the run took {} s). One worker process or "
      "thread per proxy (Caddy with `GOMAXPROCS=1`) pinned to CPU 0; the origin (`lg-origin`), "
      "h2load and the idle client on CPU 1; HTTP/1.1 with keep-alive from each proxy to the "
      "origin. The configs are those of the HTTP/1.1 and TLS rows with HTTP/2 turned on and room "
      "for 1,024 idle upstream connections (500 streams in flight need up to 500; below, as "
      "rendered, each with its edit in its first line); TLS uses one ECDSA P-256 certificate made at start. Each round starts each "
      "proxy afresh per transport and runs:".format(meta.get("knobs", "?"), meta.get("duration_s", "?")))
    w("")
    w("- **sanity**: `curl --http2` (TLS) or `curl --http2-prior-knowledge` (h2c) gets the "
      "origin's body over HTTP/2;")
    w("- **idle**: `tls_client idle 127.0.0.1:PORT IDLE_N h2|h2c` (bench/tls_client.c) opens the "
      "connections one after the other; on each it sends the preface, an empty SETTINGS and one "
      "`GET /`, ACKs the server's SETTINGS and waits for the ACK of its own and the end of the "
      "200 response, then holds it; the proxy's RSS growth (all processes) {} s after the last "
      "one, divided by the connections (first, as in the HTTP/1.1 rows: memory freed after "
      "the load runs would be reused and hide the growth);".format(meta.get("settle", "?")))
    w("- a warm-up `h2load -c 50 -m 10 -n WARMUP_N` (not measured), then **requests**: per "
      "shape, `h2load -t1 -c CONNS -m STREAMS -n H2_N -N 10s` (`https://127.0.0.1:PORT/` "
      "negotiates h2 by ALPN, `http://` speaks h2c with prior knowledge), bounded by `timeout "
      "H2_TIMEOUT`. req/s = 2xx responses / h2load's \"finished in\" time; CPU-s = "
      "utime+stime of all the proxy's processes over the run (as the HTTP/1.1 rows), per 100k "
      "2xx responses.")
    w("")
    out += conf_listing(resdir)
    w(H2_END)
    return out


def main():
    resdirs = sys.argv[1:] or [os.path.join(HERE, "results", "latest-h2")]
    resdirs = [os.path.realpath(d) for d in resdirs]
    data, meta = load_all(resdirs)
    every, _ = load_all(resdirs, keep_disturbed=True)
    meta["_runs"] = ", ".join("`bench/results/{}`".format(os.path.basename(d)) for d in resdirs)
    page = replace_section(H2_BEGIN, H2_END, section(resdirs[-1], data, meta, every))
    print("h2 report: wrote the HTTP/2 section of " + page)


if __name__ == "__main__":
    main()
