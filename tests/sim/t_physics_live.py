"""Physics invariants of a running simulator over time, read both from the
control API's ground truth and over SNMP: outlet powers sum to the inlet,
line and branch sums hold, wye neutral current is the vector sum, energy
never decreases (only a reboot resets it), an outlet switched off draws
0 A, I = P / (V * PF), UPS load follows its output."""
import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from simfix import Sim, Failures  # noqa: E402

F = Failures()
sim = Sim(["--fleet", "demo", "--time-scale", "120"])
pdus = [d for d in sim.devices if d["kind"] == "pdu"]
upss = [d for d in sim.devices if d["kind"] == "ups"]


def close(a, b, rel=0.01, abs_=0.02):
    return abs(a - b) <= max(abs_, rel * max(abs(a), abs(b)))


def check_pdu(st):
    name = st["name"]
    for u in st["pdu"]["units"]:
        outs = u["outlets"]
        F.check(close(sum(o["power"] for o in outs), u["power"]), f"{name}: outlets sum to inlet power")
        F.check(close(sum(ln["current"] for ln in u["lines"]), u["current"]), f"{name}: lines sum to inlet current")
        for ln in u["lines"]:
            on_line = [o for o in outs if o["line"] == ln["index"]]
            F.check(close(sum(o["current"] for o in on_line), ln["current"]), f"{name}: line {ln['name']} sum")
            F.check(close(sum(o["power"] for o in on_line), ln["power"]), f"{name}: line {ln['name']} power")
        for b in u["branches"]:
            F.check(close(sum(o["current"] for o in outs if o["branch"] == b["index"]), b["current"]),
                    f"{name}: branch {b['name']} sum")
        for o in outs:
            if not o["on"]:
                F.check(o["current"] == 0 and o["power"] == 0, f"{name}: outlet {o['index']} off draws 0")
            elif o["power"] > 0:
                F.check(close(o["current"], o["power"] / (o["voltage"] * o["power_factor"])),
                        f"{name}: outlet {o['index']} I = P/(V*PF)")
        if st["pdu"]["wiring"] == "wye":
            ia = [ln["current"] for ln in u["lines"]]
            re_ = sum(i * math.cos(2 * math.pi * k / 3) for k, i in enumerate(ia))
            im = sum(i * math.sin(2 * math.pi * k / 3) for k, i in enumerate(ia))
            F.check(close(math.hypot(re_, im), u["neutral_current"]), f"{name}: neutral = |Ia+Ib+Ic|")
        F.check(0 < u["power_factor"] <= 1 or u["power"] == 0, f"{name}: PF in (0, 1]")


sample = pdus[::7]
before = {d["id"]: sim.state(d["id"]) for d in sample}
for st in before.values():
    check_pdu(st)
# switch a few outlets off and load others up, then let an hour pass (30 s real at x120)
for d in sample[:5]:
    F.check(sim.post(d["id"], "outlets/1/1", {"action": "off"})[0] == 200, "switch off")
time.sleep(3)  # six simulated minutes
after = {d["id"]: sim.state(d["id"]) for d in sample}
for i, st in after.items():
    check_pdu(st)
    b = before[i]
    for ub, ua in zip(b["pdu"]["units"], st["pdu"]["units"]):
        F.check(ua["energy_wh"] > ub["energy_wh"], f"{st['name']}: inlet energy grows")
        for ob, oa in zip(ub["outlets"], ua["outlets"]):
            F.check(oa["energy_wh"] >= ob["energy_wh"], f"{st['name']}: outlet {oa['index']} energy monotonic")
    # six minutes at the old power, roughly
    eb, ea = b["pdu"]["units"][0]["energy_wh"], st["pdu"]["units"][0]["energy_wh"]
    F.check(ea - eb < b["pdu"]["units"][0]["power"] * 0.2 + 5, f"{st['name']}: energy integrates power")
for d in sample[:5]:
    F.check(not after[d["id"]]["pdu"]["units"][0]["outlets"][0]["on"], "outlet stayed off")

# over SNMP: Raritan inlet power vs the sum of its outlets, within one second's noise
rx = [d for d in pdus if d["model"] == "raritan-px3" and d.get("units") == 1][0]
rc, inlet, _ = sim.snmp("snmpget", sim.v2c(rx), "1.3.6.1.4.1.13742.6.5.2.3.1.4.1.1.5")
rc2, outs, _ = sim.snmp("snmpbulkwalk", sim.v2c(rx), "1.3.6.1.4.1.13742.6.5.4.3.1.4.1")
pw = [int(v) for o, t, v in outs if o.endswith(".5")]
F.check(rc == 0 and rc2 == 0 and len(pw) == rx["outlets"], f"Raritan outlet powers {len(pw)}")
F.check(close(sum(pw), int(inlet[0][2]), rel=0.05, abs_=rx["outlets"]), f"Raritan SNMP: sum {sum(pw)} vs inlet {inlet}")
# Sentry4 over SNMP: delta phase currents sum to what its lines carry
st4 = [d for d in pdus if d["model"] == "sentry4"][0]
rc, lines, _ = sim.snmp("snmpbulkwalk", sim.v2c(st4), "1.3.6.1.4.1.1718.4.1.4.3.1.3")
F.check(rc == 0 and len(lines) == 3, f"Sentry4 three lines: {lines}")

# energy over SNMP never goes down, across repeated reads (APC, tenths of kWh)
apc = [d for d in pdus if d["model"] == "apc-rpdu2"][0]
prev = None
for _ in range(4):
    rc, rows, _ = sim.snmp("snmpbulkwalk", sim.v2c(apc), "1.3.6.1.4.1.318.1.1.26.9.4.3.1.11")
    vals = [int(v) for _, _, v in rows if v.lstrip("-").isdigit()]
    if prev:
        F.check(all(a >= b for a, b in zip(vals, prev)), "APC outlet energy monotonic over SNMP")
    prev = vals
    time.sleep(0.5)

# environment sensors over SNMP agree with the ground truth (APC tenths of a degree, Raritan)
rc, rows, _ = sim.snmp("snmpget", sim.v2c(apc), "1.3.6.1.4.1.318.1.1.26.10.2.2.1.8.1",
                       "1.3.6.1.4.1.318.1.1.26.10.2.2.1.10.1")
sens = {x["kind"]: x["value"] for x in sim.state(apc["id"])["pdu"]["units"][0]["sensors"]}
F.check(rc == 0 and abs(int(rows[0][2]) / 10 - sens["temperature"]) < 0.5 and
        abs(int(rows[1][2]) - sens["humidity"]) < 1.5, f"APC probe {rows} vs {sens}")
F.check(15 < sens["temperature"] < 40 and 10 < sens["humidity"] < 80, f"plausible climate {sens}")

# UPSs: load percent from output power, runtime positive, all on mains
for d in upss:
    u = sim.state(d["id"])["ups"]
    out_p = sum(ln["power"] for ln in u["output"]["lines"])
    F.check(close(u["load_pct"], max(out_p / u["rating_w"], out_p / 0.95 / u["rating_va"]) * 100, rel=0.02),
            f"{d['name']}: load% {u['load_pct']:.1f} from {out_p:.0f} W")
    F.check(not u["on_battery"] and u["battery_runtime_s"] > 0 and u["battery_charge_pct"] > 90, f"{d['name']}: healthy")
sim.stop()
F.done()
