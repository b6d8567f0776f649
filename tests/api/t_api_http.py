"""The HTTP layer: one error shape everywhere, the JSON validator's messages,
404/405/413/415, slow clients (slowloris), garbage on the socket, the
OpenAPI document against the route table, and the HTTP->HTTPS redirect.
The server must stay up through all of it."""

import json
import os
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from apilib import TESTD, Failures, free_port, Testd, err_code, is_error_shape, migrated_postgres  # noqa: E402

F = Failures()
pg = migrated_postgres()
d = Testd(pg, max_body=4096, request_timeout=3)
c = d.client()

# ---- version, health -------------------------------------------------------------
st, hdrs, js = c.raw("GET", "/api/v1/version")
F.check(st == 200 and js["version"] and js["api"] == "v1", f"version: {st} {js}")
F.check(hdrs.get("content-type", "").startswith("application/json") and
        hdrs.get("x-content-type-options") == "nosniff" and hdrs.get("cache-control") == "no-store",
        f"JSON with safe headers: {hdrs}")
st, _, js = c.raw("GET", "/api/v1/health")
F.check(st == 200 and js["status"] == "ok" and js["database"] == "ok", f"health: {st} {js}")

# ---- routing errors ----------------------------------------------------------------
for method, path, want_st, want_code in [
    ("GET", "/api/v1/nope", 404, "NOT_FOUND"),
    ("GET", "/", 404, "NOT_FOUND"),
    ("GET", "/api/v1/users/abc", 404, "NOT_FOUND"),
    ("GET", "/api/v1/users/0", 404, "NOT_FOUND"),
    ("GET", "/api/v1/users/99999999999999999999999", 404, "NOT_FOUND"),
    ("GET", "/api/v1/users/", 404, "NOT_FOUND"),
    ("PUT", "/api/v1/users", 405, "METHOD_NOT_ALLOWED"),
    ("DELETE", "/api/v1/version", 405, "METHOD_NOT_ALLOWED"),
    ("OPTIONS", "/api/v1/users", 405, "METHOD_NOT_ALLOWED"),
    ("PATCH", "/api/v1/session", 405, "METHOD_NOT_ALLOWED"),
]:
    st, hdrs, js = c.raw(method, path)
    F.check(st == want_st and err_code(js) == want_code and is_error_shape(js),
            f"{method} {path}: want {want_st} {want_code}, got {st} {js}")
st, hdrs, js = c.raw("PUT", "/api/v1/users")
F.check(hdrs.get("allow") == "GET, POST", f"405 names the allowed methods: {hdrs.get('allow')}")
F.check("/api/v1/nope" in c.raw("GET", "/api/v1/nope")[2]["error"]["message"],
        "404 names the path")

# ---- the validator's messages ---------------------------------------------------------
LOGIN = "/api/v1/session"
for body, want in [
    ('{"username": "a", "password": ', "malformed JSON at line 1"),
    ('{"username": "a" "password": "b"}', "malformed JSON"),
    ('[]', "expected a JSON object, got an array"),
    ('"text"', "malformed JSON"),
    ('{"username": 5, "password": "b"}', 'field "username": expected a string, got an integer'),
    ('{"username": "a", "password": null}', 'field "password": expected a string, got null'),
    ('{"username": "a", "password": ["b"]}', 'field "password": expected a string, got an array'),
    ('{"username": "a"}', 'missing field "password"'),
    ('{"username": "a", "password": "b", "remember": true}', 'unknown field "remember"'),
    ('{"username": "a", "password": "b", "username": "c"}', "duplicate"),
    ('{"username": "' + "x" * 200 + '", "password": "b"}', 'field "username": longer than 128'),
    (b'{"username": "\xff\xfe", "password": "b"}', "malformed JSON"),
    ('', "got nothing"),
]:
    st, _, js = c.raw("POST", LOGIN, body, {"Content-Type": "application/json"})
    F.check(st == 400 and err_code(js) == "INVALID_REQUEST" and want in js["error"]["message"],
            f"body {body[:40]!r}: want 400 '{want}', got {st} {js}")
