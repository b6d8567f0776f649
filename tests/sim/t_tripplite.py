"""Tripp Lite ATS/PDU (TRIPPLITE-PRODUCTS tlpAts) in wattrack-sim, switched through
wattrack's own control path (wattrack-probe --control, pollers/profiles/tripplite-ats.json)
with the command values of the MIB: turnOff(1), turnOn(2), cycle(3). The profile binds by
sysObjectID + tlpAtsIdentNumAts, reads both sources, the output and every outlet; each
command is confirmed by re-reading tlpAtsOutletState and agrees with the simulator's ground
truth; the next poll shows the outlet off; what the MIB lacks (delayed commands) and what
the agent refuses (read-only community, values outside the enum) fail with a reason."""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from simfix import Sim, Failures, tmpdir  # noqa: E402
from probefix import probe as run_probe, readings  # noqa: E402

CMD = "1.3.6.1.4.1.850.1.1.3.4.3.3.1.1.6.1."
F = Failures()

fleet = os.path.join(tmpdir("wt-tripplite-"), "fleet.json")
with open(fleet, "w") as fh:
    json.dump({"devices": [{"model": "tripplite-ats", "protocol": "snmp", "wiring": "1ph",
                            "outlets": 16}]}, fh)
sim = Sim(["--fleet", fleet])
d = sim.devices[0]


def url(write=True):
    c = d["snmp"]["write_community" if write else "community"]
    return f"snmp://{c}@127.0.0.1:{sim.snmp_port}"


def probe(u, *controls):
    return run_probe(u, *sum((["-c", c] for c in controls), []))


def outlet(j, n):
    for e in j.get("entities", []):
        if e["kind"] == "outlet" and e["index"] == n:
            return e
    return {}


def truth(n):
    return sim.state(0)["pdu"]["units"][0]["outlets"][n - 1]["on"]


O = 3
sim.post(0, "outlets/1/%d" % O, {"action": "on"})
rc, j, err = probe(url(False))
F.check(rc == 0 and (j.get("profile") or {}).get("name") == "tripplite-ats",
        f"binds tripplite-ats: rc={rc} profile={j.get('profile')} {err[-300:]}")
outs = [e for e in j.get("entities", []) if e["kind"] == "outlet"]
F.check(len(outs) == 16, f"16 outlets: {len(outs)}")
e3 = outlet(j, O)
F.check(e3.get("switchable") is True and sorted(e3.get("controls", [])) == ["cycle", "off", "on"],
        f"outlet {O} switchable with on/off/cycle only (the MIB has no delayed commands): {e3}")
got = readings(j)
F.check(got.get(("outlet", O, "outlet_state")) == 1, f"outlet {O} reads on: {e3}")
v = sim.state(0)["pdu"]["units"][0]["lines"][0]["voltage"]
src = [got.get(("inlet", i, "voltage")) for i in (1, 2)]
F.check(len([e for e in j.get("entities", []) if e["kind"] == "inlet"]) == 2 and
        all(x is not None and abs(x - v) <= 0.2 for x in src),
        f"two sources at the unit's {v:.1f} V: {src}")

rc, j, err = probe(url(), f"{O}:off")
F.check(rc == 0 and (j.get("control") or {}).get("ok") is True,
        f"off confirmed: rc={rc} {j.get('control')} {err[-300:]}")
F.check(truth(O) is False, "the simulator's outlet is off")
rc, j, err = probe(url(False))
F.check(readings(j).get(("outlet", O, "outlet_state")) == 0, f"next poll: outlet {O} off: {outlet(j, O)}")
rc2, r, e2 = sim.snmp("snmpget", sim.v2c(d), CMD + str(O))
F.check(rc2 == 0 and r and r[0][2] == "0", f"tlpAtsOutletCommand reads idle(0) after a SET: {r} {e2}")

rc, j, err = probe(url(), f"{O}:on")
F.check(rc == 0 and (j.get("control") or {}).get("ok") is True and truth(O) is True,
        f"on confirmed, simulator agrees: {j.get('control')}")
rc, j, err = probe(url(), f"{O}:cycle")
F.check(rc == 0 and (j.get("control") or {}).get("ok") is True,
        f"cycle accepted: {j.get('control')}")
deadline = time.time() + 20
while time.time() < deadline and not truth(O):
    time.sleep(0.2)
F.check(truth(O) is True, "after the cycle the outlet is back on")
rc, j, err = probe(url(), "5:delayed_off")
F.check(rc != 0 and (j.get("control") or {}).get("ok") is False and truth(5) is True,
        f"delayed_off is not in the MIB: refused, outlet 5 stays on: rc={rc} {j.get('control')}")

# the read community cannot switch
rc, j, err = probe(url(False), "2:off")
F.check(rc != 0 and (j.get("control") or {}).get("ok") is False and truth(2) is True,
        f"read-only community: refused, outlet 2 stays on: {j.get('control')}")
# values outside idle/turnOff/turnOn/cycle are wrongValue at the agent
rc2, r, e2 = sim.snmp("snmpset", sim.v2c(d, write=True), CMD + "4", "i", "4")
F.check(rc2 != 0 and "wrongValue" in e2 and truth(4) is True, f"SET 4: wrongValue: {e2}")

rc = sim.stop()
F.check(rc == 0, f"wattrack-sim exit status {rc}")
F.done()
