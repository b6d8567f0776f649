"""The Redfish poller against the DMTF public-pdu mockup
(realdata/redfish/public-pdu) served by a static server (rfmock.py).

The oracle walks the mockup itself (PowerEquipment -> RackPDUs / FloorPDUs /
TransferSwitches -> Mains, Branches, Outlets, Metrics, and the chassis
sensors) and lists every reading our vocabulary covers, with its entity, per
DSP0268 and pollers/profiles/REDFISH-MAPPING.md; `wattrack probe` must show
each with the same value at the same entity, and the sink must have seen
it. Then: spot checks by hand, thresholds, basic and session
authentication (wrong password, a login renewed after the service drops the
token), TLS (verification on by default, ca=, insecure=1), and devices that
hang mid-answer, send garbage or malformed JSON."""
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.join(os.environ["WT_SOURCE_ROOT"], "tests/lib"))
from wtfix import (BUILD_ROOT, REALDATA, SOURCE_ROOT, Failures, free_port, spawn,  # noqa: E402
                   stop_pid, tmpdir, wait_tcp)

PROBE = os.path.join(BUILD_ROOT, "pollers", "wattrack-probe")
SCHED = os.path.join(BUILD_ROOT, "tests", "pollers", "t_sched_run")
PROFILES = os.path.join(SOURCE_ROOT, "pollers", "profiles")
RFMOCK = os.path.join(SOURCE_ROOT, "tests", "pollers", "rfmock.py")
MOCK = os.path.join(REALDATA, "redfish", "public-pdu")
F = Failures()
TMP = tmpdir("wt-redfish-")


def mock(*args):
    port = free_port()
    p = spawn(["/usr/bin/python3", RFMOCK, MOCK, str(port), *args], stdout=subprocess.PIPE,
              text=True)
    line = p.stdout.readline()
    assert line.startswith("READY"), line
    wait_tcp(port)
    return p, port


def probe(url, *extra, timeout=2000):
    r = subprocess.run([PROBE, "-p", PROFILES, "-t", str(timeout), *extra, url],
                       capture_output=True, text=True, timeout=120)
    try:
        j = json.loads(r.stdout)
    except ValueError:
        j = {}
    return r.returncode, j, r.stdout + r.stderr


# ---- the oracle: walk the mockup files ----


def res(uri):
    rel = uri.split("?")[0][len("/redfish/v1"):].strip("/")
    with open(os.path.join(MOCK, rel, "index.json")) as f:
        return json.load(f)


def members(coll_ref):
    return [m["@odata.id"] for m in res(coll_ref["@odata.id"])["Members"]]


def num(o, *path):
    for p in path:
        if not isinstance(o, dict) or p not in o:
            return None
        o = o[p]
    return o if isinstance(o, (int, float)) and not isinstance(o, bool) else None


# DSP0268 Circuit/Outlet properties -> metric (REDFISH-MAPPING.md)
OWN = [(("CurrentAmps", "Reading"), "current", 1), (("Voltage", "Reading"), "voltage", 1),
       (("PowerWatts", "Reading"), "power_active", 1),
       (("PowerWatts", "ApparentVA"), "power_apparent", 1),
       (("PowerWatts", "ReactiveVAR"), "power_reactive", 1),
       (("PowerWatts", "PowerFactor"), "power_factor", 1),
       (("EnergykWh", "Reading"), "energy_active", 1000),
       (("FrequencyHz", "Reading"), "frequency", 1), (("RatedCurrentAmps",), "current_rating", 1)]
PHASE = {"Line1ToNeutral": 1, "Line2ToNeutral": 2, "Line3ToNeutral": 3, "Line1ToLine2": 4,
         "Line2ToLine3": 5, "Line3ToLine1": 6, "Line1": 1, "Line2": 2, "Line3": 3}
POLY = [("PolyPhaseVoltage", "Reading", "voltage", 1),
        ("PolyPhaseCurrentAmps", "Reading", "current", 1),
        ("PolyPhasePowerWatts", "Reading", "power_active", 1),
        ("PolyPhasePowerWatts", "ApparentVA", "power_apparent", 1),
        ("PolyPhasePowerWatts", "ReactiveVAR", "power_reactive", 1),
        ("PolyPhasePowerWatts", "PowerFactor", "power_factor", 1),
        ("PolyPhaseEnergykWh", "Reading", "energy_active", 1000)]


