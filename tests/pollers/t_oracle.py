"""Oracle test: every real recording in realdata/snmprec is served by snmpsimd and read
by wattrack-probe; our readings are compared to what LibreNMS discovered from the same
recording (realdata/snmprec/expected/*.sensors.tsv) and to our own hand-checked
expectations (tests/pollers/expected/*.tsv).

Data-driven: a profile claims recordings in its "tests": {"recordings": [...]}; adding a
profile + (if LibreNMS has no fixture) an expected/*.tsv file is all it takes.

Usage: t_oracle.py [recording-base-name ...]   (default: all recordings)
"""
import glob
import json
import math
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.environ["WT_SOURCE_ROOT"], "tests/lib"))
from wtfix import BUILD_ROOT, REALDATA, SOURCE_ROOT, Failures, Snmpsimd  # noqa: E402

PROBE = os.path.join(BUILD_ROOT, "pollers", "wattrack-probe")
POLLER = os.path.join(BUILD_ROOT, "tests", "pollers", "t_control_run")
PROFILES = os.path.join(SOURCE_ROOT, "pollers", "profiles")
OURS = os.path.join(SOURCE_ROOT, "tests", "pollers", "expected")

# LibreNMS sensor class -> (our metrics that may carry it, factor ours->theirs)
CLASSES = {
    "current": ({"current", "current_peak", "neutral_current", "residual_current",
                 "current_rating"}, 1.0),
    "voltage": ({"voltage", "voltage_peak", "voltage_dip"}, 1.0),
    "power": ({"power_active", "power_apparent", "power_reactive"}, 1.0),
    "power_factor": ({"power_factor"}, 1.0),
    "frequency": ({"frequency"}, 1.0),
    "temperature": ({"temperature"}, 1.0),
    "humidity": ({"humidity"}, 1.0),
    "load": ({"load_percent"}, 1.0),
    "percent": ({"load_percent", "battery_charge", "humidity"}, 1.0),
    "charge": ({"battery_charge"}, 1.0),
    "runtime": ({"battery_runtime"}, 1.0 / 60.0),       # LibreNMS: minutes, ours: s
    "power_consumed": ({"energy_active", "energy_apparent"}, 1.0 / 1000.0),  # kWh vs Wh
}
# raw "not available" markers a device may send; we report no value for them
SENTINELS = {65535.0, 6553.5, 655.35, -1.0, 2147483647.0, 214748364.7, -0.1}


def close(a, b):
    return abs(a - b) <= max(0.011, 1e-3 * abs(b))


def norm(oid):
    return oid.lstrip(".")


def load_claims():
    claims = {}
    for path in sorted(glob.glob(os.path.join(PROFILES, "*.json"))):
        with open(path) as f:
            p = json.load(f)
        for rec in p.get("tests", {}).get("recordings", []):
            claims[rec] = p["name"]
    return claims


def readings_by_oid(probe):
    out = {}
    for e in probe.get("entities") or []:
        for r in e["readings"]:
            out.setdefault(norm(r["oid"]), []).append((e, r))
    return out


def check_librenms(F, name, probe, skips):
    path = os.path.join(REALDATA, "snmprec", "expected", name + ".sensors.tsv")
    if not os.path.exists(path):
        return 0
    by_oid = readings_by_oid(probe)
    n = 0
    with open(path) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            col = line.rstrip("\n").split("\t")
            cls, oid, descr, expected = col[0], norm(col[1]), col[3], col[7]
            if cls not in CLASSES:
                continue  # state, count, ...: not in our vocabulary as numbers
            if oid in skips:
                continue
            n += 1
            metrics, factor = CLASSES[cls]
            exp = float(expected)
            got = by_oid.get(oid, [])
            if exp in SENTINELS and all(r["value"] is None for _, r in got):
                F.check(True, "")
                continue
            if not F.check(got, f"{name}: {cls} {descr!r} oid {oid}: no reading (expected {exp})"):
                continue
            # LibreNMS shows some power factors as percent (Raritan: 98 for 0.98)
            alts = (factor, 100.0) if cls == "power_factor" else (factor,)
            ok = any(r["metric"] in metrics and r["value"] is not None
                     and any(close(r["value"] * f, exp) for f in alts) for _, r in got)
            F.check(ok, f"{name}: {cls} {descr!r} oid {oid}: expected {exp}, got "
                        + ", ".join(f"{r['metric']}={r['value']}" for _, r in got))
    return n


def check_ours(F, name, probe):
    """tests/pollers/expected/NAME.tsv: oid, metric, value ('*' any, 'a|b', '-' none);
    'skip<TAB>oid<TAB>reason' lines exclude a LibreNMS row (with the reason)."""
    path = os.path.join(OURS, name + ".tsv")
    skips = {}
    n = 0
    if not os.path.exists(path):
        return n, skips
    by_oid = readings_by_oid(probe)
    with open(path) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            col = line.rstrip("\n").split("\t")
            if col[0] == "skip":
                skips[norm(col[1])] = col[2] if len(col) > 2 else ""
                continue
            if col[0] == "entities":
                kind, count = col[1], int(col[2])
                got = sum(1 for e in probe.get("entities") or [] if e["kind"] == kind)
                F.check(got == count, f"{name}: expected {count} {kind} entities, got {got}")
                n += 1
                continue
            if col[0] == "identity":
                got = (probe.get("identity") or {}).get(col[1])
                F.check(str(got) == col[2], f"{name}: identity {col[1]}: expected {col[2]!r}, got {got!r}")
                n += 1
                continue
            oid, metric, want = norm(col[0]), col[1], col[2]
            n += 1
            got = [r for _, r in by_oid.get(oid, []) if r["metric"] == metric]
            if want == "-":
                F.check(all(r["value"] is None for r in got),
                        f"{name}: {metric} {oid}: expected no value, got {got}")
                continue
            if not F.check(got, f"{name}: {metric} {oid}: no reading"):
                continue
            val = got[0]["value"]
            if want == "*":
                F.check(val is not None, f"{name}: {metric} {oid}: expected a value")
                continue
            alts = [float(a) for a in want.split("|")]
            F.check(val is not None and any(close(val, a) for a in alts),
                    f"{name}: {metric} {oid}: expected {want}, got {val}")
    return n, skips


