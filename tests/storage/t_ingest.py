"""Several simulated days through the real rollup + writer into PostgreSQL on
a manual clock; every 5 s, hourly and daily row is checked against a
reference computed independently here."""

import datetime as dt
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from stlib import *  # noqa: E402,F403

f = Failures()
pg = Postgres()
tmp = tmpdir()
N = 12
start = int(dt.datetime(2026, 1, 4, 21, 0, tzinfo=dt.timezone.utc).timestamp() * 1000)
steps = 54 * 720  # 54 hours: three day boundaries crossed (4th 21:00 -> 7th 03:00)
drv = Driver(pg, os.path.join(tmp, "spool"), start, N)
ids = drv.ids()
line, _ = drv.cmd(f"run {steps}")
f.check(line.startswith("ok"), f"run: {line}")
rc, out = drv.quit()
f.check(rc == 0 and "closed" in out, f"clean close: {rc} {out}")

starts = [start + i * BUCKET for i in range(steps)]
db5 = db_buckets(pg)
dups = [k for k, v in db5.items() if len(v) != 1]
f.check(not dups, f"no 5 s bucket stored twice ({len(dups)} duplicates, e.g. {dups[:3]})")

bad5 = missing = 0
extra = set(db5)
hours = sorted({b - b % HOUR for b in starts})
days = sorted({b - b % DAY for b in starts})
ref_h, ref_d = {}, {}
for i, sid in enumerate(ids):
    k = i + 1
    ref = ref_buckets(k, starts)
    for b, (c, lo, hi, s) in ref.items():
        got = db5.get((sid, b))
        extra.discard((sid, b))
        if not got:
            missing += 1
            continue
        gc, gmin, gavg, gmax = got[0]
        if gc != c or not close(gmin, lo) or not close(gmax, hi) or not close(gavg * gc, s):
            bad5 += 1
            if bad5 < 5:
                print(f"series {sid} bucket {b}: got {got[0]} want {(c, lo, hi, s)}")
    for h in hours:
        a = fold(ref, h, h + HOUR)
        if a[0]:
            ref_h[(sid, h)] = a
    for d in days:
        a = fold(ref, d, d + DAY)
        if a[0]:
            ref_d[(sid, d)] = a
f.check(missing == 0, f"every 5 s bucket stored ({missing} missing)")
f.check(bad5 == 0, f"every 5 s bucket right ({bad5} wrong)")
f.check(not extra, f"no unexpected 5 s buckets ({len(extra)})")
f.check(len(db5) == sum(1 for _ in db5) and len(db5) >= N * steps - 2,
        f"bucket count {len(db5)} for {N} series x {steps} steps")


def compare(name, got, ref):
    bad = 0
    for key, (c, lo, hi, s) in ref.items():
        g = got.get(key)
        if not g or g[0] != c or not close(g[1], lo) or not close(g[2], hi) or \
                not close(g[3], s, rel=1e-9):
            bad += 1
            if bad < 5:
                print(f"{name} {key}: got {g} want {(c, lo, hi, s)}")
    f.check(bad == 0, f"every {name} row right ({bad} of {len(ref)} wrong)")
    f.check(set(got) == set(ref), f"{name}: rows {len(got)} vs reference {len(ref)}")


compare("hourly", db_aggs(pg, "samples_1h"), ref_h)
compare("daily", db_aggs(pg, "samples_1d"), ref_d)
f.check(len(ref_d) == N * 4, f"four days per series ({len(ref_d)})")

# Layout: one row per series per 60 s window, 12 buckets each.
rows = pg.sql("SELECT count(*), max(array_length(v, 1)), min(array_length(v, 1)),"
              " count(*) FILTER (WHERE mn IS NOT NULL), count(*) FILTER (WHERE cnt IS NOT NULL)"
              " FROM samples_5s")[0]
f.check(int(rows[0]) == N * steps // 12 and rows[1] == "12",
        f"one row per series per minute: {rows}")
two = sum(1 for k in range(1, N + 1) if k % 4 == 0 and k % 5 != 0)
f.check(int(rows[3]) == two * steps // 12 and int(rows[4]) == two * steps // 12,
        f"min/max/cnt arrays only where a bucket had several samples: {rows}")
parts = pg.sql("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'samples_5s_p%'")[0][0]
f.check(int(parts) >= 4, f"daily partitions created as data arrived ({parts})")
last = pg.sql("SELECT DISTINCT ON (series) series, raw FROM samples_5s WHERE raw IS NOT NULL"
              " ORDER BY series, start DESC")
want = [[str(ids[k - 1]), "%g" % counter_raw(k, starts[-1] + 2000)] for k in range(5, N + 1, 5)]
f.check([[a, "%g" % float(b)] for a, b in last] == want,
        f"counters' last raw reading stored with their rows: {last} vs {want}")
f.check(pg.sql("SELECT count(*) FROM samples_5s WHERE raw IS NOT NULL AND series NOT IN (%s)"
               % ",".join(str(ids[k - 1]) for k in range(5, N + 1, 5)))[0][0] == "0",
        "no raw reading stored for gauges")
f.done()