st, _, js = c.raw("POST", LOGIN, '{"username":"a","password":"b"}', {"Content-Type": "text/plain"})
F.check(st == 415 and err_code(js) == "UNSUPPORTED_MEDIA_TYPE", f"text/plain body: {st} {js}")
st, _, js = c.raw("POST", LOGIN, "username=a&password=b",
                  {"Content-Type": "application/x-www-form-urlencoded"})
F.check(st == 415, f"form posts are refused (CSRF by form is impossible): {st} {js}")
st, _, js = c.raw("GET", "/api/v1/version", "{}", {"Content-Type": "application/json"})
F.check(st == 400 and "takes no request body" in js["error"]["message"], f"body on GET: {st} {js}")

# ---- sizes -----------------------------------------------------------------------------
big = json.dumps({"username": "a", "password": "p" * 6000})
st, _, js = c.raw("POST", LOGIN, big, {"Content-Type": "application/json"})
F.check(st == 413 and err_code(js) == "PAYLOAD_TOO_LARGE" and "4096" in js["error"]["message"],
        f"body over max_body: {st} {js}")
try:
    st, _, js = c.raw("POST", LOGIN, "x" * 200000, {"Content-Type": "application/json"})
    F.check(st == 413, f"an absurd body is refused with 413: {st}")
except (ConnectionError, OSError) as e:
    F.check(True, f"an absurd body closes the connection ({e})")
try:
    st, _, js = c.raw("GET", "/api/v1/version", headers={"X-Junk": "j" * 40000})
    F.check(st >= 400, f"huge headers refused: {st}")
except (ConnectionError, OSError) as e:
    F.check(True, f"huge headers close the connection ({e})")
F.check(c.raw("GET", "/api/v1/version")[0] == 200, "still serving after oversized input")

# ---- garbage and slow clients -----------------------------------------------------------


def raw_socket(data, read=True):
    s = socket.create_connection(("127.0.0.1", d.http_port), timeout=5)
    try:
        s.sendall(data)
        if read:
            try:
                return s.recv(4096)
            except OSError:
                return b""
    finally:
        s.close()


for junk in [b"\x00\xff" * 100 + b"\r\n\r\n", b"GET\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n",
             b"POST /api/v1/session HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
             b"POST /api/v1/session HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
             b"GET /api/v1/version HTTP/1.1\r\nHost: x\r\n" + b"A: b\r\n" * 2000 + b"\r\n",
             os.urandom(3000)]:
    raw_socket(junk)
F.check(d.alive() and c.raw("GET", "/api/v1/version")[0] == 200, "garbage did not hurt the server")

# Slowloris: headers trickle in, one byte per 0.5 s. The server must close
# the connection once request_timeout (3 s) has passed, and serve others meanwhile.
slow = []
for _ in range(20):
    s = socket.create_connection(("127.0.0.1", d.http_port), timeout=10)
    s.sendall(b"GET /api/v1/version HTTP/1.1\r\nHost: x\r\n")
    slow.append(s)
t0 = time.time()
closed_at = [None] * len(slow)


def trickle(i, s):
    try:
        for _ in range(40):
            s.sendall(b"X")
            time.sleep(0.5)
            s.setblocking(False)
            try:
                if s.recv(1) == b"":
                    closed_at[i] = time.time() - t0
                    return
            except BlockingIOError:
                pass
            finally:
                s.setblocking(True)
    except OSError:
        closed_at[i] = time.time() - t0


threads = [threading.Thread(target=trickle, args=(i, s)) for i, s in enumerate(slow)]
for t in threads:
    t.start()
time.sleep(0.5)
t1 = time.time()
st = c.raw("GET", "/api/v1/version", timeout=5)[0]
F.check(st == 200 and time.time() - t1 < 3, f"served promptly beside 20 slow clients: {st}")
for t in threads:
    t.join()
for s in slow:
    s.close()
F.check(all(x is not None and x < 3 + 3 for x in closed_at),
        f"every slow client was cut off after the 3 s request deadline: {closed_at}")

