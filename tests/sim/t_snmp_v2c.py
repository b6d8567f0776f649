"""wattrack-sim over SNMP v1 and v2c, checked with net-snmp's own tools:
GET/GETNEXT/GETBULK/SET, communities select devices, wrong communities and
bad SETs are refused with the right errors, port-range mode."""
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from simfix import Sim, Failures, port_range_sim  # noqa: E402

F = Failures()
sim = Sim(["--fleet", "demo"])
snmp_devs = sim.dev(lambda d: d["protocol"] == "snmp")
F.check(len(snmp_devs) >= 150, f"demo fleet has {len(snmp_devs)} SNMP devices")
apc = sim.dev(lambda d: d["model"] == "apc-rpdu2")[0]
R2 = "1.3.6.1.4.1.318.1.1.26"

# communities select devices, for v1 and v2c
random.seed(7)
for d in random.sample(snmp_devs, 8):
    for ver in ("-v1", "-v2c"):
        rc, rows, err = sim.snmp("snmpget", [ver, "-c", d["snmp"]["community"]], "1.3.6.1.2.1.1.5.0")
        F.check(rc == 0 and rows and rows[0][2] == d["name"], f"{ver} sysName of {d['name']}: {rows} {err}")

rc, rows, _ = sim.snmp("snmpget", sim.v2c(apc), "1.3.6.1.2.1.1.2.0", "1.3.6.1.2.1.1.3.0")
F.check(rc == 0 and rows[0][1] == "OID" and rows[0][2].startswith(".1.3.6.1.4.1.318.1.3.4"),
        f"APC sysObjectID {rows}")
F.check(rows[1][2].isdigit() and int(rows[1][2]) > 0, f"sysUpTime {rows}")

# wrong community: no answer at all
rc, rows, err = sim.snmp("snmpget", ["-v2c", "-c", "not-a-community"], "1.3.6.1.2.1.1.5.0", timeout=1, retries=0)
F.check(rc != 0 and "Timeout" in err, f"wrong community answered: {rows} {err}")

# GETNEXT walk and GETBULK walk see the same table, in order, to endOfMibView
rc, walk, err = sim.snmp("snmpwalk", sim.v2c(apc), R2)
rc2, bulk, err2 = sim.snmp("snmpbulkwalk", sim.v2c(apc), R2)
F.check(rc == 0 and rc2 == 0 and len(walk) > 200, f"walk {len(walk)} rows {err} {err2}")
F.check([r[0] for r in walk] == [r[0] for r in bulk], "snmpwalk and snmpbulkwalk disagree on OIDs")
outlets = [r for r in walk if r[0].startswith(R2 + ".9.4.3.1.7.")]
F.check(len(outlets) == apc["outlets"] * apc["units"], f"{len(outlets)} outlet power rows, want {apc['outlets']}")
rc, v1walk, err = sim.snmp("snmpwalk", ["-v1", "-c", apc["snmp"]["community"]], R2)
F.check(rc == 0 and [r[0] for r in v1walk] == [r[0] for r in walk if not r[2].startswith("No more")],
        f"v1 walk differs {err}")
# a bulk walk with many repetitions splits by message size, not by error
rc, bulk2, err = sim.snmp("snmpbulkwalk", sim.v2c(apc) + ["-Cr200"], "1.3.6.1")
F.check(rc == 0 and len(bulk2) >= len(walk), f"bulkwalk -Cr200 {len(bulk2)} rows {err}")

# exceptions: noSuchObject, noSuchInstance (v2c), noSuchName (v1)
rc, rows, _ = sim.snmp("snmpget", sim.v2c(apc), "1.3.6.1.2.1.1.99.0", "1.3.6.1.2.1.1.5.7")
F.check(len(rows) == 2 and "No Such Object" in rows[0][2] and "No Such Instance" in rows[1][2], f"exceptions {rows}")
rc, rows, err = sim.snmp("snmpget", ["-v1", "-c", apc["snmp"]["community"]], "1.3.6.1.2.1.1.99.0")
F.check("noSuchName" in err, f"v1 missing object: {err}")

# SET switches an outlet; read-only community, wrong type/value, read-only objects refused
ctl = R2 + ".9.2.4.1.5.3"
rc, rows, err = sim.snmp("snmpset", sim.v2c(apc, write=True), ctl, "i", "2")
F.check(rc == 0, f"snmpset immediateOff: {err}")
st = sim.state(apc["id"])
o3 = st["pdu"]["units"][0]["outlets"][2]
F.check(o3["on"] is False and o3["current"] == 0 and o3["power"] == 0, f"outlet 3 after off: {o3}")
rc, rows, _ = sim.snmp("snmpget", sim.v2c(apc), R2 + ".9.2.3.1.5.3", R2 + ".9.4.3.1.6.3")
F.check(rows[0][2] == "1" and rows[1][2] == "0", f"status off(1) and 0 A: {rows}")
rc, rows, err = sim.snmp("snmpset", sim.v2c(apc), ctl, "i", "1")
F.check(rc != 0 and "noAccess" in err, f"read-only community SET: {err}")
rc, rows, err = sim.snmp("snmpset", sim.v2c(apc, write=True), ctl, "s", "on")
F.check(rc != 0 and "wrongType" in err, f"wrong type: {err}")
rc, rows, err = sim.snmp("snmpset", sim.v2c(apc, write=True), ctl, "i", "42")
F.check(rc != 0 and "wrongValue" in err, f"wrong value: {err}")
rc, rows, err = sim.snmp("snmpset", sim.v2c(apc, write=True), "1.3.6.1.2.1.1.5.0", "s", "x")
F.check(rc != 0 and "notWritable" in err, f"read-only object: {err}")
rc, rows, err = sim.snmp("snmpset", ["-v1", "-c", apc["snmp"]["write_community"]], ctl, "i", "1")
F.check(rc == 0 and sim.state(apc["id"])["pdu"]["units"][0]["outlets"][2]["on"], f"v1 SET on: {err}")

