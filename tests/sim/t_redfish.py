"""wattrack-sim Redfish over HTTP, driven with curl: the service root, RackPDUs with
Mains, Branches, Outlets, Sensors and Metrics checked against the simulator's ground
truth, $expand, Outlet.PowerControl switching the model, and the resource shapes
(property names and JSON types) compared with the DMTF public-pdu mockup in
realdata/redfish/public-pdu."""

import json
import os
import select
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.join(os.environ["WT_SOURCE_ROOT"], "tests/lib"))
from wtfix import *  # noqa: E402,F401

from rfsim import *  # noqa: E402,F401,F403
MOCK = os.path.join(REALDATA, "redfish", "public-pdu")


def get(path, dev=0, auth="default", expect=200):
    d = sim.devices[dev]
    a = (d["http"]["user"], d["http"]["password"]) if auth == "default" else auth
    rc, st, _, body = curl("http://127.0.0.1:%d%s" % (d["http"]["port"], path), auth=a)
    if not F.check(rc == 0 and st == expect, "GET %s on device %d: curl %d, HTTP %d (want %d) %r" %
                   (path, dev, rc, st, expect, body[:200])):
        return None
    try:
        return json.loads(body) if body else None
    except ValueError:
        F.check(False, "GET %s: body is not JSON: %r" % (path, body[:200]))
        return None


def post(path, data, dev=0, method="POST"):
    d = sim.devices[dev]
    rc, st, hdrs, body = curl("http://127.0.0.1:%d%s" % (d["http"]["port"], path),
                              auth=(d["http"]["user"], d["http"]["password"]), method=method, data=data)
    return st, body


def near(what, got, a, b, rel=0.06, res=0.02):
    lo, hi = min(a, b), max(a, b)
    tol = max(res, rel * max(abs(lo), abs(hi)))
    return F.check(isinstance(got, (int, float)) and lo - tol <= got <= hi + tol,
                   "%s: Redfish %r, ground truth %.4f..%.4f" % (what, got, lo, hi))


def branch_ids(unit):
    """Branch ids as the server names them: line letter + index on that line."""
    ids, seen = [], {}
    for b in unit["branches"]:
        seen[b["line"]] = seen.get(b["line"], 0) + 1
        ids.append("%s%d" % ("ABC"[b["line"] - 1], seen[b["line"]]))
    return ids


sim = Sim([
    {"model": "redfish-pdu", "protocol": "redfish", "wiring": "wye", "outlets": 24,
     "placement": {"room": "Hall-A", "row": "R3", "rack": "R3-07", "feed": "A", "u": 42}},
    {"model": "redfish-pdu", "protocol": "redfish", "wiring": "delta", "units": 2, "outlets": 12},
    {"model": "redfish-pdu", "protocol": "redfish", "wiring": "1ph", "outlets": 8},
    {"model": "redfish-pdu", "protocol": "redfish", "wiring": "1ph", "outlets": 8, "switched": False},
])
BASE = "/redfish/v1/PowerEquipment/RackPDUs"
time.sleep(1.0)

# ---- service root and navigation ----
root = get("/redfish/v1", auth=None)
if root:
    ex = root.get("ProtocolFeaturesSupported", {}).get("ExpandQuery", {})
    F.check(ex.get("ExpandAll") is True and ex.get("Levels") is True and ex.get("MaxLevels", 0) >= 2,
            "service root advertises ExpandQuery: %s" % ex)
    F.check(root.get("PowerEquipment", {}).get("@odata.id") == "/redfish/v1/PowerEquipment", "root links PowerEquipment")
    F.check(root.get("@odata.type", "").startswith("#ServiceRoot."), "ServiceRoot type")
F.check(get("/redfish", auth=None) == {"v1": "/redfish/v1/"}, "version object at /redfish")
pe = get("/redfish/v1/PowerEquipment")
F.check(pe and pe["RackPDUs"]["@odata.id"] == BASE, "PowerEquipment links RackPDUs")
coll = get(BASE)
F.check(coll and coll["Members@odata.count"] == 1 and coll["Members"] == [{"@odata.id": BASE + "/1"}],
        "RackPDUs collection of a one-unit PDU: %s" % coll)
coll = get(BASE, dev=1)
F.check(coll and [m["@odata.id"] for m in coll["Members"]] == [BASE + "/1", BASE + "/2"],
        "daisy-chained units are RackPDUs/1 and /2: %s" % coll)