# An idle keep-alive connection is closed too, and a prompt one is not.
s = socket.create_connection(("127.0.0.1", d.http_port), timeout=10)
s.sendall(b"GET /api/v1/version HTTP/1.1\r\nHost: x\r\n\r\n")
first = s.recv(4096)
F.check(b"200 OK" in first, "keep-alive request answered")
s.sendall(b"GET /api/v1/version HTTP/1.1\r\nHost: x\r\n\r\n")
second = s.recv(4096)
F.check(b"200 OK" in second, "second request on the same connection answered")
t1 = time.time()
F.check(s.recv(4096) == b"" and time.time() - t1 < 5, "idle keep-alive closed after the deadline")
s.close()

# ---- OpenAPI against the route table -----------------------------------------------------
st, _, doc = c.raw("GET", "/api/v1/openapi.json")
F.check(st == 200 and doc["openapi"].startswith("3."), f"openapi.json: {st}")
table = set()
for line in subprocess.run([TESTD, "--routes"], capture_output=True, text=True,
                           check=True).stdout.splitlines():
    method, path, perm = line.split()
    table.add((method.lower(), path, perm))
documented = set()
for path, item in doc["paths"].items():
    for method, op in item.items():
        documented.add((method, path, op["x-permission"]))
F.check(table and table == documented,
        f"route table and OpenAPI agree: only in table {table - documented}, "
        f"only in document {documented - table}")
# Every documented operation exists on the server: without credentials it
# answers 200/400/401, never 404 or 405; and paths answer 405 for undocumented methods.
for method, path, perm in sorted(documented):
    p = path.replace("{id}", "1")
    body = "{}" if method in ("post", "patch", "put") else None
    st, _, js = c.raw(method.upper(), p, body, {"Content-Type": "application/json"} if body else {})
    F.check(st not in (404, 405) and (st < 300 or is_error_shape(js)),
            f"documented {method.upper()} {path} exists: {st} {js}")
    if perm != "public":
        F.check(st in (400, 401), f"{method.upper()} {path} needs credentials: {st}")
    for other in ("get", "post", "put", "patch", "delete"):
        if other not in doc["paths"][path]:
            st2, _, js2 = c.raw(other.upper(), p)
            F.check(st2 == 405, f"undocumented {other.upper()} {path} -> 405, got {st2}")

# ---- the fast paths: chart numbers, device detail and metadata caches ----------------------
# Readings are written as text with 10 significant digits, a device's parts
# and series metadata are cached for the workers, latest values are one
# probe per series: each must still say what the database says, and a
# write through the API must show at once.
first = d.admin_password()
adm = d.client()
adm.login("admin", first)
adm.call("POST", "/api/v1/session/password", {"current_password": first,
                                              "new_password": "apiperf password 1"})
adm = d.client()
F.check(adm.login("admin", "apiperf password 1")[0] == 200, "admin logs in")
# This server's database holds the auth schema only: add the rest.
for f in sorted(os.listdir(os.path.join(os.environ["WT_SOURCE_ROOT"], "migrations"))):
    if f.endswith(".sql") and not f.startswith("002"):
        subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p",
                        str(pg.port), "-U", "postgres", "-d", "postgres", "-f",
                        os.path.join(os.environ["WT_SOURCE_ROOT"], "migrations", f)],
                       check=True, capture_output=True)
