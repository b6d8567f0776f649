"""wattrack-sim over SNMPv3 (USM), checked with net-snmp's tools: every
auth protocol (MD5, SHA-1, SHA-224/256/384/512) and privacy (DES, AES-128),
engine discovery, contexts selecting devices, and refusals of wrong users,
passwords, security levels and contexts."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from simfix import Sim, Failures  # noqa: E402

F = Failures()
sim = Sim(["--fleet", "demo"])
by_user = {}
for d in sim.devices:
    v3 = d.get("snmp", {}).get("v3")
    if v3 and v3["user"] not in by_user:
        by_user[v3["user"]] = d
combos = {(d["snmp"]["v3"]["auth"], d["snmp"]["v3"]["priv"]) for d in by_user.values()}
for want in [("md5", "des"), ("sha", "aes"), ("sha224", "aes"), ("sha256", "aes"), ("sha384", "aes"),
             ("sha512", "aes"), ("md5", "none"), ("sha", "none"), ("none", "none")]:
    F.check(want in combos, f"demo fleet has a v3 user with auth={want[0]} priv={want[1]}")

for user, d in sorted(by_user.items()):
    rc, rows, err = sim.snmp("snmpget", sim.v3(d), "1.3.6.1.2.1.1.5.0", "1.3.6.1.2.1.1.3.0")
    F.check(rc == 0 and rows and rows[0][2] == d["name"], f"v3 {user}: sysName {rows} {err}")
    rc, rows, err = sim.snmp("snmpbulkwalk", sim.v3(d), "1.3.6.1.2.1.1")
    F.check(rc == 0 and len(rows) >= 7, f"v3 {user}: bulkwalk system {len(rows)} rows {err}")

# a whole vendor table over authPriv AES and DES, identical to the v2c walk
for user in ("wt-sha256-aes", "wt-md5-des"):
    d = by_user[user]
    rc, v3rows, err = sim.snmp("snmpbulkwalk", sim.v3(d), "1.3.6.1.4.1")
    rc2, v2rows, err2 = sim.snmp("snmpbulkwalk", sim.v2c(d), "1.3.6.1.4.1")
    F.check(rc == 0 and len(v3rows) > 100 and [r[0] for r in v3rows] == [r[0] for r in v2rows],
            f"{user}: v3 walk {len(v3rows)} rows vs v2c {len(v2rows)} {err} {err2}")

# GETNEXT walks over v3 too (authNoPriv MD5 and authPriv SHA-512/AES)
for user in ("wt-md5-auth", "wt-sha512-aes"):
    d = by_user[user]
    rc, rows, err = sim.snmp("snmpwalk", sim.v3(d), "1.3.6.1.2.1.1")
    F.check(rc == 0 and len(rows) == 7 and rows[4][2] == d["name"], f"{user}: snmpwalk system {rows} {err}")

# contexts select devices: the same user reads two devices by context
d0 = by_user["wt-sha-aes"]
same = [d for d in sim.devices if d.get("snmp", {}).get("v3", {}).get("user") == "wt-sha-aes"]
F.check(len(same) >= 2, "several devices share a v3 user")
for d in same[:3]:
    rc, rows, err = sim.snmp("snmpget", sim.v3(d), "1.3.6.1.2.1.1.5.0")
    F.check(rc == 0 and rows and rows[0][2] == d["name"], f"context {d['snmp']['context']}: {rows} {err}")

# refusals
rc, rows, err = sim.snmp("snmpget", sim.v3(d0, auth_pass="not-the-password"), "1.3.6.1.2.1.1.5.0")
F.check(rc != 0 and "Authentication failure" in err, f"wrong auth password: {err}")
rc, rows, err = sim.snmp("snmpget", sim.v3(d0, priv_pass="not-the-password"), "1.3.6.1.2.1.1.5.0",
                         timeout=1, retries=0)
F.check(rc != 0 and not rows, f"wrong priv password answered: {rows} {err}")
rc, rows, err = sim.snmp("snmpget", ["-v3", "-u", "nobody-here", "-l", "noAuthNoPriv", "-n", "dev-0"],
                         "1.3.6.1.2.1.1.5.0")
F.check(rc != 0 and "Unknown user name" in err, f"unknown user: {err}")
rc, rows, err = sim.snmp("snmpget", ["-v3", "-u", "wt-sha-aes", "-l", "noAuthNoPriv", "-n",
                                     d0["snmp"]["context"]], "1.3.6.1.2.1.1.5.0")
F.check(rc != 0 and "security level" in err.lower(), f"noAuthNoPriv for an authPriv user: {err}")
rc, rows, err = sim.snmp("snmpget", sim.v3(d0, context="no-such-context"), "1.3.6.1.2.1.1.5.0")
F.check(rc != 0 and "context" in err.lower(), f"unknown context: {err}")
other = [d for d in sim.devices if d.get("snmp", {}).get("v3", {}).get("user") not in (None, "wt-sha-aes")][0]
rc, rows, err = sim.snmp("snmpget", sim.v3(d0, context=other["snmp"]["context"]), "1.3.6.1.2.1.1.5.0")
F.check(rc != 0, f"a user read a device that is not its own: {rows}")

# SET over v3 authPriv switches an outlet (APC)
apc = [d for d in sim.devices if d["model"] == "apc-rpdu2" and d["snmp"]["v3"]["priv"] != "none"][0]
rc, rows, err = sim.snmp("snmpset", sim.v3(apc), "1.3.6.1.4.1.318.1.1.26.9.2.4.1.5.1", "i", "2")
F.check(rc == 0 and not sim.state(apc["id"])["pdu"]["units"][0]["outlets"][0]["on"], f"v3 SET: {err}")

st, stats = sim.api("GET", "/api/stats")
F.check(st == 200 and stats["snmp"]["reports"] > 0, f"v3 reports counted: {stats}")
sim.stop()

# port-range mode: every device is its own engine (id, boots, time); the
# empty context is the port's device
from simfix import port_range_sim  # noqa: E402
sim2, base = port_range_sim(["--generate", "pdus=3"])
d0, d1 = sim2.devices[0], sim2.devices[1]


def eid(d):
    return "0x80001f8805777473696d%08x" % d["id"]


for d in (d0, d1):
    port = d["snmp"]["port"]
    rc, rows, err = sim2.snmp("snmpget", sim2.v3(d, context=""), "1.3.6.1.2.1.1.5.0", port=port)
    F.check(rc == 0 and rows and rows[0][2] == d["name"], f"port-range v3 empty context: {rows} {err}")
    rc, rows, err = sim2.snmp("snmpget", ["-e", eid(d)] + sim2.v3(d, context=""), "1.3.6.1.2.1.1.5.0", port=port)
    F.check(rc == 0 and rows and rows[0][2] == d["name"], f"device's own engine id {eid(d)}: {rows} {err}")
rc, rows, err = sim2.snmp("snmpget", ["-e", eid(d1)] + sim2.v3(d0, context=""), "1.3.6.1.2.1.1.5.0",
                          port=d0["snmp"]["port"], timeout=1, retries=0)
F.check(rc != 0 and not rows, f"another device's engine id accepted: {rows}")
# a reboot bumps engineBoots; a fresh client still gets in (discovery, time sync)
sim2.post(d0["id"], "reboot", {})
rc, rows, err = sim2.snmp("snmpget", sim2.v3(d0, context=""), "1.3.6.1.2.1.1.3.0", port=d0["snmp"]["port"])
F.check(rc == 0 and rows and int(rows[0][2]) < 1000, f"after reboot: {rows} {err}")
sim2.stop()
F.done()
