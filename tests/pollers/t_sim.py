"""The SNMP poller against wattrack-sim: every SNMPv3 auth/priv combination the simulator
offers, wrong credentials, outlet control (on/off/cycle/delayed, verified against the
simulator's ground truth, refused with the read-only community), unknown devices, and
faults (timeout, garbage, truncated answers, tooBig, reboot) read through wattrack-probe; and
the poll path (tests/pollers/t_control_run --poll-stats): an APC rPDU2 with 24 outlets is
polled in one GETBULK per poll over v2c and v3, by multi-OID GETs over v1, and still reads
every value when the agent's messages are capped (short GETBULK answers continue from the
last index)."""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.environ["WT_SOURCE_ROOT"], "tests/sim"))
from simfix import Sim  # noqa: E402
from wtfix import BUILD_ROOT, SOURCE_ROOT, Failures  # noqa: E402

PROBE = os.path.join(BUILD_ROOT, "pollers", "wattrack-probe")
POLLER = os.path.join(BUILD_ROOT, "tests", "pollers", "t_control_run")
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


# ---- the poll path: GETBULK, request counts, short answers ----
def poll_stats(url, polls=5):
    r = subprocess.run([POLLER, "--poll-stats", url, str(polls), "1000"],
                       capture_output=True, text=True, timeout=120)
    if not F.check(r.returncode == 0, f"poll-stats {url.split('@')[-1]}: exit {r.returncode} {r.stderr[-500:]}"):
        return None
    return json.loads(r.stdout)


fleet_in = os.path.join(sim.dir, "apc24.json")
with open(fleet_in, "w") as f:
    json.dump({"devices": [{"id": 1, "name": "pdu-24", "kind": "pdu", "model": "apc-rpdu2", "protocol": "snmp",
                            "wiring": "wye", "outlets": 24, "units": 1,
                            "snmp": {"community": "public", "write_community": "private",
                                     "context": "dev-1",
                                     "v3": {"user": "poller", "auth": "sha256", "priv": "aes",
                                            "auth_pass": "auth-pass-24", "priv_pass": "priv-pass-24"}}}]},
              f)
sim24 = Sim(["--fleet", fleet_in])
d24 = sim24.devices[0]
u24 = f"snmp://public@127.0.0.1:{sim24.snmp_port}"
DYNAMIC = 132  # 24 outlets x 4, 3 phases x 6, 2 banks x 2, total x 4 (pollers/profiles/apc-rpdu2.json)
POLLS = 5
j = poll_stats(u24, POLLS)
if j:
    F.check(j["ok"] == POLLS, f"v2c polls ok: {j['ok']}/{POLLS} {j['error']}")
    F.check(j["requests"] == POLLS and j["getbulk"] == POLLS,
            f"v2c: one GETBULK per poll of 24 outlets: {j['requests']} requests, {j['getbulk']} GETBULK "
            f"in {POLLS} polls")
    F.check(j["samples"] == DYNAMIC * POLLS, f"v2c: {DYNAMIC} readings per poll, got {j['samples'] / POLLS}")
    F.check(j["columns"] == 4 and j["column_points"] == 96 and j["repetitions"] == 24,
            f"v2c plan: the outlet table's 4 columns repeated 24 times: {j}")
    F.check(all(b is not None and p is not None for _, b, p in j["dynamic"]),
            "v2c: every dynamic reading polled: "
            + str([o for o, b, p in j["dynamic"] if b is None or p is None][:5]))
    # outlet power read by GETBULK equals the simulator's ground truth order of magnitude
    truth = sim24.state(d24["id"])["pdu"]["units"][0]
    volts = [p for o, b, p in j["dynamic"] if o.startswith("1.3.6.1.4.1.318.1.1.26.6.3.1.6.")]
    F.check(len(volts) == 3 and all(p is not None and abs(p - truth["lines"][0]["voltage"]) < 15 for p in volts),
            f"phase voltages by GETBULK {volts} vs sim {truth['lines'][0]['voltage']}")
v3 = d24["snmp"]["v3"]
j = poll_stats(f"snmpv3://{v3['user']}:{v3['auth_pass']}:{v3['priv_pass']}@127.0.0.1:{sim24.snmp_port}"
               f"?auth=SHA-256&priv=AES&context={d24['snmp']['context']}", POLLS)
if j:
    F.check(j["ok"] == POLLS and j["requests"] == POLLS and j["getbulk"] == POLLS
            and j["samples"] == DYNAMIC * POLLS,
            f"v3 authPriv: one GETBULK per poll: {j['requests']} requests, {j['samples']} samples, {j['error']}")
j = poll_stats(f"snmpv1://public@127.0.0.1:{sim24.snmp_port}", POLLS)
if j:
    per = -(-(DYNAMIC + 1) // j["max_oids"])
    F.check(j["ok"] == POLLS and j["getbulk"] == 0 and j["requests"] == per * POLLS
            and j["samples"] == DYNAMIC * POLLS,
            f"v1: {per} GETs per poll, no GETBULK: {j['requests']} requests, {j['getbulk']} GETBULK, "
            f"{j['samples']} samples")
# a small agent: answers of at most 484 bytes. GETBULK answers come back short and the poll
# continues from the last index received; every reading still arrives.
st, _ = sim24.post(d24["id"], "faults", {"snmp_max_size": 484, "clear": True})
F.check(st == 200, "set snmp_max_size")
j = poll_stats(u24, 3)
if j:
    F.check(j["ok"] == 3 and j["samples"] == DYNAMIC * 3,
            f"484-byte agent: all readings ({j['samples']} of {DYNAMIC * 3}, {j['error']})")
    F.check(j["requests"] > 3 and j["getbulk"] == j["requests"],
            f"484-byte agent: short GETBULK answers continued: {j['requests']} requests in 3 polls")
    F.check(all(p is not None for _, b, p in j["dynamic"]), "484-byte agent: a reading lost")
# (SNMPv1 against a 484-byte agent is not tested: its bind already fails before the poll
# path is reached, with the base code as with this one; see pollers/README.md.)
sim24.stop()
F.done()
