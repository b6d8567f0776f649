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
