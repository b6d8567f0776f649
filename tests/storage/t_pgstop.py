"""PostgreSQL stopped mid-run (pg_ctl stop): ingest goes on into the spool,
PostgreSQL comes back, the spool is replayed, and every sample arrives exactly
once. Spool files replayed a second time are recognised and skipped. A full
spool is unhealthy, says so in the log, drops 5 s data (counted) but keeps
the hourly aggregates complete."""

import datetime as dt
import glob
import os
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from stlib import *  # noqa: E402,F403

f = Failures()
pg = Postgres()
tmp = tmpdir()
spool = os.path.join(tmp, "spool")
N = 10
t = int(dt.datetime(2026, 1, 5, 10, 0, tzinfo=dt.timezone.utc).timestamp() * 1000)
fed = []


def run(drv, n):
    global t
    line, _ = drv.cmd(f"run {n}")
    fed.extend(t + i * BUCKET for i in range(n))
    t += n * BUCKET
    return line


drv = Driver(pg, spool, t, N, flush_ms=15000)
ids = drv.ids()
run(drv, 120)
f.check(drv.cmd("sync 10000")[0] == "ok", "sync while up")
h = drv.health()
f.check(h["connected"] == "1" and h["spooled"] == "0", f"connected, nothing spooled: {h}")

pg.stop()
run(drv, 120)
f.check(drv.cmd("sync 10000")[0] == "ok", "batches handed to the spool")
h = drv.health()
f.check(h["connected"] == "0" and int(h["spooled"]) >= 39 and int(h["spool_files"]) >= 39,
        f"spooling while PostgreSQL is down: {h}")
backup = os.path.join(tmp, "backup")
os.makedirs(backup)
for p in glob.glob(os.path.join(spool, "*.batch")):
    shutil.copy(p, backup)
nspooled = len(os.listdir(backup))

pg.start()
run(drv, 12)
f.check(drv.cmd("drain 30000")[0] == "ok", "spool replayed after PostgreSQL returned")
h = drv.health()
f.check(h["connected"] == "1" and h["spool_files"] == "0" and h["spool_healthy"] == "1",
        f"reconnected, spool empty: {h}")
f.check(int(h["replayed"]) == int(h["spooled"]), f"every spooled batch replayed: {h}")
f.check(not glob.glob(os.path.join(spool, "*.batch")), "no spool file left")
run(drv, 60)
rc, out = drv.quit()
f.check(rc == 0, f"clean close {rc}")


def check_exact(label, allow_missing=0):
    db5 = db_buckets(pg)
    dups = sum(1 for v in db5.values() if len(v) != 1)
    f.check(dups == 0, f"{label}: no bucket stored twice ({dups})")
    missing = wrong = 0
    for i, sid in enumerate(ids):
        ref = ref_buckets(i + 1, fed)
        for b, (c, lo, hi, s) in ref.items():
            g = db5.get((sid, b))
            if not g:
                missing += 1
            elif g[0][0] != c or not close(g[0][3], hi) or not close(g[0][1], lo):
                wrong += 1
    if allow_missing is None:
        return db5, missing
    f.check(missing == allow_missing and wrong == 0,
            f"{label}: every bucket arrived exactly once ({missing} missing, {wrong} wrong)")
    return db5, missing


db5, _ = check_exact("after outage")
before = len(db5)

# The same spool files replayed again (as after a crash between COMMIT and
# unlink): recognised by their batch ids, nothing is written twice.
for p in os.listdir(backup):
    shutil.copy(os.path.join(backup, p), spool)
drv = Driver(pg, spool, t, N, flush_ms=15000)
f.check(drv.cmd("drain 30000")[0] == "ok", "replay of old files done")
h = drv.health()
f.check(int(h["replayed"]) == nspooled and h["rows"] == "0",
        f"old files replayed as duplicates, no rows written: {h}")
rc, out = drv.quit()
db5, _ = check_exact("after duplicate replay")
f.check(len(db5) == before, f"bucket count unchanged ({len(db5)} vs {before})")
dupcount = pg.sql("SELECT count(*) FROM storage_batches")[0][0]
f.check(int(dupcount) >= nspooled, f"batch ids recorded ({dupcount})")

# A spool cap that fills up: unhealthy, logged, 5 s data dropped and counted,
# hourly aggregates still complete.
drv = Driver(pg, spool, t, N, flush_ms=15000, spool_max=30000)
pg.stop()
run(drv, 600)  # 10:26 -> 11:16, crosses the hour while PostgreSQL is down
f.check(drv.cmd("sync 10000")[0] == "ok", "sync into the full spool")
h = drv.health()
f.check(h["spool_healthy"] == "0" and int(h["dropped"]) > 0,
        f"full spool: unhealthy, samples dropped and counted: {h}")
dropped = int(h["dropped"])
log = open(drv.logpath).read()
f.check("spool is full" in log, "the full spool is logged as an error")
pg.start()
f.check(drv.cmd("drain 30000")[0] == "ok", "spool drained")
h = drv.health()
f.check(h["spool_healthy"] == "1" and h["spool_files"] == "0", f"healthy again: {h}")
rc, out = drv.quit()
db5, missing = check_exact("after full spool", allow_missing=None)
f.check(missing == dropped, f"exactly the counted samples are missing ({missing} vs {dropped})")
hourly = db_aggs(pg, "samples_1h")
hbad = 0
for i, sid in enumerate(ids):
    ref = ref_buckets(i + 1, fed)
    want = fold(ref, t - t % HOUR - HOUR, t - t % HOUR)
    g = hourly.get((sid, t - t % HOUR - HOUR))
    if not g or g[0] != want[0] or not close(g[3], want[3], rel=1e-6):
        hbad += 1
        print(f"hour 10 of {sid}: got {g} want {want}")
f.check(hbad == 0, "the hour closed during the outage is complete despite the drops")
f.done()
