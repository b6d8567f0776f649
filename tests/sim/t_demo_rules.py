"""The demo's default rules (scripts/wattrack-fleet.py DEFAULT_RULES) do what an operator
expects, end to end: the real daemon polls a wattrack-sim RFC 1628 UPS registered by
wattrack-fleet in a real PostgreSQL (and a Huawei UPS2000 over Modbus, bound to its profile);
on mains nothing is raised; a mains failure raises the
"UPS on battery" warning, the draining battery (simulated time runs 30x) the "UPS runtime"
and "UPS low battery" critical alarms; mains back, the on-battery warning clears."""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from simfix import port_range_sim, wattrack_fleet  # noqa: E402
from wtfix import SOURCE_ROOT, Failures, Postgres, pg_query, tmpdir, until  # noqa: E402

sys.path.insert(0, os.path.join(SOURCE_ROOT, "tests/integration"))
from wtdaemon import TEST_API, Daemon  # noqa: E402

import psycopg2  # noqa: E402

wtfleet = wattrack_fleet()
F = Failures()
d = tmpdir()

fleet_file = os.path.join(d, "fleet-in.json")
with open(fleet_file, "w") as fh:
    json.dump({"devices": [{"name": "ups-1", "model": "ups-mib", "protocol": "snmp",
                            "placement": {"room": "Hall", "row": "Hall-R1", "rack": "K7",
                                          "feed": "A"}},
                           # the demo's Modbus UPS whose map has no model register
                           {"name": "ups-2", "model": "huawei-ups2000", "protocol": "modbus",
                            "placement": {"room": "Hall", "row": "Hall-R1", "rack": "K8",
                                          "feed": "B"}}]}, fh)
pg = Postgres()
sim, base = port_range_sim(["--fleet", fleet_file, "--time-scale", "30"])
conf = os.path.join(d, "wattrack.conf")
with open(conf, "w") as fh:
    fh.write(f'database.url = "{pg.dsn}"\nstate_dir = {d}/state\n'
             "poll.interval = 1s\npoll.timeout = 500ms\npoll.retries = 0\n"
             "storage.flush_interval = 5s\ndevices.rescan = 1s\nworkers.threads = 2\n" + TEST_API)


def q(sql, args=()):
    return pg_query(pg.dsn, sql, args)


def alarm(rule, severity, active=True):
    r = q("SELECT id, value FROM alarms WHERE rule_name = %s AND severity = %s AND active = %s",
          (rule, severity, active))
    return r[0] if r else None


w = None
try:
    w = Daemon(conf)
    F.check(w.wait_for(r"wattrack ready", timeout=90) is not None, "the daemon starts")
    conn = psycopg2.connect(pg.dsn)
    ids = wtfleet.load(conn, sim.fleet)
    conn.close()
    rules = {r[0] for r in q("SELECT name FROM rules")}
    F.check({"UPS on battery", "UPS low battery", "UPS runtime"} <= rules,
            f"the default rules include on battery, low battery and runtime: {sorted(rules)}")
    ups = ids.get("ups-1")
    bound = until(lambda: q("SELECT count(*) FROM series s JOIN entities e ON e.id = s.entity_id "
                            "JOIN metrics m ON m.id = s.metric WHERE e.device_id = %s AND m.name IN "
                            "('on_battery', 'low_battery', 'battery_runtime')", (ups,))[0][0] == 3, 30)
    F.check(bound, "the UPS's on_battery, low_battery and battery_runtime series exist")
    # the Huawei UPS2000 binds its realdata profile (named by wattrack-fleet) and reads
    hw = ids.get("ups-2")
    row = until(lambda: (lambda r: r if r and r[0][1] == "ok" else None)(
        q("SELECT profile, state FROM devices WHERE id = %s", (hw,))), 30)
    F.check(row and row[0][0] == "huawei-ups2000", f"Huawei UPS2000 bound to its profile: {row}")
    n = until(lambda: q("SELECT count(*) FROM series s JOIN entities e ON e.id = s.entity_id "
                        "WHERE e.device_id = %s", (hw,))[0][0] >= 14 or None, 20)
    F.check(n, "the Huawei UPS's 14 mapped series exist")
    time.sleep(6)  # a full 5 s close on mains, after the rules engine bound the series
    F.check(q("SELECT count(*) FROM alarms WHERE active")[0][0] == 0, "no alarm on mains")

    t0 = time.time()
    st, _ = sim.post("ups-1", "mains", {"failed": True})
    F.check(st == 200, "the simulator takes the mains failure")
    a = until(lambda: alarm("UPS on battery", "warning"), 20)
    F.check(a is not None and a[1] == 1.0, f"'UPS on battery' warning raised: {a}")
    if a:
        print(f"on battery -> warning in {time.time() - t0:.1f} s", flush=True)
    a = until(lambda: alarm("UPS runtime", "critical"), 60)
    F.check(a is not None and a[1] < 300, f"'UPS runtime' critical below 5 minutes: {a}")
    a = until(lambda: alarm("UPS low battery", "critical"), 60)
    F.check(a is not None, f"'UPS low battery' critical when the UPS flags it: {a}")
    if a:
        print(f"drained -> critical in {time.time() - t0:.1f} s", flush=True)

    sim.post("ups-1", "mains", {"failed": False})
    F.check(until(lambda: alarm("UPS on battery", "warning", active=False), 20) is not None and
            alarm("UPS on battery", "warning") is None, "mains back: the on-battery warning clears")
finally:
    if w:
        rc = w.stop()
        F.check(rc == 0, f"the daemon exits cleanly: {rc}")
        F.check(not any("Sanitizer" in x or "runtime error" in x for x in w.lines),
                "no sanitizer report from the daemon")
    sim.stop()
    pg.stop()
F.done()