now = int(time.time())
hour0 = now - now % 3600
pg.sql(f"""
CREATE TABLE samples_5s_default PARTITION OF samples_5s DEFAULT;
CREATE TABLE samples_1h_default PARTITION OF samples_1h DEFAULT;
CREATE TABLE samples_1d_default PARTITION OF samples_1d DEFAULT;
INSERT INTO metrics (id, name, unit, flags) VALUES (3, 'current', 'A', 4),
  (7, 'power_active', 'W', 4) ON CONFLICT DO NOTHING;
INSERT INTO devices (name, protocol, address, port, unit, credentials, rating_a, phases, feed, state)
  VALUES ('perf-pdu', 'snmp', '10.9.9.9', 161, 0, '{{}}', 32, 1, 'A', 'ok');
INSERT INTO entities (device_id, kind, idx, name)
  SELECT id, 'total', 1, 'Total' FROM devices WHERE name = 'perf-pdu';
INSERT INTO entities (device_id, kind, idx, name)
  SELECT id, 'outlet', 1, 'Outlet 1' FROM devices WHERE name = 'perf-pdu';
INSERT INTO series (metric, entity_id) SELECT 7, e.id FROM entities e JOIN devices d
  ON d.id = e.device_id WHERE d.name = 'perf-pdu';
INSERT INTO series (metric, entity_id) SELECT 3, e.id FROM entities e JOIN devices d
  ON d.id = e.device_id WHERE d.name = 'perf-pdu' AND e.kind = 'total';
""")
dev = int(pg.sql("SELECT id FROM devices WHERE name = 'perf-pdu'")[0][0])
s_tot, s_out = [int(x[0]) for x in pg.sql(
    "SELECT s.id FROM series s JOIN entities e ON e.id = s.entity_id WHERE e.device_id = "
    f"{dev} AND s.metric = 7 ORDER BY e.kind DESC")]
s_cur = int(pg.sql(f"SELECT s.id FROM series s JOIN entities e ON e.id = s.entity_id "
                   f"WHERE e.device_id = {dev} AND s.metric = 3")[0][0])
# Awkward numbers: tiny, huge, negative, many digits, a whole number.
vals = [0.1, 1e-5, 123456.789012345, -273.15, 2.5e15, 1000.0, 1.0 / 3, 0.0]
pg.sql("INSERT INTO samples_1h (series, start, count, quality, min, max, sum) VALUES " +
       ", ".join(f"({s_tot}, to_timestamp({hour0 - (k + 1) * 3600}), 720, 0, {v!r} - 1, {v!r} + 1, "
                 f"720 * {v!r}::float8)" for k, v in enumerate(vals)))
st, hdrs, js = adm.call("GET", f"/api/v1/readings?series={s_tot}&range=3d&resolution=hour")
pts = js.get("series", [{}])[0].get("points", []) if st == 200 else []
F.check(st == 200 and hdrs.get("content-type", "").startswith("application/json") and
        len(pts) == len(vals), f"hourly chart as JSON: {st} {len(pts)} points {js if st != 200 else ''}")


def close(a, b):
    return abs(a - b) <= max(abs(b), 1e-300) * 1e-9


want = {(hour0 - (k + 1) * 3600) * 1000: v for k, v in enumerate(vals)}
bad = [p for p in pts if p[0] not in want or not close(p[2], want[p[0]]) or
       not close(p[1], want[p[0]] - 1) or not close(p[3], want[p[0]] + 1)]
F.check(pts and not bad, f"every point's min/avg/max as stored (10 significant digits): {bad}")
F.check(pts == sorted(pts), "points in time order")
summ = js["series"][0].get("summary") if pts else None
F.check(summ and close(summ["avg"], sum(vals) / len(vals)) and close(summ["max"], 2.5e15 + 1),
        f"summary: {summ}")
F.check(js["series"][0].get("metric") == "power_active" and
        js["series"][0].get("entity", {}).get("device_id") == dev, f"series metadata: {js['series'][0]}")
st, _, js = adm.call("GET", f"/api/v1/readings?series={s_tot},{s_out}&range=3d&resolution=hour")
F.check(st == 200 and [x["id"] for x in js["series"]] == [s_tot, s_out] and
        js["series"][1]["points"] == [] and js["series"][1]["summary"] is None,
        f"two series, one empty: {js}")
st, _, js = adm.call("GET", "/api/v1/readings?series=999999&range=3d")
F.check(st == 404 and err_code(js) == "SERIES_NOT_FOUND", f"unknown series still 404: {st} {js}")

