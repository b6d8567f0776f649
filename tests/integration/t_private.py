"""Private-cluster mode (database.url empty): the daemon creates its own
PostgreSQL cluster under <state_dir>/pg once, starts it on a unix socket and
127.0.0.1, creates the wattrack database with the schema, and stops it at
exit. A second start reuses the cluster; a stale postmaster.pid and a
postmaster left running by a killed daemon are both handled."""

import os
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wtdaemon import TEST_API, Daemon, run  # noqa: E402
from wtfix import PG_BIN, Failures, Postgres, tmpdir  # noqa: E402

f = Failures()
d = tmpdir("wt-priv-")
state = os.path.join(d, "state")  # does not exist yet: the daemon creates it
conf = os.path.join(d, "wattrack.conf")
with open(conf, "w") as fh:
    fh.write(f'database.url = ""\nstate_dir = {state}\nstorage.flush_interval = 5s\n'
             + TEST_API)
pgdir = os.path.join(state, "pg")
data = os.path.join(pgdir, "data")
pidfile = os.path.join(data, "postmaster.pid")


def postmaster():
    """(pid, port) from postmaster.pid, or (None, None)."""
    try:
        with open(pidfile) as fh:
            lines = fh.read().splitlines()
        return int(lines[0]), int(lines[3])
    except (OSError, IndexError, ValueError):
        return None, None


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def psql(port, sql, host=None, password=None, user="postgres"):
    env = dict(os.environ)
    if password:
        env["PGPASSWORD"] = password
    else:
        env.pop("PGPASSWORD", None)
    return subprocess.run(["psql", "-X", "-q", "-A", "-t", "-w", "-h", host or pgdir,
                           "-p", str(port), "-U", user, "-d", "wattrack", "-c", sql],
                          capture_output=True, text=True, env=env, timeout=30)


