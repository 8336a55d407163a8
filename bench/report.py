#!/usr/bin/env python3
"""Write docs/benchmarks.md and docs/bench-*.png from one bench/run.sh result directory.

    bench/report.py [RESULT_DIR]     (default: bench/results/latest)

Reads RESULT_DIR/raw.csv (round,proxy,test,metric,value), meta.txt (key=value), conf/* (the exact
configs used), perf-*.txt (flat profiles) and, when it exists, bench/notes.md (hand-written
analysis, included as is). Needs only the Python standard library; the plots need gnuplot (they are
skipped with a note when it is missing).
"""
import csv
import os
import shutil
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DOCS = os.path.join(ROOT, "docs")
PROXIES = ["lifeguard", "nginx", "haproxy"]

# (test, metric, label, unit/format, higher_is_better)
ROWS = [
    ("ka", "rps", "keep-alive req/s", "{:,.0f}", True),
    ("ka", "p50_ms", "keep-alive p50 latency (ms)", "{:.3f}", False),
    ("ka", "p99_ms", "keep-alive p99 latency (ms)", "{:.3f}", False),
    ("ka", "cpu_per_100k", "keep-alive CPU-s per 100k requests", "{:.3f}", False),
    ("ka", "core_per_100k", "keep-alive CPU 0 busy-s per 100k requests (softirq included)", "{:.3f}", False),
    ("ka", "cpu_util", "keep-alive proxy CPU use (cores)", "{:.2f}", None),
    ("ka", "load_util", "keep-alive load side: CPU 1 use (cores)", "{:.2f}", None),
    ("ka", "syscalls_per_req", "syscalls per keep-alive request", "{:.2f}", False),
    ("ka", "epoll_per_req", "of which epoll_wait", "{:.2f}", False),
    ("close", "rps", "`Connection: close` req/s", "{:,.0f}", True),
    ("close", "p99_ms", "`Connection: close` p99 latency (ms)", "{:.3f}", False),
    ("close", "cpu_per_100k", "`Connection: close` CPU-s per 100k requests", "{:.3f}", False),
    ("close", "core_per_100k", "`Connection: close` CPU 0 busy-s per 100k requests", "{:.3f}", False),
    ("close", "cpu_util", "`Connection: close` proxy CPU use (cores)", "{:.2f}", None),
    ("close", "load_util", "`Connection: close` load side: CPU 1 use (cores)", "{:.2f}", None),
    ("close", "syscalls_per_req", "syscalls per `Connection: close` request", "{:.2f}", False),
    ("close", "epoll_per_req", "of which epoll_wait", "{:.2f}", False),
    ("body", "mbps", "64 MiB body MB/s", "{:,.0f}", True),
    ("body", "cpu_per_gb", "64 MiB body CPU-s per GB", "{:.3f}", False),
    ("body", "core_per_gb", "64 MiB body CPU 0 busy-s per GB", "{:.3f}", False),
    ("body", "cpu_util", "64 MiB body proxy CPU use (cores)", "{:.2f}", None),
    ("body", "load_util", "64 MiB body load side: CPU 1 use (cores)", "{:.2f}", None),
    ("body", "syscalls_per_mib", "syscalls per MiB of body", "{:.2f}", False),
    ("idle", "bytes_per_conn", "user-space bytes per idle connection", "{:,.0f}", False),
    ("rest", "rss_kib", "RSS at rest, all processes (KiB)", "{:,.0f}", False),
    ("rest", "pss_kib", "PSS at rest, all processes (KiB)", "{:,.0f}", False),
]


# the beginnings of the sections other scripts write at the end of docs/benchmarks.md
KEPT_SECTIONS = ("<!-- tls section:", "<!-- h2 section:")


def replace_section(begin, end, lines):
    """Put LINES (the section: its first line BEGIN, its last END) into docs/benchmarks.md in
    place of what lies between those marker lines, or at the end of the page the first time."""
    page = os.path.join(DOCS, "benchmarks.md")
    with open(page) as f:
        text = f.read()
    new = "\n".join(lines)
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + new + rest.split(end, 1)[1]
    else:
        text = text.rstrip() + "\n\n" + new + "\n"
    with open(page, "w") as f:
        f.write(text)
    return page