# the vendors' own control OIDs: Raritan, Eaton, Sentry4
rx = sim.dev(lambda d: d["model"] == "raritan-px3")[0]
rc, _, err = sim.snmp("snmpset", sim.v2c(rx, True), "1.3.6.1.4.1.13742.6.4.1.2.1.2.1.5", "i", "0")
F.check(rc == 0 and not sim.state(rx["id"])["pdu"]["units"][0]["outlets"][4]["on"], f"Raritan off: {err}")
ea = sim.dev(lambda d: d["model"] == "eaton-epdu")[0]
rc, _, err = sim.snmp("snmpset", sim.v2c(ea, True), "1.3.6.1.4.1.534.6.6.7.6.6.1.3.0.2", "i", "0")
F.check(rc == 0 and not sim.state(ea["id"])["pdu"]["units"][0]["outlets"][1]["on"], f"Eaton off now: {err}")
rc, _, err = sim.snmp("snmpset", sim.v2c(ea, True), "1.3.6.1.4.1.534.6.6.7.6.6.1.4.0.2", "i", "30")
o = sim.state(ea["id"])["pdu"]["units"][0]["outlets"][1]
F.check(rc == 0 and not o["on"] and o["pending"] == "on", f"Eaton delayed on: {o} {err}")
st4 = sim.dev(lambda d: d["model"] == "sentry4")[0]
rc, _, err = sim.snmp("snmpset", sim.v2c(st4, True), "1.3.6.1.4.1.1718.4.1.8.5.1.2.1.1.7", "i", "2")
F.check(rc == 0 and not sim.state(st4["id"])["pdu"]["units"][0]["outlets"][6]["on"], f"Sentry4 off: {err}")
rc, rows, _ = sim.snmp("snmpget", sim.v2c(st4), "1.3.6.1.4.1.1718.4.1.8.5.1.1.1.1.7")
F.check(rows and rows[0][2] == "4", f"st4OutletControlState off(4): {rows}")
sim.stop()

# port-range mode: device i on base+i, still guarded by its community
sim2, base = port_range_sim(["--generate", "pdus=4,ups=2"])
for d in sim2.devices:
    port = d["snmp"]["port"]
    F.check(port == base + d["id"], f"{d['name']} on port {port}")
    rc, rows, err = sim2.snmp("snmpget", sim2.v2c(d), "1.3.6.1.2.1.1.5.0", port=port)
    F.check(rc == 0 and rows and rows[0][2] == d["name"], f"port-range {d['name']}: {rows} {err}")
other = sim2.devices[1]["snmp"]["community"]
rc, rows, err = sim2.snmp("snmpget", ["-v2c", "-c", other], "1.3.6.1.2.1.1.5.0",
                          port=sim2.devices[0]["snmp"]["port"], timeout=1, retries=0)
F.check(rc != 0, f"another device's community on a device port answered: {rows}")
sim2.stop()

# --site-community adds a site-wide read community on each device's own port; the
# device's own community keeps working there and on the shared port, writes still
# need the write community, and an unknown community stays unanswered
SITE = "site-Vq3Secret"
sim3, base = port_range_sim(["--generate", "pdus=2,ups=1", "--site-community", SITE])
for d in sim3.devices:
    port = d["snmp"]["port"]
    F.check(d["snmp"].get("site_community") == SITE and d["snmp"]["community"] != SITE,
            f"{d['name']}: fleet shows its own and the site community: {d['snmp'].get('community')}")
    for comm in (SITE, d["snmp"]["community"]):
        rc, rows, err = sim3.snmp("snmpget", ["-v2c", "-c", comm], "1.3.6.1.2.1.1.5.0", port=port)
        F.check(rc == 0 and rows and rows[0][2] == d["name"],
                f"{d['name']}: {'site' if comm == SITE else 'own'} community on its port: {rows} {err}")
    rc, rows, err = sim3.snmp("snmpget", sim3.v2c(d), "1.3.6.1.2.1.1.5.0")
    F.check(rc == 0 and rows and rows[0][2] == d["name"], f"{d['name']}: own community, shared port: {err}")
pdu = sim3.devices[0]
rc, rows, err = sim3.snmp("snmpset", ["-v2c", "-c", SITE], "1.3.6.1.4.1.318.1.1.26.9.2.4.1.5.1", "i", "2",
                          port=pdu["snmp"]["port"], timeout=1, retries=0)
F.check(rc != 0 and sim3.state(pdu["id"])["pdu"]["units"][0]["outlets"][0]["on"],
        f"the site (read) community cannot switch an outlet: {err}")
rc, rows, err = sim3.snmp("snmpget", ["-v2c", "-c", "nobody-knows"], "1.3.6.1.2.1.1.5.0",
                          port=pdu["snmp"]["port"], timeout=1, retries=0)
F.check(rc != 0, f"an unknown community answered on a device port: {rows}")
sim3.stop()
F.done()
