"""The rules layer against a real PostgreSQL: structure operations, rules,
alarms surviving a restart without being raised twice, and audit retention
deleting exactly what it should. Drives tests/rules/t_rules_db (C)."""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.environ["WT_SOURCE_ROOT"], "tests/lib"))
from wtfix import PG_BIN, Failures, Postgres  # noqa: E402

EXE = os.path.join(os.environ["WT_BUILD_ROOT"], "tests/rules/t_rules_db")
f = Failures()
pg = Postgres()


def run(*args, env=None):
    p = subprocess.run([EXE, args[0], pg.dsn, *args[1:]], capture_output=True, text=True,
                       timeout=120, env=env)
    sys.stdout.write(p.stdout)
    sys.stderr.write(p.stderr)
    return p


p = run("setup")
f.check(p.returncode == 0, "setup phase passed")
p = run("restart")
f.check(p.returncode == 0, "restart phase passed")

# The database goes away and comes back while alarms keep coming.
ctl = f"{PG_BIN}/pg_ctl -D {pg.data} -w -s"
asuser = "runuser -u postgres -- " if os.geteuid() == 0 else ""
opts = (f"-c listen_addresses=127.0.0.1 -p {pg.port} -k {pg.sock} "
        "-c fsync=off -c full_page_writes=off")
env = dict(os.environ,
           PG_STOP_CMD=f"{asuser}{ctl} -m fast stop",
           PG_START_CMD=f"{asuser}{ctl} -l {pg.base}/log -o '{opts}' start")
p = run("outage", env=env)
f.check(p.returncode == 0, "outage phase passed")

# Audit retention: entries of every class, some past their retention and
# some not; exactly the expired ones must go.
pg.sql("UPDATE audit_retention SET days = CASE name WHEN 'info' THEN 5 WHEN 'open_warning' THEN 10 "
       "WHEN 'open_error' THEN 0 WHEN 'closed_warning' THEN 2 ELSE 30 END")
pg.sql("DELETE FROM audit_log")
now_ms = int(time.time() * 1000)
rows = [
    # (tag, severity, state, age in days, expected to survive)
    ("debug-old", 0, 0, 6, False), ("log-old", 1, 2, 6, False), ("info-old", 2, 0, 5.1, False),
    ("info-new", 2, 0, 4.9, True), ("warn-open-old", 3, 0, 10.5, False),
    ("warn-open-new", 3, 1, 9.5, True), ("warn-investigating-old", 3, 1, 11, False),
    ("err-open-ancient", 4, 0, 900, True), ("warn-done-old", 3, 2, 2.5, False),
    ("warn-done-new", 3, 2, 1.5, True), ("err-done-old", 4, 2, 31, False),
    ("err-done-new", 4, 2, 29, True), ("always-ancient", 5, 2, 5000, True),
]
for tag, sev, st, age, _ in rows:
    pg.sql(f"INSERT INTO audit_log (ts, severity, state, category, message) VALUES "
           f"(to_timestamp({now_ms / 1000.0} - {age} * 86400), {sev}, {st}, 'system', '{tag}')")
p = run("expire", str(now_ms))
f.check(p.returncode == 0, "expire phase passed")
left = {r[0] for r in pg.sql("SELECT message FROM audit_log")}
for tag, _, _, _, survive in rows:
    f.check((tag in left) == survive, f"{tag} {'kept' if survive else 'deleted'}")
f.check(f"deleted {sum(1 for r in rows if not r[4])}" in p.stdout, "expire reports the count")

# Closing an entry moves it to its closed class by itself (generated column).
pg.sql("UPDATE audit_log SET state = 2 WHERE message = 'warn-open-new'")
p = run("expire", str(now_ms))
f.check("warn-open-new" not in {r[0] for r in pg.sql("SELECT message FROM audit_log")},
        "a warning closed after 9.5 days falls under closed-warning retention (2 days)")
plan = "\n".join(r[0] for r in pg.sql(
    "EXPLAIN SELECT id FROM audit_log WHERE retention_class = 2 AND ts < now()"))
f.check("audit_log_retention" in plan or "Seq Scan" in plan, "retention query plan: " + plan)
f.done()
