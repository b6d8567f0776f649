"""SNMP values equal the ground truth in each model's units and scales. The
simulated clock is frozen (--time-scale 1e-6), so the control API and the SNMP
agent see the very same instant and the comparison is exact (to rounding)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from simfix import Sim, Failures  # noqa: E402

F = Failures()
sim = Sim(["--generate", "pdus=4,ups=2", "--time-scale", "0.000001"])


def dev(model):
    return [d for d in sim.devices if d["model"] == model][0]


def snmp_vals(d, oids):
    rc, rows, err = sim.snmp("snmpget", sim.v2c(d), *oids)
    F.check(rc == 0 and len(rows) == len(oids), f"{d['model']}: get {err}")
    return [int(r[2]) for r in rows]


def compare(d, pairs):
    """pairs: (oid, expected float already scaled)."""
    got = snmp_vals(d, [p[0] for p in pairs])
    for (oid, want), g in zip(pairs, got):
        F.check(abs(g - round(want)) <= 1, f"{d['model']} {oid}: SNMP {g}, ground truth {want:.3f}")


# APC rPDU2: W, tenths of A, hundredths of kW, tenths of kWh, tenths of a degree
d = dev("apc-rpdu2")
u = sim.state(d["id"])["pdu"]["units"][0]
R2 = "1.3.6.1.4.1.318.1.1.26"
pairs = [(f"{R2}.4.3.1.5.1", u["power"] / 10), (f"{R2}.4.3.1.9.1", u["energy_wh"] / 100),
         (f"{R2}.6.3.1.5.1", u["lines"][0]["current"] * 10), (f"{R2}.6.3.1.6.1", u["lines"][0]["voltage"]),
         (f"{R2}.8.3.1.5.2", u["branches"][1]["current"] * 10),
         (f"{R2}.10.2.2.1.8.1", [s for s in u["sensors"] if s["kind"] == "temperature"][0]["value"] * 10)]
for o in u["outlets"][:12]:
    pairs += [(f"{R2}.9.4.3.1.7.{o['index']}", o["power"]), (f"{R2}.9.4.3.1.6.{o['index']}", o["current"] * 10)]
compare(d, pairs)

# Raritan PDU2: decimal digits 3 for current, 0 for W/V/Wh, 2 for PF
d = dev("raritan-px3")
u = sim.state(d["id"])["pdu"]["units"][0]
RX = "1.3.6.1.4.1.13742.6.5"
pairs = [(f"{RX}.2.3.1.4.1.1.1", u["current"] * 1000), (f"{RX}.2.3.1.4.1.1.5", u["power"]),
         (f"{RX}.2.3.1.4.1.1.4", u["voltage"]), (f"{RX}.2.3.1.4.1.1.7", u["power_factor"] * 100),
         (f"{RX}.3.3.1.4.1.2.1", u["branches"][1]["current"] * 1000)]
for o in u["outlets"][:10]:
    i = o["index"]
    pairs += [(f"{RX}.4.3.1.4.1.{i}.1", o["current"] * 1000), (f"{RX}.4.3.1.4.1.{i}.5", o["power"]),
              (f"{RX}.4.3.1.4.1.{i}.8", o["energy_wh"])]
compare(d, pairs)

# Eaton ePDU: mV, mA, W, Wh; unit index 0
d = dev("eaton-epdu")
u = sim.state(d["id"])["pdu"]["units"][0]
EA = "1.3.6.1.4.1.534.6.6.7"
pairs = [(f"{EA}.3.5.1.4.0.1", u["power"])]
for ln in u["lines"]:
    pairs += [(f"{EA}.3.2.1.3.0.1.{ln['index']}", ln["voltage"] * 1000),
              (f"{EA}.3.3.1.4.0.1.{ln['index']}", ln["current"] * 1000)]
for o in u["outlets"][:10]:
    pairs += [(f"{EA}.6.4.1.3.0.{o['index']}", o["current"] * 1000), (f"{EA}.6.5.1.3.0.{o['index']}", o["power"])]
compare(d, pairs)

# Sentry4 (delta): W, hundredths of A, tenths of V
d = dev("sentry4")
u = sim.state(d["id"])["pdu"]["units"][0]
ST = "1.3.6.1.4.1.1718.4.1"
pairs = [(f"{ST}.3.3.1.3.1.1", u["power"]), (f"{ST}.3.2.1.7.1.1", 2080)]
for ln in u["lines"]:
    pairs += [(f"{ST}.4.3.1.3.1.1.{ln['index']}", ln["current"] * 100),
              (f"{ST}.5.3.1.3.1.1.{ln['index']}", ln["voltage"] * 10)]
for o in u["outlets"][:10]:
    pairs += [(f"{ST}.8.3.1.3.1.1.{o['index']}", o["current"] * 100), (f"{ST}.8.3.1.7.1.1.{o['index']}", o["power"])]
compare(d, pairs)

# UPS-MIB: %, minutes, tenths of V for the battery, W per line
d = dev("ups-mib")
u = sim.state(d["id"])["ups"]
UM = "1.3.6.1.2.1.33.1"
pairs = [(f"{UM}.2.4.0", u["battery_charge_pct"]), (f"{UM}.2.3.0", u["battery_runtime_s"] / 60),
         (f"{UM}.2.5.0", u["battery_voltage"] * 10)]
for ln in u["output"]["lines"]:
    pairs += [(f"{UM}.4.4.1.4.{ln['index']}", ln["power"]), (f"{UM}.4.4.1.2.{ln['index']}", ln["voltage"])]
compare(d, pairs)

# APC Smart-UPS: tenths (upsHighPrec), TimeTicks of runtime
d = dev("apc-ups")
u = sim.state(d["id"])["ups"]
AU = "1.3.6.1.4.1.318.1.1.1"
compare(d, [(f"{AU}.2.3.1.0", u["battery_charge_pct"] * 10), (f"{AU}.4.3.3.0", u["load_pct"] * 10),
            (f"{AU}.4.3.1.0", u["output"]["lines"][0]["voltage"] * 10),
            (f"{AU}.2.2.3.0", u["battery_runtime_s"] * 100)])
sim.stop()

# daisy chains: the second unit of each model, with its own indexing
sim = Sim(["--generate", "pdus=4,units=2,outlets=8", "--time-scale", "0.000001"])
d = dev("apc-rpdu2")  # modules; outlets, phases and banks numbered across modules
u2 = sim.state(d["id"])["pdu"]["units"][1]
o = u2["outlets"][2]
compare(d, [(f"{R2}.9.4.3.1.7.11", o["power"]), (f"{R2}.4.3.1.5.2", u2["power"] / 10),
            (f"{R2}.6.3.1.5.2", u2["lines"][0]["current"] * 10), (f"{R2}.8.3.1.5.3", u2["branches"][0]["current"] * 10)])
rc, rows, _ = sim.snmp("snmpget", sim.v2c(d), f"{R2}.9.4.3.1.2.11", f"{R2}.9.4.3.1.4.11", f"{R2}.9.1.0")
F.check([r[2] for r in rows] == ["2", "3", "16"], f"APC outlet 11 is module 2 outlet 3 of 16: {rows}")
d = dev("raritan-px3")  # pduId
u2 = sim.state(d["id"])["pdu"]["units"][1]
compare(d, [(f"{RX}.2.3.1.4.2.1.5", u2["power"]), (f"{RX}.4.3.1.4.2.3.1", u2["outlets"][2]["current"] * 1000)])
d = dev("eaton-epdu")  # unit index 1 (0-based), three-phase
u2 = sim.state(d["id"])["pdu"]["units"][1]
compare(d, [(f"{EA}.3.5.1.4.1.1", u2["power"]), (f"{EA}.3.3.1.4.1.1.3", u2["lines"][2]["current"] * 1000),
            (f"{EA}.6.5.1.3.1.3", u2["outlets"][2]["power"])])
d = dev("sentry4")  # unit B
u2 = sim.state(d["id"])["pdu"]["units"][1]
compare(d, [(f"{ST}.3.3.1.3.2.1", u2["power"]), (f"{ST}.8.3.1.7.2.1.3", u2["outlets"][2]["power"])])
rc, rows, _ = sim.snmp("snmpget", sim.v2c(d), f"{ST}.3.2.1.2.2.1", f"{ST}.4.2.1.4.2.1.2")
F.check([r[2] for r in rows] == ["BA", "BA:L2"], f"Sentry4 unit B labels: {rows}")
sim.stop()
F.done()
