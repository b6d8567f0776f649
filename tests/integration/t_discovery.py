#!/usr/bin/python3
"""Discovery end to end: the real daemon scans wattrack-sim's port range
(one site-wide community, as on a real site) and registers the SNMP
devices it finds unassigned with their profile, audits them, polls them
(5 s rows), stores their identity (vendor, model, serial), leaves a device
the operator registered as it is, and reports the wrong-community device
and the dead port as skipped with reasons. No community appears in the
log or in the devices table outside the credentials column. Also:
`wattrack --check-config` reports bad notify.* and discovery.* values."""

import json
import os
import re
import sys
import time

ROOT = os.environ.get("WT_SOURCE_ROOT", ".")
sys.path.insert(0, os.path.join(ROOT, "tests/sim"))
sys.path.insert(0, os.path.join(ROOT, "tests/integration"))
from simfix import port_range_sim  # noqa: E402
from wtdaemon import TEST_API, Daemon, run  # noqa: E402
from wtfix import Failures, Postgres, tmpdir, until  # noqa: E402

import psycopg2  # noqa: E402

f = Failures()
d = tmpdir()

SITE = "site-Kq7xSecret"
OTHER = "other-Zr4ySecret"
FIRST_TRY = "first-Wp2vSecret"  # tried first, answered by nobody
V3_AUTH = "auth-Hx9Secret"
V3_PRIV = "priv-Jm3Secret"
SECRETS = [SITE, OTHER, FIRST_TRY, V3_AUTH, V3_PRIV]

# --- --check-config reports bad notify.* and discovery.* values ---
bad = os.path.join(d, "bad-notify.conf")
with open(bad, "w") as fh:
    fh.write(f"state_dir = {d}/s0\nnotify.hooks_file = {d}/no-such-hooks.json\n")
r = run(["--check-config", "--config", bad])
f.check(r.returncode == 1, f"--check-config refuses a missing notify.hooks_file (rc {r.returncode})")
f.check("no-such-hooks.json" in r.stderr, f"... and names it: {r.stderr.strip()!r}")
bad2 = os.path.join(d, "bad-disc.conf")
with open(bad2, "w") as fh:
    fh.write(f"state_dir = {d}/s0\ndiscovery.targets = 127.0.0.1\n"
             "discovery.ports = 161,900-100\n")
r = run(["--check-config", "--config", bad2])
f.check(r.returncode == 1 and "discovery.ports" in r.stderr,
        f"--check-config refuses a reversed port range: rc {r.returncode} {r.stderr.strip()!r}")
bad3 = os.path.join(d, "bad-v3.conf")
v3bad = os.path.join(d, "v3-bad.json")
with open(v3bad, "w") as fh:
    json.dump([{"user": "ops", "level": "authPriv", "auth_pass": "x-secret-auth-1"}], fh)
with open(bad3, "w") as fh:
    fh.write(f"state_dir = {d}/s0\ndiscovery.v3_file = {v3bad}\n")
r = run(["--check-config", "--config", bad3])
f.check(r.returncode == 1 and "priv_pass" in r.stderr and "x-secret" not in r.stderr,
        f"--check-config refuses a v3 user without priv_pass, no secret shown: {r.stderr.strip()!r}")

# --- the fleet: three SNMP devices reading the site community, one with
# its own community, then a port where nothing listens ---
fleet_in = {"devices": [
    {"name": "pdu-apc", "model": "apc-rpdu2", "protocol": "snmp", "wiring": "1ph", "outlets": 8},
    {"name": "pdu-rar", "model": "raritan-px3", "protocol": "snmp", "wiring": "1ph", "outlets": 8},
    {"name": "ups-1", "model": "ups-mib", "protocol": "snmp", "wiring": "1ph", "outlets": 0},
    {"name": "pdu-own", "model": "apc-rpdu2", "protocol": "snmp", "wiring": "1ph", "outlets": 8,
     "snmp": {"community": OTHER}},
    # only its SNMPv3 user reads it: found with the v3 user of discovery.v3_file
    {"name": "pdu-v3", "model": "apc-rpdu2", "protocol": "snmp", "wiring": "1ph", "outlets": 8,
     "snmp": {"community": OTHER + "-2", "v3": {"user": "wt-disc-v3", "auth": "sha256",
                                                "auth_pass": V3_AUTH, "priv": "aes",
                                                "priv_pass": V3_PRIV}}},
]}
v3_file = os.path.join(d, "discovery-v3.json")
with open(v3_file, "w") as fh:
    json.dump([{"user": "wt-disc-v3", "auth": "SHA-256", "auth_pass": V3_AUTH, "priv": "AES",
                "priv_pass": V3_PRIV}], fh)
