#!/usr/bin/env python3
"""ssl_allocs_diff.py BEFORE AFTER N - OpenSSL's allocations per connection between two dumps
of bench/ssl_allocs.c (before and after opening N idle connections), by call site, largest
first: heap bytes, requested bytes and allocations per connection. Sites that moved by less
than one byte per connection are left out."""
import collections
import sys


def load(path):
    """(file:line, caller) -> [allocations, requested bytes, heap bytes]"""
    sites = collections.defaultdict(lambda: [0, 0, 0])
    with open(path) as f:
        for line in f:
            site, caller, size, heap = line.rstrip("\n").split("\t")
            s = sites[(site, caller)]
            s[0] += 1
            s[1] += int(size)
            s[2] += int(heap)
    return sites


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: ssl_allocs_diff.py BEFORE AFTER N")
    before, after, n = load(sys.argv[1]), load(sys.argv[2]), int(sys.argv[3])
    rows = []
    for key in set(before) | set(after):
        d = [(a - b) / n for a, b in zip(after[key], before[key])]
        if abs(d[1]) >= 1:
            rows.append((d[2], d[1], d[0], key))
    rows.sort(reverse=True)
    print("%8s %8s %6s  %s" % ("heap", "asked", "count", "site (OpenSSL file:line, caller)"))
    for heap, asked, count, (site, caller) in rows:
        print("%8.0f %8.0f %6.2f  %s  %s" % (heap, asked, count, site, caller))
    print("%8.0f %8.0f         in all, per connection" %
          (sum(r[0] for r in rows), sum(r[1] for r in rows)))


if __name__ == "__main__":
    main()
