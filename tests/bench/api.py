"""API throughput and latency: wrk against wt-api-testd on a private
PostgreSQL holding a realistic fleet (2,000 PDUs, 200 with --quick, in
racks of two on feeds A and B, 24 outlets each, 100 series per PDU; 30 days
of hourly and a year of daily history per device total and per rack and
room aggregate (the sums of their devices), 5 s data of every device
series around the run), generated straight into the storage layout with SQL
(see fleet_sql for what is and is not generated). Measures the
device list, one device's live detail, a rack's 30-day chart and a room's
1-year chart, all by API token; then an unauthenticated route served on the
loop (/api/v1/version), authenticated reads by token and by session cookie
(/api/v1/session), and password logins at the production scrypt cost.

    tests/bench/run api [--quick]

Last line: RESULT api p50_ms=<worst p50 of the four fleet routes>
p99_ms=<worst p99 of them> rps=<device list req/s> year_chart_p99_ms=...
"""

import json
import os
import re
import subprocess
import sys
import threading
import time

root = os.environ.get("WT_SOURCE_ROOT", os.path.abspath(os.path.join(os.path.dirname(__file__), "../..")))
sys.path.insert(0, os.path.join(root, "tests/api"))
os.environ.setdefault("WT_API_TESTD", os.path.join(os.environ.get("WT_BUILD_ROOT", ""),
                                                   "tests/api/wt-api-testd"))
from apilib import Testd, Postgres, SOURCE_ROOT  # noqa: E402

quick = "--quick" in sys.argv
secs = 2 if quick else 8
conns = 32

n_pdu = 200 if quick else 2000
pg = Postgres()
for f in sorted(os.listdir(os.path.join(SOURCE_ROOT, "migrations"))):
    if re.match(r"\d{4}_.*\.sql$", f):
        subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1",
                        "-p", str(pg.port), "-U", "postgres", "-d", "postgres",
                        "-f", os.path.join(SOURCE_ROOT, "migrations", f)],
                       check=True, capture_output=True)
