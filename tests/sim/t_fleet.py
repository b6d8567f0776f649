"""Fleets: the demo fleet's shape (two rooms, every model and protocol), a
written fleet read back simulates the same devices with the same physics,
and bad fleets or options are refused with a message and exit code 2."""
import collections
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from simfix import Sim, Failures, SIM, tmpdir  # noqa: E402

F = Failures()
demo = Sim(["--fleet", "demo"])
devs = demo.devices
F.check(180 <= len(devs) <= 220, f"demo has {len(devs)} devices")
rooms = {d["placement"]["room"] for d in devs}
F.check(len(rooms) == 2, f"two rooms: {rooms}")
models = collections.Counter(d["model"] for d in devs)
protos = collections.Counter(d["protocol"] for d in devs)
F.check(len(models) == 10, f"every model: {models}")
F.check(protos["snmp"] > 100 and protos["modbus"] >= 10 and protos["redfish"] >= 10, f"protocols {protos}")
F.check(any(d.get("units", 1) > 1 for d in devs), "daisy chains in the demo")
F.check({d.get("wiring") for d in devs if d["kind"] == "pdu"} >= {"1ph", "wye", "delta"}, "all wirings")
F.check(len({d["name"] for d in devs}) == len(devs), "names are unique")
F.check(all(d["placement"]["feed"] in ("A", "B") for d in devs), "feeds A/B")
modbus = [(d["modbus"]["port"], d["modbus"]["unit"]) for d in devs if d["protocol"] == "modbus"]
F.check(len(set(modbus)) == len(modbus) and all(p > 0 for p, _ in modbus), "Modbus endpoints unique")
rf = [d["http"][k] for d in devs if d["protocol"] == "redfish" for k in ("port", "https_port")]
mb_ports = {p for p, _ in modbus}
F.check(len(set(rf)) == len(rf) and all(rf) and not (set(rf) & mb_ports),
        "Redfish HTTP and HTTPS ports unique, and apart from the Modbus ports")

# write, read back: same devices, same identity, same physics at the same time
d = tmpdir()
path = os.path.join(d, "fleet.json")
with open(demo.fleet_path) as f:
    fleet = json.load(f)
for x in fleet["devices"]:  # let the new process pick its own ports
    x.pop("modbus", None)
    x.pop("http", None)
with open(path, "w") as f:
    json.dump(fleet, f)
again = Sim(["--fleet", path])
F.check(len(again.devices) == len(devs), "same number of devices")
same = all(a["name"] == b["name"] and a["model"] == b["model"] and a["serial"] == b["serial"] and
           a.get("snmp", {}).get("community") == b.get("snmp", {}).get("community")
           for a, b in zip(devs, again.devices))
F.check(same, "identity survives the round trip")
for i in (0, 5, 37):
    s1 = demo.state(i)["pdu"]["units"][0]["outlets"][0]["load"]
    s2 = again.state(i)["pdu"]["units"][0]["outlets"][0]["load"]
    F.check(s1 == s2, f"device {i}: same load profile from the same seed")
rc, rows, err = again.snmp("snmpget", again.v2c(again.devices[3]), "1.3.6.1.2.1.1.5.0")
F.check(rc == 0 and rows[0][2] == devs[3]["name"], "the re-read fleet answers")
demo.stop()
again.stop()

# refusals
for args, want in ((["--generate", "pdus=x"], "number"), (["--generate", "toasters=3"], "unknown key"),
                   (["--generate", "pdus=1,outlets=99"], "outlets"), (["--bind", "10.0.0.1"], "loopback"),
                   (["--fleet", os.path.join(d, "missing.json")], "fleet")):
    p = subprocess.run([SIM] + args, capture_output=True, text=True, timeout=30)
    F.check(p.returncode == 2 and want in p.stderr, f"{args}: rc {p.returncode} {p.stderr.strip()}")
# a metered-only PDU refuses switching with the SNMP error a real one gives
mo = os.path.join(d, "metered.json")
with open(mo, "w") as f:
    json.dump({"devices": [{"model": "apc-rpdu2", "switched": False}]}, f)
m = Sim(["--fleet", mo])
F.check(m.devices[0]["switched"] is False, "switched flag written")
rc, rows, err = m.snmp("snmpset", m.v2c(m.devices[0], write=True), "1.3.6.1.4.1.318.1.1.26.9.2.4.1.5.1", "i", "2")
F.check(rc != 0 and "noAccess" in err and m.state(0)["pdu"]["units"][0]["outlets"][0]["on"], f"metered-only: {err}")
st, j = m.post(0, "outlets/1/1", {"action": "off"})
F.check(st == 400 and "switchable" in j["error"]["message"], f"control API refuses too: {st} {j}")
m.stop()
bad = os.path.join(d, "bad.json")
with open(bad, "w") as f:
    f.write('{"devices": [{"model": "no-such-model"}]}')
p = subprocess.run([SIM, "--fleet", bad], capture_output=True, text=True, timeout=30)
F.check(p.returncode == 2 and "model" in p.stderr, f"unknown model refused: {p.stderr.strip()}")
F.done()
