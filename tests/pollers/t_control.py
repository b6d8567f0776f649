"""Outlet control over SNMP, Modbus and Redfish through pollers/control.h,
against wattrack-sim: the command is confirmed by the device, the
simulator's ground truth agrees, the next poll shows the outlet off and its
current and power at zero, every attempt is one audit event (user, device,
outlet, action, result), commands to one device run one after the other,
and refusals come back with a clear reason (not switchable, no permission,
no such outlet)."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.environ["WT_SOURCE_ROOT"], "tests/sim"))
from simfix import Sim  # noqa: E402
from wtfix import BUILD_ROOT, SOURCE_ROOT, Failures, tmpdir  # noqa: E402

RUN = os.path.join(BUILD_ROOT, "tests", "pollers", "t_control_run")
PROFILES = os.path.join(SOURCE_ROOT, "pollers", "profiles")
F = Failures()
fleet = os.path.join(tmpdir("wt-control-"), "fleet.json")
with open(fleet, "w") as f:
    json.dump({"devices": [
        {"model": "apc-rpdu2", "protocol": "snmp", "outlets": 8},
        {"model": "modbus-pdu", "protocol": "modbus", "wiring": "1ph", "outlets": 8},
        {"model": "redfish-pdu", "protocol": "redfish", "wiring": "1ph", "outlets": 8},
        {"model": "modbus-pdu", "protocol": "modbus", "wiring": "1ph", "outlets": 8,
         "switched": False},
        {"model": "redfish-pdu", "protocol": "redfish", "wiring": "1ph", "outlets": 8,
         "switched": False},
    ]}, f)
sim = Sim(["--fleet", fleet])
D = sim.devices


def url(i, write=True):
    d = D[i]
    if d["protocol"] == "snmp":
        c = d["snmp"]["write_community" if write else "community"]
        return f"snmp://{c}@127.0.0.1:{sim.snmp_port}"
    if d["protocol"] == "modbus":
        return f"modbus://127.0.0.1:{d['modbus']['port']}?unit={d['modbus']['unit']}"
    h = d["http"]
    return f"redfish://{h['user']}:{h['password']}@127.0.0.1:{h['port']}"


def run(u, *controls, user="alice"):
    argv = [RUN, "-p", PROFILES, "-t", "1000", "-u", user]
    for c in controls:
        argv += ["-c", c]
    r = subprocess.run(argv + [u], capture_output=True, text=True, timeout=120)
    try:
        j = json.loads(r.stdout)
    except ValueError:
        j = {}
    return r.returncode, j, r.stderr


def truth(i, outlet):
    return sim.state(i)["pdu"]["units"][0]["outlets"][outlet - 1]


def outlet_samples(j, key, outlet):
    return {s["metric"]: s["value"] for s in j.get(key, [])
            if s["kind"] == "outlet" and s["index"] == outlet and s["unit"] == 1}


for i, proto in ((0, "snmp"), (1, "modbus"), (2, "redfish")):
    u = url(i)
    O = 3
    # make sure it draws something first: on, with a load step
    sim.post(i, "outlets/1/%d" % O, {"action": "on"})
    sim.post(i, "load", {"unit": 1, "outlet": O, "watts": 400})
    rc, j, err = run(u, "%d:off" % O)
    F.check(rc == 0 and j.get("control", {}).get("ok") is True,
            "%s: outlet %d off confirmed (rc=%d %s %s)" % (proto, O, rc, j.get("control"), err[-300:]))
    before = outlet_samples(j, "samples_before_control", O)
    after = outlet_samples(j, "samples", O)
    F.check(before.get("outlet_state") == 1 and before.get("current", 0) > 0.5,
            "%s: before, the outlet is on and draws current: %s" % (proto, before))
    F.check(after.get("outlet_state") == 0, "%s: next poll shows it off: %s" % (proto, after))
    F.check(after.get("current") == 0 and after.get("power_active", 0) == 0,
            "%s: next poll shows zero current and power: %s" % (proto, after))
    F.check(truth(i, O)["on"] is False, "%s: the simulator's outlet is off" % proto)
    a = (j.get("audit") or [{}])[0]
    F.check(a.get("user") == "alice" and a.get("outlet") == O and a.get("action") == "off" and
            a.get("result") == "ok" and a.get("unit") == 1,
            "%s: one audit event with user, outlet, action, result: %s" % (proto, j.get("audit")))
    # several commands queued at once run one after the other, in order
    rc, j, err = run(u, "%d:on" % O, "%d:off" % O, "%d:on" % O, user="bob")
    acts = [(c["command"], c["ok"]) for c in j.get("controls", [])]
    F.check(rc == 0 and acts == [("on", True), ("off", True), ("on", True)],
            "%s: three queued commands, in order: %s %s" % (proto, acts, err[-300:]))
    # a driver refuses a second command while one runs (busy): all three
    # confirmed means each waited for the previous one
    F.check([(x["action"], x["result"], x["user"]) for x in j.get("audit", [])] ==
            [("on", "ok", "bob"), ("off", "ok", "bob"), ("on", "ok", "bob")],
            "%s: three audit events, in order: %s" % (proto, j.get("audit")))
    F.check(truth(i, O)["on"] is True and outlet_samples(j, "samples", O).get("outlet_state") == 1,
            "%s: ends on" % proto)
    rc, j, err = run(u, "%d:cycle" % O)
    F.check(rc == 0 and j.get("control", {}).get("ok") is True,
            "%s: cycle confirmed (%s)" % (proto, j.get("control")))
    rc, j, err = run(u, "99:off")
    F.check(rc == 3 and j.get("control", {}).get("error") == "no such outlet" and
            j.get("audit", [{}])[0].get("result") == "no such outlet",
            "%s: outlet 99: no such outlet, audited (%s)" % (proto, j.get("control")))

# SNMP with the read-only community: the agent refuses the SET
rc, j, err = run(url(0, write=False), "2:off")
F.check(rc == 3 and j.get("control", {}).get("error") == "no permission" and
        j.get("audit", [{}])[0].get("result") == "no permission",
        "snmp read-only community: no permission (%s)" % j.get("control"))
F.check(truth(0, 2)["on"] is True, "the outlet stayed on")
# metered-only PDUs: not switchable
for i, proto in ((3, "modbus"), (4, "redfish")):
    rc, j, err = run(url(i), "2:off")
    F.check(rc == 3 and j.get("control", {}).get("error") == "not switchable" and
            j.get("audit", [{}])[0].get("result") == "not switchable",
            "%s metered-only: not switchable (%s %s)" % (proto, j.get("control"), err[-200:]))
    F.check(truth(i, 2)["on"] is True, "%s metered-only outlet stayed on" % proto)

# faults: a Modbus exception or a dropped connection is a failed poll with the
# reason (the scheduler backs off and marks communication lost from it)
sim.post(1, "faults", {"modbus_exception": 4})
rc, j, err = run(url(1))
F.check(rc == 1 and j.get("status") == "unreachable" and "exception 4" in (j.get("error") or ""),
        "modbus exception 4: a failed poll with its reason (%s)" % j.get("error"))
sim.post(1, "faults", {"clear": True, "disconnect": True})
rc, j, err = run(url(1))
F.check(rc == 1 and j.get("status") == "unreachable", "modbus disconnect: failed poll (%s)" % j.get("error"))
sim.api("DELETE", "/api/devices/1/faults")
rc, j, err = run(url(1))
F.check(rc == 0 and j.get("status") == "ok", "modbus healthy again (%s)" % j.get("error"))
# Redfish over HTTPS: the simulator's certificate is self-signed
h = D[2]["http"]
tls = f"redfish+https://{h['user']}:{h['password']}@127.0.0.1:{h['https_port']}"
rc, j, err = run(tls)
F.check(rc == 1 and j.get("status") == "unreachable",
        "https with a self-signed certificate is refused by default (%s)" % j.get("error"))
rc, j, err = run(tls + "?insecure=1", "5:off")
F.check(rc == 0 and j.get("control", {}).get("ok") is True and truth(2, 5)["on"] is False,
        "https with insecure=1 polls and switches (%s %s)" % (j.get("error"), j.get("control")))
sim.stop()
F.done()
