"""Shared fixtures for wattrack's integration tests.

Every server a test needs is real and runs on 127.0.0.1 with a free port. It
is started by the test and stopped by PID, also when the test fails. Run
with /usr/bin/python3 (Debian's), which sees python3-pymodbus, aiosmtpd and
psycopg2.

Usage:
    import sys, os; sys.path.insert(0, os.path.join(os.environ["WT_SOURCE_ROOT"], "tests/lib"))
    from wtfix import *
"""

import atexit
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

SOURCE_ROOT = os.environ.get("WT_SOURCE_ROOT",
                             os.path.abspath(os.path.join(os.path.dirname(__file__), "../..")))
BUILD_ROOT = os.environ.get("WT_BUILD_ROOT", os.path.join(SOURCE_ROOT, "build"))
REALDATA = os.environ.get("WT_REALDATA", os.path.join(SOURCE_ROOT, "..", "shared", "realdata"))
PG_BIN = "/usr/lib/postgresql/15/bin"

_children = []


def _reap():
    for p in reversed(_children):
        if isinstance(p, subprocess.Popen):
            stop_pid(p)
        else:
            p.stop()


atexit.register(_reap)


def _on_signal(signum, frame):
    _reap()
    sys.exit(128 + signum)


signal.signal(signal.SIGTERM, _on_signal)


def stop_pid(proc, sig=signal.SIGTERM, timeout=10):
    """Stops a Popen by PID: sig, then SIGKILL after timeout seconds."""
    if proc.poll() is not None:
        return proc.returncode
    try:
        os.kill(proc.pid, sig)
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        return proc.wait()
    except ProcessLookupError:
        return proc.poll()


def spawn(argv, **kw):
    """Starts a child that is stopped by PID at exit."""
    p = subprocess.Popen(argv, **kw)
    _children.append(p)
    return p


def free_port(kind=socket.SOCK_STREAM):
    """A port that is free on 127.0.0.1 for both TCP and UDP right now."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, kind) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        other = socket.SOCK_DGRAM if kind == socket.SOCK_STREAM else socket.SOCK_STREAM
        try:
            with socket.socket(socket.AF_INET, other) as s2:
                s2.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
    raise RuntimeError("no free port on 127.0.0.1")


def wait_tcp(port, timeout=15.0, host="127.0.0.1"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout}s")


def tmpdir(prefix="wt-test-"):
    """A temporary directory, removed at exit, readable by the postgres user."""
    d = tempfile.mkdtemp(prefix=prefix)
    os.chmod(d, 0o755)
    atexit.register(shutil.rmtree, d, True)
    return d


def _as_postgres():
    """initdb and postgres refuse root: run them as the postgres user."""
    return os.geteuid() == 0


class Postgres:
    """A private PostgreSQL 15 cluster on 127.0.0.1 and a free port."""

    def __init__(self, base=None):
        self.base = base or tmpdir("wt-pg-")
        self.data = os.path.join(self.base, "data")
        self.sock = os.path.join(self.base, "sock")
        self.port = free_port()
        os.makedirs(self.sock, exist_ok=True)
        if _as_postgres():
            pw = pwd.getpwnam("postgres")
            os.chown(self.base, pw.pw_uid, pw.pw_gid)
            os.chown(self.sock, pw.pw_uid, pw.pw_gid)
        self._run([f"{PG_BIN}/initdb", "-D", self.data, "-A", "trust", "-E", "UTF8",
                   "--no-locale", "-U", "postgres"], stdout=subprocess.DEVNULL)
        self.start()
        self.dsn = f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres"
        _children.append(self)

    def _run(self, argv, **kw):
        if _as_postgres():
            argv = ["runuser", "-u", "postgres", "--"] + argv
        subprocess.run(argv, check=True, **kw)

    def start(self):
        self._run([f"{PG_BIN}/pg_ctl", "-D", self.data, "-w", "-s", "-l",
                   os.path.join(self.base, "log"), "-o",
                   f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.sock} "
                   "-c fsync=off -c full_page_writes=off", "start"])

    def stop(self, mode="fast"):
        if os.path.exists(os.path.join(self.data, "postmaster.pid")):
            argv = [f"{PG_BIN}/pg_ctl", "-D", self.data, "-w", "-s", "-m", mode, "stop"]
            if _as_postgres():
                argv = ["runuser", "-u", "postgres", "--"] + argv
            subprocess.run(argv)

    @property
    def pid(self):
        with open(os.path.join(self.data, "postmaster.pid")) as f:
            return int(f.readline())

    def sql(self, query, db="postgres"):
        """Runs SQL with psql; returns rows as lists of strings."""
        out = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1",
                              "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", db,
                              "-c", query], check=True, capture_output=True, text=True).stdout
        return [line.split("\t") for line in out.splitlines() if line]


class Snmpsimd:
    """snmpsimd serving .snmprec files; the community is the file's base name."""

    def __init__(self, files):
        self.dir = tmpdir("wt-snmpsim-")
        data = os.path.join(self.dir, "data")
        os.makedirs(data)
        for f in files:
            os.symlink(os.path.abspath(f), os.path.join(data, os.path.basename(f)))
        cache = os.path.join(self.dir, "cache")
        os.makedirs(cache)
        os.chmod(cache, 0o777)
        self.port = free_port(socket.SOCK_DGRAM)
        argv = ["snmpsimd", f"--data-dir={data}", f"--cache-dir={cache}",
                f"--agent-udpv4-endpoint=127.0.0.1:{self.port}",
                f"--logging-method=file:{os.path.join(self.dir, 'log')}"]
        if os.geteuid() == 0:
            argv += ["--process-user=nobody", "--process-group=nogroup"]
        self.proc = spawn(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        community = os.path.splitext(os.path.basename(files[0]))[0]
        deadline = time.time() + 60
        while time.time() < deadline:
            r = subprocess.run(["snmpget", "-v2c", "-c", community, "-t", "0.5", "-r", "0",
                                "-On", f"127.0.0.1:{self.port}", "1.3.6.1.2.1.1.2.0"],
                               capture_output=True, env=dict(os.environ, MIBS=""))
            if r.returncode == 0:
                return
            if self.proc.poll() is not None:
                raise RuntimeError("snmpsimd exited at start")
            time.sleep(0.2)
        raise TimeoutError("snmpsimd did not answer")

    def stop(self):
        stop_pid(self.proc)


def until(pred, timeout, step=0.3):
    """pred()'s first true value within timeout seconds, else its last value."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


def pg_query(dsn, sql, args=()):
    """Rows of one statement (None for one without rows) on a fresh autocommit
    connection (psycopg2)."""
    import psycopg2
    c = psycopg2.connect(dsn)
    c.autocommit = True
    try:
        cur = c.cursor()
        cur.execute(sql, args)
        return cur.fetchall() if cur.description else None
    finally:
        c.close()


def snmprec(name):
    """Path of a real recording in ../shared/realdata/snmprec."""
    return os.path.join(REALDATA, "snmprec", name)


class Failures:
    """Collects check failures so a test reports all of them, then exits 1."""

    def __init__(self):
        self.items = []
        self.checks = 0

    def check(self, cond, msg):
        self.checks += 1
        if not cond:
            self.items.append(msg)
            print("FAIL:", msg, flush=True)
        return cond

    def done(self):
        print(f"{self.checks - len(self.items)} of {self.checks} checks passed")
        if self.checks == 0:
            print("FAIL: no check ran")
            sys.exit(1)
        sys.exit(1 if self.items else 0)
