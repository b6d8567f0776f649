"""Shared by the Redfish tests of wattrack-sim: a simulator started from a
fleet file with distinct Redfish ports, and a curl wrapper that returns the
exit code, HTTP status, headers and body. F collects the test's checks."""

import json
import os
import select
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.join(os.environ["WT_SOURCE_ROOT"], "tests/lib"))
from wtfix import *  # noqa: E402,F401,F403

SIM = os.environ.get("WT_SIM") or os.path.join(BUILD_ROOT, "tests/sim/wattrack-sim")
F = Failures()


def distinct_ports(n):
    """n different free TCP ports (free_port() alone may repeat one)."""
    got = []
    while len(got) < n:
        p = free_port()
        if p not in got:
            got.append(p)
    return got


class Sim:
    """wattrack-sim with a fleet written by the test; ports come from --write-fleet."""

    def __init__(self, devices):
        self.dir = tmpdir("wt-simproto-")
        fleet = os.path.join(self.dir, "fleet.json")
        # explicit, distinct ports and credentials for every Redfish device
        ports = distinct_ports(2 * len(devices))
        for i, d in enumerate(devices):
            d.setdefault("http", {"port": ports[2 * i], "https_port": ports[2 * i + 1], "user": "admin",
                                  "password": "rf-secret-%d" % i})
        with open(fleet, "w") as f:
            json.dump({"devices": devices}, f)
        out = os.path.join(self.dir, "out.json")
        self.errlog = os.path.join(self.dir, "stderr")
        self.proc = spawn([SIM, "--fleet", fleet, "--write-fleet", out],
                          stdout=subprocess.PIPE, stderr=open(self.errlog, "w"), text=True)
        r, _, _ = select.select([self.proc.stdout], [], [], 30)
        line = self.proc.stdout.readline() if r else ""
        if not line.startswith("READY"):
            raise RuntimeError("wattrack-sim did not start: %r %s" % (line, open(self.errlog).read()))
        with open(out) as f:
            self.fleet = json.load(f)
        self.devices = self.fleet["devices"]
        self.control = self.fleet["control_port"]

    def api(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request("http://127.0.0.1:%d/api%s" % (self.control, path),
                                     data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())

    def state(self, dev):
        return self.api("GET", "/devices/%d" % dev)

    def faults(self, dev, **kw):
        return self.api("POST", "/devices/%d/faults" % dev, kw)

    def clear(self, dev):
        return self.api("DELETE", "/devices/%d/faults" % dev)

    def stop(self):
        """Stops by SIGTERM; the exit status carries ASan/LSan findings."""
        rc = stop_pid(self.proc)
        log = open(self.errlog).read()
        F.check(rc == 0, "wattrack-sim exit status %s; stderr tail: %s" % (rc, log[-3000:]))
        F.check("Sanitizer" not in log, "sanitizer report in wattrack-sim stderr: " + log[-3000:])


WORK = tmpdir("wt-redfish-")


def curl(url, auth=None, method=None, data=None, headers=(), timeout=5, extra=()):
    """Runs curl; returns (exit code, HTTP status, {header: value}, body bytes)."""
    bf, hf = os.path.join(WORK, "body"), os.path.join(WORK, "hdr")
    for p in (bf, hf):
        if os.path.exists(p):
            os.unlink(p)
    argv = ["curl", "-s", "-g", "-m", str(timeout), "-o", bf, "-D", hf, "-w", "%{http_code}"]
    if auth:
        argv += ["-u", "%s:%s" % auth]
    if method:
        argv += ["-X", method]
    if data is not None:
        argv += ["-H", "Content-Type: application/json", "--data-binary", json.dumps(data)]
    for h in headers:
        argv += ["-H", h]
    argv += list(extra) + [url]
    p = subprocess.run(argv, capture_output=True, text=True)
    hdrs = {}
    if os.path.exists(hf):
        for line in open(hf, errors="replace"):
            if ":" in line:
                k, v = line.split(":", 1)
                hdrs[k.strip().lower()] = v.strip()
    body = open(bf, "rb").read() if os.path.exists(bf) else b""
    status = int(p.stdout or 0) if (p.stdout or "0").isdigit() else 0
    return p.returncode, status, hdrs, body
