"""The query layer returns database and in-memory data (unflushed window,
open bucket, open hour and day) merged without gaps or duplicates, at the
requested resolution or the finest one that fits the point budget."""

import datetime as dt
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from stlib import *  # noqa: E402,F403

f = Failures()
pg = Postgres()
tmp = tmpdir()
N = 5
t0 = int(dt.datetime(2026, 1, 8, 0, 0, tzinfo=dt.timezone.utc).timestamp() * 1000)
steps = 2 * 17280 + 3 * 720 + 7   # two days, three hours, 7 buckets into a minute
drv = Driver(pg, os.path.join(tmp, "spool"), t0, N)
ids = drv.ids()
drv.cmd(f"run {steps}")
drv.cmd("feed")                     # the bucket at t0 + steps*5 s is open
fed = [t0 + i * BUCKET for i in range(steps + 1)]
now_bucket = fed[-1]
drv.cmd("sync 10000")
in_db = int(pg.sql("SELECT count(*) FROM samples_5s WHERE series = %d" % ids[0])[0][0])
f.check(in_db * 12 == (steps - 7), f"the last 7 closed buckets are not in the database yet ({in_db} rows)")


def query(k, frm, to, level, budget=1000):
    line, out = drv.cmd(f"query {ids[k - 1]} {frm} {to} {level} {budget}")
    f.check(line == "ok", f"query ok: {line}")
    head = out[0].split()
    lvl = int(head[1].split("=")[1])
    pts = [tuple(float(x) for x in l.split()) for l in out[1:]]
    return lvl, pts


def expect(k, frm, to, step):
    ref = ref_buckets(k, fed)
    out = []
    p = frm - frm % step
    while p < to:
        if p >= frm:
            a = fold(ref, p, p + step)
            if a[0]:
                out.append((p,) + a)
        p += step
    return out


def compare(label, pts, want):
    ok = len(pts) == len(want)
    for p, w in zip(pts, want):
        ts, mn, avg, mx, cnt = p
        wts, wc, wmin, wmax, wsum = w
        if int(ts) != wts or int(cnt) != wc or not close(avg * cnt, wsum, rel=1e-6) or \
                not close(mn, wmin) or not close(mx, wmax):
            ok = False
            print(f"{label}: got {p} want {w}")
            break
    f.check(ok, f"{label}: {len(pts)} points vs {len(want)} expected")


end = now_bucket + BUCKET
for k in (1, 4, 5):
    lvl, pts = query(k, end - HOUR, end, 0)
    f.check(lvl == 0, "5 s level as asked")
    compare(f"series {k} last hour at 5 s", pts, expect(k, end - HOUR, end, BUCKET))
    f.check(pts and int(pts[-1][0]) == now_bucket, f"series {k}: the open bucket is included")
    lvl, pts = query(k, t0, end, 1, 0)
    compare(f"series {k} hourly incl. the open hour", pts, expect(k, t0, end, HOUR))
    lvl, pts = query(k, t0, end, 2)
    compare(f"series {k} daily incl. the open day", pts, expect(k, t0, end, DAY))
    f.check(len(pts) == 3, "two closed days and the open one")

# Auto resolution: the finest level whose points fit the budget.
lvl, pts = query(1, end - HOUR, end, -1, 1000)
f.check(lvl == 0 and len(pts) == 720, f"1 h at 1000 points -> 5 s ({lvl}, {len(pts)})")
lvl, pts = query(1, end - HOUR, end, -1, 100)
f.check(lvl == 1 and len(pts) == 1, f"1 h at 100 points -> hourly ({lvl})")
lvl, pts = query(1, t0, end, -1, 1000)
f.check(lvl == 1 and len(pts) == 52, f"2 days 3 h at 1000 -> hourly, 52 points ({lvl}, {len(pts)})")
lvl, pts = query(1, t0 - 60 * DAY, end, -1, 1000)
f.check(lvl == 2 and len(pts) == 3, f"62 days at 1000 -> daily ({lvl}, {len(pts)})")
# A range in the middle of a 5 s row starts at the right bucket.
lvl, pts = query(1, t0 + 17 * BUCKET, t0 + 30 * BUCKET, 0)
f.check([int(p[0]) for p in pts] == [t0 + i * BUCKET for i in range(17, 30)],
        "a range cutting rows yields exactly its buckets")
# Many series in one call: each equals its own single-series answer, in
# the order asked (duplicates answered too).
line, out = drv.cmd(f"query {ids[4]},{ids[0]},{ids[3]},{ids[0]} {t0} {end} 1 0")
blocks, cur = [], None
for l in out:
    if l.startswith("points"):
        cur = [int(l.split("series=")[1])]
        blocks.append(cur)
    else:
        cur.append(tuple(float(x) for x in l.split()))
f.check([b[0] for b in blocks] == [ids[4], ids[0], ids[3], ids[0]], "series in the order asked")
for b in blocks:
    k = ids.index(b[0]) + 1
    _, single = query(k, t0, end, 1)
    f.check(b[1:] == single, f"series {k} in a multi-series query equals its own query")
line, _ = drv.cmd(f"query {ids[0]} {end} {end - 1} 0 10")
f.check(line.startswith("err"), "an empty range is refused")

# After everything is flushed the same query gives the same points (now all
# from the database).
_, before = query(4, t0, end, 1)
rc, _ = drv.quit()
drv = Driver(pg, os.path.join(tmp, "spool"), end, N)
_, after = query(4, t0, end, 1)
f.check(len(after) == len(before) and all(close(a[2] * a[4], b[2] * b[4], rel=1e-6)
                                          for a, b in zip(after, before)),
        "database-only answer equals the earlier in-memory one")
drv.quit()
f.done()
