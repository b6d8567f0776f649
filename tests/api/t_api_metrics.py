#!/usr/bin/python3
"""/metrics with api.metrics_readings = on: the real daemon polls two
wattrack-sim PDUs; the scrape is parsed with a strict parser of the
Prometheus text exposition format 0.0.4 (and with prometheus_client's own
parser when python3-prometheus-client is installed), its readings are
compared with the simulator's ground truth, device names with quotes,
backslashes and newlines come back intact through the label escaping, a
read-only API token scrapes it while no credentials get 401, and a SIGHUP
with the setting off takes the readings away again."""

import importlib.util
import json
import os
import re
import signal
import sys
import time

ROOT = os.environ.get("WT_SOURCE_ROOT", ".")
sys.path.insert(0, os.path.join(ROOT, "tests/sim"))
sys.path.insert(0, os.path.join(ROOT, "tests/integration"))
sys.path.insert(0, os.path.join(ROOT, "tests/api"))
from simfix import port_range_sim  # noqa: E402
from wtdaemon import TEST_API, Daemon  # noqa: E402
from wtfix import Failures, Postgres, pg_query, tmpdir, until  # noqa: E402
from apilib import Client  # noqa: E402

import psycopg2  # noqa: E402

spec = importlib.util.spec_from_file_location("wtfleet", os.path.join(ROOT, "scripts/wattrack-fleet.py"))
wtfleet = importlib.util.module_from_spec(spec)
spec.loader.exec_module(wtfleet)

# ---- a strict parser of the text format ----

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LNAME = r"[a-zA-Z_][a-zA-Z0-9_]*"
LVALUE = r'"(?:[^"\\\n]|\\[\\"n])*"'
VALUE = r"(?:[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)|[+-]?Inf|NaN)"
SAMPLE = re.compile(rf"^({NAME})(?:\{{((?:{LNAME}={LVALUE})(?:,{LNAME}={LVALUE})*)?\}})? ({VALUE})(?: -?\d+)?$")
LABEL = re.compile(rf"({LNAME})=({LVALUE})")
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


def unescape(v):
    out, i = [], 1
    while i < len(v) - 1:
        ch = v[i]
        if ch == "\\":
            nxt = v[i + 1]
            out.append({"\\": "\\", '"': '"', "n": "\n"}[nxt])
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def parse(text):
    """Returns ({family: type}, [(name, labels dict, value)]) or raises
    ValueError naming the first offending line."""
    if not text.endswith("\n"):
        raise ValueError("the body does not end with a newline")
    types, helps, samples, seen, done = {}, {}, [], set(), set()
    current = None
    for n, line in enumerate(text.split("\n")[:-1], 1):
        if line.startswith("# HELP "):
            m = re.match(rf"^# HELP ({NAME}) (.*)$", line)
            if not m or m.group(1) in helps:
                raise ValueError(f"line {n}: bad or repeated HELP: {line!r}")
            helps[m.group(1)] = m.group(2)
            continue
        if line.startswith("# TYPE "):
            m = re.match(rf"^# TYPE ({NAME}) (\w+)$", line)
            if not m or m.group(2) not in TYPES or m.group(1) in types:
                raise ValueError(f"line {n}: bad or repeated TYPE: {line!r}")
            if m.group(1) in done:
                raise ValueError(f"line {n}: TYPE after samples of {m.group(1)}")
            types[m.group(1)] = m.group(2)
            continue
        if line.startswith("#") or line == "":
            raise ValueError(f"line {n}: unexpected {line!r}")
        m = SAMPLE.match(line)
        if not m:
            raise ValueError(f"line {n}: not a sample: {line!r}")
        name = m.group(1)
        labels = {}
        if m.group(2):
            for lm in LABEL.finditer(m.group(2)):
                if lm.group(1) in labels:
                    raise ValueError(f"line {n}: label {lm.group(1)} twice")
                labels[lm.group(1)] = unescape(lm.group(2))
        if name != current:
            if name in done:
                raise ValueError(f"line {n}: samples of {name} are not together")
            if current:
                done.add(current)
            current = name
        key = (name, tuple(sorted(labels.items())))
        if key in seen:
            raise ValueError(f"line {n}: duplicate series {key}")
        seen.add(key)
        samples.append((name, labels, float(m.group(3))))
    return types, samples


