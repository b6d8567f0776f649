#!/usr/bin/python3
"""The live stream end to end: the real wattrack daemon polls a wattrack-sim
PDU; a client subscribed to the device through /api/v1/stream sees the
changed reading of a load step and the critical alarm it raises within one
poll interval + 1 s, sees the device state, and reads /metrics with the
scheduler's and storage's figures."""

import importlib.util
import json
import os
import re
import socket
import sys
import threading
import time

ROOT = os.environ.get("WT_SOURCE_ROOT", ".")
sys.path.insert(0, os.path.join(ROOT, "tests/sim"))
sys.path.insert(0, os.path.join(ROOT, "tests/integration"))
sys.path.insert(0, os.path.join(ROOT, "tests/api"))
from simfix import port_range_sim  # noqa: E402
from wtdaemon import TEST_API, Daemon  # noqa: E402
from wtfix import Failures, Postgres, tmpdir, until  # noqa: E402
from apilib import Client  # noqa: E402

import psycopg2  # noqa: E402

spec = importlib.util.spec_from_file_location("wtfleet", os.path.join(ROOT, "scripts/wattrack-fleet.py"))
wtfleet = importlib.util.module_from_spec(spec)
spec.loader.exec_module(wtfleet)

POLL_S = 2
f = Failures()
d = tmpdir()
fleet_in = {"devices": [
    {"name": "pdu-1", "model": "apc-rpdu2", "protocol": "snmp", "wiring": "1ph", "outlets": 24,
     "placement": {"room": "Hall", "row": "Hall-R1", "rack": "K1", "feed": "A"}},
]}
fleet_file = os.path.join(d, "fleet-in.json")
with open(fleet_file, "w") as fh:
    json.dump(fleet_in, fh)

pg = Postgres()
sim, base = port_range_sim(["--fleet", fleet_file])
conf = os.path.join(d, "wattrack.conf")
with open(conf, "w") as fh:
    fh.write(f'database.url = "{pg.dsn}"\nstate_dir = {os.path.join(d, "state")}\n'
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



class Stream:
    """An SSE client on a raw socket: events with their arrival times."""

    def __init__(self, port, path, cookie):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        self.sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nCookie: wt_session={cookie}\r\n"
                          "Accept: text/event-stream\r\n\r\n".encode())
        self.events = []
        self.buf = ""
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        while True:
            try:
                data = self.sock.recv(65536)
            except OSError:
                return
            if not data:
                return
            now = time.time()
            self.buf += data.decode("utf-8", "replace")
            while True:
                m = re.search(r"event: (\w+)\ndata: (.*)\n\n", self.buf)
                if not m:
                    break
                try:
                    self.events.append((now, m.group(1), json.loads(m.group(2))))
                except ValueError:
                    self.events.append((now, m.group(1), None))
                self.buf = self.buf[m.end():]

    def find(self, pred, since=0):
        return next((e for e in list(self.events) if e[0] >= since and pred(e)), None)


