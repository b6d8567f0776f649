"""/metrics with api.metrics_readings = on for a large fleet: the real
daemon (release build) on a private PostgreSQL holding 2,000 PDUs (200 with
--quick) of 24 outlets, 132 series each (120 outlet series: current,
active and apparent power, power factor, outlet state; 12 on the total, one
of them the energy counter, which is not exported), every series with a
5 s row per minute for the last 7 minutes (as a 60 s flush interval
leaves them), generated straight into the storage layout with SQL. The devices are disabled, so the daemon reads the values from
the database only, as it would just after a flush.

Measures three scrapes by API token: wall time, body size, samples, the
server's own figure for the worker part (wattrack_metrics_readings_seconds),
and how long the event loop was unavailable meanwhile: /api/v1/version
(answered on the loop) is asked every 5 ms during each scrape and its worst
latency reported, next to the worst of the same probe for 2 s with no
scrape (the cores are shared: that is the noise floor). Also the daemon's
RSS before and after.

    tests/bench/run metrics [--quick]

Last line: RESULT metrics series=<samples exported> bytes=<body> scrape_ms=<median>
worker_ms=<median> loop_max_ms=<worst> loop_idle_max_ms=<worst without a scrape>
rss_growth_mb=<after - before>
"""

import os
import re
import statistics
import subprocess
import sys
import threading
import time

root = os.environ.get("WT_SOURCE_ROOT", os.path.abspath(os.path.join(os.path.dirname(__file__), "../..")))
sys.path.insert(0, os.path.join(root, "tests/api"))
sys.path.insert(0, os.path.join(root, "tests/integration"))
from apilib import Client, Postgres  # noqa: E402
from wtdaemon import TEST_API, Daemon  # noqa: E402
from wtfix import tmpdir  # noqa: E402

quick = "--quick" in sys.argv
n_pdu = 200 if quick else 2000
pg = Postgres()
d = tmpdir("wt-bench-metrics-")
conf = os.path.join(d, "wattrack.conf")
with open(conf, "w") as fh:
    fh.write(f'database.url = "{pg.dsn}"\nstate_dir = {os.path.join(d, "state")}\n'
             "api.metrics_readings = on\nlog.level = notice\n" + TEST_API)


def psql(sql):
    subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", str(pg.port),
                    "-U", "postgres", "-d", "postgres", "-c", sql], check=True, capture_output=True)


# The daemon creates the schema; then the fleet goes in behind its back.
w = Daemon(conf)
if w.wait_for(r"wattrack ready", timeout=120) is None:
    sys.exit("bench: the daemon did not start")
i = w.wait_for(r'created user "admin" with one-time password', timeout=30)
pw = re.search(r"one-time password (\S+)", w.lines[i]).group(1) if i is not None else None
w.stop()
if pw is None:
    sys.exit("bench: no admin password")

t_gen = time.time()
now = int(time.time())
win = now - now % 5 - 60
psql(f"""
INSERT INTO metrics (id, name, unit, flags) VALUES (0, 'voltage', 'V', 0), (1, 'voltage_peak', 'V', 0),
  (2, 'voltage_dip', 'V', 0), (3, 'current', 'A', 4), (4, 'current_peak', 'A', 0),
  (5, 'neutral_current', 'A', 4), (7, 'power_active', 'W', 4), (8, 'power_apparent', 'VA', 4),
  (9, 'power_reactive', 'var', 4), (10, 'power_factor', '', 0), (11, 'energy_active', 'Wh', 5),
  (13, 'frequency', 'Hz', 0), (23, 'outlet_state', '', 2) ON CONFLICT DO NOTHING;
INSERT INTO devices (name, protocol, address, port, unit, vendor, model, rating_a, phases, state)
  SELECT 'pdu-' || lpad(i::text, 4, '0') || CASE WHEN i % 100 = 7 THEN ' "lab" \\ B' ELSE '' END,
         'snmp', '10.' || (i / 250) || '.' || (i % 250) || '.1', 161, 0, 'APC', 'AP8959', 32, 1,
         'disabled'
  FROM generate_series(0, {n_pdu} - 1) i;
INSERT INTO entities (device_id, kind, idx, name) SELECT id, 'total', 1, 'Total' FROM devices;
INSERT INTO entities (device_id, kind, idx, name)
  SELECT d.id, 'outlet', o, 'Outlet ' || o FROM devices d, generate_series(1, 24) o;
INSERT INTO series (metric, entity_id)
  SELECT m, e.id FROM entities e, unnest(ARRAY[0, 1, 2, 3, 4, 5, 7, 8, 9, 10, 11, 13]) m
  WHERE e.kind = 'total';
INSERT INTO series (metric, entity_id)
  SELECT m, e.id FROM entities e, unnest(ARRAY[3, 7, 8, 10, 23]) m WHERE e.kind = 'outlet';
INSERT INTO samples_5s (series, start, quality, v)
  SELECT s.id, to_timestamp({win} - w * 60), 0, array_fill((1 + s.id % 997 / 7.0 + w)::real, ARRAY[12])
  FROM generate_series(6, 0, -1) w, series s ORDER BY w DESC, s.id;
ANALYZE;
""")
n_series = n_pdu * 132
print(f"fleet: {n_pdu} PDUs, {n_series} series generated in {time.time() - t_gen:.1f} s", flush=True)

