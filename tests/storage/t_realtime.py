"""The storage layer on the real clock with its own libevent timers (the 5 s
tick), as the daemon runs it: one sample per series per second, SIGTERM after
a while; every sample ingested is in PostgreSQL after the clean shutdown."""

import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from stlib import *  # noqa: E402,F403

f = Failures()
pg = Postgres()
tmp = tmpdir()
N = 6
p = spawn([TOOL, "realtime", pg.dsn, os.path.join(tmp, "spool"), str(N), "600"],
          stdout=subprocess.PIPE, stderr=open(os.path.join(tmp, "log"), "w"), text=True)
f.check(p.stdout.readline().strip() == "ready", "started")
time.sleep(13)
# The storage timer ticks on its own: closed buckets are in memory or written.
p.send_signal(signal.SIGTERM)
out = p.stdout.read()
rc = p.wait(timeout=30)
f.check(rc == 0 and out.startswith("ingested "), f"SIGTERM: clean close ({rc}, {out!r})")
ingested = int(out.split()[1]) if out.startswith("ingested ") else -1
f.check(ingested >= 10, f"about 13 samples per series ingested ({ingested})")
ids = [int(r[0]) for r in pg.sql("SELECT id FROM series ORDER BY id")]
gauges = [sid for i, sid in enumerate(ids) if (i + 1) % 5 != 0]
db5 = db_buckets(pg)
for sid in gauges:
    n = sum(v[0][0] for (s, _), v in db5.items() if s == sid)
    f.check(n == ingested, f"series {sid}: {n} samples stored of {ingested} ingested")
    spans = sorted(b for (s, b) in db5 if s == sid)
    f.check(len(spans) >= 3, f"series {sid}: buckets over the run ({len(spans)})")
h = db_aggs(pg, "samples_1h")
# A run may straddle an hour: add the hours up.
f.check(h and all(sum(v[0] for (s, _), v in h.items() if s == sid) == ingested
                  for sid in gauges),
        "the (provisional) hourly rows hold every sample")
log = open(os.path.join(tmp, "log")).read()
f.check("error" not in log, f"no errors logged: {log[-500:]}")
f.done()