t_gen = time.time()
now = int(time.time())
hour0 = now - now % 3600
day0 = now - now % 86400
win = (now - 60) - (now - 60) % 60
racks = n_pdu // 2
# A fleet shaped like a real one, so index depths, heap layouts and row
# counts are what production has:
# - every PDU has a total (voltage, current, power, energy) and 24 outlets
#   (current, power, energy, on/off state): 100 series per PDU, 200,000 for
#   2,000 PDUs;
# - 5 s data in the writer's layout (one row per series per 60 s flush
#   window, 12 float4 buckets, cnt/mn/mx NULL as with one sample per
#   bucket) for every device series from 5 minutes before the run to 10
#   minutes after its start (the latest-value reads look two minutes back,
#   so the values stay live while the bench runs; later buckets are not
#   read);
# - hourly rows for 30 days and daily rows for a year of every total and
#   every rack and room aggregate, inserted hour by hour across all series
#   as the writer does (so one series' rows lie one per heap page, not side
#   by side), the aggregates being the sums of their devices' rows;
# - ANALYZE and VACUUM as autovacuum would leave them after a bulk load.
# Not generated: hourly/daily history per outlet (144M rows; the chart
# routes read one series, whose cost depends on the index depth, not on
# the other series), and 14 days of 5 s data.
fleet_sql = f"""
CREATE TABLE samples_5s_default PARTITION OF samples_5s DEFAULT;
CREATE TABLE samples_1h_default PARTITION OF samples_1h DEFAULT;
CREATE TABLE samples_1d_default PARTITION OF samples_1d DEFAULT;
INSERT INTO metrics (id, name, unit, flags) VALUES (0, 'voltage', 'V', 0), (3, 'current', 'A', 4),
  (7, 'power_active', 'W', 4), (11, 'energy_active', 'Wh', 5), (23, 'outlet_state', '', 2)
  ON CONFLICT DO NOTHING;
INSERT INTO structure_elements (kind, name) VALUES ('site', 'DC1');
INSERT INTO structure_elements (kind, parent_id, name)
  SELECT 'room', (SELECT id FROM structure_elements WHERE kind = 'site'), 'Hall ' || r
  FROM generate_series(1, 2) r;
INSERT INTO structure_elements (kind, parent_id, name)
  SELECT 'row', (SELECT id FROM structure_elements WHERE name = 'Hall ' || (1 + w % 2)), 'Row ' || w
  FROM generate_series(1, greatest({racks} / 50, 2)) w;
INSERT INTO structure_elements (kind, parent_id, name, budget_w)
  SELECT 'rack', (SELECT id FROM structure_elements WHERE name = 'Row ' || (1 + k % greatest({racks} / 50, 2))),
         'R' || k, 8000
  FROM generate_series(1, {racks}) k;
INSERT INTO devices (name, protocol, address, port, unit, credentials, vendor, model, rating_a,
                     phases, feed, rack_id, state)
  SELECT 'pdu-' || lpad(i::text, 4, '0'), 'snmp', '10.' || (i / 250) || '.' || (i % 250) || '.1', 161, 0,
         '{{"community": "bench"}}', 'APC', 'AP8959', 32, 1, CASE WHEN i % 2 = 0 THEN 'A' ELSE 'B' END,
         (SELECT id FROM structure_elements WHERE name = 'R' || (1 + i / 2) AND kind = 'rack'), 'ok'
  FROM generate_series(0, {n_pdu} - 1) i;
INSERT INTO entities (device_id, kind, idx, name) SELECT id, 'total', 1, 'Total' FROM devices;
INSERT INTO entities (device_id, kind, idx, name)
  SELECT d.id, 'outlet', o, 'Outlet ' || o FROM devices d, generate_series(1, 24) o;
INSERT INTO series (metric, entity_id)
  SELECT m, e.id FROM entities e, unnest(ARRAY[0, 3, 7, 11]) m WHERE e.kind = 'total';
INSERT INTO series (metric, entity_id)
  SELECT m, e.id FROM entities e, unnest(ARRAY[3, 7, 11, 23]) m WHERE e.kind = 'outlet';
INSERT INTO series (metric, owner_kind, owner_id)
  SELECT 7, kind, id FROM structure_elements WHERE kind IN ('rack', 'room');
CREATE TEMP TABLE tot AS
  SELECT s.id AS series, d.id AS device, d.rack_id AS rack, rw.parent_id AS room
  FROM series s JOIN entities e ON e.id = s.entity_id JOIN devices d ON d.id = e.device_id
  JOIN structure_elements rk ON rk.id = d.rack_id JOIN structure_elements rw ON rw.id = rk.parent_id
  WHERE e.kind = 'total' AND s.metric = 7;
INSERT INTO samples_1h (series, start, count, quality, min, max, sum)
  SELECT t.series, to_timestamp({hour0} - h * 3600), 720, 0, 300 + t.device % 700,
         500 + t.device % 700, 720 * (400 + t.device % 700 + 50 * sin(h / 4.0 + t.device))
  FROM generate_series(1, 720) h, tot t ORDER BY h DESC, t.series;
INSERT INTO samples_1h (series, start, count, quality, min, max, sum)
  SELECT s.id, to_timestamp({hour0} - h * 3600), 720, 0, 0.2 * h, 0.25 * h, 720 * 0.22 * h
  FROM generate_series(1, 720) h, series s JOIN entities e ON e.id = s.entity_id
  WHERE e.kind = 'total' AND s.metric <> 7 ORDER BY h DESC, s.id;
INSERT INTO samples_1h (series, start, count, quality, min, max, sum)
  SELECT a.id, h.start, 720, 0, sum(h.min), sum(h.max), sum(h.sum)
  FROM samples_1h h JOIN tot t ON t.series = h.series
  JOIN series a ON a.owner_kind = 'rack' AND a.owner_id = t.rack AND a.metric = 7
  GROUP BY h.start, a.id ORDER BY h.start DESC, a.id;
INSERT INTO samples_1h (series, start, count, quality, min, max, sum)
  SELECT a.id, h.start, 720, 0, sum(h.min), sum(h.max), sum(h.sum)
  FROM samples_1h h JOIN tot t ON t.series = h.series
  JOIN series a ON a.owner_kind = 'room' AND a.owner_id = t.room AND a.metric = 7
  GROUP BY h.start, a.id ORDER BY h.start DESC, a.id;
INSERT INTO samples_1d (series, start, count, quality, min, max, sum)
  SELECT s.id, to_timestamp({day0} - k * 86400), 17280, 0, 300 + s.id % 700, 500 + s.id % 700,
         17280 * (400 + s.id % 700 + 30 * sin(k / 9.0))
  FROM generate_series(1, 365) k, series s LEFT JOIN entities e ON e.id = s.entity_id
  WHERE e.kind = 'total' OR s.owner_kind IN ('rack', 'room') ORDER BY k DESC, s.id;
INSERT INTO samples_5s (series, start, quality, v)
  SELECT s.id, to_timestamp({win} - w * 60), 0, array_fill((10 + s.id % 17)::real, ARRAY[12])
  FROM generate_series(-10, 4) w, series s WHERE s.entity_id IS NOT NULL ORDER BY w DESC, s.id;
ANALYZE;
"""
subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", str(pg.port),
                "-U", "postgres", "-d", "postgres", "-c", fleet_sql], check=True, capture_output=True)