def load(resdir, keep_disturbed=False):
    byround = {}  # (proxy, test, metric) -> {round: value}
    with open(os.path.join(resdir, "raw.csv")) as f:
        for row in csv.DictReader(f):
            try:
                v = float(row["value"])
            except ValueError:
                continue
            if v != v:  # nan
                continue
            byround.setdefault((row["proxy"], row["test"], row["metric"]), {})[row["round"]] = v
    meta = {}
    mp = os.path.join(resdir, "meta.txt")
    if os.path.exists(mp):
        with open(mp) as f:
            for line in f:
                if "=" in line:
                    k, v = line.rstrip("\n").split("=", 1)
                    meta[k] = v
    # Runs during which other processes used more than foreign_max cores (after the retries
    # run.sh allows) are left out of the statistics of their test, unless no clean run is left.
    fmax = float("inf") if keep_disturbed else float(meta.get("foreign_max", "inf"))
    disturbed = {}  # (proxy, test) -> set of rounds
    for (proxy, test, metric), vals in byround.items():
        if metric == "foreign_cores":
            disturbed[(proxy, test)] = {r for r, v in vals.items() if v > fmax}
    data = {}
    for (proxy, test, metric), vals in byround.items():
        bad = disturbed.get((proxy, test), set())
        keep = [v for r, v in sorted(vals.items()) if r not in bad] if len(bad) < len(vals) else list(vals.values())
        data[(proxy, test, metric)] = keep
    meta["_disturbed"] = disturbed
    meta["_byround"] = byround
    return data, meta


def stat(data, proxy, test, metric):
    vals = data.get((proxy, test, metric))
    if not vals:
        return None
    return statistics.median(vals), min(vals), max(vals), len(vals)


def cell(st, fmt):
    if st is None:
        return "–"
    med, lo, hi, _ = st
    if lo == hi:
        return fmt.format(med)
    return "{} ({}–{})".format(fmt.format(med), fmt.format(lo), fmt.format(hi))


def ratio(a, b):
    if a is None or b is None or b[0] == 0:
        return "–"
    return "{:.2f}×".format(a[0] / b[0])


def disturbed_text(meta):
    """One paragraph on the timed runs disturbed by other processes, or "" without timed runs."""
    dist = meta["_disturbed"]
    runs = {k: len(meta["_byround"].get((k[0], k[1], "foreign_cores"), {})) for k in dist}
    nd = sum(len(v) for v in dist.values())
    total = sum(runs.values())
    if not total:
        return ""
    text = ("Shared machine: each timed run also measures the CPU time of every process that is "
            "not part of the benchmark, and is repeated (up to {} times, after waiting for "
            "a quiet second) when that exceeds {} cores. ".format(meta.get("retries", "?"),
                                                                  meta.get("foreign_max", "?")))
    if nd:
        text += ("{} of {} timed runs were still disturbed and are left out of the medians "
                 "(kept only when no clean run of that test remained): {}.".format(
                     nd, total, ", ".join("{} {} round {}".format(p, t, ",".join(sorted(v, key=int)))
                                          for (p, t), v in sorted(dist.items()) if v)))
    else:
        text += "All {} timed runs were clean.".format(total)
    return text


def check_problems(data, meta, proxies, tests=("ka", "close", "body")):
    """The correctness checks of every round that failed, one sentence each."""
    problems = []
    for p in proxies:
        for key, what in (("sanity", "ok"), ("end", "worker_survived")):
            vals = data.get((p, key, what), [])
            bad = sum(1 for v in vals if v != 1)
            if bad:
                problems.append("{}: {} failed in {} of {} rounds".format(p, key + " " + what, bad, len(vals)))
        for test in tests:
            errs = sum(data.get((p, test, "errors"), []))
            if errs:
                problems.append("{}: {} errors reported by the client in the {} runs".format(p, int(errs), test))
        conns = data.get((p, "idle", "conns_ok"), [])
        want = float(meta.get("idle_n", 10000))
        if any(c != want for c in conns):
            problems.append("{}: idle test got {} of {} responses".format(
                p, "/".join(str(int(c)) for c in conns), int(want)))
        closed = sum(data.get((p, "idle", "closed_by_peer"), []))
        if closed:
            problems.append("{}: closed {} idle connections during the idle test".format(p, int(closed)))
    return problems