def variated(rec):
    """OIDs whose recorded value changes on every read (snmpsim variation modules, 'TAG:module')."""
    out = set()
    with open(rec, errors="replace") as f:
        for line in f:
            parts = line.split("|", 2)
            if len(parts) == 3 and ":" in parts[1]:
                out.add(norm(parts[0]))
    return out


def check_polls(F, name, port, rec):
    """The bind reads every point by GET; the polls after it read the dynamic ones by GETBULK
    (v2c) or multi-OID GETs (v1). snmpsimd serves a static recording, so every poll must give
    exactly the bind's readings: the recording's quirks (duplicate OIDs, tables longer than
    their count, endOfMibView, sparse rows) must read the same through both paths. Values the
    recording varies on every read must still be read."""
    n = 0
    moving = variated(rec)
    for scheme, polls in (("snmp", 2), ("snmpv1", 1)):
        r = subprocess.run([POLLER, "--poll-stats", f"{scheme}://{name}@127.0.0.1:{port}", str(polls),
                            "2000"], capture_output=True, text=True, timeout=120)
        if not F.check(r.returncode == 0, f"{name} {scheme}: poller exit {r.returncode}: {r.stderr[-1500:]}"):
            continue
        j = json.loads(r.stdout)
        n += 1
        F.check(j["ok"] == polls, f"{name} {scheme}: {j['ok']}/{polls} polls ok ({j['error']})")
        dyn = j["dynamic"]
        if scheme == "snmp" and dyn:
            n += 1
            F.check(j["getbulk"] >= polls,
                    f"{name}: v2c polls must use GETBULK: {j['getbulk']} of {j['requests']} requests")
        if scheme == "snmpv1":
            n += 1
            F.check(j["getbulk"] == 0, f"{name}: v1 has no GETBULK, {j['getbulk']} sent")
        for oid, bound, polled in dyn:
            if bound is None:
                continue
            n += 1
            F.check(polled is not None and (oid in moving or close(polled, bound)),
                    f"{name} {scheme}: {oid}: bind read {bound}, poll read {polled}")
    return n


def main():
    F = Failures()
    claims = load_claims()
    recs = sorted(glob.glob(os.path.join(REALDATA, "snmprec", "*.snmprec")))
    if len(sys.argv) > 1:
        recs = [r for r in recs if os.path.basename(r)[:-len(".snmprec")] in sys.argv[1:]]
    F.check(recs, "no recordings found in " + os.path.join(REALDATA, "snmprec"))
    for rec in claims:
        F.check(os.path.exists(os.path.join(REALDATA, "snmprec", rec + ".snmprec")),
                f"a profile claims recording {rec}, which does not exist")
    sim = Snmpsimd(recs)
    covered = []
    for rec in recs:
        name = os.path.basename(rec)[:-len(".snmprec")]
        r = subprocess.run([PROBE, "-p", PROFILES, "-t", "2000", "-r", "2",
                            f"snmp://{name}@127.0.0.1:{sim.port}"],
                           capture_output=True, text=True, timeout=120)
        if not F.check(r.returncode in (0, 2), f"{name}: probe exit {r.returncode}: {r.stderr[-2000:]}"):
            continue
        F.check("skipped" not in r.stderr, f"{name}: a profile failed to load: {r.stderr[-1000:]}")
        probe = json.loads(r.stdout)
        prof = (probe.get("profile") or {}).get("name")
        if name in claims:
            F.check(probe["status"] == "ok" and prof == claims[name],
                    f"{name}: expected profile {claims[name]}, got {prof} ({probe['status']}: {probe['error']})")
            n_ours, skips = check_ours(F, name, probe)
            n_lib = check_librenms(F, name, probe, skips)
            F.check(n_ours + n_lib > 0, f"{name}: claimed by {claims[name]} but has no expectations")
            n_poll = check_polls(F, name, sim.port, rec)
            print(f"{name}: profile {prof}: {n_lib} LibreNMS rows, {n_ours} own rows, "
                  f"{n_poll} poll checks", flush=True)
            covered.append(name)
        else:
            # never dropped: an unknown device is reported with its sysObjectID
            if probe["status"] == "no_profile":
                F.check(probe["sys"]["object_id"] in (probe["error"] or ""),
                        f"{name}: no-profile error must name the sysObjectID: {probe['error']}")
            print(f"{name}: not claimed by any profile (status {probe['status']}, profile {prof})")
    print(f"covered {len(covered)} of {len(recs)} recordings: {' '.join(covered)}")
    sim.stop()
    F.done()


if __name__ == "__main__":
    main()