get(BASE + "/3", dev=1, expect=404)
get("/redfish/v1/NoSuchThing", expect=404)
get(BASE + "/1/Outlets/25", expect=404)
get(BASE + "/1/Outlets/0", expect=404)

st = sim.state(0)
pdu = get(BASE + "/1")
if pdu:
    F.check(pdu["SerialNumber"] == sim.devices[0]["serial"] and pdu["FirmwareVersion"] == sim.devices[0]["firmware"]
            and pdu["EquipmentType"] == "RackPDU", "RackPDU identity %s %s" % (pdu["SerialNumber"], pdu["FirmwareVersion"]))
    F.check(pdu["Location"]["Placement"] == {"Room": "Hall-A", "Row": "R3", "Rack": "R3-07"},
            "placement from the fleet: %s" % pdu["Location"])
    for k in ("Mains", "Branches", "Outlets", "Sensors", "Metrics"):
        F.check(pdu.get(k, {}).get("@odata.id") == BASE + "/1/" + k, "RackPDU links %s" % k)


# ---- ground truth: every outlet, mains per phase, branches, sensors, metrics ----
def check_pdu(dev, unit_no):
    before = sim.state(dev)["pdu"]
    u_b = before["units"][unit_no - 1]
    base = "%s/%d" % (BASE, unit_no)
    wiring = before["wiring"]
    outlets = []
    for k in range(1, len(u_b["outlets"]) + 1):
        outlets.append(get("%s/Outlets/%d" % (base, k), dev=dev))
    mains = get(base + "/Mains/AC1", dev=dev)
    bids = branch_ids(u_b)
    branches = [get("%s/Branches/%s" % (base, b), dev=dev) for b in bids]
    sensors = get(base + "/Sensors?$expand=.", dev=dev)
    metrics = get(base + "/Metrics", dev=dev)
    u_a = sim.state(dev)["pdu"]["units"][unit_no - 1]
    tag = "dev %d unit %d" % (dev, unit_no)
    for k, (o, ob, oa) in enumerate(zip(outlets, u_b["outlets"], u_a["outlets"]), 1):
        if not o:
            continue
        F.check(o["Id"] == str(k) and o["PowerState"] == ("On" if ob["on"] else "Off"),
                "%s outlet %d Id/PowerState %s %s" % (tag, k, o["Id"], o["PowerState"]))
        near("%s outlet %d current" % (tag, k), o["CurrentAmps"]["Reading"], ob["current"], oa["current"])
        near("%s outlet %d power" % (tag, k), o["PowerWatts"]["Reading"], ob["power"], oa["power"], res=0.5)
        near("%s outlet %d VA" % (tag, k), o["PowerWatts"]["ApparentVA"], ob["apparent_power"], oa["apparent_power"],
             res=0.5)
        near("%s outlet %d voltage" % (tag, k), o["Voltage"]["Reading"], ob["voltage"], oa["voltage"], 0.02, 0.1)
        near("%s outlet %d energy" % (tag, k), o["EnergykWh"]["Reading"] * 1000, ob["energy_wh"], oa["energy_wh"],
             0.02, 1.5)
        F.check(o["Links"]["BranchCircuit"]["@odata.id"] == "%s/Branches/%s" % (base, bids[ob["branch"] - 1]),
                "%s outlet %d branch link %s" % (tag, k, o["Links"]["BranchCircuit"]))
        F.check(o["Actions"]["#Outlet.PowerControl"]["target"] == "%s/Outlets/%d/Outlet.PowerControl" % (base, k),
                "%s outlet %d PowerControl target" % (tag, k))
    if mains:
        keys_v = {"wye": ["Line1ToNeutral", "Line2ToNeutral", "Line3ToNeutral"],
                  "delta": ["Line1ToLine2", "Line2ToLine3", "Line3ToLine1"], "1ph": ["Line1ToNeutral"]}[wiring]
        F.check(mains["PhaseWiringType"] == {"wye": "ThreePhase5Wire", "delta": "ThreePhase4Wire",
                                             "1ph": "OnePhase3Wire"}[wiring], "%s PhaseWiringType" % tag)
        for i, (lb, la) in enumerate(zip(u_b["lines"], u_a["lines"])):
            near("%s mains %s voltage" % (tag, keys_v[i]), mains["PolyPhaseVoltage"][keys_v[i]]["Reading"],
                 lb["voltage"], la["voltage"], 0.02, 0.1)
            near("%s mains Line%d current" % (tag, i + 1), mains["PolyPhaseCurrentAmps"]["Line%d" % (i + 1)]["Reading"],
                 lb["current"], la["current"])
            near("%s mains %s power" % (tag, keys_v[i]), mains["PolyPhasePowerWatts"][keys_v[i]]["Reading"],
                 lb["power"], la["power"], res=1)
        if wiring == "wye":
            near(tag + " mains neutral", mains["PolyPhaseCurrentAmps"]["Neutral"]["Reading"],
                 u_b["neutral_current"], u_a["neutral_current"], res=0.1)
            F.check("Line1ToLine2" in mains["PolyPhaseVoltage"], tag + " wye mains also report line-to-line")
        near(tag + " mains power", mains["PowerWatts"]["Reading"], u_b["power"], u_a["power"], res=2)
        near(tag + " mains frequency", mains["FrequencyHz"]["Reading"], u_b["frequency"], u_a["frequency"], 0.01)
        near(tag + " mains energy", mains["EnergykWh"]["Reading"] * 1000, u_b["energy_wh"], u_a["energy_wh"], 0.02, 2)
    for b, bb, ba, bid in zip(branches, u_b["branches"], u_a["branches"], bids):
        if not b:
            continue
        near("%s branch %s current" % (tag, bid), b["CurrentAmps"]["Reading"], bb["current"], ba["current"])
        near("%s branch %s power" % (tag, bid), b["PowerWatts"]["Reading"], bb["power"], ba["power"], res=1)
        F.check(b["RatedCurrentAmps"] == bb["rating_a"] and b["BreakerState"] == ("Tripped" if bb["tripped"] else "Normal"),
                "%s branch %s rating/state" % (tag, bid))
        n_out = sum(1 for o in u_b["outlets"] if o["branch"] == bb["index"])
        F.check(len(b["Links"]["Outlets"]) == n_out, "%s branch %s links %d outlets" % (tag, bid, n_out))
    if sensors:
        by_id = {m["Id"]: m for m in sensors["Members"]}
        n_lines = len(u_b["lines"])
        want = (4 * n_lines + (1 if wiring == "wye" else 0) + 3 + 3 * len(u_b["branches"]) +
                4 * sum(1 for o in u_b["outlets"] if o["metered"]) + len(u_b["sensors"]))
        F.check(sensors["Members@odata.count"] == want == len(by_id),
                "%s sensor count %d, expected %d" % (tag, sensors["Members@odata.count"], want))
        units = {"Voltage": "V", "Current": "A", "Power": "W", "EnergykWh": "kW.h", "Frequency": "Hz",
                 "Temperature": "Cel", "Humidity": "%"}
        for s in by_id.values():
            F.check(units.get(s.get("ReadingType")) == s.get("ReadingUnits"),
                    "%s sensor %s units %s/%s" % (tag, s.get("Id"), s.get("ReadingType"), s.get("ReadingUnits")))
        checks = []
        for i, (lb, la) in enumerate(zip(u_b["lines"], u_a["lines"]), 1):
            checks += [("VoltageMains%d" % i, lb["voltage"], la["voltage"]),
                       ("CurrentMains%d" % i, lb["current"], la["current"]),
                       ("PowerMains%d" % i, lb["power"], la["power"]),
                       ("EnergyMains%d" % i, lb["energy_wh"] / 1000, la["energy_wh"] / 1000)]
        checks += [("PDUPower", u_b["power"], u_a["power"]), ("FreqMains", u_b["frequency"], u_a["frequency"]),
                   ("PDUEnergy", u_b["energy_wh"] / 1000, u_a["energy_wh"] / 1000)]
        for bid, bb, ba in zip(bids, u_b["branches"], u_a["branches"]):
            checks.append(("Current" + bid, bb["current"], ba["current"]))
        for k, (ob, oa) in enumerate(zip(u_b["outlets"], u_a["outlets"]), 1):
            checks += [("CurrentOutlet%d" % k, ob["current"], oa["current"]),
                       ("PowerOutlet%d" % k, ob["power"], oa["power"]),
                       ("EnergyOutlet%d" % k, ob["energy_wh"] / 1000, oa["energy_wh"] / 1000)]
        nt = nh = 0
        for sb, sa in zip(u_b["sensors"], u_a["sensors"]):
            if sb["kind"] == "temperature":
                nt += 1
                checks.append(("Temperature%d" % nt, sb["value"], sa["value"]))
            else:
                nh += 1
                checks.append(("Humidity%d" % nh, sb["value"], sa["value"]))
        for sid, a, b in checks:
            s = by_id.get(sid)
            if F.check(s is not None, "%s sensor %s exists" % (tag, sid)):
                near("%s sensor %s" % (tag, sid), s["Reading"], a, b, res=0.5 if "Power" in sid else 0.02)
        # individual sensor resources are the same as the expanded members
        for sid in ("CurrentMains1", "PowerOutlet1", "Temperature1"):
            one = get("%s/Sensors/%s" % (base, sid), dev=dev)
            F.check(one and one["@odata.id"] == by_id[sid]["@odata.id"] and one["ReadingType"] == by_id[sid]["ReadingType"],
                    "%s sensor %s resource" % (tag, sid))
    if metrics:
        near(tag + " metrics power", metrics["PowerWatts"]["Reading"], u_b["power"], u_a["power"], res=2)
        near(tag + " metrics energy", metrics["EnergykWh"]["Reading"] * 1000, u_b["energy_wh"], u_a["energy_wh"], 0.02, 2)