# As autovacuum would after a bulk load; not measured while it runs.
subprocess.run(["psql", "-X", "-q", "-h", "127.0.0.1", "-p", str(pg.port), "-U", "postgres", "-d",
                "postgres", "-c", "VACUUM (ANALYZE)"], check=True, capture_output=True)
# And the bulk load's dirty pages written out (the server runs with fsync
# off): otherwise the kernel's writeback of gigabytes lands in the first
# route's measurement.
subprocess.run(["psql", "-X", "-q", "-h", "127.0.0.1", "-p", str(pg.port), "-U", "postgres", "-d",
                "postgres", "-c", "CHECKPOINT"], check=True, capture_output=True)
os.sync()
counts = pg.sql("SELECT (SELECT count(*) FROM series), (SELECT count(*) FROM samples_5s),"
                " (SELECT count(*) FROM samples_1h), (SELECT count(*) FROM samples_1d)")[0]
print(f"fleet: {n_pdu} PDUs, {racks} racks, {counts[0]} series, {counts[1]} 5 s rows, "
      f"{counts[2]} hourly rows, {counts[3]} daily rows, generated in {time.time() - t_gen:.1f} s",
      flush=True)
dev_id = pg.sql("SELECT min(id) FROM devices")[0][0]
rack_series = pg.sql("SELECT min(id) FROM series WHERE owner_kind = 'rack'")[0][0]
room_series = pg.sql("SELECT min(id) FROM series WHERE owner_kind = 'room'")[0][0]

d = Testd(pg, scrypt_log2n=15, workers=4, throttle={"user_free": 1000000, "addr_free": 1000000})
first = d.admin_password()
c = d.client()
c.login("admin", first)
c.call("POST", "/api/v1/session/password", {"current_password": first,
                                            "new_password": "benchmark password 1"})
st, _, tok = c.call("POST", "/api/v1/tokens", {"name": "bench"})
token = tok["token"]
cookie = c.cookie


def proc_cpu_s(pids):
    """User+system CPU seconds used so far by pids (all their threads)."""
    tot = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/stat") as f:
                st = f.read()
        except OSError:
            continue
        fields = st[st.rindex(")") + 2:].split()
        tot += int(fields[11]) + int(fields[12])
    return tot / os.sysconf("SC_CLK_TCK")


def pg_pids():
    """The postmaster and its children (the backends serving the API)."""
    with open(os.path.join(pg.data, "postmaster.pid")) as f:
        master = int(f.readline())
    pids = [master]
    for e in os.listdir("/proc"):
        if not e.isdigit():
            continue
        try:
            with open(f"/proc/{e}/stat") as f:
                st = f.read()
        except OSError:
            continue
        if int(st[st.rindex(")") + 2:].split()[1]) == master:
            pids.append(int(e))
    return pids


def wrk(path, header=None, full=False, script=None):
    # Steady state, not a cold start: each route is requested for a second
    # first, unmeasured (the workers' PostgreSQL connections opened, the
    # route's caches and buffers filled).
    warm = ["wrk", "-t2", f"-c{conns}", "-d1s"] + (["-H", header] if header else []) + \
        (["-s", script] if script else [])
    subprocess.run(warm + [f"http://127.0.0.1:{d.http_port}{path}"], capture_output=True, check=True)
    argv = ["wrk", "-t2", f"-c{conns}", f"-d{secs}s", "--latency"]
    if header:
        argv += ["-H", header]
    if script:
        argv += ["-s", script]
    # CPU time per request, the server's and PostgreSQL's: unlike latency
    # it does not depend on what else the shared cores are running.
    pgp = pg_pids()
    c0, p0 = proc_cpu_s([d.proc.pid]), proc_cpu_s(pgp)
    out = subprocess.run(argv + [f"http://127.0.0.1:{d.http_port}{path}"], capture_output=True,
                         text=True, check=True).stdout
    c1, p1 = proc_cpu_s([d.proc.pid]), proc_cpu_s(pgp)
    nreq = max(int(re.search(r"(\d+) requests in", out).group(1)), 1)
    wrk.cpu = (1000 * (c1 - c0) / nreq, 1000 * (p1 - p0) / nreq)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1, "s": 1000}[p99.group(2)]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if full:
        p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", out)
        s50 = {"us": 0.001, "ms": 1, "s": 1000}[p50.group(2)]
        return (rps, float(p50.group(1)) * s50, float(p99.group(1)) * scale,
                int(non2xx.group(1)) if non2xx else 0)
    return rps, float(p99.group(1)) * scale, int(non2xx.group(1)) if non2xx else 0