w = Daemon(conf)
try:
    if w.wait_for(r"wattrack ready", timeout=300) is None:
        sys.exit("bench: the daemon did not start")
    i = w.wait_for(r"API listening on http://127\.0\.0\.1:(\d+)", timeout=5)
    port = int(re.search(r":(\d+)/api", w.lines[i]).group(1))
    c = Client(port)
    c.login("admin", pw)
    c.call("POST", "/api/v1/session/password",
           {"current_password": pw, "new_password": "Bench metrics password 1"})
    st, _, js = c.call("POST", "/api/v1/tokens", {"name": "prometheus", "roles": ["readonly"]})
    scraper = Client(port)
    scraper.token = js["token"]

    def rss_mb():
        with open(f"/proc/{w.proc.pid}/status") as fh:
            return int(re.search(r"VmRSS:\s+(\d+)", fh.read()).group(1)) / 1024

    rss0 = rss_mb()
    walls, workers, loop_max, sizes, counts = [], [], [], [], []
    probe = Client(port)
    idle_max = []
    for k in range(3):
        done = threading.Event()
        lat = []

        def prober():
            while not done.is_set():
                t = time.time()
                probe.raw("GET", "/api/v1/version")
                lat.append(time.time() - t)
                time.sleep(0.005)
        # The same probe with no scrape running: the machine's own noise
        # (the cores are shared) to read the figure below against.
        th = threading.Thread(target=prober, daemon=True)
        th.start()
        time.sleep(2)
        done.set()
        th.join()
        idle_max.append(max(lat) if lat else 0.0)
        done = threading.Event()
        lat = []
        th = threading.Thread(target=prober, daemon=True)
        th.start()
        # curl scrapes, so this process's GIL is left to the prober.
        out = os.path.join(d, "scrape.txt")
        t0 = time.time()
        cp = subprocess.run(["curl", "-s", "-o", out, "-w", "%{http_code}", "-H",
                             "Authorization: Bearer " + scraper.token,
                             f"http://127.0.0.1:{port}/metrics"], capture_output=True, text=True,
                            timeout=300)
        walls.append(time.time() - t0)
        done.set()
        th.join()
        with open(out) as fh:
            body = fh.read()
        if cp.stdout != "200":
            sys.exit(f"bench: scrape failed: {cp.stdout} {body[:200]}")
        sizes.append(len(body.encode()))
        counts.append(sum(1 for line in body.split("\n") if line.startswith("wattrack_reading_")))
        if k == 0:
            # Every value is the newest row's (older rows hold value + w).
            exp = {}
            for line in subprocess.run(
                    ["psql", "-X", "-A", "-t", "-F", " ", "-h", "127.0.0.1", "-p", str(pg.port), "-U",
                     "postgres", "-d", "postgres", "-c",
                     "SELECT e.device_id, e.kind, e.idx, m.name, (1 + s.id % 997 / 7.0)::real"
                     " FROM series s JOIN entities e ON e.id = s.entity_id"
                     " JOIN metrics m ON m.id = s.metric"], check=True, capture_output=True,
                    text=True).stdout.split("\n"):
                if line:
                    dv, kind, idx, mname, val = line.split(" ")
                    exp[(dv, kind, idx, mname)] = float(val)
            rx = re.compile(r'^wattrack_reading_([a-z_]+?)(?:_volts|_amperes|_watts|_voltamperes|_hertz|'
                            r'_voltamperes_reactive)?\{device_id="(\d+)",device="(?:[^"\\]|\\.)*",'
                            r'entity="(\w+)",index="(\d+)",name="[^"]*"\} (\S+)$')
            bad = checked = 0
            for line in body.split("\n"):
                mm = rx.match(line)
                if mm:
                    checked += 1
                    want = exp.get((mm.group(2), mm.group(3), mm.group(4), mm.group(1)))
                    if want is None or abs(float(mm.group(5)) - want) > 1e-4 * max(1.0, want):
                        bad += 1
            print(f"values checked against the newest rows: {checked}, wrong: {bad}", flush=True)
            if bad or checked != counts[-1]:
                sys.exit("bench: wrong values in /metrics")
        m = re.search(r"^wattrack_metrics_readings_seconds (\S+)$", body, re.M)
        workers.append(float(m.group(1)) if m else float("nan"))
        loop_max.append(max(lat) if lat else 0.0)
        print(f"scrape {k + 1}: {walls[-1] * 1000:.0f} ms, {sizes[-1] / 1e6:.1f} MB, {counts[-1]} readings,"
              f" worker {workers[-1] * 1000:.0f} ms, /api/v1/version worst {loop_max[-1] * 1000:.1f} ms"
              f" over {len(lat)} probes (idle: {idle_max[-1] * 1000:.1f} ms)", flush=True)
    rss1 = rss_mb()
    print(f"daemon RSS {rss0:.0f} MB -> {rss1:.0f} MB", flush=True)
finally:
    w.stop()
print(f"RESULT metrics series={counts[-1]} bytes={sizes[-1]} scrape_ms={statistics.median(walls) * 1000:.0f}"
      f" worker_ms={statistics.median(workers) * 1000:.0f} loop_max_ms={max(loop_max) * 1000:.1f}"
      f" loop_idle_max_ms={max(idle_max) * 1000:.1f}"
      f" rss_growth_mb={rss1 - rss0:.0f}")
