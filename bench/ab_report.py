#!/usr/bin/env python3
"""Print the table of one bench/ab.sh run (two lifeguard binaries, A and B) as markdown.

    bench/ab_report.py [RESULT_DIR]     (default: bench/results/ab-latest)

Per metric: the median of A and of B over the rounds with min–max, B/A of the two medians, and
B/A paired round by round (median, min–max): A and B ran one right after the other in each round,
so the paired ratio cancels what changed between rounds. B/A of the medians comes with a 90%
bootstrap interval (rounds resampled, A and B independently): how far the ratio moves by noise
alone. Timed runs disturbed by other processes are left out as in bench/report.py (a round's pair
is dropped when either side was). The last column checks that interval against the limits of
issue 13 (keep-alive CPU within 3%; syscalls, bytes per idle connection and 64 MiB throughput no
worse): "yes" when all of it is within the limit, "no" when none of it is, else "noise".
Standard library only.
"""
import os
import random
import statistics
import sys

import report

# (test, metric) -> (limit on B/A, text): the no-regression limits of issue 13
LIMITS = {
    ("ka", "cpu_per_100k"): (lambda q: q <= 1.03, "≤ 1.03"),
    ("ka", "syscalls_per_req"): (lambda q: q <= 1.0, "≤ 1.00"),
    ("close", "syscalls_per_req"): (lambda q: q <= 1.0, "≤ 1.00"),
    ("idle", "bytes_per_conn"): (lambda q: q <= 1.0, "≤ 1.00"),
    ("body", "mbps"): (lambda q: q >= 1.0, "≥ 1.00"),
}


def interval(a, b, level=0.90, n=2000):
    """Bootstrap interval of median(b) / median(a), both resampled with replacement."""
    rng = random.Random(13)  # the same data gives the same interval
    qs = []
    for _ in range(n):
        ma = statistics.median(rng.choices(a, k=len(a)))
        if ma:
            qs.append(statistics.median(rng.choices(b, k=len(b))) / ma)
    if not qs:
        return None
    qs.sort()
    return qs[int(len(qs) * (1 - level) / 2)], qs[int(len(qs) * (1 + level) / 2) - 1]


def verdict(limit, iv):
    ok = limit[0]
    if iv is None:
        return "–"
    if ok(iv[0]) and ok(iv[1]):
        return "yes"
    return "noise" if ok(iv[0]) or ok(iv[1]) else "**no**"


def paired(meta, test, metric):
    """B/A round by round, for the rounds where both sides have a clean value."""
    byround = meta["_byround"]
    a, b = byround.get(("A", test, metric), {}), byround.get(("B", test, metric), {})
    bad = meta["_disturbed"].get(("A", test), set()) | meta["_disturbed"].get(("B", test), set())
    return [b[r] / a[r] for r in sorted(a.keys() & b.keys(), key=int) if r not in bad and a[r]]


def table(data, meta):
    out = ["| metric | A | B | B/A of medians (90% interval) | B/A paired by round | issue 13 limit |",
           "| --- | ---: | ---: | ---: | ---: | --- |"]
    for test, metric, label, fmt, _ in report.ROWS:
        sa, sb = report.stat(data, "A", test, metric), report.stat(data, "B", test, metric)
        if sa is None or sb is None:
            continue
        q = sb[0] / sa[0] if sa[0] else float("nan")
        iv = interval(data[("A", test, metric)], data[("B", test, metric)])
        qcell = "{:.3f}".format(q) if iv is None else "{:.3f} ({:.3f}–{:.3f})".format(q, *iv)
        pr = paired(meta, test, metric)
        pcell = "–" if not pr else "{:.3f} ({:.3f}–{:.3f}, n={})".format(
            statistics.median(pr), min(pr), max(pr), len(pr))
        limit = LIMITS.get((test, metric))
        lcell = "" if limit is None else "{}: {}".format(limit[1], verdict(limit, iv))
        out.append("| {} | {} | {} | {} | {} | {} |".format(
            label, report.cell(sa, fmt), report.cell(sb, fmt), qcell, pcell, lcell))
    return out


def main():
    resdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(report.HERE, "results", "ab-latest")
    resdir = os.path.realpath(resdir)
    data, meta = report.load(resdir)
    lines = ["# A/B: {} rounds, {} s, {} (`{}`)".format(
                 meta.get("rounds", "?"), meta.get("duration_s", "?"), meta.get("date", "?"),
                 os.path.basename(resdir)), ""]
    for s in ("A", "B"):
        lines.append("- {} = `{}` ({}, sha256 {})".format(
            s, meta.get("bin_" + s, "?"), meta.get("version_" + s, "?"), meta.get("sha256_" + s, "?")))
    lines += ["- load average {} at the start, {} at the end; nice {}".format(
                  meta.get("loadavg_start", "?"), meta.get("loadavg_end", "?"), meta.get("nice", "?")),
              ""]
    lines += table(data, meta)
    lines.append("")
    text = report.disturbed_text(meta)
    if text:
        lines += [text, ""]
    problems = report.check_problems(data, meta, ["A", "B"])
    lines.append("Correctness checks: " + ("all passed." if not problems else "; ".join(problems) + "."))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