def gnuplot_bars(name, title, ylabel, series, groups, data, outdir, tmpdir):
    """Grouped bars with min-max error bars: series = [(label, test, metric)], groups = proxies."""
    if not shutil.which("gnuplot"):
        return False
    dat = os.path.join(tmpdir, name + ".dat")
    with open(dat, "w") as f:
        for g in groups:
            cols = [g]
            for item in series:
                _, test, metric = item[:3]
                k = item[3] if len(item) > 3 else 1.0
                st = stat(data, g, test, metric)
                cols += ["{:g} {:g} {:g}".format(*(k * v for v in st[:3])) if st else "0 0 0"]
            f.write(" ".join(cols) + "\n")
    plots = []
    for i, label in enumerate(item[0] for item in series):
        c = 2 + 3 * i
        xt = ":xtic(1)" if i == 0 else ""
        plots.append("'{}' using {}:{}:{}{} title '{}'".format(dat, c, c + 1, c + 2, xt, label))
    terminal = "pngcairo size 800,450 font 'sans,10'"
    try:
        out = subprocess.run(["gnuplot", "-e", "set terminal"], capture_output=True, text=True)
        if "pngcairo" not in (out.stdout + out.stderr):
            terminal = "png size 800,450"
    except OSError:
        return False
    script = """
set terminal {term}
set output '{out}'
set title "{title}"
set ylabel "{ylabel}"
set style data histogram
set style histogram errorbars gap 2 lw 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set yrange [0:*]
set grid ytics
set key {key}
plot {plots}
""".format(term=terminal, out=os.path.join(outdir, "bench-" + name + ".png"), title=title,
           ylabel=ylabel, plots=", ".join(plots),
           key="top right" if len(series) > 1 else "off")
    sp = os.path.join(tmpdir, name + ".gp")
    with open(sp, "w") as f:
        f.write(script)
    r = subprocess.run(["gnuplot", sp], capture_output=True, text=True)
    if r.returncode != 0:
        sys.stderr.write("report: gnuplot failed for {}: {}\n".format(name, r.stderr))
        return False
    return True


def perf_top(resdir, proxy, n=15, user_only=False):
    p = os.path.join(resdir, "perf-{}.txt".format(proxy))
    if not os.path.exists(p):
        return []
    rows = []
    with open(p) as f:
        for line in f:
            parts = line.split()
            if len(parts) < 4 or not parts[0].endswith("%"):
                continue
            pct, dso, kind, sym = parts[0], parts[1], parts[2], " ".join(parts[3:])
            if user_only and kind != "[.]":
                continue
            rows.append((pct, dso, kind, sym))
    return rows[:n]


def policy_section(w, s, data):
    """The cost of a route's traffic policy: lifeguard with and without it, in the same rounds."""
    w("### The cost of traffic policy")
    w("")
    w("In every round, right after lifeguard's own turn, lifeguard runs again with "
      "`bench/conf/lifeguard-policy.yaml.in`: the same route with five header rules (request: "
      "`set`, `add`, `remove`; response: `set` HSTS, `remove` Server) and a `rate_limit` per "
      "client address high enough never to refuse, so every request takes a token from the table "
      "shared by the workers. Only the keep-alive run is repeated.")
    w("")
    w("| keep-alive | bare route | policy route | policy ÷ bare |")
    w("| --- | ---: | ---: | ---: |")
    rows = (("rps", "req/s", "{:,.0f}"), ("cpu_per_100k", "CPU-s per 100k requests", "{:.3f}"),
            ("p99_ms", "p99 latency (ms)", "{:.3f}"), ("syscalls_per_req", "syscalls per request", "{:.2f}"))
    for metric, label, fmt in rows:
        a, b = s("lifeguard", "ka", metric), s("lifeguard-policy", "ka", metric)
        w("| {} | {} | {} | {} |".format(label, cell(a, fmt), cell(b, fmt), ratio(b, a)))
    w("")
    checks = data.get(("lifeguard-policy", "sanity", "ok"), [])
    w("Checked in every round: the response carries the HSTS header and the origin sees the set "
      "header: " + ("**passed**." if checks and min(checks) == 1 else "**FAILED** (see run.log)."))
    w("")


