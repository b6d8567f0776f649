"""The daemon against a real PostgreSQL: it starts, applies the migrations,
applies a reloadable change on SIGHUP, keeps running (and keeps its
configuration) when SIGHUP finds a broken file, reports changes that need a
restart, and exits 0 on SIGTERM. A database it cannot reach is a one-line
runtime failure with exit code 2."""

import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wtdaemon import TEST_API, Daemon, run  # noqa: E402
from wtfix import Failures, Postgres, free_port, tmpdir  # noqa: E402

f = Failures()
d = tmpdir("wt-daemon-")
state = os.path.join(d, "state", "nested")  # created by the daemon
conf = os.path.join(d, "wattrack.conf")

pg = Postgres()
pg.sql("CREATE DATABASE wt_daemon")
dsn = f"host=127.0.0.1 port={pg.port} user=postgres dbname=wt_daemon"


def write_conf(extra="", flush="5s"):
    with open(conf + ".tmp", "w") as fh:
        fh.write(f'database.url = "{dsn}"\n'
                 f"state_dir = {state}\n"
                 f"storage.flush_interval = {flush}\n"
                 f"workers.threads = 2\n" + TEST_API + extra)
    os.replace(conf + ".tmp", conf)


# A database that refuses connections: exit 2, one line saying why.
dead = os.path.join(d, "dead.conf")
with open(dead, "w") as fh:
    fh.write(f'database.url = "host=127.0.0.1 port={free_port()} user=postgres '
             f'connect_timeout=3"\nstate_dir = {state}\n')
r = run(["--config", dead])
f.check(r.returncode == 2, f"an unreachable database exits 2, got {r.returncode}")
f.check("cannot open storage" in r.stderr, f"and says why: {r.stderr[-300:]!r}")

write_conf("log.level = info\n")
w = Daemon(conf)
ready = w.wait_for(r"notice: wattrack ready", timeout=60)
f.check(ready is not None, "the daemon becomes ready")
if ready is None:
    w.stop()
    f.done()

f.check(os.path.isdir(os.path.join(state, "spool")), "state_dir/spool was created")
rows = pg.sql("SELECT count(*) FROM schema_migrations", db="wt_daemon")
f.check(int(rows[0][0]) >= 1, f"migrations applied: {rows}")
tables = {r[0] for r in pg.sql("SELECT tablename FROM pg_tables WHERE schemaname = 'public'",
                               db="wt_daemon")}
f.check({"devices", "entities", "series"} <= tables, f"core tables exist: {sorted(tables)}")
f.check(w.count(r" debug: ") == 0, "no debug lines at log.level = info")

# SIGHUP with a reloadable change (log.level) and one that needs a restart.
m = w.mark()
write_conf("log.level = debug\nworkers.queue_max = 100\n", flush="15s")
w.signal(signal.SIGHUP)
f.check(w.wait_for(r"reload: log\.level: info -> debug", start=m) is not None,
        "log.level change reported as applied")
f.check(w.wait_for(r"debug: reload: debug logging is on", start=m) is not None,
        "debug lines appear after the reload")
f.check(w.wait_for(r"warning: reload: workers\.queue_max: 4096 -> 100 needs a restart",
                   start=m) is not None,
        "workers.queue_max reported as needing a restart")
f.check(w.wait_for(r"reload: storage\.flush_interval: 5s -> 15s", start=m) is not None,
        "storage.flush_interval change applied")
f.check(w.wait_for(r"reload: done, 2 changes applied, 1 needs a restart", start=m) is not None,
        "reload summary")

# SIGHUP with a broken file: every problem logged, old configuration kept.
m = w.mark()
with open(conf) as fh:
    nlines = len(fh.read().splitlines())
with open(conf, "a") as fh:
    fh.write("log.level = quiet\nno.such.key = 1\n")
w.signal(signal.SIGHUP)
f.check(w.wait_for(r"keeping the running configuration", start=m) is not None,
        "a broken file is refused on reload")
f.check(w.wait_for(rf"reload: {conf}:{nlines + 1}: log\.level: .*set twice", start=m, timeout=1)
        is not None, "the duplicate log.level is reported with file:line")
f.check(w.wait_for(rf"reload: {conf}:{nlines + 2}: no\.such\.key: unknown setting", start=m, timeout=1)
        is not None, "the unknown key is reported with file:line")
time.sleep(1)
f.check(w.alive(), "the daemon keeps running after a broken reload")
m = w.mark()
w.signal(signal.SIGHUP)
f.check(w.wait_for(r"debug: reload: SIGHUP received", start=m, timeout=10) is not None,
        "debug logging stayed on (the old configuration is kept)")
f.check(w.wait_for(r"keeping the running configuration", start=m) is not None,
        "the broken file is refused again")

# A good file again, lowering the level: after the change is applied, no
# info or debug lines.
write_conf("log.level = warning\n", flush="15s")
m = w.mark()
w.signal(signal.SIGHUP)
i = w.wait_for(r"reload: log\.level: debug -> warning", start=m)
f.check(i is not None, "log.level lowered")
time.sleep(2)
f.check(i is not None and w.count(r" (debug|info): ", start=i + 1) == 0,
        "after log.level = warning no info or debug lines")
f.check(w.alive(), "still running")

rc = w.stop()
f.check(rc == 0, f"SIGTERM exits 0, got {rc}")
# At log.level = warning the notice lines are gone too; nothing may have
# been logged at error level.
f.check(w.count(r" error: (?!reload: )") == 0,
        "no errors logged during the run but the broken reload's")

# SIGINT is a clean stop too, and --log-level overrides log.level.
w = Daemon(conf, ["--log-level", "debug"])
f.check(w.wait_for(r"notice: wattrack ready", timeout=60) is not None, "ready again")
m = w.mark()
w.signal(signal.SIGINT)
try:
    rc = w.proc.wait(timeout=60)
except Exception:
    rc = w.stop()
w._t.join(5)
f.check(rc == 0, f"SIGINT exits 0, got {rc}")
f.check(w.count(r"SIGINT received: shutting down", start=m) == 1, "SIGINT logged")
f.check(w.count(r"notice: wattrack stopped", start=m) == 1, "clean stop logged")
f.check(w.count(r"debug: setting log\.level = warning") == 1,
        "--log-level debug overrides log.level = warning; settings logged at debug")
f.check(w.count(r"debug: setting database\.url = ") == 1, "database.url logged (masked)")

f.done()