f = Failures()
d = tmpdir()
fleet_in = {"devices": [
    {"name": "pdu-1", "model": "apc-rpdu2", "protocol": "snmp", "wiring": "1ph", "outlets": 8,
     "placement": {"room": "Hall", "row": "Hall-R1", "rack": "K1", "feed": "A"}},
    {"name": "pdu-2", "model": "apc-rpdu2", "protocol": "snmp", "wiring": "1ph", "outlets": 8,
     "placement": {"room": "Hall", "row": "Hall-R1", "rack": "K1", "feed": "B"}},
]}
fleet_file = os.path.join(d, "fleet-in.json")
with open(fleet_file, "w") as fh:
    json.dump(fleet_in, fh)

pg = Postgres()
sim, base = port_range_sim(["--fleet", fleet_file])
conf = os.path.join(d, "wattrack.conf")


def write_conf(readings):
    with open(conf, "w") as fh:
        fh.write(f'database.url = "{pg.dsn}"\nstate_dir = {os.path.join(d, "state")}\n'
                 "poll.interval = 2s\npoll.timeout = 500ms\npoll.retries = 0\n"
                 "storage.flush_interval = 5s\ndevices.rescan = 1s\nworkers.threads = 3\n"
                 f"api.metrics_readings = {'on' if readings else 'off'}\n" + TEST_API)


write_conf(True)


def q(sql, args=()):
    return pg_query(pg.dsn, sql, args)