def expected():
    exp = {}
    pe = res("/redfish/v1/PowerEquipment")
    units = []
    for c in ("RackPDUs", "FloorPDUs", "TransferSwitches", "PowerShelves"):
        if c in pe:
            units += members(pe[c])
    for u, uri in enumerate(units, 1):
        pdu = res(uri)
        for sub, kind, off in (("Mains", "inlet", 0), ("Branches", "branch", 0),
                               ("Feeders", "branch", 1000), ("Subfeeds", "branch", 2000),
                               ("Outlets", "outlet", 0)):
            if sub not in pdu:
                continue
            for i, m in enumerate(members(pdu[sub]), 1):
                r = res(m)
                idx = i + off
                for path, metric, mul in OWN:
                    v = num(r, *path)
                    if v is not None:
                        exp[(u, kind, idx, metric)] = v * mul
                if num(r, "Voltage", "Reading") is None and \
                        num(r, "PolyPhaseVoltage", "Line1ToNeutral", "Reading") is not None:
                    exp[(u, kind, idx, "voltage")] = r["PolyPhaseVoltage"]["Line1ToNeutral"]["Reading"]
                if kind != "outlet" and "BreakerState" in r:
                    exp[(u, kind, idx, "breaker_tripped")] = 1 if r["BreakerState"] == "Tripped" else 0
                if num(r, "PolyPhaseCurrentAmps", "Neutral", "Reading") is not None:
                    exp[(u, kind, idx, "neutral_current")] = r["PolyPhaseCurrentAmps"]["Neutral"]["Reading"]
                if kind == "outlet" and r.get("PowerState") in ("On", "Off"):
                    exp[(u, kind, idx, "outlet_state")] = 1 if r["PowerState"] == "On" else 0
                if sub == "Mains":
                    for obj, field, metric, mul in POLY:
                        for line, ph in PHASE.items():
                            v = num(r, obj, line, field)
                            if v is not None:
                                exp[(u, "phase", (i - 1) * 6 + ph, metric)] = v * mul
        if "Metrics" in pdu:
            mt = res(pdu["Metrics"]["@odata.id"])
            for path, metric, mul in OWN[2:7]:
                v = num(mt, *path)
                if v is not None:
                    exp[(u, "total", 0, metric)] = v * mul
        sref = pdu.get("Sensors")
        if not sref and pdu.get("Links", {}).get("Chassis"):
            sref = res(pdu["Links"]["Chassis"][0]["@odata.id"]).get("Sensors")
        if sref:
            rank = 0
            for m in members(sref):
                s = res(m)
                metric = {"Temperature": "temperature", "Humidity": "humidity"}.get(
                    s.get("ReadingType"))
                if metric:
                    rank += 1
                    if num(s, "Reading") is not None:
                        exp[(u, "sensor", rank, metric)] = s["Reading"]
    return exp


def got_readings(j):
    out = {}
    for e in j.get("entities", []):
        for r in e["readings"]:
            out[(e["unit"], e["kind"], e["index"], r["metric"])] = r["value"]
    return out


def same(a, b):
    return a is not None and b is not None and abs(a - b) <= 1e-9 * max(1.0, abs(b))


EXP = expected()
F.check(len(EXP) > 150, "the oracle finds the mockup's readings (%d)" % len(EXP))

srv, port = mock()
rc, j, out = probe(f"redfish://127.0.0.1:{port}")
F.check(rc == 0 and j.get("status") == "ok", "probe the public-pdu mockup: rc=%d %s" % (rc, out[-400:]))
got = got_readings(j)
missing = [k for k in EXP if k not in got]
wrong = [(k, got[k], EXP[k]) for k in EXP if k in got and not same(got[k], EXP[k])]
extra = [k for k in got if k not in EXP]
F.check(not missing, "every mockup reading is polled; missing %d: %s" % (len(missing), missing[:10]))
F.check(not wrong, "values match the mockup; wrong: %s" % wrong[:10])
F.check(not extra, "nothing invented; extra: %s" % extra[:10])
samples = {(s["unit"], s["kind"], s["index"], s["metric"]): s["value"] for s in j.get("samples", [])}
F.check(all(same(samples.get(k), v) for k, v in EXP.items()),
        "the sink got every reading: %d of %d" % (sum(same(samples.get(k), v) for k, v in EXP.items()), len(EXP)))
# spot checks, read off the mockup files by hand
for key, v in {(1, "phase", 2, "current"): 8.66, (1, "phase", 4, "voltage"): 202.8,
               (1, "phase", 2, "power_apparent"): 364.4, (1, "inlet", 1, "neutral_current"): 2.74,
               (1, "inlet", 1, "frequency"): 60.1, (1, "inlet", 1, "current_rating"): 40,
               (1, "branch", 2, "current"): 5.95, (1, "outlet", 1, "power_active"): 197.4,
               (1, "outlet", 1, "energy_active"): 36166000, (1, "sensor", 1, "temperature"): 31,
               (1, "sensor", 2, "humidity"): 43, (1, "total", 0, "power_active"): 6438,
               (3, "inlet", 2, "current_rating"): 30}.items():
    F.check(same(got.get(key), v), "spot check %s = %s, want %s" % (key, got.get(key), v))
ents = {(e["unit"], e["kind"], e["index"]): e for e in j.get("entities", [])}
cab = ents.get((1, "sensor", 1), {})
F.check({"which": "UpperCritical", "value": 40.0, "metric": "temperature"} in cab.get("thresholds", []),
        "the sensor's own thresholds are published: %s" % cab.get("thresholds"))