check_pdu(0, 1)
check_pdu(1, 1)
check_pdu(1, 2)
check_pdu(2, 1)

# ---- values follow the physics over time: the energy counter grows ----
m1 = get(BASE + "/1/Metrics")
time.sleep(1.6)
m2 = get(BASE + "/1/Metrics")
F.check(m1 and m2 and m2["EnergykWh"]["Reading"] > m1["EnergykWh"]["Reading"],
        "PDU energy grows between two reads: %s -> %s" % (m1 and m1["EnergykWh"], m2 and m2["EnergykWh"]))

# ---- $expand ----
e = get(BASE + "/1/Outlets?$expand=.")
F.check(e and len(e["Members"]) == 24 and all(m.get("PowerState") in ("On", "Off") for m in e["Members"]),
        "$expand=. expands the outlet members")
e = get(BASE + "/1/Outlets?$expand=*($levels=1)")
F.check(e and all("CurrentAmps" in m and "Links" in m for m in e["Members"]) and
        e["Members"][0]["Links"]["BranchCircuit"] == {"@odata.id": BASE + "/1/Branches/A1"},
        "$expand=*($levels=1) expands members one level only")
e = get(BASE + "?$expand=.($levels=2)")
F.check(e and e["Members"][0].get("Outlets", {}).get("Members@odata.count") == 24 and
        e["Members"][0]["Outlets"]["Members"][0] == {"@odata.id": BASE + "/1/Outlets/1"},
        "$expand=.($levels=2) on RackPDUs reaches the Outlets collection, not its members")
