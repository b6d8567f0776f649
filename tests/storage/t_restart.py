"""Restart continuation with the storage driver process.
A: SIGTERM mid-hour (wt_storage_close), restart: nothing lost, the hourly row
   of the interrupted hour and the counters' deltas are right.
B: kill -9 mid-hour: at most the open flush window is lost (exactly it), the
   restarted process continues the hour and the energy (the first delta after
   the restart covers the gap).
C: kill -9, restart after the hour ended: the hour's row is rebuilt from its
   5 s rows at start-up and the day continues from it.
D: kill -9 before midnight, restart after it: yesterday's last hour and its
   daily row are rebuilt."""

import datetime as dt
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from stlib import *  # noqa: E402,F403

f = Failures()
pg = Postgres()
tmp = tmpdir()
spool = os.path.join(tmp, "spool")
N = 10
t = int(dt.datetime(2026, 1, 6, 9, 0, tzinfo=dt.timezone.utc).timestamp() * 1000)
kept = []


def run(drv, n):
    global t
    line, _ = drv.cmd(f"run {n}")
    kept.extend(t + i * BUCKET for i in range(n))
    t += n * BUCKET
    return line


# --- A: SIGTERM mid-hour, with one bucket fed but not yet due ---
drv = Driver(pg, spool, t, N)
ids = drv.ids()
run(drv, 300)                       # 09:00 -> 09:25
drv.cmd("feed")                     # 09:25:00 bucket open
kept.append(t)
t += BUCKET
rc, out = drv.term()
f.check(rc == 0 and "closed on SIGTERM" in out, f"SIGTERM closes cleanly: {rc} {out!r}")
prov = db_aggs(pg, "samples_1h")
f.check(len(prov) == N and all(v[0] > 0 for v in prov.values()),
        "clean shutdown wrote provisional hourly rows")
log0 = os.path.getsize(spool + ".log")
drv = Driver(pg, spool, t, N)
run(drv, 600)                       # 09:25:05 -> 10:15:05
drv.cmd("drain 20000")
rc, out = drv.quit()
f.check(rc == 0, "second run closed")
with open(drv.logpath) as fh:
    fh.seek(log0)
    f.check("after a clean shutdown" in fh.read(),
            "after SIGTERM the open hour is seeded from its provisional row")


def check(label, fed, hours):
    db5 = db_buckets(pg)
    f.check(all(len(v) == 1 for v in db5.values()), f"{label}: no duplicates")
    h = db_aggs(pg, "samples_1h")
    miss = wrong = hb = 0
    for i, sid in enumerate(ids):
        ref = ref_buckets(i + 1, fed)
        for b, (c, lo, hi, s) in ref.items():
            g = db5.get((sid, b))
            if not g:
                miss += 1
            elif g[0][0] != c or not close(g[0][2] * c, s):
                wrong += 1
                if wrong < 4:
                    print(f"{label}: {sid} {b} got {g} want {(c, lo, hi, s)}")
        for hr in hours:
            want = fold(ref, hr, hr + HOUR)
            g = h.get((sid, hr))
            if not g or g[0] != want[0] or not close(g[3], want[3], rel=1e-6) or \
                    not close(g[1], want[1]) or not close(g[2], want[2]):
                hb += 1
                print(f"{label}: hour {hr} of {sid}: got {g} want {want}")
    f.check(miss == 0 and wrong == 0, f"{label}: every kept bucket right ({miss} missing, {wrong} wrong)")
    f.check(hb == 0, f"{label}: hourly rows right ({hb} wrong)")
    extra = set(db5) - {(sid, b) for sid in ids for b in fed}
    return db5, extra


H9 = kept[0]
db5, extra = check("A", kept, [H9, H9 + HOUR])

# --- B: kill -9 with part of a window unflushed ---
drv = Driver(pg, spool, t, N)
run(drv, 113)                       # 10:15:05 -> 10:24:30: 7 buckets into 10:24
drv.cmd("sync 10000")
drv.p.send_signal(signal.SIGKILL)
drv.p.wait()
lost = [b for b in kept if b >= t - t % 60000]
f.check(len(lost) == 6, f"six buckets of the open minute were in memory ({len(lost)})")
db5 = db_buckets(pg)
gone = [b for b in kept if (ids[0], b) not in db5]
f.check(gone == lost, f"kill -9 lost exactly the open flush window ({len(gone)} buckets)")
kept = [b for b in kept if b not in lost]
log0 = os.path.getsize(drv.logpath)
drv = Driver(pg, spool, t, N)
with open(drv.logpath) as fh:
    fh.seek(log0)
    f.check("from 5 s rows" in fh.read(), "after kill -9 the open hour is folded from 5 s rows")
run(drv, 600)                       # -> 11:14:30, closes hour 10
drv.cmd("drain 20000")
rc, out = drv.quit()
check("B", kept, [H9, H9 + HOUR])

# --- C: kill -9, restart after the hour ended ---
drv = Driver(pg, spool, t, N)
run(drv, 120)                       # -> 11:24:30
drv.cmd("sync 10000")
drv.p.send_signal(signal.SIGKILL)
drv.p.wait()
kept = [b for b in kept if b < t - t % 60000]
t += 50 * 60000                     # down for 50 minutes: restart at 12:14:30
drv = Driver(pg, spool, t, N)
run(drv, 60)
rc, out = drv.quit()
log = open(drv.logpath).read()
f.check("rebuilt" in log, "start-up rebuilt the unfinished hour from 5 s data")
db5, extra = check("C", kept, [H9, H9 + HOUR, H9 + 2 * HOUR, H9 + 3 * HOUR])
f.check(not extra, f"no 5 s data that was never fed ({len(extra)})")
day = db_aggs(pg, "samples_1d")
dbad = 0
for i, sid in enumerate(ids):
    want = fold(ref_buckets(i + 1, kept), H9 - H9 % DAY, H9 - H9 % DAY + DAY)
    g = day.get((sid, H9 - H9 % DAY))
    if not g or g[0] != want[0] or not close(g[3], want[3], rel=1e-6):
        dbad += 1
        print(f"day of {sid}: got {g} want {want}")
f.check(dbad == 0, "the day row continues across all restarts")

# --- D: kill -9 late in the evening, restart after midnight ---
drv = Driver(pg, spool, t, N)
day0 = t - t % DAY
run(drv, (day0 + DAY - 10 * 60000 - t) // BUCKET + 3)   # -> 23:50:15
drv.cmd("sync 10000")
drv.p.send_signal(signal.SIGKILL)
drv.p.wait()
kept = [b for b in kept if b < t - t % 60000]
t = day0 + DAY + 20 * 60000                              # restart at 00:20
drv = Driver(pg, spool, t, N)
run(drv, 24)
rc, out = drv.quit()
log = open(drv.logpath).read()
f.check("daily rows of the day interrupted" in log, "start-up rebuilt yesterday's daily row")
db5, extra = check("D", kept, [day0 + 23 * HOUR, day0 + DAY])
day = db_aggs(pg, "samples_1d")
dbad = 0
for i, sid in enumerate(ids):
    ref = ref_buckets(i + 1, kept)
    for d in (day0, day0 + DAY):
        want = fold(ref, d, d + DAY)
        g = day.get((sid, d))
        if not g or g[0] != want[0] or not close(g[3], want[3], rel=1e-6):
            dbad += 1
            print(f"day {d} of {sid}: got {g} want {want}")
f.check(dbad == 0, "the interrupted day and the new one are both right")
f.done()