os.chmod(v3_file, 0o644)  # readable by others: a warning
fleet_file = os.path.join(d, "fleet-in.json")
with open(fleet_file, "w") as fh:
    json.dump(fleet_in, fh)

pg = Postgres()
sim, base = port_range_sim(["--fleet", fleet_file, "--site-community", SITE])
by_name = {x["name"]: x for x in sim.devices}
port = {n: x["snmp"]["port"] for n, x in by_name.items()}
dead = base + len(fleet_in["devices"])
f.check(sorted(port.values()) == list(range(base, dead)), f"the sim's ports {port}")

state = os.path.join(d, "state")
conf = os.path.join(d, "wattrack.conf")
with open(conf, "w") as fh:
    fh.write(f'database.url = "{pg.dsn}"\nstate_dir = {state}\n'
             "poll.interval = 2s\npoll.timeout = 500ms\npoll.retries = 0\n"
             "storage.flush_interval = 5s\ndevices.rescan = 1s\nworkers.threads = 3\n"
             f"discovery.targets = 127.0.0.1\ndiscovery.ports = {base}-{dead}\n"
             f"discovery.communities = {FIRST_TRY}, {SITE}\ndiscovery.v3_file = {v3_file}\n"
             "discovery.rate = 50\ndiscovery.concurrency = 4\n" + TEST_API)


def q(sql, args=()):
    c = psycopg2.connect(pg.dsn)
    c.autocommit = True
    try:
        cur = c.cursor()
        cur.execute(sql, args)
        return cur.fetchall()
    finally:
        c.close()



# --dump-config masks the communities
r = run(["--dump-config", "--config", conf])
f.check(r.returncode == 0 and "discovery.communities" in r.stdout and SITE not in r.stdout,
        "--dump-config lists discovery.communities masked")

