#!/usr/bin/python3
"""End to end: the real wattrack daemon polls wattrack-sim devices (SNMP,
each on its own port, and Modbus) registered in a real PostgreSQL, stores
5 s rows that match the simulator's ground truth, raises and clears a
critical alarm on a load step, marks devices that stop answering
communication-lost while the rest keep being polled, answers the API with
the first-start admin password, and flushes on SIGTERM so a restart
continues with the same series."""

import importlib.util
import json
import os
import re
import sys
import time

ROOT = os.environ.get("WT_SOURCE_ROOT", ".")
sys.path.insert(0, os.path.join(ROOT, "tests/sim"))
sys.path.insert(0, os.path.join(ROOT, "tests/integration"))
sys.path.insert(0, os.path.join(ROOT, "tests/api"))
from apilib import Client  # noqa: E402
from simfix import port_range_sim  # noqa: E402
from wtdaemon import TEST_API, Daemon  # noqa: E402
from wtfix import Failures, Postgres, tmpdir, until  # noqa: E402

import psycopg2  # noqa: E402

spec = importlib.util.spec_from_file_location("wtfleet", os.path.join(ROOT, "scripts/wattrack-fleet.py"))
wtfleet = importlib.util.module_from_spec(spec)
spec.loader.exec_module(wtfleet)

POLL_S = 2
f = Failures()
d = tmpdir()

# A small fleet: three SNMP PDUs (v2c, v3) in one rack (A, B) and another, one Modbus PDU.
place = lambda rack, feed: {"room": "Hall", "row": "Hall-R1", "rack": rack, "feed": feed}  # noqa: E731
fleet_in = {"devices": [
    {"name": "pdu-1", "model": "apc-rpdu2", "protocol": "snmp", "wiring": "1ph", "outlets": 24,
     "placement": place("K1", "A")},
    {"name": "pdu-2", "model": "apc-rpdu2", "protocol": "snmp", "wiring": "1ph", "outlets": 24,
     "placement": place("K1", "B"),
     # SNMPv3 authPriv: polled and switched with its own user
     "snmp": {"v3": {"user": "wt-e2e", "auth": "sha256", "auth_pass": "auth-wt-e2e-pass",
                     "priv": "aes", "priv_pass": "priv-wt-e2e-pass"}}},
    {"name": "pdu-3", "model": "apc-rpdu2", "protocol": "snmp", "wiring": "1ph", "outlets": 24,
     "placement": place("K2", "A")},
    {"name": "mb-1", "model": "modbus-pdu", "protocol": "modbus", "wiring": "1ph", "outlets": 16,
     "placement": place("K2", "B")},
]}
fleet_file = os.path.join(d, "fleet-in.json")
with open(fleet_file, "w") as fh:
    json.dump(fleet_in, fh)

pg = Postgres()
sim, base = port_range_sim(["--fleet", fleet_file])
state = os.path.join(d, "state")
conf = os.path.join(d, "wattrack.conf")
with open(conf, "w") as fh:
    fh.write(f'database.url = "{pg.dsn}"\nstate_dir = {state}\n'
             f"poll.interval = {POLL_S}s\npoll.timeout = 500ms\npoll.retries = 0\n"
             "storage.flush_interval = 5s\ndevices.rescan = 1s\nworkers.threads = 3\n" + TEST_API)


def q(sql, args=()):
    c = psycopg2.connect(pg.dsn)
    try:
        cur = c.cursor()
        cur.execute(sql, args)
        return cur.fetchall()
    finally:
        c.close()



def log_ms(line):
    """The daemon's own timestamp of a log line, in epoch ms."""
    m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})Z", line)
    t = time.strptime(m.group(1)[:19], "%Y-%m-%dT%H:%M:%S")
    import calendar
    return calendar.timegm(t) * 1000 + int(m.group(1)[20:23])


