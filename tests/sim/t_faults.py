"""Every fault the control API injects is seen by an SNMP client: timeout,
delay, loss rate, garbage, truncation, noSuchObject/tooBig/genErr, reboot
(sysUpTime and energy restart), load step, mains failure (the UPS goes on
battery and its charge falls), manual outlet switching, a tripped breaker."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from simfix import Sim, Failures, v2c_get, udp_exchange  # noqa: E402

F = Failures()
# 60 simulated seconds per real second, so a UPS drains visibly in a few seconds
sim = Sim(["--generate", "pdus=8,ups=4", "--time-scale", "60"])
rx = sim.dev(lambda d: d["model"] == "raritan-px3")[0]
apc = sim.dev(lambda d: d["model"] == "apc-rpdu2")[0]
SYSNAME = "1.3.6.1.2.1.1.5.0"


def get(d, *oids, timeout=2, retries=0):
    return sim.snmp("snmpget", sim.v2c(d), *oids, timeout=timeout, retries=retries)


def fault(d, **kw):
    st, j = sim.post(d["id"], "faults", dict(kw, clear=True))
    F.check(st == 200, f"set fault {kw}: {st} {j}")


def clear(d):
    st, _ = sim.api("DELETE", f"/api/devices/{d['id']}/faults")
    F.check(st == 200, "clear faults")


# timeout
fault(apc, timeout=True)
rc, rows, err = get(apc, SYSNAME, timeout=1)
F.check(rc != 0 and "Timeout" in err, f"timeout fault answered: {rows}")
clear(apc)
rc, rows, _ = get(apc, SYSNAME)
F.check(rc == 0 and rows[0][2] == apc["name"], "answers again after clearing")

# delay
fault(apc, delay_ms=800)
t0 = time.time()
rc, rows, err = get(apc, SYSNAME, timeout=3)
dt = time.time() - t0
F.check(rc == 0 and 0.75 <= dt < 2.5, f"delay 800 ms took {dt:.2f}s rc={rc} {err}")
clear(apc)

# loss: about half of 400 requests answered
fault(apc, loss_pct=50)
ans = udp_exchange(sim.snmp_port, [v2c_get(apc["snmp"]["community"], SYSNAME, i) for i in range(400)])
F.check(140 <= len(ans) <= 260, f"loss 50%: {len(ans)} of 400 answered")
fault(apc, loss_pct=0)
ans = udp_exchange(sim.snmp_port, [v2c_get(apc["snmp"]["community"], SYSNAME, i) for i in range(100)])
F.check(len(ans) == 100, f"no loss: {len(ans)} of 100 answered")
good = ans[0]

# garbage and truncated answers
fault(apc, garbage=True)
ans = udp_exchange(sim.snmp_port, [v2c_get(apc["snmp"]["community"], SYSNAME, 7)])
F.check(len(ans) == 1 and ans[0] != good and apc["name"].encode() not in ans[0], f"garbage: {ans}")
rc, rows, err = get(apc, SYSNAME, timeout=1)
F.check(rc != 0 and not rows, f"net-snmp accepted garbage: {rows}")
fault(apc, truncated=True)
ans = udp_exchange(sim.snmp_port, [v2c_get(apc["snmp"]["community"], SYSNAME, 0)])
F.check(len(ans) == 1 and 0 < len(ans[0]) < len(good) and good.startswith(ans[0]),
        f"truncated: {len(ans[0]) if ans else None} of {len(good)} bytes")
rc, rows, err = get(apc, SYSNAME, timeout=1)
F.check(rc != 0 and not rows, f"net-snmp accepted a truncated answer: {rows}")

# SNMP errors
fault(apc, snmp_error="nosuchobject")
rc, rows, err = get(apc, SYSNAME)
F.check(rows and "No Such Object" in rows[0][2], f"noSuchObject: {rows} {err}")
fault(apc, snmp_error="toobig")
rc, rows, err = get(apc, SYSNAME)
F.check(rc != 0 and "tooBig" in err, f"tooBig: {err}")
fault(apc, snmp_error="generr")
rc, rows, err = get(apc, SYSNAME)
F.check(rc != 0 and "genErr" in err, f"genErr: {err}")
# a small maximum message size: a big GET answers tooBig, a bulk walk still completes
fault(apc, snmp_max_size=484)
many = ["1.3.6.1.4.1.318.1.1.26.9.2.3.1.3.%d" % i for i in range(1, 25)]
rc, rows, err = get(apc, *many)
F.check(rc != 0 and "tooBig" in err, f"24 names in 484 bytes: {err}")
rc, rows, err = sim.snmp("snmpbulkwalk", sim.v2c(apc) + ["-Cr50"], "1.3.6.1.4.1.318.1.1.26.9")
F.check(rc == 0 and len(rows) > 200, f"bulk walk under 484 bytes: {len(rows)} rows {err}")
st, j = sim.post(apc["id"], "faults", {"snmp_max_size": 100})
F.check(st == 400, f"snmp_max_size under 484 refused: {st}")
st, j = sim.post(apc["id"], "faults", {"snmp_error": "bogus"})
F.check(st == 400 and j["error"]["code"] == "BAD_REQUEST", f"bad fault refused: {st} {j}")
clear(apc)

# reboot: sysUpTime and energy restart (Raritan activeEnergy of outlet 1, in Wh)
E1 = "1.3.6.1.4.1.13742.6.5.4.3.1.4.1.1.8"
time.sleep(1.2)  # > 1 simulated minute of energy
rc, rows, _ = get(rx, "1.3.6.1.2.1.1.3.0", E1)
up0, e0 = int(rows[0][2]), int(rows[1][2])
F.check(up0 > 100 * 3600 and e0 >= 0, f"before reboot: uptime {up0} energy {e0}")
st, j = sim.post(rx["id"], "reboot", {})
F.check(st == 200 and j["boots"] == 2, f"reboot: {st}")
rc, rows, _ = get(rx, "1.3.6.1.2.1.1.3.0", E1)
up1, e1 = int(rows[0][2]), int(rows[1][2])
F.check(up1 < 100 * 120 and e1 <= 1, f"after reboot: uptime {up1} energy {e1} (was {up0}, {e0})")

# load step: +800 W on APC outlet 2 shows in rPDU2OutletMeteredStatusPower
P2 = "1.3.6.1.4.1.318.1.1.26.9.4.3.1.7.2"
p_before = sim.state(apc["id"])["pdu"]["units"][0]["outlets"][1]["load"]["base_w"]
st, j = sim.post(apc["id"], "load", {"unit": 1, "outlet": 2, "watts": 800})
rc, rows, _ = get(apc, P2)
F.check(st == 200 and rc == 0 and int(rows[0][2]) >= p_before + 800 - 0.5 * p_before,
        f"load step: {rows} base {p_before}")

# an outlet switched by hand draws nothing
st, j = sim.post(apc["id"], "outlets/1/2", {"action": "off"})
rc, rows, _ = get(apc, P2, "1.3.6.1.4.1.318.1.1.26.9.2.3.1.5.2")
F.check(st == 200 and rows[0][2] == "0" and rows[1][2] == "1", f"manual off: {rows}")
st, j = sim.post(apc["id"], "outlets/1/2", {"action": "on", "delay": 60})
F.check(st == 200 and j["pdu"]["units"][0]["outlets"][1]["pending"] == "on", "delayed on pending")
time.sleep(1.3)  # 78 simulated seconds
F.check(sim.state(apc["id"])["pdu"]["units"][0]["outlets"][1]["on"], "delayed on happened")
st, j = sim.post(apc["id"], "outlets/1/99", {"action": "off"})
F.check(st == 404, f"unknown outlet: {st}")

# a tripped breaker cuts its outlets
st, j = sim.post(rx["id"], "breakers/1/1", {"tripped": True})
u = j["pdu"]["units"][0]
F.check(all(o["current"] == 0 for o in u["outlets"] if o["branch"] == 1) and u["branches"][0]["tripped"],
        "tripped breaker: its outlets draw 0 A")
rc, rows, _ = get(rx, "1.3.6.1.4.1.13742.6.5.3.3.1.4.1.1.15")
F.check(rows and rows[0][2] == "1", f"Raritan OCP trip sensor reads open: {rows}")

# mains failure: the UPS goes on battery, its charge falls, restore brings it back
for model, src, charge, onbatt in (
        ("ups-mib", "1.3.6.1.2.1.33.1.4.1.0", "1.3.6.1.2.1.33.1.2.4.0", "5"),
        ("apc-ups", "1.3.6.1.4.1.318.1.1.1.4.1.1.0", "1.3.6.1.4.1.318.1.1.1.2.3.1.0", "3")):
    ups = sim.dev(lambda d: d["model"] == model)[0]
    st, j = sim.post(ups["id"], "mains", {"failed": True})
    F.check(st == 200 and j["ups"]["on_battery"], f"{model}: on battery")
    rc, rows, _ = get(ups, src, charge)
    c0 = float(rows[1][2])
    F.check(rows[0][2] == onbatt, f"{model}: output source {rows[0][2]}, want {onbatt}")
    time.sleep(2)
    rc, rows, _ = get(ups, src, charge)
    c1 = float(rows[1][2])
    F.check(c1 < c0, f"{model}: charge fell {c0} -> {c1}")
    st, j = sim.post(ups["id"], "mains", {"failed": False})
    rc, rows, _ = get(ups, src)
    F.check(st == 200 and not j["ups"]["on_battery"] and rows[0][2] != onbatt, f"{model}: back on mains {rows}")
st, j = sim.post(apc["id"], "mains", {"failed": True})
F.check(st == 400, f"mains on a PDU refused: {st}")
st, j = sim.api("GET", "/api/devices/99999")
F.check(st == 404 and j["error"]["code"] == "NOT_FOUND", f"unknown device: {st} {j}")
# stopping with an answer still held back by a delay frees it (no leak, exit 0)
fault(apc, delay_ms=5000)
udp_exchange(sim.snmp_port, [v2c_get(apc["snmp"]["community"], SYSNAME, 1)], wait=0.2)
F.check(sim.stop() == 0, "clean exit with a delayed answer pending")
F.done()