def main():
    resdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "results", "latest")
    resdir = os.path.realpath(resdir)
    data, meta = load(resdir)
    rounds = meta.get("rounds", "?")
    os.makedirs(DOCS, exist_ok=True)
    plotdir = os.path.join(resdir, "plots")
    os.makedirs(plotdir, exist_ok=True)

    s = lambda p, t, m: stat(data, p, t, m)
    out = []
    w = out.append

    w("# Benchmarks: lifeguard, nginx and HAProxy")
    w("")
    w("Generated by `make bench` (`bench/run.sh BUILD_DIR`, then `bench/report.py`) on {}, "
      "from `bench/results/{}/raw.csv` ({} rounds). Rerun `bench/report.py bench/results/STAMP` to "
      "regenerate this page from a kept CSV.".format(meta.get("date", "?"), os.path.basename(resdir),
                                                     rounds))
    w("")
    w("Every number is the **median over the rounds, with the min–max range in parentheses**. "
      "One worker per proxy, all pinned to CPU {pc}; the origin (`lg-origin`) and every load "
      "generator (wrk, `bench/bulk_get`, `bench/idle_conns`) share CPU {lc}. The proxies take "
      "turns in rounds (lifeguard, nginx, HAProxy, then the origin alone, and again), each round "
      "with freshly started proxies.".format(pc=meta.get("proxy_cpu", 0), lc=meta.get("load_cpu", 1)))
    w("")

    # ---- results table
    w("## Results")
    w("")
    w("| metric | lifeguard | nginx | HAProxy | origin alone | lifeguard / nginx | lifeguard / HAProxy |")
    w("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for test, metric, label, fmt, _ in ROWS:
        st = {p: s(p, test, metric) for p in PROXIES + ["direct"]}
        w("| {} | {} | {} | {} | {} | {} | {} |".format(
            label, cell(st["lifeguard"], fmt), cell(st["nginx"], fmt), cell(st["haproxy"], fmt),
            cell(st["direct"], fmt), ratio(st["lifeguard"], st["nginx"]),
            ratio(st["lifeguard"], st["haproxy"])))
    w("")
    w("Units: MB and GB are 10^6 and 10^9 bytes; MiB is 2^20. \"CPU use (cores)\" is the proxy's "
      "CPU seconds divided by the wall time of the run: 1.00 means CPU {} was saturated by the "
      "proxy, less means the proxy was waiting for the load side (CPU {}), so compare CPU per "
      "request rather than req/s when it is below 1. \"origin alone\" is the same load sent "
      "straight to the origin: the ceiling of the load side.".format(
          meta.get("proxy_cpu", 0), meta.get("load_cpu", 1)))
    w("")

    w("\"CPU 0 busy\" is the whole proxy core from `/proc/stat` (user, system, irq, softirq): it "
      "adds the kernel work done on that core for the proxy's traffic but not charged to the "
      "proxy's processes (softirq run while the core was otherwise idle, e.g. freeing socket "
      "buffers). The targets use the per-process figure.")
    w("")
    text = disturbed_text(meta)
    if text:
        w(text)
        w("")
    problems = check_problems(data, meta, PROXIES)
    w("Correctness checks in every round (`GET /`, a chunked 1 MB body compared by MD5, a 64 MiB "
      "body compared byte by byte, X-Forwarded-For seen by the origin, no worker restart, no "
      "client errors, every idle connection answered and kept): " +
      ("**all passed**." if not problems else "**problems:** " + "; ".join(problems) + "."))
    w("")

    # ---- targets
    w("## Targets (lifeguard)")
    w("")
    w("| target | measured (median) | result |")
    w("| --- | --- | --- |")

    def target(desc, value_desc, ok):
        w("| {} | {} | {} |".format(desc, value_desc, "–" if ok is None else ("**pass**" if ok else "**FAIL**")))

    lg_cpu, ng_cpu = s("lifeguard", "ka", "cpu_per_100k"), s("nginx", "ka", "cpu_per_100k")
    if lg_cpu and ng_cpu:
        target("CPU per keep-alive request ≤ 0.67× nginx's",
               "{:.3f} vs {:.3f} CPU-s/100k = {:.2f}×".format(lg_cpu[0], ng_cpu[0], lg_cpu[0] / ng_cpu[0]),
               lg_cpu[0] <= 0.67 * ng_cpu[0])
    sc = s("lifeguard", "ka", "syscalls_per_req")
    if sc:
        target("≤ 4.1 syscalls per keep-alive request", "{:.2f}".format(sc[0]), sc[0] <= 4.1)
    mb = s("lifeguard", "body", "mbps")
    if mb:
        target("≥ 2 GB/s for the 64 MiB body", "{:.2f} GB/s".format(mb[0] / 1000), mb[0] >= 2000)
    cg = s("lifeguard", "body", "cpu_per_gb")
    if cg:
        target("≤ 0.35 CPU-s per GB for the 64 MiB body", "{:.3f}".format(cg[0]), cg[0] <= 0.35)
    bp = s("lifeguard", "idle", "bytes_per_conn")
    if bp:
        target("≤ 256 bytes per idle connection", "{:,.0f} B".format(bp[0]), bp[0] <= 256)
    rr = s("lifeguard", "rest", "rss_kib")
    if rr:
        target("RSS at rest ≤ 8 MiB", "{:.2f} MiB".format(rr[0] / 1024), rr[0] <= 8192)
    lp, np_ = s("lifeguard", "ka", "p99_ms"), s("nginx", "ka", "p99_ms")
    if lp and np_:
        target("keep-alive p99 latency no worse than nginx's",
               "{:.3f} ms vs {:.3f} ms".format(lp[0], np_[0]), lp[0] <= np_[0])
    pc = s("lifeguard-policy", "ka", "cpu_per_100k")
    if pc and lg_cpu:
        target("a route with five header rules and a rate limit ≤ 1.10× a bare route's CPU per "
               "keep-alive request", "{:.3f} vs {:.3f} CPU-s/100k = {:.3f}×".format(
                   pc[0], lg_cpu[0], pc[0] / lg_cpu[0]), pc[0] <= 1.10 * lg_cpu[0])
    w("")
    if pc:
        policy_section(w, s, data)
    direct = s("direct", "body", "mbps")
    if direct:
        w("The origin alone delivers {:,.0f} MB/s to `bulk_get` on CPU {} (both on the same core), "
          "which bounds the body test for every proxy.".format(direct[0], meta.get("load_cpu", 1)))
        w("")

    # ---- plots
    w("## Plots")
    w("")
    tmp = plotdir
    groups = PROXIES
    made = []
    if gnuplot_bars("rps", "Requests per second (median, min-max), one worker on one core",
                    "requests/s", [("keep-alive", "ka", "rps"), ("Connection: close", "close", "rps")],
                    groups, data, DOCS, tmp):
        made.append(("bench-rps.png", "req/s"))
    if gnuplot_bars("cpu", "Proxy CPU seconds per 100k requests (lower is better)",
                    "CPU-s / 100k requests",
                    [("keep-alive", "ka", "cpu_per_100k"), ("Connection: close", "close", "cpu_per_100k")],
                    groups, data, DOCS, tmp):
        made.append(("bench-cpu.png", "CPU per 100k requests"))
    if gnuplot_bars("mbps", "64 MiB bodies through the proxy (MB/s)", "MB/s",
                    [("64 MiB body", "body", "mbps")], groups, data, DOCS, tmp):
        made.append(("bench-mbps.png", "MB/s"))
    if gnuplot_bars("cpu-gb", "Proxy CPU seconds per GB of body (lower is better)", "CPU-s / GB",
                    [("64 MiB body", "body", "cpu_per_gb")], groups, data, DOCS, tmp):
        made.append(("bench-cpu-gb.png", "CPU per GB"))
    if gnuplot_bars("idle", "User-space bytes per idle connection, 10,000 idle (lower is better)",
                    "bytes", [("bytes per idle connection", "idle", "bytes_per_conn")], groups, data,
                    DOCS, tmp):
        made.append(("bench-idle.png", "bytes per idle connection"))
    if gnuplot_bars("rss", "RSS at rest, all processes (lower is better)", "MiB",
                    [("RSS at rest", "rest", "rss_kib", 1 / 1024.0)], groups, data, DOCS, tmp):
        made.append(("bench-rss.png", "RSS at rest"))
    if made:
        for f, alt in made:
            w("![{}]({})".format(alt, f))
            w("")
    else:
        w("(gnuplot not available: no plots)")
        w("")

    # ---- analysis
    notes = os.path.join(HERE, "notes.md")
    if os.path.exists(notes):
        with open(notes) as f:
            w(f.read().rstrip())
        w("")

    # ---- profiles
    have_perf = [p for p in PROXIES if os.path.exists(os.path.join(resdir, "perf-{}.txt".format(p)))]
    if have_perf:
        w("## Where the time goes (perf record, keep-alive run)")
        w("")
        w("`perf record -F 1999 -p WORKER` for 3 s of a separate keep-alive run (wrk -c{}), flat "
          "profile by symbol, self time. nginx and HAProxy are the distribution's stripped binaries, "
          "so their own functions show only as far as their symbol tables allow.".format(meta.get("conns", 50)))
        w("")
        w("Share of the worker's samples by object:")
        w("")
        w("| object | " + " | ".join(have_perf) + " |")
        w("| --- |" + " ---: |" * len(have_perf))
        shares = {}
        for p in have_perf:
            dp = os.path.join(resdir, "perf-{}-dso.txt".format(p))
            if os.path.exists(dp):
                with open(dp) as f:
                    for line in f:
                        parts = line.split()
                        if len(parts) >= 2 and parts[0].endswith("%"):
                            dso = parts[1]
                            if dso in (p, "lifeguard", "nginx", "haproxy"):
                                dso = "the proxy's own code"
                            elif dso != "[kernel.kallsyms]":
                                dso = "shared libraries (libc, libssl, ...)"
                            shares.setdefault(dso, {}).setdefault(p, 0.0)
                            shares[dso][p] += float(parts[0].rstrip("%"))
        for dso in sorted(shares, key=lambda d: -max(shares[d].values())):
            w("| {} | {} |".format("kernel" if dso == "[kernel.kallsyms]" else dso,
                                  " | ".join("{:.1f}%".format(shares[dso].get(p, 0.0)) for p in have_perf)))
        w("")
        lg_user = perf_top(resdir, "lifeguard", 15, user_only=True)
        if lg_user:
            w("lifeguard, top user-space symbols:")
            w("")
            w("| self | object | symbol |")
            w("| ---: | --- | --- |")
            for pct, dso, _, sym in lg_user:
                w("| {} | {} | `{}` |".format(pct, dso, sym))
            w("")
        for p in have_perf:
            rows = perf_top(resdir, p, 12)
            if not rows:
                continue
            w("{}, top symbols (kernel and user):".format(p))
            w("")
            w("| self | object | symbol |")
            w("| ---: | --- | --- |")
            for pct, dso, _, sym in rows:
                w("| {} | {} | `{}` |".format(pct, dso, sym))
            w("")

    # ---- method
    w("## Method")
    w("")
    w("- **Keep-alive**: `wrk -t1 -c{c} -d{ka}s --latency GET /` (small body: `origin\\n`, 7 bytes), "
      "after a {wu}s warm-up run (HAProxy needs about 3 s after start before its latency settles). req/s, p50 and p99 come from wrk (a Lua `done()` hook prints exact "
      "values).".format(c=meta.get("conns", 50), ka=meta.get("ka_secs", "?"), wu=meta.get("warmup_secs", "?")))
    w("- **`Connection: close`**: the same with `-H 'Connection: close'` for {}s: one TCP "
      "connection per request on the client side; upstream connections stay pooled.".format(
          meta.get("close_secs", "?")))
    w("- **64 MiB body**: `bench/bulk_get` sends `GET /size/67108864` on one keep-alive "
      "connection, one request after the other, for {}s, and discards the body in the kernel "
      "(`recv(MSG_TRUNC)`), so the client costs little and reads with large calls (wrk's 8 KiB "
      "reads top out near 0.6 GB/s here). MB/s = body bytes / wall time.".format(meta.get("body_secs", "?")))
    w("- **CPU**: utime+stime+cutime+cstime (fields 14–17 of `/proc/PID/stat`) of every process of "
      "the proxy (master and worker), sampled right before and after each measured run "
      "(clock ticks, {} per second).".format(os.sysconf("SC_CLK_TCK")))
    w("- **Syscalls**: a separate {}s run of the same kind with `perf stat -e "
      "raw_syscalls:sys_enter -p PIDS` attached to all the proxy's processes (strace -c -f when "
      "perf is missing; used here: {}), divided by wrk's request count or by the MiB "
      "delivered. Counting is kept out of the timed runs because enabling the tracepoint slows "
      "every syscall a little.".format(meta.get("sys_secs", "?"), meta.get("syscount", "?")))
    w("- **Idle connections**: `bench/idle_conns` opens {n} connections at {r}/s (at most {i} "
      "waiting for their response at once, so that a busy machine cannot turn the trickle into a "
      "burst), sends one "
      "keep-alive `GET /` on each, reads the response and keeps the connection open; {s}s after "
      "the last response, (sum of VmRSS of the proxy's processes − the same sum just before) / "
      "{n}. Kernel socket memory is not included (user space only). RLIMIT_NOFILE was {nf} for "
      "every process.".format(n=meta.get("idle_n", "?"), r=meta.get("idle_rate", "?"),
                               i=meta.get("idle_inflight", "?"),
                                   s=meta.get("settle", "?"), nf=meta.get("nofile", "?")))
    w("- **RSS at rest**: sum of VmRSS over the proxy's processes 1 s after start, before any "
      "request. PSS (from `smaps_rollup`) counts pages shared by master and worker once.")
    w("- Timing of one round per proxy: start, rest RSS, correctness checks, idle test, "
      "keep-alive (+ syscall run), close (+ syscall run), body (+ syscall run), stop.")
    w("")

    # ---- machine and versions
    w("## Machine and versions")
    w("")
    w("| | |")
    w("| --- | --- |")
    for k, label in (("cpu", "CPU"), ("cores", "cores"), ("memory", "memory"), ("virt", "virtualisation"),
                     ("kernel", "kernel"), ("os", "OS"), ("lifeguard", "lifeguard"),
                     ("lifeguard_git", "lifeguard source"), ("nginx", "nginx"), ("haproxy", "HAProxy"),
                     ("wrk", "wrk"), ("perf", "perf"), ("loadavg_start", "load average before"),
                     ("loadavg_end", "load average after"), ("duration_s", "run time (s)")):
        if k in meta:
            w("| {} | {} |".format(label, meta[k]))
    w("")

    # ---- configs
    w("## Configurations")
    w("")
    w("The exact files used (ports picked free at start). Equivalences: one worker (nginx "
      "`worker_processes 1`, HAProxy `nbthread 1`, lifeguard `workers: 1`); keep-alive to the "
      "origin (nginx `keepalive 64` + HTTP/1.1 + empty `Connection`, HAProxy `http-reuse "
      "always`, lifeguard `keepalive.max_idle: 64`); no access log; X-Forwarded-For added by all "
      "three; nginx `proxy_buffering` left at its default (on); HAProxy `option splice-auto` "
      "(it splices large bodies when it judges it useful; lifeguard always splices bodies with "
      "a known length; nginx copies). nginx's `keepalive_requests` is raised from 1000 so that "
      "it does not close wrk's connections every 1000 requests, as the other two never do.")
    w("")
    for fname, lang in (("lifeguard.yaml", "yaml"), ("nginx.conf", "nginx"), ("haproxy.cfg", "haproxy")):
        p = os.path.join(resdir, "conf", fname)
        if os.path.exists(p):
            w("`{}`:".format(fname))
            w("")
            w("```" + lang)
            with open(p) as f:
                w(f.read().rstrip())
            w("```")
            w("")

    page = os.path.join(DOCS, "benchmarks.md")
    keep = ""  # the sections of bench/tls_report.py and bench/h2_report.py stay as they are
    if os.path.exists(page):
        with open(page) as f:
            old = f.read()
        starts = [old.index(m) for m in KEPT_SECTIONS if m in old]
        if starts:
            keep = "\n" + old[min(starts):].rstrip() + "\n"
    with open(page, "w") as f:
        f.write("\n".join(out).rstrip() + "\n" + keep)
    print("report: wrote {} ({} plots)".format(os.path.join(DOCS, "benchmarks.md"), len(made)))


if __name__ == "__main__":
    main()
