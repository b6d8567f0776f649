"""Shared by the Redfish tests of wattrack-sim: a simulator started from a
fleet file with distinct Redfish ports, and a curl wrapper that returns the
exit code, HTTP status, headers and body. F collects the test's checks."""

import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.environ["WT_SOURCE_ROOT"], "tests/lib"))
from wtfix import *  # noqa: E402,F401,F403
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from simfix import redfish_sim  # noqa: E402

F = Failures()


def Sim(devices):
    """The Redfish tests' simulator (simfix.redfish_sim), checks into F."""
    return redfish_sim(devices, F)


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