w = Daemon(conf)
try:
    f.check(w.wait_for(r"wattrack ready", timeout=90) is not None, "the daemon starts")
    i = w.wait_for(r'created user "admin" with one-time password', timeout=30)
    pw = re.search(r"one-time password (\S+)", w.lines[i]).group(1) if i is not None else ""
    i = w.wait_for(r"API listening on http://127\.0\.0\.1:(\d+)", timeout=5)
    port = int(re.search(r":(\d+)/api", w.lines[i]).group(1)) if i is not None else 0
    conn = psycopg2.connect(pg.dsn)
    ids = wtfleet.load(conn, sim.fleet)
    conn.close()
    p1 = ids["pdu-1"]
    f.check(w.wait_for(r"devices: 1 polled", timeout=15) is not None, "the daemon polls the PDU")

    c = Client(port)
    st, _, js = c.login("admin", pw)
    st, _, js = c.call("POST", "/api/v1/session/password",
                       {"current_password": pw, "new_password": "Stream test password 1"})
    f.check(st == 204, f"admin password set: {st} {js}")

    def outlet_series():
        r = q("SELECT s.id FROM series s JOIN entities e ON e.id = s.entity_id JOIN metrics m"
              " ON m.id = s.metric WHERE e.device_id = %s AND e.kind = 'outlet' AND e.idx = 3"
              " AND m.name = 'current'", (p1,))
        return r[0][0] if r else None

    sid = until(outlet_series, 40)
    f.check(sid is not None, "outlet 3's current series exists")
    time.sleep(6)  # the rules engine committed its bindings at a close

    # The device detail reads live values through the API's loop-side layers.
    st, _, js = c.call("GET", f"/api/v1/devices/{p1}")
    f.check(st == 200 and js.get("state") == "ok" and js.get("polling", {}).get("polls", 0) > 0
            and js["totals"]["readings"].get("power_active") is not None,
            f"device detail: live state, polling figures, readings: {st} {str(js)[:300]}")

    s = Stream(port, f"/api/v1/stream?device={p1}", c.cookie)
    f.check(until(lambda: s.find(lambda e: e[1] == "hello"), 5) is not None, "stream says hello")
    f.check(until(lambda: s.find(lambda e: e[1] == "device" and e[2]["state"] == "ok"), 5)
            is not None, "stream carries the device state")
    first = until(lambda: s.find(lambda e: e[1] == "reading" and e[2]["series"] == sid), 6)
    f.check(first is not None, "readings of the subscribed device flow")
    before = first[2]["avg"] if first else 0.0

    t0 = time.time()
    st, _ = sim.post("pdu-1", "load", {"unit": 1, "outlet": 3, "watts": 1400})
    f.check(st == 200, "load step applied")
    # An event carries the 5 s bucket being filled: a step shows in its max
    # at once (and in its avg in proportion to the samples after it).
    ev = until(lambda: s.find(lambda e: e[1] == "reading" and e[2]["series"] == sid
                              and e[2]["max"] > before + 3, since=t0), 15, step=0.05)
    f.check(ev is not None, f"the changed reading arrives (before {before:.2f} A)")
    if ev:
        lat = (ev[0] - t0) * 1000
        print(f"load step -> reading event: {lat:.0f} ms", flush=True)
        f.check(lat <= POLL_S * 1000 + 1000, f"reading within one poll interval + 1 s ({lat:.0f} ms)")
    al = until(lambda: s.find(lambda e: e[1] == "alarm" and e[2]["active"]
                              and e[2]["severity"] == "critical", since=t0), 15, step=0.05)
    f.check(al is not None, "the new critical alarm arrives on the stream")
    if al:
        lat = (al[0] - t0) * 1000
        print(f"load step -> alarm event: {lat:.0f} ms", flush=True)
        f.check(lat <= POLL_S * 1000 + 1000, f"alarm within one poll interval + 1 s ({lat:.0f} ms)")
        aid = al[2]["id"]
        st, _, js = c.call("POST", f"/api/v1/alarms/{aid}/ack", {"comment": "seen on the stream"})
        f.check(st == 200 and js["acked"] is True and js["acked_by"] == "admin",
                f"acknowledged through the engine: {st} {js}")
        f.check(until(lambda: s.find(lambda e: e[1] == "alarm" and e[2]["id"] == aid
                                     and e[2]["acked"]), 5) is not None,
                "the acknowledgement is pushed too")
        f.check(until(lambda: q("SELECT acked_by, ack_comment FROM alarms WHERE id = %s", (aid,))
                      == [("admin", "seen on the stream")], 10), "and persisted")
    sim.post("pdu-1", "load", {"unit": 1, "outlet": 3, "watts": -1400})

    st, hdrs, body = c.call("GET", "/metrics")
    polls = re.search(r"^wattrack_polls_total (\d+)", body or "", re.M)
    f.check(st == 200 and polls and int(polls.group(1)) > 0
            and re.search(r"^wattrack_storage_db_connected 1$", body, re.M),
            f"/metrics carries scheduler and storage figures: {st} {str(body)[:300]}")
    st, _, js = c.call("GET", "/api/v1/health/detail")
    f.check(st == 200 and js["subsystems"]["scheduler"] and js["scheduler"]["polls"] > 0,
            f"health detail: {st} {js}")
finally:
    f.check(w.stop() == 0, "the daemon stops cleanly with a stream open")
    sim.stop()
f.done()