e = get(BASE + "/1?$expand=~")
F.check(e and e["Links"]["Chassis"][0].get("Id") == "1" and e["Outlets"] == {"@odata.id": BASE + "/1/Outlets"},
        "$expand=~ expands Links only")
e = get(BASE + "/1?$expand=.")
F.check(e and e["Mains"]["Members"][0] == {"@odata.id": BASE + "/1/Mains/AC1"} and
        e["Links"]["Chassis"][0] == {"@odata.id": "/redfish/v1/Chassis/1"},
        "$expand=. leaves Links alone and stops at one level")
get(BASE + "/1/Outlets?$expand=bogus", expect=400)
get(BASE + "/1/Outlets?$expand=.($levels=9)", expect=400)
get(BASE + "/1/Outlets?$filter=Id%20eq%201", expect=501)

# ---- Outlet.PowerControl switches the model ----
T = BASE + "/1/Outlets/7/Outlet.PowerControl"
stc, body = post(T, {"PowerState": "Off"})
F.check(stc == 204, "PowerControl Off: %d %r" % (stc, body[:200]))
o = get(BASE + "/1/Outlets/7")
truth = sim.state(0)["pdu"]["units"][0]["outlets"][6]
F.check(o and o["PowerState"] == "Off" and o["CurrentAmps"]["Reading"] == 0 and o["PowerWatts"]["Reading"] == 0,
        "outlet 7 Off with zero current and power: %s" % str(o and (o["PowerState"], o["CurrentAmps"], o["PowerWatts"])))