ODD = 'pdu "2" \\ back\\slash\nsecond line'
ODD_ENTITY = 'Outlet "5"\tDell R740 \u00e9\\\n#2'

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
    p1, p2 = ids["pdu-1"], ids["pdu-2"]
    q("UPDATE devices SET name = %s WHERE id = %s", (ODD, p2))
    f.check(w.wait_for(r"devices: 2 polled", timeout=20) is not None, "the daemon polls the PDUs")

    c = Client(port)
    st, _, js = c.login("admin", pw)
    st, _, js = c.call("POST", "/api/v1/session/password",
                       {"current_password": pw, "new_password": "Metrics test password 1"})
    f.check(st == 204, f"admin password set: {st} {js}")
    st, _, js = c.call("POST", "/api/v1/tokens", {"name": "prometheus", "roles": ["readonly"]})
    f.check(st == 201 and js.get("token"), f"a read-only token for the scraper: {st} {js}")
    scraper = Client(port)
    scraper.token = (js or {}).get("token")

    st, _, body = Client(port).raw("GET", "/metrics")
    f.check(st == 401, f"/metrics without credentials: {st}")

    def scrape():
        st, hdrs, body = scraper.call("GET", "/metrics")
        return st, hdrs, body if isinstance(body, str) else ""

    def readings_of(samples, dev_id, entity, index, name):
        return [v for n, lb, v in samples if n == name and lb.get("device_id") == str(dev_id)
                and lb.get("entity") == entity and lb.get("index") == str(index)]

    def outlet_watts():
        st, _, body = scrape()
        try:
            _, samples = parse(body)
        except ValueError:
            return None
        v = readings_of(samples, p1, "outlet", 3, "wattrack_reading_power_active_watts")
        return v[0] if v else None

    f.check(until(outlet_watts, 40) is not None, "outlet 3's power appears in /metrics")
    st, _ = sim.post("pdu-1", "load", {"unit": 1, "outlet": 3, "watts": 700})
    f.check(st == 200, "load step on outlet 3")
    time.sleep(7)  # a whole 5 s bucket after the step

    t0 = time.time()
    st, hdrs, body = scrape()
    scrape_s = time.time() - t0
    f.check(st == 200, f"scrape by token: {st}")
    f.check(hdrs.get("content-type", "").startswith("text/plain; version=0.0.4"),
            f"content type {hdrs.get('content-type')}")
    try:
        types, samples = parse(body)
        parsed = True
    except ValueError as e:
        types, samples, parsed = {}, [], False
        f.check(False, f"strict parse: {e}")
    f.check(parsed, "the exposition parses strictly")
    print(f"scrape: {len(body)} bytes, {len(samples)} samples, {scrape_s * 1000:.0f} ms", flush=True)
    try:
        from prometheus_client.parser import text_string_to_metric_families
        fams = list(text_string_to_metric_families(body))
        f.check(sum(len(x.samples) for x in fams) == len(samples), "prometheus_client agrees")
    except ImportError:
        print("prometheus_client not installed: strict regex parser only", flush=True)

    names = {n for n, _, _ in samples}
    for need in ("wattrack_up", "wattrack_polls_total", "wattrack_storage_db_connected",
                 "wattrack_api_streams", "wattrack_metrics_readings"):
        f.check(need in names, f"{need} present")
    rd = [(n, lb, v) for n, lb, v in samples if n.startswith("wattrack_reading_")]
    f.check(all(types.get(n) == "gauge" for n, _, _ in rd), "every reading family is a typed gauge")
    f.check(all(set(lb) == {"device_id", "device", "entity", "index", "name"} for _, lb, _ in rd),
            "every reading has the documented labels")
    f.check(not any("energy" in n for n, _, _ in rd), "counters (energy) are not exported as gauges")
    exported = [v for n, _, v in samples if n == "wattrack_metrics_readings"]
    f.check(exported and exported[0] == len(rd), f"wattrack_metrics_readings counts them: {exported} vs {len(rd)}")
    n_series = q("SELECT count(*) FROM series s JOIN metrics m ON m.id = s.metric"
                 " WHERE s.entity_id IS NOT NULL AND m.flags & 1 = 0")[0][0]
    f.check(len(rd) >= 0.9 * n_series, f"nearly every gauge series is exported ({len(rd)}/{n_series})")

    truth = sim.state("pdu-1")["pdu"]["units"][0]["outlets"][2]
    got = readings_of(samples, p1, "outlet", 3, "wattrack_reading_power_active_watts")
    f.check(len(got) == 1 and abs(got[0] - truth["power"]) <= 0.05 * truth["power"] + 5,
            f"outlet 3 power {got} W matches the simulator's {truth['power']:.1f} W")
    got = readings_of(samples, p1, "outlet", 3, "wattrack_reading_current_amperes")
    f.check(len(got) == 1 and abs(got[0] - truth["current"]) <= 0.05 * truth["current"] + 0.05,
            f"outlet 3 current {got} A matches the simulator's {truth['current']:.2f} A")
    f.check(truth["power"] > 500, f"the load step shows in the truth ({truth['power']:.0f} W)")

    odd = {lb["device"] for _, lb, _ in rd if lb["device_id"] == str(p2)}
    f.check(odd == {ODD}, f"the odd device name comes back exactly: {odd}")
    f.check('device="pdu \\"2\\" \\\\ back\\\\slash\\nsecond line"' in body,
            "quotes, backslashes and the newline are escaped in the text")
    f.check(all(lb["device"] == "pdu-1" for _, lb, _ in rd if lb["device_id"] == str(p1)),
            "pdu-1's label")
    # An entity name (from a device or an operator) goes through the same
    # escaping: set one by hand and scrape again.
    q("UPDATE entities SET name = %s WHERE device_id = %s AND kind = 'outlet' AND idx = 5",
      (ODD_ENTITY, p1))
    st, _, body = scrape()
    try:
        _, samples = parse(body)
    except ValueError as e:
        samples = []
        f.check(False, f"strict parse with the odd entity name: {e}")
    names5 = {lb["name"] for n, lb, _ in samples if n.startswith("wattrack_reading_")
              and lb["device_id"] == str(p1) and lb["entity"] == "outlet" and lb["index"] == "5"}
    f.check(names5 == {ODD_ENTITY}, f"the odd entity name comes back exactly: {names5}")

    # SIGHUP with the setting off: only the server's own figures remain.
    write_conf(False)
    m = w.mark()
    w.signal(signal.SIGHUP)
    f.check(w.wait_for(r"reload: api\.metrics_readings: (on|true) -> (off|false)", timeout=10, start=m) is not None,
            "the reload applies api.metrics_readings")
    f.check(w.wait_for(r"reload: done", timeout=10, start=m) is not None, "reload done")
    st, _, body = scrape()
    _, samples = parse(body)
    f.check(st == 200 and not any(n.startswith("wattrack_reading_") for n, _, _ in samples)
            and any(n == "wattrack_polls_total" for n, _, _ in samples),
            "after the reload: no readings, health figures still there")
finally:
    f.check(w.stop() == 0, "the daemon stops cleanly")
    sim.stop()
f.done()