w = None
try:
    # The operator registered the Raritan by hand before discovery was
    # turned on: a first run (discovery off) makes the schema.
    conf0 = conf + ".0"
    with open(conf0, "w") as fh:
        fh.write(f'database.url = "{pg.dsn}"\nstate_dir = {state}\n' + TEST_API)
    w0 = Daemon(conf0)
    f.check(w0.wait_for(r"wattrack ready", timeout=90) is not None, "a first start makes the schema")
    f.check(w0.stop() == 0, "... and stops cleanly")
    q("INSERT INTO devices (name, protocol, address, port, credentials) VALUES "
      "('operator-named', 'snmp', '127.0.0.1', %s, %s) RETURNING id",
      (port["pdu-rar"], json.dumps({"community": SITE})))
    op_id = q("SELECT id FROM devices WHERE name = 'operator-named'")[0][0]

    w = Daemon(conf)
    f.check(w.wait_for(r"wattrack ready", timeout=90) is not None, "the daemon starts")
    i = w.wait_for(r"discovery: scan 1 of 127\.0\.0\.1 done", timeout=30)
    f.check(i is not None, "the start-up scan finishes")
    done_line = w.lines[i] if i is not None else ""
    f.check("6 candidates, 4 found (0 without a profile), 2 skipped" in done_line,
            f"the scan counts: {done_line!r}")
    # its agent knows no such v3 user: refused, not just silent
    skipped_own = w.wait_for(rf"discovery: skipped 127\.0\.0\.1:{port['pdu-own']}: "
                             r"(an SNMPv3 agent refused every user|no answer)", timeout=5)
    skipped_dead = w.wait_for(rf"discovery: skipped 127\.0\.0\.1:{dead}: no answer", timeout=5)
    f.check(skipped_own is not None, "the wrong-community device is reported skipped with a reason")
    f.check(skipped_dead is not None, "the dead port is reported skipped with a reason")

    f.check(w.wait_for(r"discovery\.v3_file .* readable by group or others", timeout=1) is not None,
            "a group/other-readable v3 file is warned about")
    want = {"pdu-apc": "apc-rpdu2", "ups-1": "rfc1628-ups", "pdu-v3": "apc-rpdu2"}
    want_creds = {"pdu-apc": {"community": SITE}, "ups-1": {"community": SITE},
                  "pdu-v3": {"user": "wt-disc-v3", "auth": "SHA-256", "auth_pass": V3_AUTH,
                             "priv": "AES", "priv_pass": V3_PRIV, "level": "authPriv"}}
    got = until(lambda: {r[0]: r for r in q(
        "SELECT port, id, name, profile, rack_id, credentials::text, vendor, model, serial, "
        "firmware, info::text, location FROM devices WHERE protocol = 'snmp'")}
        if q("SELECT count(*) FROM devices")[0][0] == 4 else None, 15) or {}
    f.check(len(got) == 4, f"three devices registered, the operator's one kept: {sorted(got)}")
    for n, prof in want.items():
        row = got.get(port[n])
        f.check(row is not None and row[3] == prof and row[4] is None,
                f"{n} registered unassigned with profile {prof}: {row and row[2:5]}")
        f.check(row is not None and json.loads(row[5]) == want_creds[n],
                f"{n}'s credentials are the community that answered")
        f.check(row is not None and not any(s in str(row[:5]) + str(row[6:]) for s in SECRETS),
                f"{n}: no secret outside the credentials column")
    op = got.get(port["pdu-rar"])
    f.check(op is not None and op[1] == op_id and op[2] == "operator-named",
            f"the operator's device is left as it is: {op and op[1:3]}")
    f.check(port["pdu-own"] not in got, "the wrong-community device is not registered")

    audit = until(lambda: q("SELECT object_id, message FROM audit_log WHERE category = 'device' "
                            "AND message LIKE 'device appeared%%' ORDER BY object_id"), 10)
    f.check(len(audit) == 3 and all("unassigned" in m for _, m in audit),
            f"three 'device appeared' audit entries: {audit}")

    apc = got.get(port["pdu-apc"])
    apc_id = apc[1] if apc else -1

    def rows_for(dev):
        return q("SELECT count(*) FROM samples_5s x JOIN series s ON s.id = x.series "
                 "JOIN entities e ON e.id = s.entity_id WHERE e.device_id = %s", (dev,))[0][0]

    f.check(until(lambda: rows_for(apc_id) > 0, 30), "the discovered PDU is polled: 5 s rows stored")
    ident = until(lambda: (lambda r: r if r and r[0][2] else None)(
        q("SELECT vendor, model, serial, firmware FROM devices WHERE id = %s", (apc_id,))), 15)
    truth = by_name["pdu-apc"]
    f.check(bool(ident) and ident[0][0] and ident[0][1], f"vendor and model stored for SNMP: {ident}")
    f.check(bool(ident) and ident[0][2] == truth.get("serial"),
            f"the serial is the device's: {ident and ident[0][2]} vs {truth.get('serial')}")
    f.check(until(lambda: q("SELECT state FROM devices WHERE id = %s", (apc_id,))[0][0] == "ok", 15),
            "the discovered PDU is ok")
    v3row = got.get(port["pdu-v3"])
    v3_id = v3row[1] if v3row else -1
    f.check(until(lambda: rows_for(v3_id) > 0, 30),
            "the PDU found with its v3 user is polled with it: 5 s rows stored")
finally:
    rc = w.stop() if w else -1
    sim.stop()
f.check(rc == 0, f"the daemon stops cleanly (rc {rc})")
log = "\n".join((w.lines if w else []))
f.check(log and not any(s in log for s in SECRETS), "no community appears in the daemon's log")
f.check(not re.search(r"ERROR|AddressSanitizer|runtime error", log), "no sanitizer report")
pg.stop()
f.done()