F.check(ents.get((1, "outlet", 1), {}).get("switchable") is True, "outlet A1 has Outlet.PowerControl")
F.check(j.get("identity", {}).get("model") == "ZAP4000" and j["identity"].get("serial") == "29347ZT536",
        "identity from the RackPDU: %s" % j.get("identity"))
F.check([u["type"] for u in j.get("units", [])] == ["RackPDU", "FloorPDU", "AutomaticTransferSwitch"],
        "units in PowerEquipment order: %s" % j.get("units"))
stats = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/stats").read())
F.check(stats["expand"] > 0, "$expand is asked for, since the root advertises it: %s" % stats)
stop_pid(srv)

# ---- authentication ----
srv, port = mock("--user", "admin", "--password", "s3cret-pw")
rc, j, out = probe(f"redfish://admin:s3cret-pw@127.0.0.1:{port}")
F.check(rc == 0 and j.get("auth") == "basic",
        "no SessionService (501): basic auth (rc=%d auth=%s)" % (rc, j.get("auth")))
rc, j, out = probe(f"redfish://admin:wrong-pw@127.0.0.1:{port}")
F.check(rc == 1 and j.get("status") == "auth_failed", "wrong password: auth_failed (%s)" % j.get("status"))
F.check("wrong-pw" not in out and "s3cret" not in out, "no password in the output")
rc, j, out = probe(f"redfish://127.0.0.1:{port}")
F.check(rc == 1 and j.get("status") == "auth_failed", "no credentials: auth_failed")
stop_pid(srv)

srv, port = mock("--user", "admin", "--password", "s3cret-pw", "--sessions")
rc, j, out = probe(f"redfish://admin:s3cret-pw@127.0.0.1:{port}")
F.check(rc == 0 and j.get("auth") == "session", "session login (rc=%d auth=%s)" % (rc, j.get("auth")))
rc, j, out = probe(f"redfish://admin:nope@127.0.0.1:{port}")
F.check(rc == 1 and j.get("status") == "auth_failed", "session login refused: auth_failed")
# the service forgets every session while the scheduler polls: the next
# request answers 401 and the driver logs in again within the same poll


def drop_sessions():
    time.sleep(1.5)
    urllib.request.urlopen(f"http://127.0.0.1:{port}/redfish/v1/SessionService/Sessions/clear").read()


posts0 = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/stats").read())["post"]
t = threading.Thread(target=drop_sessions)
t.start()
r = subprocess.run([SCHED, "3500", "500", "2000", f"redfish://admin:s3cret-pw@127.0.0.1:{port}"],
                   capture_output=True, text=True, timeout=60)
t.join()
res_ = json.loads(r.stdout or "{}")
dev = (res_.get("devices") or [{}])[0]
F.check(dev.get("polls", 0) >= 5 and dev.get("ok") == dev.get("polls") and dev.get("state") == "ok",
        "every poll succeeds across the dropped session: %s" % dev)
stats = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/stats").read())
F.check(stats["post"] - posts0 == 2, "one login, one renewal: %d POSTs" % (stats["post"] - posts0))
stop_pid(srv)

# ---- TLS: a CA of our own ----
key, cert = os.path.join(TMP, "key.pem"), os.path.join(TMP, "cert.pem")
subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1",
                "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
srv, port = mock("--tls", cert, key)
rc, j, out = probe(f"redfish+https://127.0.0.1:{port}")
F.check(rc == 1 and j.get("status") == "unreachable", "unknown CA refused by default (rc=%d)" % rc)
rc, j, out = probe(f"redfish+https://127.0.0.1:{port}?ca={cert}")
F.check(rc == 0 and j.get("status") == "ok", "ca= trusts the device's CA (rc=%d %s)" % (rc, j.get("error")))
rc, j, out = probe(f"redfish+https://127.0.0.1:{port}?insecure=1")
F.check(rc == 0 and j.get("status") == "ok", "insecure=1 accepts it (rc=%d)" % rc)
stop_pid(srv)

# ---- bad devices ----
for mode, what in (("badjson", "malformed JSON"), ("garbage", ""), ("hang", "timeout")):
    srv, port = mock("--mode", mode)
    t0 = time.time()
    rc, j, out = probe(f"redfish://127.0.0.1:{port}", timeout=800)
    took = time.time() - t0
    F.check(rc == 1 and j.get("status") == "unreachable" and what in (j.get("error") or ""),
            "%s: a device error, not a crash (rc=%d %s)" % (mode, rc, j.get("error")))
    F.check(took < 10, "%s: answered in %.1f s" % (mode, took))
    stop_pid(srv)

for bad in ("redfish://", "redfish://h:99999", "redfish://h?auth=basic", "redfish://u:p@h?x=1",
            "redfish://u%zz:p@h"):
    r = subprocess.run([PROBE, bad], capture_output=True, text=True)
    F.check(r.returncode == 64, "bad URL %s refused (rc=%d)" % (bad, r.returncode))
F.done()