F.check(truth["on"] is False and truth["current"] == 0, "ground truth outlet 7 off")
stc, _ = post(BASE + "/1/Outlets/7/Actions/Outlet.PowerControl", {"PowerState": "On"})
F.check(stc == 204 and sim.state(0)["pdu"]["units"][0]["outlets"][6]["on"] is True, "PowerControl On via /Actions/")
time.sleep(0.2)
o = get(BASE + "/1/Outlets/7")
F.check(o and o["PowerState"] == "On", "outlet 7 On again")
stc, _ = post(BASE + "/1/Outlets/8/Outlet.PowerControl", {"PowerState": "PowerCycle"})
truth = sim.state(0)["pdu"]["units"][0]["outlets"][7]
F.check(stc == 204 and truth["on"] is False and truth["pending"] == "on", "PowerCycle: off, on pending: %s" % truth)
o = get(BASE + "/1/Outlets/8")
F.check(o and o["PowerState"] == "PoweringOn", "outlet 8 shows PoweringOn during the cycle: %s" % (o and o["PowerState"]))
stc, body = post(BASE + "/2/Outlets/3/Outlet.PowerControl", {"PowerState": "Off"}, dev=1)
F.check(stc == 204 and sim.state(1)["pdu"]["units"][1]["outlets"][2]["on"] is False and
        sim.state(1)["pdu"]["units"][0]["outlets"][2]["on"] is True, "PowerControl on unit 2 of a daisy chain")
stc, body = post(T, {"PowerState": "Sideways"})
F.check(stc == 400 and b"ActionParameterValueNotInList" in body, "bad PowerState: 400 %d" % stc)
stc, body = post(T, {"Power": "On"})
F.check(stc == 400 and b"ActionParameterMissing" in body, "missing PowerState: 400 %d" % stc)
stc, _ = post(BASE + "/1/Outlets/99/Outlet.PowerControl", {"PowerState": "On"})
F.check(stc == 404, "PowerControl on a missing outlet: %d" % stc)
stc, _ = post(BASE + "/1/Outlets/7", None, method="DELETE")
F.check(stc == 405, "DELETE on an outlet: %d" % stc)


# ---- outlet groups: one per branch; PowerWatts sums its outlets; switching switches them ----
gc = get(BASE + "/1/OutletGroups")
st = sim.state(0)["pdu"]["units"][0]
bids = branch_ids(st)
F.check(gc and [m["@odata.id"] for m in gc["Members"]] == ["%s/1/OutletGroups/%s" % (BASE, b) for b in bids],
        "one outlet group per branch: %s" % (gc and gc["Members"]))
g2 = get(BASE + "/1/OutletGroups/" + bids[1])
st2 = sim.state(0)["pdu"]["units"][0]
members = [o for o in st["outlets"] if o["branch"] == 2]
if g2:
    F.check([l["@odata.id"] for l in g2["Links"]["Outlets"]] ==
            ["%s/1/Outlets/%d" % (BASE, o["index"]) for o in members], "group %s links its outlets" % bids[1])
    near("group %s power" % bids[1], g2["PowerWatts"]["Reading"], sum(o["power"] for o in members),
         sum(o["power"] for o in st2["outlets"] if o["branch"] == 2), res=1)
stc, body = post(BASE + "/1/OutletGroups/%s/OutletGroup.PowerControl" % bids[1], {"PowerState": "Off"})
st = sim.state(0)["pdu"]["units"][0]
F.check(stc == 204 and all(not o["on"] for o in st["outlets"] if o["branch"] == 2) and
        all(o["on"] for o in st["outlets"] if o["branch"] != 2 and o["index"] not in (7, 8)),
        "OutletGroup.PowerControl Off switches exactly the group's outlets: %d" % stc)
g2 = get(BASE + "/1/OutletGroups/" + bids[1])
F.check(g2 and g2["PowerState"] == "Off" and g2["PowerWatts"]["Reading"] == 0, "group Off draws nothing")
stc, _ = post(BASE + "/1/OutletGroups/%s/OutletGroup.PowerControl" % bids[1], {"PowerState": "On"})
F.check(stc == 204 and all(o["on"] for o in sim.state(0)["pdu"]["units"][0]["outlets"] if o["branch"] == 2),
        "group On again")
get(BASE + "/1/OutletGroups/Z9", expect=404)

# metered-only PDU: no PowerControl action, and the action is refused
o = get(BASE + "/1/Outlets/1", dev=3)
F.check(o and o["PowerEnabled"] is False and "#Outlet.PowerControl" not in o["Actions"],
        "metered-only outlet advertises no PowerControl: %s" % (o and o["Actions"]))
