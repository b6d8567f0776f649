"""Fixtures for wattrack-sim tests: start the simulator, talk to its control
API, and run net-snmp's command-line tools against it.

    import sys, os; sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from simfix import *
"""

import json
import os
import re
import select
import subprocess
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.environ.get(
    "WT_SOURCE_ROOT", os.path.join(os.path.dirname(os.path.abspath(__file__)), "../..")), "tests/lib"))
from wtfix import *  # noqa: E402,F401,F403
from wtfix import spawn, stop_pid, tmpdir, free_port, Failures, REALDATA, SOURCE_ROOT  # noqa: E402,F401

SIM = os.environ.get("WT_SIM") or os.path.join(
    os.environ.get("WT_BUILD_ROOT", "build"), "tests/sim/wattrack-sim")
os.environ["MIBS"] = ""


class Sim:
    """A running wattrack-sim. args are extra command-line arguments."""

    def __init__(self, args=(), timeout=60):
        self.dir = tmpdir("wt-sim-")
        self.fleet_path = os.path.join(self.dir, "fleet.json")
        argv = [SIM, "--write-fleet", self.fleet_path] + list(args)
        self.proc = spawn(argv, stdout=subprocess.PIPE, stderr=None, text=True)
        line = ""
        deadline = time.time() + timeout
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line or line.startswith("READY"):
                break
        if not line.startswith("READY"):
            raise RuntimeError(f"wattrack-sim did not start: {line!r} rc={self.proc.poll()}")
        kv = dict(x.split("=") for x in line.split()[1:])
        self.snmp_port = int(kv["snmp"])
        self.control_port = int(kv["control"])
        self.n_devices = int(kv["devices"])
        with open(self.fleet_path) as f:
            self.fleet = json.load(f)
        self.devices = self.fleet["devices"]

    def stop(self):
        rc = stop_pid(self.proc)
        return rc

    # -- control API --
    def api(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"http://127.0.0.1:{self.control_port}{path}", data=data,
                                     method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def state(self, dev):
        st, j = self.api("GET", f"/api/devices/{dev}")
        assert st == 200, (st, j)
        return j

    def post(self, dev, action, body):
        return self.api("POST", f"/api/devices/{dev}/{action}", body)

    # -- SNMP --
    def dev(self, pred):
        return [d for d in self.devices if pred(d)]

    def v2c(self, d, write=False):
        s = d["snmp"]
        return ["-v2c", "-c", s["write_community"] if write else s["community"]]

    def v3(self, d, user=None, auth_pass=None, priv_pass=None, context=None):
        v = d["snmp"]["v3"]
        names = {"md5": "MD5", "sha": "SHA", "sha224": "SHA-224", "sha256": "SHA-256",
                 "sha384": "SHA-384", "sha512": "SHA-512", "des": "DES", "aes": "AES"}
        a = ["-v3", "-u", user or v["user"], "-n", context if context is not None else d["snmp"]["context"]]
        if v["auth"] == "none":
            return a + ["-l", "noAuthNoPriv"]
        a += ["-a", names[v["auth"]], "-A", auth_pass or v["auth_pass"]]
        if v["priv"] == "none":
            return a + ["-l", "authNoPriv"]
        return a + ["-l", "authPriv", "-x", names[v["priv"]], "-X", priv_pass or v["priv_pass"]]

    def snmp(self, tool, auth, *args, port=None, timeout=2, retries=1):
        """Runs a net-snmp tool; returns (rc, [(oid, type, value)], stderr)."""
        argv = [tool, "-On", "-Oe", "-Ot", "-t", str(timeout), "-r", str(retries)] + auth + \
            [f"127.0.0.1:{port or self.snmp_port}"] + list(args)
        p = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        return p.returncode, parse_snmp(p.stdout), p.stderr


def distinct_ports(n):
    """n different free TCP ports (free_port() alone may repeat one)."""
    got = []
    while len(got) < n:
        p = free_port()
        if p not in got:
            got.append(p)
    return got


def modbus_endpoints(devices):
    """Explicit Modbus endpoints: one shared port, unit ids 1, 5, 9, ... (room for
    daisy chains); a device that names its own keeps it."""
    mport = distinct_ports(1)[0]
    for i, d in enumerate(devices):
        d.setdefault("modbus", {"port": mport, "unit": 1 + 4 * i})


def redfish_endpoints(devices):
    """Explicit, distinct HTTP and HTTPS ports and credentials for every Redfish device."""
    ports = distinct_ports(2 * len(devices))
    for i, d in enumerate(devices):
        d.setdefault("http", {"port": ports[2 * i], "https_port": ports[2 * i + 1], "user": "admin",
                              "password": "rf-secret-%d" % i})


class FleetSim:
    """wattrack-sim with a fleet the test writes. endpoints(devices) gives the devices
    explicit ports (modbus_endpoints, redfish_endpoints); the simulator's --write-fleet
    output is read back. stop() records its exit status and any sanitizer report as
    checks of failures (a wtfix.Failures)."""

    def __init__(self, devices, failures, endpoints):
        self.F = failures
        self.dir = tmpdir("wt-simproto-")
        fleet = os.path.join(self.dir, "fleet.json")
        endpoints(devices)
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
        """The control API at /api + path; returns the decoded answer, raises on HTTP errors."""
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
        self.F.check(rc == 0, "wattrack-sim exit status %s; stderr tail: %s" % (rc, log[-3000:]))
        self.F.check("Sanitizer" not in log, "sanitizer report in wattrack-sim stderr: " + log[-3000:])


def modbus_sim(devices, failures):
    """A FleetSim whose Modbus devices share one port (unit ids 1, 5, 9, ...)."""
    return FleetSim(devices, failures, modbus_endpoints)


def redfish_sim(devices, failures):
    """A FleetSim whose Redfish devices each have their own HTTP and HTTPS ports."""
    return FleetSim(devices, failures, redfish_endpoints)


def wattrack_fleet():
    """scripts/wattrack-fleet.py as a module: load(conn, fleet) registers a fleet's
    devices, structure and default rules as an operator would."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        "wtfleet", os.path.join(SOURCE_ROOT, "scripts", "wattrack-fleet.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def port_range_sim(args, tries=4):
    """A Sim in port-range mode. The base is picked below Linux's ephemeral
    range (32768+), where nothing else binds by chance; retried if taken."""
    import random
    err = None
    for _ in range(tries):
        base = random.randrange(20000, 32000 - 200, 100)
        try:
            return Sim(list(args) + ["--snmp-port-base", str(base)]), base
        except RuntimeError as e:
            err = e
    raise err


_LINE = re.compile(r"^(\.[0-9.]+) = (?:([A-Za-z0-9-]+): ?)?(.*)$")


def parse_snmp(out):
    rows = []
    for line in out.splitlines():
        m = _LINE.match(line)
        if m:
            oid, typ, val = m.group(1), m.group(2) or "", m.group(3)
            if typ == "" and val.startswith("No Such"):
                typ = "NoSuch"
            elif typ == "" and val.startswith('"'):
                typ = "STRING"  # net-snmp prints an empty string without its type
            if val.startswith('"') and val.endswith('"'):
                val = val[1:-1]
            rows.append((oid.lstrip("."), typ, val))
        elif rows and not line.startswith("."):
            o, t, v = rows[-1]  # a multi-line string value continues
            rows[-1] = (o, t, v + "\n" + line)
    return rows


def num(v):
    return float(v.split()[0])


# -- a tiny raw SNMP v2c client, for counting answers without net-snmp's retries --
def _ber_len(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def _tlv(tag, body):
    return bytes([tag]) + _ber_len(len(body)) + body


def _int(v):
    return _tlv(0x02, v.to_bytes(max(1, (v.bit_length() + 8) // 8), "big", signed=True))


def _oid(s):
    arcs = [int(x) for x in s.strip(".").split(".")]
    out = bytearray([arcs[0] * 40 + arcs[1]])
    for a in arcs[2:]:
        enc = [a & 0x7f]
        a >>= 7
        while a:
            enc.append(0x80 | (a & 0x7f))
            a >>= 7
        out += bytes(reversed(enc))
    return _tlv(0x06, bytes(out))


def v2c_get(community, oid, reqid):
    vb = _tlv(0x30, _oid(oid) + b"\x05\x00")
    pdu = _tlv(0xa0, _int(reqid) + _int(0) + _int(0) + _tlv(0x30, vb))
    return _tlv(0x30, _int(1) + _tlv(0x04, community.encode()) + pdu)


def udp_exchange(port, packets, wait=1.0):
    """Sends every packet to 127.0.0.1:port; returns the answers received
    within wait seconds after the last one."""
    import socket
    import select
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    answers = []
    for p in packets:
        s.sendto(p, ("127.0.0.1", port))
    deadline = time.time() + wait
    while True:
        left = deadline - time.time()
        if left <= 0:
            break
        r, _, _ = select.select([s], [], [], left)
        if not r:
            break
        answers.append(s.recv(65535))
    s.close()
    return answers