# Metadata is cached: a rename through the API shows in the next chart.
ent = int(pg.sql(f"SELECT id FROM entities WHERE device_id = {dev} AND kind = 'outlet'")[0][0])
adm.call("GET", f"/api/v1/readings?series={s_out}&range=4h")
st, _, js = adm.call("PATCH", f"/api/v1/devices/{dev}/entities/{ent}", {"name": "Web server"})
F.check(st == 200, f"outlet renamed: {st} {js}")
st, _, js = adm.call("GET", f"/api/v1/readings?series={s_out}&range=4h")
F.check(st == 200 and js["series"][0]["entity"]["name"] == "Web server",
        f"the chart names the outlet's new name at once: {js}")

# Latest values: the newest bucket of the newest row, an empty (NaN,
# count 0) last bucket skipped, never a bucket after 'to'.
w = (now - 30) - (now - 30) % 60
pg.sql(f"""INSERT INTO samples_5s (series, start, quality, cnt, v) VALUES
  ({s_tot}, to_timestamp({w - 120}), 0, NULL, array_fill(1::real, ARRAY[12])),
  ({s_tot}, to_timestamp({w - 60}), 0, NULL, ARRAY[2,2,2,2,2,2,2,2,2,2,2,7.5]::real[]),
  ({s_cur}, to_timestamp({w - 60}), 0, ARRAY[1,1,1,1,1,1,1,1,1,1,1,0]::smallint[],
   ARRAY[3,3,3,3,3,3,3,3,3,3,4.25,'NaN']::real[]),
  ({s_out}, to_timestamp({w - 60}), 0, NULL, array_fill(5::real, ARRAY[12])),
  ({s_out}, to_timestamp({now + 600}), 0, NULL, array_fill(99::real, ARRAY[12]))""")
st, _, js = adm.call("GET", f"/api/v1/devices/{dev}")
tot = js.get("totals", {}).get("readings", {}) if st == 200 else {}
outl = (js.get("outlets") or [{}])[0].get("readings", {}) if st == 200 else {}
F.check(tot.get("power_active") == 7.5, f"detail: the newest bucket of the newest row: {tot}")
F.check(tot.get("current") == 4.25, f"detail: an empty last bucket is skipped: {tot}")
F.check(outl.get("power_active") == 5.0, f"detail: a row in the future is not read: {outl}")
F.check(js.get("readings_at") is not None, f"detail: readings_at set: {js.get('readings_at')}")
# Live values are never cached: a newer row shows at once.
pg.sql(f"INSERT INTO samples_5s (series, start, quality, cnt, v) VALUES "
       f"({s_tot}, to_timestamp({w}), 0, NULL, ARRAY[9.25]::real[])")
st, _, js = adm.call("GET", f"/api/v1/devices/{dev}")
F.check(st == 200 and js["totals"]["readings"].get("power_active") == 9.25,
        f"detail: a newer reading shows at once: {js.get('totals')}")
st, _, js = adm.call("GET", "/api/v1/devices?limit=1000")
row = [x for x in js.get("devices", []) if x["id"] == dev]
F.check(row and row[0].get("power_w") == 9.25 and row[0].get("load_a") == 4.25,
        f"list: latest load and power: {row}")

# Identity is cached for the workers: an API edit shows at once, a change
# made behind the API's back within the cache's 2 s.
st, _, js = adm.call("PATCH", f"/api/v1/devices/{dev}", {"name": "perf-pdu-2"})
F.check(st == 200 and js.get("name") == "perf-pdu-2", f"PATCH answers the new name: {st} {js}")
st, _, js = adm.call("GET", f"/api/v1/devices/{dev}")
F.check(st == 200 and js["name"] == "perf-pdu-2", f"detail shows an API edit at once: {js.get('name')}")
pg.sql(f"UPDATE devices SET location = 'Hall 9' WHERE id = {dev}")
t0 = time.time()
seen = None
while time.time() - t0 < 5:
    st, _, js = adm.call("GET", f"/api/v1/devices/{dev}")
    if st == 200 and js.get("location") == "Hall 9":
        seen = time.time() - t0
        break
    time.sleep(0.1)
