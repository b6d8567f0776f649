"""Benchmark (prints figures, not a test): an alarm storm through the notify
layer. N alarms are raised in one room through the real alarm table; we
time until every one is in the PostgreSQL outbox and the resulting mails
are delivered to aiosmtpd. Run: WT_SOURCE_ROOT=. WT_BUILD_ROOT=BUILD
/usr/bin/python3 tests/notify/bench_storm.py [N] (the last line is
RESULT notify_storm ...)."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from notifylib import Host, Smtp, tmpdir, utc_ms  # noqa: E402
sys.path.insert(0, os.path.join(os.environ["WT_SOURCE_ROOT"], "tests/lib"))
from wtfix import Postgres  # noqa: E402

n = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
pg = Postgres()
work = tmpdir("wt-notify-bench-")
smtp = Smtp(work)
T0 = utc_ms(2026, 11, 18, 9, 0)
cfg = {"conninfo": pg.dsn, "hostname": "bench", "clock": T0, "id_base": 1,
       "mail": {"server": "127.0.0.1", "port": smtp.port, "tls": "none",
                "sender": "wattrack@example.net", "recipients": "a@example.com, b@example.com",
                "immediate": "error", "holdoff_s": 60}}
h = Host(cfg, work)
h.cmd("migrate")
t0 = time.perf_counter()
h.cmd(f"storm {n} 20 2")
t1 = time.perf_counter()
h.cmd("sync")
t2 = time.perf_counter()
h.cmd(f"clock {T0 + 61000}")
h.cmd("sync")
rows = int(pg.sql("SELECT count(*) FROM notify_outbox")[0][0])
sent = int(pg.sql("SELECT count(*) FROM notify_outbox WHERE state = 'sent'")[0][0])
mails = len(smtp.messages())
h.close()
smtp.stop()
print(f"raise (loop side, {n} alarms): {(t1 - t0) * 1000:.1f} ms "
      f"({(t1 - t0) / n * 1e6:.1f} us per alarm, includes the pipe round trip)")
print(f"outbox written + first mails sent: {(t2 - t0) * 1000:.0f} ms for {rows} rows "
      f"({rows / (t2 - t0):.0f} rows/s)")
print(f"RESULT notify_storm alarms={n} outbox_rows={rows} sent={sent} mails={mails} "
      f"raise_us_per_alarm={(t1 - t0) / n * 1e6:.1f} outbox_rows_per_s={rows / (t2 - t0):.0f}")
