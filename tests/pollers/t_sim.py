"""The SNMP poller against wattrack-sim: every SNMPv3 auth/priv combination the simulator
offers, wrong credentials, outlet control (on/off/cycle/delayed, verified against the
simulator's ground truth, refused with the read-only community), unknown devices, and
faults (timeout, garbage, truncated answers, tooBig, reboot) read through wattrack-probe."""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.environ["WT_SOURCE_ROOT"], "tests/sim"))
from simfix import Sim  # noqa: E402
from wtfix import BUILD_ROOT, SOURCE_ROOT, Failures  # noqa: E402

PROBE = os.path.join(BUILD_ROOT, "pollers", "wattrack-probe")
PROFILES = os.path.join(SOURCE_ROOT, "pollers", "profiles")
F = Failures()
sim = Sim(["--generate", "pdus=12,ups=1,outlets=8"])
port = sim.snmp_port
AUTH = {"md5": "MD5", "sha": "SHA", "sha224": "SHA-224", "sha256": "SHA-256",
        "sha384": "SHA-384", "sha512": "SHA-512"}
PRIV = {"des": "DES", "aes": "AES"}


def probe(url, *extra, timeout=1000):
    r = subprocess.run([PROBE, "-p", PROFILES, "-t", str(timeout), "-r", "1", *extra, url],
                       capture_output=True, text=True, timeout=60)
    try:
        j = json.loads(r.stdout)
    except ValueError:
        j = {}
    return r.returncode, j, r.stderr


def v3url(d, auth_pass=None):
    v = d["snmp"]["v3"]
    user = v["user"]
    q = f"context={d['snmp']['context']}"
    if v["auth"] == "none":
        return f"snmpv3://{user}@127.0.0.1:{port}?{q}"
    q += f"&auth={AUTH[v['auth']]}"
    if v["priv"] == "none":
        return f"snmpv3://{user}:{auth_pass or v['auth_pass']}@127.0.0.1:{port}?{q}"
    q += f"&priv={PRIV[v['priv']]}"
    return f"snmpv3://{user}:{auth_pass or v['auth_pass']}:{v['priv_pass']}@127.0.0.1:{port}?{q}"


def v2(d, write=False):
    s = d["snmp"]
    return f"snmp://{s['write_community'] if write else s['community']}@127.0.0.1:{port}"


apcs = [d for d in sim.devices if d["model"] == "apc-rpdu2"]
ups = [d for d in sim.devices if d["model"] == "ups-mib"][0]
apc = apcs[0]

# v2c + profile + identity against the simulator's ground truth
rc, j, err = probe(v2(apc))
F.check(rc == 0 and j.get("profile", {}).get("name") == "apc-rpdu2", f"apc v2c: {rc} {j.get('error')} {err}")
F.check((j.get("identity") or {}).get("serial") == apc["serial"], f"serial {j.get('identity')}")
outlets = [e for e in j.get("entities", []) if e["kind"] == "outlet"]
F.check(len(outlets) == 8, f"8 outlets learned from the table walk, got {len(outlets)}")
truth = sim.state(apc["id"])["pdu"]["units"][0]
ph = [e for e in j.get("entities", []) if e["kind"] == "phase"]
if F.check(ph, "a phase entity"):
    v = {r["metric"]: r["value"] for r in ph[0]["readings"]}
    F.check(abs(v["voltage"] - truth["lines"][0]["voltage"]) < 2.0,
            f"phase voltage {v['voltage']} vs sim {truth['lines'][0]['voltage']}")

# every v3 auth/priv combination in the fleet
seen = set()
for d in sim.devices:
    v = d["snmp"]["v3"]
    key = (v["auth"], v["priv"])
    if key in seen or d["protocol"] != "snmp":
        continue
    seen.add(key)
    rc, j, err = probe(v3url(d))
    F.check(rc in (0, 2) and j.get("status") in ("ok", "no_profile") and j["sys"]["name"] == d["name"],
            f"v3 {key}: rc {rc} status {j.get('status')} {j.get('error')} {err[-300:]}")
