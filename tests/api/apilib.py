"""Helpers for the API tests: a real PostgreSQL with the auth migration, the
wt-api-testd host process, and a small HTTP(S) client that keeps cookies
and the CSRF token like a browser page would."""

import http.client
import json
import os
import re
import ssl
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.environ["WT_SOURCE_ROOT"], "tests/lib"))
from wtfix import *  # noqa: F401,F403,E402
from wtfix import Postgres, free_port, spawn, stop_pid, tmpdir, SOURCE_ROOT  # noqa: E402
from wtfix import until, pg_query as query  # noqa: E402,F401 (used by the tests)

TESTD = os.environ.get("WT_API_TESTD") or os.path.join(
    os.environ.get("WT_BUILD_ROOT", ""), "tests/api/wt-api-testd")


def daemon_admin(w, new_password):
    """Logs in to a daemon started by tests/integration/wtdaemon.py with the
    one-time admin password from its log, sets new_password, and returns
    (API port, a logged-in admin Client)."""
    i = w.wait_for(r'created user "admin" with one-time password', timeout=30)
    pw = re.search(r"one-time password (\S+)", w.lines[i]).group(1) if i is not None else ""
    i = w.wait_for(r"API listening on http://127\.0\.0\.1:(\d+)", timeout=5)
    port = int(re.search(r":(\d+)/api", w.lines[i]).group(1)) if i is not None else 0
    c = Client(port)
    c.login("admin", pw)
    c.call("POST", "/api/v1/session/password", {"current_password": pw, "new_password": new_password})
    c = Client(port)
    c.login("admin", new_password)
    return port, c


def migrated_postgres():
    """A private PostgreSQL with every migration the API needs applied."""
    pg = Postgres()
    for f in sorted(os.listdir(os.path.join(SOURCE_ROOT, "migrations"))):
        if re.match(r"002\d_.*\.sql$", f):
            subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1",
                            "-p", str(pg.port), "-U", "postgres", "-d", "postgres",
                            "-f", os.path.join(SOURCE_ROOT, "migrations", f)],
                           check=True, capture_output=True)
    return pg


class Testd:
    """wt-api-testd with a JSON config; stopped by PID at exit."""

    def __init__(self, pg, **cfg):
        self.dir = tmpdir("wt-api-")
        self.cfg = {"db": pg.dsn, "http_mode": "on", "http_port": free_port(),
                    "state_dir": self.dir, "scrypt_log2n": 10, "request_timeout": 15}
        self.cfg.update(cfg)
        path = os.path.join(self.dir, "config.json")
        with open(path, "w") as f:
            json.dump(self.cfg, f)
        self.log = os.path.join(self.dir, "stderr.log")
        self.lines = []
        self.proc = spawn([TESTD, path], stdout=subprocess.PIPE, stderr=open(self.log, "w"),
                          text=True)
        ready = self.proc.stdout.readline()
        m = re.match(r"READY http=(\d+) https=(\d+)", ready)
        if not m:
            raise RuntimeError(f"wt-api-testd did not start: {ready!r}\n{self.stderr()}")
        self.http_port, self.https_port = int(m.group(1)), int(m.group(2))
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def stderr(self):
        with open(self.log) as f:
            return f.read()

    def admin_password(self, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            m = re.search(r'created user "admin" with one-time password (\S+)', self.stderr())
            if m:
                return m.group(1)
            time.sleep(0.05)
        raise TimeoutError("no one-time admin password in the log:\n" + self.stderr())

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        """SIGTERM; returns the exit status (0 means a clean stop)."""
        return stop_pid(self.proc)

    def client(self, tls=False, **kw):
        return Client(self.https_port if tls else self.http_port, tls=tls, **kw)


class Client:
    def __init__(self, port, tls=False, cafile=None, host="127.0.0.1"):
        self.port, self.tls, self.host = port, tls, host
        self.cookie = None
        self.csrf = None
        self.token = None
        self.ctx = None
        if tls:
            self.ctx = ssl.create_default_context(cafile=cafile) if cafile else \
                ssl._create_unverified_context()
            if cafile:
                self.ctx.check_hostname = False

    def raw(self, method, path, body=None, headers=None, timeout=30):
        """One request on a fresh connection: (status, headers dict, parsed body or text)."""
        if self.tls:
            c = http.client.HTTPSConnection(self.host, self.port, timeout=timeout,
                                            context=self.ctx)
        else:
            c = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        h = dict(headers or {})
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
            h.setdefault("Content-Type", "application/json")
        try:
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            data = r.read()
            hdrs = {k.lower(): v for k, v in r.getheaders()}
            cookies = [v for k, v in r.getheaders() if k.lower() == "set-cookie"]
            hdrs["set-cookie-all"] = cookies
        finally:
            c.close()
        try:
            parsed = json.loads(data) if data else None
        except ValueError:
            parsed = data.decode("utf-8", "replace")
        return r.status, hdrs, parsed

    def call(self, method, path, body=None, csrf=True, headers=None):
        h = dict(headers or {})
        if self.token:
            h["Authorization"] = "Bearer " + self.token
        if self.cookie:
            h["Cookie"] = "wt_session=" + self.cookie
            if csrf and self.csrf and method != "GET":
                h["X-CSRF-Token"] = self.csrf
        st, hdrs, js = self.raw(method, path, body, h)
        for sc in hdrs["set-cookie-all"]:
            m = re.match(r"wt_session=([^;]*)", sc)
            if m:
                self.cookie = m.group(1) or None
        return st, hdrs, js

    def login(self, user, password):
        st, hdrs, js = self.call("POST", "/api/v1/session", {"username": user, "password": password})
        if st == 200:
            self.csrf = js["csrf_token"]
        return st, hdrs, js


def err_code(js):
    try:
        return js["error"]["code"]
    except (TypeError, KeyError):
        return None


def is_error_shape(js):
    return (isinstance(js, dict) and list(js) == ["error"] and
            isinstance(js["error"].get("code"), str) and
            re.fullmatch(r"[A-Z][A-Z_]*", js["error"]["code"]) is not None and
            isinstance(js["error"].get("message"), str) and js["error"]["message"] != "")
