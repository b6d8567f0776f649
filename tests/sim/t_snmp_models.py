"""Each simulated SNMP model against its real recording in
../shared/realdata/snmprec: every OID the simulator serves must exist in the
recording with the same column, the same index shape and the same type
(except tables the recording lacks, which follow the vendor MIB), and the key
measurement columns must be present in both."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from simfix import Sim, Failures, REALDATA, tmpdir  # noqa: E402

TYPES = {"INTEGER": 2, "STRING": 4, "Hex-STRING": 4, "OID": 6, "IpAddress": 64, "Counter32": 65,
         "Gauge32": 66, "Timeticks": 67, "": 67, "Counter64": 70}

MODELS = {
    # model: (recording, subtrees to walk, prefixes the recording lacks (per MIB), key columns)
    "apc-rpdu2": ("apc-ap8641-metered-switched-pdu.snmprec", ["1.3.6.1.4.1.318.1.1.26"], [],
                  ["1.3.6.1.4.1.318.1.1.26.4.3.1.5", "1.3.6.1.4.1.318.1.1.26.4.3.1.9",
                   "1.3.6.1.4.1.318.1.1.26.6.3.1.5", "1.3.6.1.4.1.318.1.1.26.6.3.1.6",
                   "1.3.6.1.4.1.318.1.1.26.8.3.1.5", "1.3.6.1.4.1.318.1.1.26.9.2.3.1.5",
                   "1.3.6.1.4.1.318.1.1.26.9.2.4.1.5", "1.3.6.1.4.1.318.1.1.26.9.4.3.1.6",
                   "1.3.6.1.4.1.318.1.1.26.9.4.3.1.7", "1.3.6.1.4.1.318.1.1.26.9.4.3.1.11",
                   "1.3.6.1.4.1.318.1.1.26.10.2.2.1.8", "1.3.6.1.4.1.318.1.1.26.10.2.2.1.10"]),
    "raritan-px3": ("raritan-px3-5493u-k2.snmprec", ["1.3.6.1.4.1.13742.6"],
                    ["1.3.6.1.4.1.13742.6.4.1.2"],  # outletSwitchControlTable: not walked in the recording
                    ["1.3.6.1.4.1.13742.6.5.2.3.1.4", "1.3.6.1.4.1.13742.6.5.4.3.1.4",
                     "1.3.6.1.4.1.13742.6.3.3.4.1.7", "1.3.6.1.4.1.13742.6.3.5.4.1.7",
                     "1.3.6.1.4.1.13742.6.5.3.3.1.4", "1.3.6.1.4.1.13742.6.5.5.3.1.4",
                     "1.3.6.1.4.1.13742.6.3.6.3.1.2"]),
    "eaton-epdu": ("eaton-epdu-ma-24out.snmprec", ["1.3.6.1.4.1.534.6.6.7"], [],
                   ["1.3.6.1.4.1.534.6.6.7.3.2.1.3", "1.3.6.1.4.1.534.6.6.7.3.3.1.4",
                    "1.3.6.1.4.1.534.6.6.7.3.4.1.4", "1.3.6.1.4.1.534.6.6.7.3.5.1.5",
                    "1.3.6.1.4.1.534.6.6.7.6.4.1.3", "1.3.6.1.4.1.534.6.6.7.6.5.1.3",
                    "1.3.6.1.4.1.534.6.6.7.6.5.1.4", "1.3.6.1.4.1.534.6.6.7.6.6.1.2"]),
    "sentry4": ("servertech-sentry4-smart.snmprec", ["1.3.6.1.4.1.1718.4.1"],
                ["1.3.6.1.4.1.1718.4.1.8.", "1.3.6.1.4.1.1718.4.1.7.3.1.3."],  # outlets, branch current
                ["1.3.6.1.4.1.1718.4.1.3.3.1.3", "1.3.6.1.4.1.1718.4.1.3.3.1.10",
                 "1.3.6.1.4.1.1718.4.1.4.3.1.3", "1.3.6.1.4.1.1718.4.1.5.3.1.3",
                 "1.3.6.1.4.1.1718.4.1.9.3.1.1"]),
    "ups-mib": ("eaton-93e-80kva-ups.snmprec", ["1.3.6.1.2.1.33"], [],
                ["1.3.6.1.2.1.33.1.2.4", "1.3.6.1.2.1.33.1.2.3", "1.3.6.1.2.1.33.1.3.3.1.3",
                 "1.3.6.1.2.1.33.1.4.1", "1.3.6.1.2.1.33.1.4.4.1.4", "1.3.6.1.2.1.33.1.4.4.1.5",
                 "1.3.6.1.2.1.33.1.5.3.1.2"]),
    "apc-ups": ("apc-smt750-nmc2-ups.snmprec", ["1.3.6.1.4.1.318.1.1.1"],
                # upsBasic/upsAdv objects of PowerNet-MIB the SMT750 walk lacks
                ["1.3.6.1.4.1.318.1.1.1.1.1.2.", "1.3.6.1.4.1.318.1.1.1.2.1.", "1.3.6.1.4.1.318.1.1.1.2.2.1.",
                 "1.3.6.1.4.1.318.1.1.1.2.2.2.", "1.3.6.1.4.1.318.1.1.1.3.2.", "1.3.6.1.4.1.318.1.1.1.4.2."],
                ["1.3.6.1.4.1.318.1.1.1.2.2.3", "1.3.6.1.4.1.318.1.1.1.2.3.1", "1.3.6.1.4.1.318.1.1.1.4.1.1",
                 "1.3.6.1.4.1.318.1.1.1.4.3.3", "1.3.6.1.4.1.318.1.1.1.3.3.1"]),
    "tripplite-ats": ("tripplite-pdumh20atnet-ats-pdu.snmprec", ["1.3.6.1.4.1.850.1.1"], [],
                      ["1.3.6.1.4.1.850.1.1.3.4.3.1.2.1.5", "1.3.6.1.4.1.850.1.1.3.4.3.2.1.1.4",
                       "1.3.6.1.4.1.850.1.1.3.4.3.2.1.1.5", "1.3.6.1.4.1.850.1.1.3.4.3.3.1.1.4",
                       "1.3.6.1.4.1.850.1.1.3.4.3.3.1.1.6", "1.3.6.1.4.1.850.1.1.2.1.1.5"]),
}
# models the demo fleet does not have: one device each in a second simulator
EXTRA_FLEET = [{"model": "tripplite-ats", "protocol": "snmp", "wiring": "1ph", "outlets": 16}]


def load_rec(name):
    rec = {}
    with open(os.path.join(REALDATA, "snmprec", name), errors="replace") as f:
        for line in f:
            parts = line.rstrip("\n").split("|", 2)
            if len(parts) == 3:
                rec[tuple(int(x) for x in parts[0].split("."))] = int(parts[1].split(":")[0].rstrip("x"))
    return rec


def shape_match(rec_by_len, oid):
    """The recorded OID of the same length sharing the longest prefix (index
    length 1..4): returns (k, recorded type) or None."""
    n = len(oid)
    for k in range(1, 5):
        prefix = oid[:n - k]
        t = rec_by_len.get((n, prefix))
        if t is not None:
            return k, t
    return None


F = Failures()
demo = Sim(["--fleet", "demo", "--generate", "pdus=4,ups=2"])
fleet_file = os.path.join(tmpdir("wt-simmodels-"), "fleet.json")
with open(fleet_file, "w") as fh:
    json.dump({"devices": EXTRA_FLEET}, fh)
extra_sim = Sim(["--fleet", fleet_file])
for model, (recname, trees, extra, keys) in MODELS.items():
    sim = extra_sim if any(x["model"] == model for x in EXTRA_FLEET) else demo
    rec = load_rec(recname)
    rec_by_len = {}
    for o, t in rec.items():
        for k in range(1, 5):
            rec_by_len.setdefault((len(o), o[:len(o) - k]), t)
    # a single-unit device of the model (the recordings are single units)
    d = [x for x in sim.devices if x["model"] == model and x.get("units", 1) == 1 and x["protocol"] == "snmp"][-1]
    rows = []
    for tree in trees + ["1.3.6.1.2.1.1"]:
        rc, r, err = sim.snmp("snmpbulkwalk", sim.v2c(d), tree)
        F.check(rc == 0 and r, f"{model}: walk {tree}: {err}")
        rows += [x for x in r if not x[2].startswith("No more")]
    F.check(len(rows) > 20, f"{model}: {len(rows)} rows")
    bad = 0
    for oid_s, typ, val in rows:
        oid = tuple(int(x) for x in oid_s.split("."))
        # sysServices (RFC 1213) is not in every recording's walk
        if any(oid_s.startswith(e) for e in extra + ["1.3.6.1.2.1.1.7."]):
            continue
        m = shape_match(rec_by_len, oid)
        want = TYPES.get(typ)
        if m is None:
            bad += 1
            F.check(False, f"{model}: {oid_s} has no column of that index shape in {recname}")
        elif m[1] != want:
            bad += 1
            F.check(False, f"{model}: {oid_s} is {typ} ({want}), recording has type {m[1]}")
        if bad > 10:
            break
    F.check(bad == 0, f"{model}: {bad} OIDs differ in structure or type from {recname}")
    sim_cols = {r[0] for r in rows}
    for col in keys:
        in_rec = [o for o in rec if ".".join(map(str, o)).startswith(col + ".")]
        in_sim = [o for o in sim_cols if o.startswith(col + ".")]
        F.check(in_rec, f"{model}: key column {col} missing from the recording")
        F.check(in_sim, f"{model}: key column {col} missing from the simulator")
        if in_rec and in_sim:
            F.check(len(in_rec[0]) == len(in_sim[0].split(".")),
                    f"{model}: {col} index shape {in_sim[0]} vs recorded {'.'.join(map(str, in_rec[0]))}")
demo.stop()
extra_sim.stop()
F.done()