stc, body = post(BASE + "/1/Outlets/1/Outlet.PowerControl", {"PowerState": "Off"}, dev=3)
F.check(stc == 400 and b"ActionNotSupported" in body and sim.state(3)["pdu"]["units"][0]["outlets"][0]["on"],
        "PowerControl on a metered-only outlet: %d %r" % (stc, body[:100]))

# ---- resource shapes against the DMTF public-pdu mockup ----
def jtype(v):
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    return type(v).__name__


# the mockup's group readings point at group sensors this model does not have
SKIP = {"@Redfish.Copyright", "Links.Facility", "DwellTime", "PowerWatts.DataSourceUri@group",
        "EnergykWh.DataSourceUri@group"}


def shape(kind, mock, ours, path=""):
    for k, mv in mock.items():
        if k in SKIP or (path + k) in SKIP or (kind == "OutletGroup" and (path + k + "@group") in SKIP):
            continue
        where = "%s %s%s" % (kind, path, k)
        if not F.check(k in ours, where + " is missing"):
            continue
        ov = ours[k]
        F.check(jtype(mv) == jtype(ov), "%s: type %s, mockup %s" % (where, jtype(ov), jtype(mv)))
        if isinstance(mv, dict) and isinstance(ov, dict):
            if k.startswith("PolyPhase"):
                sample = next(iter(mv.values()))
                for lk, lv in ov.items():
                    F.check("Reading" in lv and set(lv) <= set(sample),
                            "%s.%s: %s not within the mockup's %s" % (where, lk, sorted(lv), sorted(sample)))
            else:
                shape(kind, mv, ov, path + k + ".")
        elif isinstance(mv, list) and isinstance(ov, list) and mv and ov and isinstance(mv[0], dict):
            shape(kind, mv[0], ov[0], path + k + "[].")
    F.check(mock.get("@odata.type") is None or mock["@odata.type"] == ours.get("@odata.type"),
            "%s %s@odata.type %s, mockup %s" % (kind, path, ours.get("@odata.type"), mock.get("@odata.type")))


def mock(rel):
    with open(os.path.join(MOCK, rel, "index.json")) as f:
        return json.load(f)


M = "PowerEquipment/RackPDUs/1/"
pairs = [
    ("RackPDU", mock(M[:-1]), get(BASE + "/1")),
    ("Outlet", mock(M + "Outlets/A1"), get(BASE + "/1/Outlets/1")),
    ("Outlet collection", mock(M + "Outlets"), get(BASE + "/1/Outlets")),
    ("Mains", mock(M + "Mains/AC1"), get(BASE + "/1/Mains/AC1")),
    ("Mains collection", mock(M + "Mains"), get(BASE + "/1/Mains")),
    ("Branch", mock(M + "Branches/A"), get(BASE + "/1/Branches/A1")),
    ("Branch collection", mock(M + "Branches"), get(BASE + "/1/Branches")),
    ("Metrics", mock(M + "Metrics"), get(BASE + "/1/Metrics")),
    ("OutletGroup", mock(M + "OutletGroups/Rack5Storage"), get(BASE + "/1/OutletGroups/A1")),
    ("OutletGroup collection", mock(M + "OutletGroups"), get(BASE + "/1/OutletGroups")),
    ("Current sensor", mock("Chassis/PDU/Sensors/CurrentA1"), get(BASE + "/1/Sensors/CurrentOutlet1")),
    ("Energy sensor", mock("Chassis/PDU/Sensors/EnergyA1"), get(BASE + "/1/Sensors/EnergyOutlet1")),
    ("Voltage sensor", mock("Chassis/PDU/Sensors/VoltageMains1-1"), get(BASE + "/1/Sensors/VoltageMains1")),
    ("Temperature sensor", mock("Chassis/PDU/Sensors/CabTemp"), get(BASE + "/1/Sensors/Temperature1")),
    ("Sensor collection", mock("Chassis/PDU/Sensors"), get(BASE + "/1/Sensors")),
    ("PowerEquipment", {k: v for k, v in mock("PowerEquipment").items() if k not in ("FloorPDUs", "TransferSwitches")},
     get("/redfish/v1/PowerEquipment")),
    ("SessionService", mock("SessionService"), get("/redfish/v1/SessionService")),
]
for kind, m, ours in pairs:
    if ours is not None:
        shape(kind, m, ours)

sim.stop()
F.done()