results = {}
auth = f"Authorization: Bearer {token}"
fleet = {}
# The list as a console opens it: the first page (100 devices) of the fleet.
for name, path in [("list", "/api/v1/devices?limit=100"),
                   ("detail", f"/api/v1/devices/{dev_id}"),
                   ("rack_month", f"/api/v1/readings?series={rack_series}&range=1m"),
                   ("room_year", f"/api/v1/readings?series={room_series}&range=1y")]:
    rps, p50, p99, bad = wrk(path, auth, full=True)
    print(f"{name:10s} GET {path[:48]:48s} {rps:9.0f} req/s  p50 {p50:7.2f} ms  p99 {p99:7.2f} ms"
          f"  non-2xx {bad}  CPU/req {wrk.cpu[0]:.3f} ms + PostgreSQL {wrk.cpu[1]:.3f} ms"
          f"  (load {os.getloadavg()[0]:.1f})", flush=True)
    fleet[name] = (rps, p50, p99, bad, wrk.cpu)
# Not one of the four targets, shown beside them: the detail of a device
# picked at random from the whole fleet per request, so neither the
# device's cached identity nor PostgreSQL's cache of its rows is warm from
# the previous request (a NOC with many consoles, not one).
lua = os.path.join(pg.base, "detail.lua")
dev_max = int(pg.sql("SELECT max(id) FROM devices")[0][0])
with open(lua, "w") as f:
    f.write(f"math.randomseed(42)\nrequest = function()\n"
            f"  return wrk.format(nil, '/api/v1/devices/' .. math.random({dev_id}, {dev_max}))\nend\n")
rps, p50, p99, bad = wrk("/api/v1/devices/1", auth, full=True, script=lua)
print(f"{'detail_any':10s} GET {'/api/v1/devices/<random of ' + str(n_pdu) + '>':48s} {rps:9.0f} req/s"
      f"  p50 {p50:7.2f} ms  p99 {p99:7.2f} ms  non-2xx {bad}  CPU/req {wrk.cpu[0]:.3f} ms"
      f" + PostgreSQL {wrk.cpu[1]:.3f} ms", flush=True)
detail_any = (rps, p50, p99, bad)
results["p50_ms"] = round(max(v[1] for v in fleet.values()), 2)
results["p99_ms"] = round(max(v[2] for v in fleet.values()), 2)
results["rps"] = round(fleet["list"][0])
results["year_chart_p99_ms"] = round(fleet["room_year"][2], 2)
for k, v in fleet.items():
    results[f"{k}_rps"] = round(v[0])
    results[f"{k}_p99_ms"] = round(v[2], 2)
    results[f"{k}_cpu_ms"] = round(v[4][0] + v[4][1], 3)
    if v[3]:
        results[f"{k}_errors"] = v[3]
results["detail_any_rps"] = round(detail_any[0])
results["detail_any_p99_ms"] = round(detail_any[2], 2)
if detail_any[3]:
    results["detail_any_errors"] = detail_any[3]
results["pdus"] = n_pdu
# The machine's 1-minute load average after the fleet routes: wrk, the
# server and PostgreSQL share the cores with whatever else runs, and a
# p99 measured at a load of 10 on 2 cores says more about the scheduler.
results["load1"] = round(os.getloadavg()[0], 1)
for name, path, header in [("version", "/api/v1/version", None),
                           ("token", "/api/v1/session", f"Authorization: Bearer {token}"),
                           ("cookie", "/api/v1/session", f"Cookie: wt_session={cookie}")]:
    rps, p99, bad = wrk(path, header)
    print(f"{name:8s} GET {path:18s} {rps:10.0f} req/s  p99 {p99:7.2f} ms  non-2xx {bad}")
    results[f"{name}_rps"] = round(rps)
    results[f"{name}_p99_ms"] = round(p99, 2)
    if bad:
        results[f"{name}_errors"] = bad

# Logins: scrypt at N=2^15 (32 MiB, the default) on the worker pool.
n_login = 8 if quick else 40
done = []


def logins(k):
    cl = d.client()
    for _ in range(k):
        st, _, _ = cl.login("admin", "benchmark password 1")
        done.append(st)


t0 = time.time()
ths = [threading.Thread(target=logins, args=(n_login // 4,)) for _ in range(4)]
for t in ths:
    t.start()
for t in ths:
    t.join()
el = time.time() - t0
ok = sum(1 for s in done if s == 200)
print(f"logins   POST /api/v1/session   {ok / el:10.1f} per s   ({ok} of {len(done)} ok, scrypt N=2^15, 4 workers)")
results["logins_per_s"] = round(ok / el, 1)
d.stop()
print("RESULT api " + " ".join(f"{k}={v}" for k, v in results.items()))