def wait_gone(pid, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline and alive(pid):
        time.sleep(0.1)
    return not alive(pid)


def cleanup():
    """Stops a postmaster the test left behind (also on failure)."""
    pid, _ = postmaster()
    if pid and alive(pid):
        argv = [f"{PG_BIN}/pg_ctl", "-D", data, "-m", "immediate", "-w", "stop"]
        if os.geteuid() == 0:
            argv = ["runuser", "-u", "postgres", "--"] + argv
        subprocess.run(argv, capture_output=True)


import atexit  # noqa: E402
atexit.register(cleanup)

# --- first start: initdb, start, database, migrations ---
w = Daemon(conf)
ok = w.wait_for(r"notice: wattrack ready", timeout=120) is not None
f.check(ok, "the daemon becomes ready with a private cluster")
if not ok:
    w.stop()
    f.done()
f.check(w.count(r"creating the private PostgreSQL cluster") == 1, "initdb ran once")
f.check(os.path.isfile(os.path.join(data, "PG_VERSION")), "the cluster is under state_dir/pg")
pid, port = postmaster()
f.check(pid is not None and alive(pid), f"the postmaster runs (pid {pid})")
st = os.stat(pgdir)
f.check(st.st_mode & 0o077 == 0, f"{pgdir} is private (mode {oct(st.st_mode)})")
if os.geteuid() == 0:
    import pwd
    f.check(st.st_uid == pwd.getpwnam("postgres").pw_uid,
            "as root, the cluster belongs to the postgres user")
r = psql(port, "SELECT count(*) FROM schema_migrations")
f.check(r.returncode == 0 and int(r.stdout.strip() or 0) >= 1,
        f"the wattrack database has the schema (unix socket): {r.stdout!r} {r.stderr!r}")
# TCP on 127.0.0.1: a password is required, and the generated one works.
with socket.create_connection(("127.0.0.1", port), timeout=5):
    pass
r = psql(port, "SELECT 1", host="127.0.0.1")
f.check(r.returncode != 0, "TCP without a password is refused")
with open(os.path.join(pgdir, "superuser.password")) as fh:
    pw = fh.read().strip()
r = psql(port, "SELECT 1", host="127.0.0.1", password=pw)
f.check(r.returncode == 0 and r.stdout.strip() == "1",
        f"TCP with the generated password works: {r.stderr!r}")
listen = psql(port, "SHOW listen_addresses").stdout.strip()
f.check(listen == "127.0.0.1", f"listens on 127.0.0.1 only: {listen!r}")

# A second daemon on the same state_dir is refused, and leaves the first
# one's cluster alone.
r = run(["--config", conf])
f.check(r.returncode == 2 and f"another wattrack (pid {w.proc.pid}) is running" in r.stderr,
        f"a second daemon on the same state_dir exits 2: {r.returncode} {r.stderr[-300:]!r}")
f.check(alive(pid) and postmaster()[0] == pid, "the first daemon's postmaster still runs")
r = psql(port, "SELECT 1")
f.check(r.returncode == 0, "and still serves")

rc = w.stop()
f.check(rc == 0, f"SIGTERM exits 0, got {rc}")
f.check(wait_gone(pid), "the postmaster is stopped at exit")
f.check(not os.path.exists(pidfile), "postmaster.pid is gone after a clean stop")
f.check(w.count(r"private PostgreSQL stopped") == 1, "the stop is logged")

# --- second start: the cluster is reused; a stale postmaster.pid is cleared ---
dead = subprocess.Popen(["true"])
dead.wait()
with open(pidfile, "w") as fh:
    fh.write(f"{dead.pid}\n{data}\n0\n5432\n")
if os.geteuid() == 0:
    import pwd
    pw_ent = pwd.getpwnam("postgres")
    os.chown(pidfile, pw_ent.pw_uid, pw_ent.pw_gid)
w = Daemon(conf)
f.check(w.wait_for(r"notice: wattrack ready", timeout=120) is not None, "second start ready")
f.check(w.count(r"creating the private PostgreSQL cluster") == 0, "no second initdb")
f.check(w.count(r"removing a stale .*postmaster\.pid") == 1, "the stale postmaster.pid is removed")
pid2, port2 = postmaster()
f.check(pid2 and alive(pid2) and pid2 != dead.pid, "a new postmaster runs")

# --- a postmaster.pid naming another cluster's postmaster (a reused pid)
# is stale too: that postmaster must be left alone ---
rc = w.stop()
f.check(rc == 0 and wait_gone(pid2), f"clean stop before the foreign-pid case (rc {rc})")
other = Postgres()
with open(pidfile, "w") as fh:
    fh.write(f"{other.pid}\n{data}\n0\n5432\n")
w = Daemon(conf)
f.check(w.wait_for(r"notice: wattrack ready", timeout=120) is not None, "ready past a foreign pid")
f.check(w.count(r"removing a stale .*not this cluster's") == 1,
        "a foreign postmaster's pid is treated as stale")
f.check(alive(other.pid) and other.sql("SELECT 1") == [["1"]],
        "the other cluster's postmaster was left running")
other.stop()
pid2, port2 = postmaster()

# --- a killed daemon leaves the postmaster running: the next start stops
# it and starts its own ---
w.signal(signal.SIGKILL)
w.proc.wait(timeout=30)
f.check(alive(pid2), "the postmaster outlives a killed daemon")
w = Daemon(conf)
f.check(w.wait_for(r"notice: wattrack ready", timeout=120) is not None, "third start ready")
f.check(w.count(r"still running from an earlier run; stopping it") == 1,
        "the leftover postmaster is detected and stopped")
f.check(wait_gone(pid2, 5), "the leftover postmaster is gone")
pid3, port3 = postmaster()
f.check(pid3 and alive(pid3) and pid3 != pid2, "a fresh postmaster runs")
r = psql(port3, "SELECT count(*) FROM schema_migrations")
f.check(r.returncode == 0, f"and serves the database: {r.stderr!r}")
rc = w.stop()
f.check(rc == 0 and wait_gone(pid3), f"clean stop again (rc {rc})")

# --- a broken data directory is a clear runtime failure ---
broken = os.path.join(d, "broken")
os.makedirs(os.path.join(broken, "pg", "data"))
with open(os.path.join(broken, "pg", "data", "junk"), "w") as fh:
    fh.write("x")
bconf = os.path.join(d, "broken.conf")
with open(bconf, "w") as fh:
    fh.write(f"state_dir = {broken}\n")
r = run(["--config", bconf])
f.check(r.returncode == 2, f"a non-cluster data dir exits 2, got {r.returncode}")
f.check("holds no PostgreSQL cluster" in r.stderr, f"and says why: {r.stderr[-300:]!r}")

if os.geteuid() == 0:
    # Not root (as under systemd with User=wattrack): the daemon runs initdb
    # and the postmaster as itself.
    import pwd
    nobody = pwd.getpwnam("nobody")
    ndir = os.path.join(d, "nobody")
    os.makedirs(ndir)
    os.chown(ndir, nobody.pw_uid, nobody.pw_gid)
    nconf = os.path.join(d, "nobody.conf")
    with open(nconf, "w") as fh:
        fh.write(f"state_dir = {ndir}/state\n")
    w = Daemon(nconf, user=nobody.pw_uid, group=nobody.pw_gid, extra_groups=[])
    f.check(w.wait_for(r"notice: wattrack ready", timeout=120) is not None,
            "ready when not running as root")
    npid = None
    try:
        with open(os.path.join(ndir, "state", "pg", "data", "postmaster.pid")) as fh:
            npid = int(fh.readline())
        f.check(os.stat(f"/proc/{npid}").st_uid == nobody.pw_uid,
                "the postmaster runs as the daemon's own user")
    except (OSError, ValueError) as e:
        f.check(False, f"postmaster.pid of the non-root cluster: {e}")
    rc = w.stop()
    f.check(rc == 0 and (npid is None or wait_gone(npid)), f"non-root clean stop (rc {rc})")

    # The postgres user cannot reach a state_dir inside a root-only directory.
    hidden = os.path.join(d, "hidden")
    os.makedirs(hidden, mode=0o700)
    os.chmod(hidden, 0o700)
    hconf = os.path.join(d, "hidden.conf")
    with open(hconf, "w") as fh:
        fh.write(f"state_dir = {hidden}/state\n")
    r = run(["--config", hconf])
    f.check(r.returncode == 2 and "cannot use" in r.stderr and "not searchable" in r.stderr,
            f"an unreachable state_dir is explained: {r.returncode} {r.stderr[-300:]!r}")

f.done()
