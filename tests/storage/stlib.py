"""Helpers for the storage tests: a driver process (storage_tool drive) that
runs the real storage layer against a real PostgreSQL, and an independent
reference model of the samples it feeds (mirrors storage_tool.c)."""

import os
import signal
import subprocess
import sys

sys.path.insert(0, os.path.join(os.environ["WT_SOURCE_ROOT"], "tests/lib"))
from wtfix import *  # noqa: F401,F403,E402

TOOL = os.environ["WT_STORAGE_TOOL"]
BUCKET = 5000
HOUR = 3600000
DAY = 86400000
T0 = 1767225600000  # 2026-01-01, the counters' origin in storage_tool.c


def gauge_value(k, ts):
    return 100.0 + k + ((ts // 1000 + 7 * k) % 97) * 0.25


def counter_raw(k, ts):
    s = (ts - T0) // 1000
    return 1000.0 * k + (0.5 + (k % 5) * 0.5 + 1.0) * s + ((ts // 5000) % 3)


def samples(k, bucket):
    """The (ts, value) samples series k gets in the bucket starting at bucket."""
    if k % 5 == 0:
        return [(bucket + 2000, counter_raw(k, bucket + 2000))]
    out = [(bucket + 1000, gauge_value(k, bucket + 1000))]
    if k % 4 == 0:
        out.append((bucket + 3000, gauge_value(k, bucket + 3000)))
    return out


def ref_buckets(k, buckets, primed_before=None):
    """Reference 5 s buckets {start: (count, min, max, sum)} for series k fed in
    the given bucket starts (sorted). Counters: delta from the previous
    reading; the very first reading only primes (primed_before gives the
    bucket whose reading precedes the first, e.g. after a restart)."""
    out = {}
    prev = None
    if primed_before is not None:
        prev = counter_raw(k, primed_before + 2000)
    for b in buckets:
        ss = samples(k, b)
        if k % 5 == 0:
            raw = ss[0][1]
            if prev is not None:
                d = raw - prev if raw >= prev else raw
                out[b] = (1, d, d, d)
            prev = raw
        else:
            vals = [v for _, v in ss]
            out[b] = (len(vals), min(vals), max(vals), sum(vals))
    return out


def fold(bk, lo, hi):
    """(count, min, max, sum) over buckets with start in [lo, hi)."""
    cnt, mn, mx, sm = 0, None, None, 0.0
    for b, (c, lo_v, hi_v, s) in bk.items():
        if lo <= b < hi:
            cnt += c
            sm += s
            mn = lo_v if mn is None else min(mn, lo_v)
            mx = hi_v if mx is None else max(mx, hi_v)
    return cnt, mn, mx, sm


def close(a, b, rel=2e-6, abs_=1e-3):
    return abs(a - b) <= max(abs_, rel * max(abs(a), abs(b)))


class Driver:
    """storage_tool drive, scripted over stdin."""

    def __init__(self, pg, spool, start_ms, nseries, flush_ms=60000, spool_max=0):
        self.logpath = spool + ".log"
        self.log = open(self.logpath, "a")
        argv = [TOOL, "drive", pg.dsn, spool, str(start_ms), str(nseries), str(flush_ms),
                str(spool_max)]
        self.p = spawn(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log,
                       text=True, bufsize=1)
        line = self.p.stdout.readline()
        if line.strip() != "ready":
            self.log.flush()
            raise RuntimeError(f"driver did not start: {line!r}\n" + open(self.logpath).read())

    def cmd(self, c):
        self.p.stdin.write(c + "\n")
        self.p.stdin.flush()
        lines = []
        while True:
            line = self.p.stdout.readline()
            if not line:
                raise RuntimeError(f"driver died during {c!r}")
            line = line.rstrip("\n")
            if line.startswith("ok") or line.startswith("err"):
                return line, lines
            lines.append(line)

    def health(self):
        line, _ = self.cmd("health")
        return dict(kv.split("=") for kv in line.split()[1:])

    def ids(self):
        line, _ = self.cmd("ids")
        return [int(x) for x in line.split()[1:]]

    def quit(self):
        self.p.stdin.write("quit\n")
        self.p.stdin.flush()
        out = self.p.stdout.read()
        rc = self.p.wait(timeout=60)
        return rc, out

    def term(self):
        self.p.send_signal(signal.SIGTERM)
        out = self.p.stdout.read()
        rc = self.p.wait(timeout=60)
        return rc, out


def db_buckets(pg, dbname="postgres"):
    """Every stored 5 s bucket: {(series, start_ms): [(count, min, avg, max), ...]}."""
    rows = pg.sql(
        "SELECT s.series, (extract(epoch FROM s.start) * 1000)::int8 + (u.k - 1) * 5000,"
        " COALESCE(u.c, 1), COALESCE(u.lo, u.v), u.v, COALESCE(u.hi, u.v)"
        " FROM samples_5s s, unnest(s.v, s.cnt, s.mn, s.mx) WITH ORDINALITY AS u(v, c, lo, hi, k)"
        " WHERE u.v <> 'NaN'::real", db=dbname)
    out = {}
    for r in rows:
        key = (int(r[0]), int(r[1]))
        out.setdefault(key, []).append((int(r[2]), float(r[3]), float(r[4]), float(r[5])))
    return out


def db_aggs(pg, table, dbname="postgres"):
    rows = pg.sql(f"SELECT series, (extract(epoch FROM start) * 1000)::int8, count, min, max, sum"
                  f" FROM {table}", db=dbname)
    return {(int(r[0]), int(r[1])): (int(r[2]), float(r[3]), float(r[4]), float(r[5]))
            for r in rows}