F.check(seen is not None and seen < 3.0, f"a change outside the API shows within the TTL: {seen}")
st, _, js = adm.call("DELETE", f"/api/v1/devices/{dev}")
F.check(st == 204, f"device removed: {st}")
st, _, js = adm.call("GET", f"/api/v1/devices/{dev}")
F.check(st == 404 and err_code(js) == "DEVICE_NOT_FOUND", f"a removed device is 404 at once: {st} {js}")

# Charts read the hourly and daily rows by index-only scans (0003).
pg.sql("VACUUM samples_1h")
# (The test table is tiny: forbid the scans a planner prefers for 8 rows.)
plan = "\n".join(r[0] for r in pg.sql(
    "SET enable_seqscan = off; SET enable_bitmapscan = off; EXPLAIN SELECT series, start, count, quality, min, max, sum FROM samples_1h "
    "WHERE series = ANY('{1,2}'::int4[]) AND start >= now() - interval '30 days'"))
F.check("Index Only Scan" in plan, f"hourly chart query is an index-only scan: {plan}")

# ---- database down: clear errors, the server survives, then recovers ------------------------
pg.stop()
st, hdrs, js = c.raw("POST", LOGIN, {"username": "admin", "password": "whatever"})
F.check(st == 503 and err_code(js) == "DATABASE_UNAVAILABLE" and "retry-after" in hdrs,
        f"database down: {st} {js}")
st, _, js = c.raw("GET", "/api/v1/health")
F.check(st == 200 and js["database"] == "unreachable", f"health shows the database down: {js}")
pg.start()
st, _, js = c.raw("POST", LOGIN, {"username": "admin", "password": "whatever"})
F.check(st == 401, f"database back: login answers again: {st} {js}")

F.check(d.alive(), "server still up")
F.check(d.stop() == 0, "clean exit on SIGTERM")

# ---- HTTP redirects to HTTPS ----------------------------------------------------------------
r = Testd(pg, http_mode="redirect", https_port=free_port())
rc = r.client()
st, hdrs, js = rc.raw("GET", "/api/v1/users?x=1", headers={"Host": "wattrack.example:80"})
F.check(st == 308 and hdrs.get("location") == f"https://wattrack.example:{r.https_port}/api/v1/users?x=1",
        f"redirect: {st} {hdrs.get('location')}")
st, hdrs, js = rc.raw("GET", "/x", headers={"Host": "evil.example/@x"})
F.check(st == 308 and hdrs.get("location") == f"https://localhost:{r.https_port}/x",
        f"a hostile Host header is not echoed: {st} {hdrs.get('location')}")
st, _, js = r.client(tls=True).raw("GET", "/api/v1/version")
F.check(st == 200, f"the HTTPS side serves: {st}")
F.check(r.stop() == 0, "redirecting server exits cleanly")

# ---- SIGTERM with idle, half-sent and in-flight requests --------------------------------------
q = Testd(pg, https_port=free_port(), scrypt_log2n=17)
held = [socket.create_connection(("127.0.0.1", p)) for p in (q.http_port, q.https_port)]
half = socket.create_connection(("127.0.0.1", q.http_port))
half.sendall(b"GET /api/v1/vers")
busy = socket.create_connection(("127.0.0.1", q.http_port), timeout=30)
body = b'{"username":"admin","password":"not the password"}'
busy.sendall(b"POST /api/v1/session HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
             b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
time.sleep(0.3)  # the login is now hashing (scrypt 2^17, ~0.5 s) on a worker
F.check(q.stop() == 0, "clean exit with idle, half-sent and in-flight requests")
answer = b""
try:
    while True:
        chunk = busy.recv(4096)
        if not chunk:
            break
        answer += chunk
except OSError:
    pass
F.check(b"401" in answer.split(b"\r\n")[0] and b"INVALID_CREDENTIALS" in answer,
        f"the in-flight request was answered before exit: {answer[:80]!r}")
for x in held + [half, busy]:
    x.close()
F.done()