w = Daemon(conf)
try:
    f.check(w.wait_for(r"wattrack ready", timeout=90) is not None, "the daemon starts")
    i = w.wait_for(r'created user "admin" with one-time password', timeout=30)
    f.check(i is not None, "the first start creates admin with a one-time password")
    pw = re.search(r"one-time password (\S+)", w.lines[i]).group(1) if i is not None else ""
    i = w.wait_for(r"API listening on http://127\.0\.0\.1:(\d+)", timeout=5)
    api_port = int(re.search(r":(\d+)/api", w.lines[i]).group(1)) if i is not None else 0

    # Register the fleet as an operator would (devices, structure, rules).
    conn = psycopg2.connect(pg.dsn)
    ids = wtfleet.load(conn, sim.fleet)
    conn.close()
    f.check(len(ids) == 4, f"four devices registered: {ids}")
    f.check(w.wait_for(r"devices: 4 polled \(4 added", timeout=15) is not None,
            "the daemon picks the new devices up without a restart")

    # --- 5 s rows match the ground truth ---
    p1 = ids["pdu-1"]

    def total_power_series(dev):
        r = q("SELECT s.id FROM series s JOIN entities e ON e.id = s.entity_id "
              "JOIN metrics m ON m.id = s.metric WHERE e.device_id = %s AND e.kind = 'total' "
              "AND m.name = 'power_active'", (dev,))
        return r[0][0] if r else None

    sid = until(lambda: total_power_series(p1), 60)
    f.check(sid is not None, "pdu-1's total power series exists")
    rows = until(lambda: q("SELECT start, v FROM samples_5s WHERE series = %s ORDER BY start DESC "
                           "LIMIT 1", (sid,)), 40)
    f.check(bool(rows), "5 s rows for pdu-1 reach PostgreSQL")
    if rows:
        truth = sim.state("pdu-1")["pdu"]["units"][0]["power"]
        got = [x for x in rows[0][1] if x == x][-1]
        f.check(abs(got - truth) <= 0.05 * truth + 20,
                f"stored total power {got:.1f} W matches the simulator's {truth:.1f} W")
    n_series = q("SELECT count(*) FROM series WHERE entity_id IS NOT NULL")[0][0]
    f.check(n_series > 100, f"every reading got a series ({n_series})")
    mb = ids["mb-1"]
    f.check(until(lambda: q("SELECT count(*) FROM samples_5s x JOIN series s ON s.id = x.series "
                            "JOIN entities e ON e.id = s.entity_id WHERE e.device_id = %s",
                            (mb,))[0][0] > 0, 30),
            "the Modbus PDU's rows reach PostgreSQL too")
    f.check(until(lambda: q("SELECT count(*) FROM series WHERE owner_kind = 'rack'")[0][0] > 0, 30),
            "rack aggregate series are created")
    prof = until(lambda: q("SELECT profile FROM devices WHERE id = %s", (mb,))[0][0], 10)
    f.check(bool(prof), f"the identity read at bind is stored (Modbus profile {prof!r})")
    f.check(all(r[0] == "ok" for r in q("SELECT state FROM devices")), "every device is ok")

    # --- a load step raises a critical alarm within one poll + 1 s, then clears ---
    def outlet_rows():
        return q("SELECT count(*) FROM samples_5s x JOIN series s ON s.id = x.series "
                 "JOIN entities e ON e.id = s.entity_id JOIN metrics m ON m.id = s.metric "
                 "WHERE e.device_id = %s AND e.kind = 'outlet' AND e.idx = 3 "
                 "AND m.name = 'current'", (p1,))[0][0]
    until(outlet_rows, 30)
    time.sleep(6)  # the rules engine committed its bindings at a close
    m = w.mark()
    t0 = int(time.time() * 1000)
    st, _ = sim.post("pdu-1", "load", {"unit": 1, "outlet": 3, "watts": 1400})
    f.check(st == 200, "load step applied")
    i = w.wait_for(r'alarm \d+ raised \(critical\).*"Outlet 1-3".*pdu-1', timeout=15, start=m)
    f.check(i is not None, "a critical alarm is raised for the outlet")
    if i is not None:
        lat = log_ms(w.lines[i]) - t0
        f.check(lat <= POLL_S * 1000 + 1000, f"within one poll interval + 1 s ({lat} ms)")
        print(f"load step -> critical alarm: {lat} ms", flush=True)
    m = w.mark()
    sim.post("pdu-1", "load", {"unit": 1, "outlet": 3, "watts": -1400})  # steps add up
    f.check(w.wait_for(r'alarm \d+ cleared.*"Outlet 1-3".*pdu-1', timeout=15, start=m) is not None,
            "the alarm clears when the load goes back")
    f.check(until(lambda: q("SELECT count(*) FROM alarms WHERE severity = 'critical' AND "
                            "kind = 'threshold' AND NOT active")[0][0] > 0, 15),
            "the alarm is persisted, critical and cleared")

    # --- part of the fleet stops answering ---
    p3 = ids["pdu-3"]
    m = w.mark()
    st, _ = sim.post("pdu-3", "faults", {"timeout": True})
    f.check(st == 200, "timeout fault set on pdu-3")
    f.check(w.wait_for(rf"device {p3}: \w+ -> unreachable", timeout=30, start=m) is not None,
            "pdu-3 becomes unreachable")
    f.check(until(lambda: q("SELECT state FROM devices WHERE id = %s", (p3,))[0][0] == "comm_lost",
                  10), "its state in the devices table is comm_lost")
    f.check(until(lambda: q("SELECT count(*) FROM alarms WHERE kind = 'comm_lost' AND active "
                            "AND device_id = %s", (p3,))[0][0] == 1, 15),
            "a communication-lost alarm is raised and stored")
    f.check(w.count(rf"device {p1}: \w+ -> (failing|unreachable)", start=m) == 0,
            "the healthy devices keep being polled without failures")
    before = q("SELECT max(start) FROM samples_5s WHERE series = %s", (sid,))[0][0]
    time.sleep(11)
    after = q("SELECT max(start) FROM samples_5s WHERE series = %s", (sid,))[0][0]
    f.check(after is not None and before is not None and after > before,
            f"pdu-1's rows keep coming ({before} -> {after})")
    m = w.mark()
    sim.api("DELETE", "/api/devices/pdu-3/faults")
    f.check(w.wait_for(rf"device {p3}: unreachable -> ok", timeout=30, start=m) is not None,
            "pdu-3 recovers")
    f.check(w.wait_for(r"alarm \d+ cleared: .*", timeout=10, start=m) is not None,
            "and its communication-lost alarm clears")

    # --- the API: first login, devices from the daemon, an outlet switched ---
    f.check(api_port > 0, "the API port was logged")
    if api_port:
        c = Client(api_port)
        st, _, js = c.login("admin", "wrong-one")
        f.check(st == 401, f"a wrong password is refused ({st})")
        st, _, js = c.login("admin", pw)
        f.check(st == 200 and js.get("must_change") is True,
                f"admin logs in with the one-time password and must change it ({st})")
        st, _, js = c.call("POST", "/api/v1/session/password",
                           {"current_password": pw, "new_password": "E2e admin password 2026"})
        f.check(st in (200, 204), f"password changed ({st} {js})")
        st, _, js = c.call("GET", "/api/v1/devices")
        names = sorted(x["name"] for x in (js or {}).get("devices", [])) if st == 200 else []
        f.check(names == ["mb-1", "pdu-1", "pdu-2", "pdu-3"], f"device list: {st} {names}")
        st, _, js = c.call("POST", f"/api/v1/devices/{ids['pdu-2']}/outlets/5/off",
                           {"confirm": True, "reason": "e2e test"})
        f.check(st == 200, f"outlet 5 of pdu-2 switched off through the API ({st} {js})")
        on = sim.state("pdu-2")["pdu"]["units"][0]["outlets"][4]["on"]
        f.check(on is False, "the simulator's outlet is off")
        f.check(until(lambda: q("SELECT count(*) FROM audit_log WHERE category = 'outlet'")[0][0] > 0,
                      10), "the switching is in the audit log")
        # a rule created through the API takes effect without a restart
        m = w.mark()
        st, _, js = c.call("POST", "/api/v1/rules",
                           {"name": "Modbus PDU power", "metric": "power_active", "scope": "device",
                            "scope_id": ids["mb-1"], "warning_above": 1.0})
        f.check(st in (200, 201), f"rule created through the API ({st} {js})")
        f.check(w.wait_for(r"alarm \d+ raised \(warning\).*Modbus PDU power", timeout=20,
                           start=m) is not None, "and it raises its alarm on the next readings")

    # --- SIGTERM flushes; a restart continues ---
    t_stop = time.time()
    rc = w.stop()
    f.check(rc == 0, f"SIGTERM: clean exit ({rc})")
    last = q("SELECT extract(epoch FROM max(start)) FROM samples_5s WHERE series = %s", (sid,))[0][0]
    f.check(last is not None and float(last) >= (t_stop - t_stop % 5) - 5,
            f"the last buckets are in PostgreSQL after exit ({last} vs stop {t_stop:.1f})")
    w = Daemon(conf)
    f.check(w.wait_for(r"wattrack ready", timeout=60) is not None, "restart")
    f.check(w.wait_for(rf"device {p1}: new -> ok", timeout=30) is not None, "pdu-1 polled again")
    time.sleep(12)
    after = q("SELECT extract(epoch FROM max(start)) FROM samples_5s WHERE series = %s", (sid,))[0][0]
    f.check(float(after) > float(last), "new rows continue the same series after the restart")
    f.check(q("SELECT count(*) FROM series WHERE entity_id IS NOT NULL")[0][0] == n_series,
            "no series were created twice")
    f.check(w.count(r"series cache: \d+ new series") == 0, "every series resolved from the cache")
    f.check(w.stop() == 0, "clean exit again")
finally:
    if w.alive():
        w.stop()
    sim.stop()
    pg.stop()
f.done()