F.check(len(seen) >= 8, f"only {len(seen)} v3 combinations covered")
rc, j, _ = probe(v3url(apc, auth_pass="not-the-password"))
F.check(rc == 1 and j.get("status") == "auth_failed", f"wrong v3 password: {rc} {j.get('status')}")
F.check("not-the-password" not in json.dumps(j), "secret echoed in output")
rc, j, _ = probe(f"snmp://nope@127.0.0.1:{port}", timeout=300)
F.check(rc == 1 and j.get("status") == "unreachable", f"wrong community: {rc} {j.get('status')}")

# unknown devices are reported, never dropped
for d in sim.devices:
    rc, j, _ = probe(v2(d))
    if j.get("status") == "no_profile":
        F.check(rc == 2 and j["sys"]["object_id"] in j["error"], f"{d['model']}: {j.get('error')}")
    else:
        F.check(rc == 0, f"{d['model']}: probe rc {rc} {j.get('error')}")


# outlet control, verified against the simulator
def sim_outlet(d, idx):
    return sim.state(d["id"])["pdu"]["units"][0]["outlets"][idx - 1]


rc, j, _ = probe(v2(apc, write=True), "-c", "3:off")
F.check(rc == 0 and j["control"]["ok"], f"off: {j.get('control')}")
F.check(not sim_outlet(apc, 3)["on"], "sim says outlet 3 is still on")
rc, j, _ = probe(v2(apc, write=True), "-c", "3:on")
F.check(rc == 0 and j["control"]["ok"] and sim_outlet(apc, 3)["on"], f"on: {j.get('control')}")
rc, j, _ = probe(v2(apc, write=True), "-c", "4:delayed_off")
F.check(rc == 0 and j["control"]["ok"], f"delayed_off accepted: {j.get('control')}")
F.check(sim_outlet(apc, 4)["pending"] == "off", f"sim pending action {sim_outlet(apc, 4)['pending']}")
rc, j, _ = probe(v2(apc, write=True), "-c", "5:cycle")
F.check(rc == 0 and j["control"]["ok"], f"cycle: {j.get('control')}")
rc, j, _ = probe(v2(apc), "-c", "3:off")
F.check(rc == 3 and "no permission" in (j["control"]["error"] or ""), f"read-only: {j.get('control')}")
F.check(sim_outlet(apc, 3)["on"], "a refused command switched the outlet")
rc, j, _ = probe(v2(apc, write=True), "-c", "99:off")
F.check(rc == 3 and j["control"]["error"] == "no such outlet", f"outlet 99: {j.get('control')}")
rc, j, _ = probe(v2(ups, write=True), "-c", "1:off")
F.check(rc == 3, f"UPS has no switchable outlet 1: {j.get('control')}")


# faults
def fault(d, **kw):
    st, _ = sim.post(d["id"], "faults", dict(kw, clear=True))
    F.check(st == 200, f"set fault {kw}")


def clear(d):
    sim.api("DELETE", f"/api/devices/{d['id']}/faults")


b = apcs[1]
for kw, want in (({"timeout": True}, "unreachable"), ({"garbage": True}, "unreachable"),
                 ({"truncated": True}, "unreachable"), ({"snmp_error": "generr"}, "unreachable")):
    fault(b, **kw)
    t0 = time.time()
    rc, j, err = probe(v2(b), timeout=300)
    F.check(rc == 1 and j.get("status") == want, f"fault {kw}: rc {rc} {j.get('status')} {err[-300:]}")
    F.check(time.time() - t0 < 5, f"fault {kw}: probe took {time.time() - t0:.1f}s")
    clear(b)
fault(b, snmp_error="toobig")
rc, j, _ = probe(v2(b), timeout=300)
F.check(rc == 1 and "tooBig" not in json.dumps(j.get("entities", [])), f"tooBig everywhere: {j.get('status')}")
clear(b)
rc, j, _ = probe(v2(b))
F.check(rc == 0, f"answers again after the faults: {j.get('error')}")

sim.stop()
F.done()
