"""wattrack-sim Redfish security and faults, driven with curl: HTTPS with the
self-signed certificate made at start, basic authentication, SessionService sessions
(X-Auth-Token, Location, DELETE, expiry), 401 on bad credentials, and every Redfish
fault of the control API seen by a client over HTTP and HTTPS."""

import json
import os
import select
import ssl
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.join(os.environ["WT_SOURCE_ROOT"], "tests/lib"))
from wtfix import *  # noqa: E402,F401

from rfsim import *  # noqa: E402,F401,F403


sim = Sim([
    {"model": "redfish-pdu", "protocol": "redfish", "wiring": "wye", "outlets": 12},
    {"model": "redfish-pdu", "protocol": "redfish", "wiring": "1ph", "outlets": 8},
])
D = sim.devices[0]
USER, PASS = D["http"]["user"], D["http"]["password"]
F.check(USER and PASS, "the fleet gives Redfish devices credentials: %r" % D["http"])
HTTP = "http://127.0.0.1:%d" % D["http"]["port"]
HTTPS = "https://127.0.0.1:%d" % D["http"]["https_port"]
PE = "/redfish/v1/PowerEquipment"
PDU = PE + "/RackPDUs/1"


def js(body):
    try:
        return json.loads(body)
    except ValueError:
        return None


# ---- HTTPS with the self-signed certificate ----
rc, st, _, body = curl(HTTPS + "/redfish/v1", extra=["-k"])
F.check(rc == 0 and st == 200 and js(body) and js(body)["Id"] == "RootService", "HTTPS service root with -k: %d %d" % (rc, st))
rc, st, _, _ = curl(HTTPS + "/redfish/v1")
F.check(rc == 60, "without -k curl refuses the self-signed certificate (rc %d)" % rc)
pem = ssl.get_server_certificate(("127.0.0.1", D["http"]["https_port"]))
pem_file = os.path.join(WORK, "cert.pem")
with open(pem_file, "w") as f:
    f.write(pem)
text = subprocess.run(["openssl", "x509", "-noout", "-text", "-in", pem_file], capture_output=True, text=True).stdout
F.check("CN = localhost" in text and "IP Address:127.0.0.1" in text and "wattrack-sim" in text,
        "certificate subject and SAN: %s" % [l.strip() for l in text.splitlines() if "Subject" in l or "IP Address" in l])
rc, st, _, _ = curl(HTTPS + PDU, auth=(USER, PASS), extra=["--cacert", pem_file])
F.check(rc == 0 and st == 200, "the certificate verifies when trusted (--cacert): rc %d HTTP %d" % (rc, st))
rc, st, _, body = curl(HTTPS + PDU + "/Outlets/2", auth=(USER, PASS), extra=["-k"])
o = js(body)
F.check(rc == 0 and st == 200 and o and o["Id"] == "2" and "CurrentAmps" in o, "outlet over HTTPS")
rc, st, _, _ = curl(HTTPS + PDU + "/Outlets/2/Outlet.PowerControl", auth=(USER, PASS), method="POST",
                    data={"PowerState": "Off"}, extra=["-k"])
F.check(rc == 0 and st == 204 and sim.state(0)["pdu"]["units"][0]["outlets"][1]["on"] is False,
        "PowerControl over HTTPS switches the model")
curl(HTTPS + PDU + "/Outlets/2/Outlet.PowerControl", auth=(USER, PASS), method="POST", data={"PowerState": "On"},
     extra=["-k"])
# keep-alive: several requests on one TLS connection
p = subprocess.run(["curl", "-s", "-k", "-u", "%s:%s" % (USER, PASS), "-o", "/dev/null", "-o", "/dev/null",
                    "-o", "/dev/null", "-w", "%{http_code} %{num_connects}\n", HTTPS + PDU, HTTPS + PDU + "/Mains/AC1",
                    HTTPS + PDU + "/Metrics"], capture_output=True, text=True)
lines = p.stdout.split()
F.check(p.returncode == 0 and lines[0::2] == ["200"] * 3 and lines[1::2] == ["1", "0", "0"],
        "three requests on one kept-alive TLS connection: %r" % p.stdout)

# ---- basic authentication ----
for base in (HTTP, HTTPS):
    ex = ["-k"] if base == HTTPS else []
    rc, st, h, body = curl(base + PE, extra=ex)
    F.check(st == 401 and h.get("www-authenticate", "").startswith("Basic") and js(body) and "error" in js(body),
            "%s no credentials: 401 with WWW-Authenticate and a Redfish error (%d)" % (base[:5], st))
    rc, st, _, _ = curl(base + PE, auth=(USER, PASS + "x"), extra=ex)
    F.check(st == 401, "%s wrong password: %d" % (base[:5], st))
    rc, st, _, _ = curl(base + PE, auth=("root", PASS), extra=ex)
    F.check(st == 401, "%s wrong user: %d" % (base[:5], st))
    rc, st, _, _ = curl(base + PE, headers=["Authorization: Basic !!!notbase64"], extra=ex)
    F.check(st == 401, "%s malformed Authorization: %d" % (base[:5], st))
    rc, st, _, _ = curl(base + PE, auth=(USER, PASS), extra=ex)
    F.check(st == 200, "%s right credentials: %d" % (base[:5], st))
    rc, st, _, _ = curl(base + "/redfish/v1", extra=ex)
    F.check(st == 200, "%s service root needs no credentials: %d" % (base[:5], st))
    rc, st, _, _ = curl(base + PE, auth=(sim.devices[1]["http"]["user"], sim.devices[1]["http"]["password"]), extra=ex)
    F.check(st == 401 or sim.devices[1]["http"]["password"] == PASS, "another device's password is refused: %d" % st)

# ---- sessions ----
SESS = "/redfish/v1/SessionService/Sessions"
for base in (HTTP, HTTPS):
    ex = ["-k"] if base == HTTPS else []
    rc, st, h, body = curl(base + SESS, method="POST", data={"UserName": USER, "Password": "nope"}, extra=ex)
    F.check(st == 401 and "x-auth-token" not in h, "%s login with a wrong password: %d" % (base[:5], st))
    rc, st, h, body = curl(base + SESS, method="POST", data={"UserName": USER}, extra=ex)
    F.check(st == 400, "%s login without a password: %d" % (base[:5], st))
    rc, st, h, body = curl(base + SESS, method="POST", data={"UserName": USER, "Password": PASS}, extra=ex)
    tok, loc = h.get("x-auth-token", ""), h.get("location", "")
    s = js(body)
    F.check(st == 201 and len(tok) >= 16 and loc.startswith(SESS + "/") and s and s["UserName"] == USER and
            s["@odata.id"] == loc, "%s login: %d token %r location %r" % (base[:5], st, tok, loc))
    T = ["X-Auth-Token: " + tok]
    rc, st, _, body = curl(base + PDU + "/Outlets", headers=T, extra=ex)
    F.check(st == 200 and js(body)["Members@odata.count"] == 12, "%s token authorises a GET: %d" % (base[:5], st))
    rc, st, _, body = curl(base + loc, headers=T, extra=ex)
    F.check(st == 200 and js(body)["Id"] == loc.rsplit("/", 1)[1], "%s GET own session: %d" % (base[:5], st))
    rc, st, _, body = curl(base + SESS, headers=T, extra=ex)
    F.check(st == 200 and {"@odata.id": loc} in js(body)["Members"], "%s session listed in the collection" % base[:5])
    rc, st, _, _ = curl(base + PE, headers=["X-Auth-Token: " + tok[:-1] + ("0" if tok[-1] != "0" else "1")], extra=ex)
    F.check(st == 401, "%s a forged token: %d" % (base[:5], st))
    rc, st, _, _ = curl(base + loc, headers=T, method="DELETE", extra=ex)
    F.check(st == 204, "%s DELETE session (logout): %d" % (base[:5], st))
    rc, st, _, _ = curl(base + PE, headers=T, extra=ex)
    F.check(st == 401, "%s token after logout: %d" % (base[:5], st))
    rc, st, _, _ = curl(base + loc, auth=(USER, PASS), method="DELETE", extra=ex)
    F.check(st == 404, "%s DELETE a gone session: %d" % (base[:5], st))

# the session table is bounded, like a BMC's: login 257 answers 503 until one logs out
import http.client  # noqa: E402
conn = http.client.HTTPConnection("127.0.0.1", D["http"]["port"], timeout=5)
login = json.dumps({"UserName": USER, "Password": PASS})
codes, locs = [], []
for i in range(257):
    conn.request("POST", SESS, body=login, headers={"Content-Type": "application/json"})
    r = conn.getresponse()
    r.read()
    codes.append(r.status)
    locs.append(r.getheader("Location"))
F.check(codes[:256] == [201] * 256 and codes[256] == 503, "256 sessions, then 503: %s" % codes[250:])
conn.request("DELETE", locs[0], headers={"X-Auth-Token": "x"})
r = conn.getresponse()
r.read()
F.check(r.status == 401, "DELETE with a bad token: %d" % r.status)
import base64  # noqa: E402
basic = "Basic " + base64.b64encode(("%s:%s" % (USER, PASS)).encode()).decode()
for loc in locs[:256]:
    conn.request("DELETE", loc, headers={"Authorization": basic})
    r = conn.getresponse()
    r.read()
conn.request("POST", SESS, body=login, headers={"Content-Type": "application/json"})
r = conn.getresponse()
r.read()
F.check(r.status == 201, "a login works again after logouts: %d" % r.status)
conn.request("DELETE", r.getheader("Location"), headers={"Authorization": basic})
conn.getresponse().read()
conn.close()

# expiry: the idle timeout (PATCHed down to 2 s for the test) ends a session
rc, st, _, body = curl(HTTP + "/redfish/v1/SessionService", auth=(USER, PASS), method="PATCH",
                       data={"SessionTimeout": 3})
F.check(st == 200 and js(body)["SessionTimeout"] == 3, "PATCH SessionTimeout: %d %r" % (st, body[:120]))
rc, st, _, _ = curl(HTTP + "/redfish/v1/SessionService", auth=(USER, PASS), method="PATCH", data={"SessionTimeout": "x"})
F.check(st == 400, "PATCH SessionTimeout with a string: %d" % st)
rc, st, h, _ = curl(HTTP + SESS, method="POST", data={"UserName": USER, "Password": PASS})
T = ["X-Auth-Token: " + h.get("x-auth-token", "")]
time.sleep(1.0)
rc, st1, _, _ = curl(HTTP + PE, headers=T)
time.sleep(2.2)
rc, st2, _, _ = curl(HTTP + PE, headers=T)
F.check(st1 == 200 and st2 == 200, "a used session stays alive (each use restarts the idle timer): %d %d" % (st1, st2))
time.sleep(3.6)
rc, st3, _, _ = curl(HTTP + PE, headers=T)
F.check(st3 == 401, "an idle session expires after SessionTimeout: %d" % st3)
rc, st, _, body = curl(HTTP + SESS, auth=(USER, PASS))
F.check(st == 200 and js(body)["Members@odata.count"] == 0, "the expired session left the collection")
curl(HTTP + "/redfish/v1/SessionService", auth=(USER, PASS), method="PATCH", data={"SessionTimeout": 1800})

# ---- faults, over HTTP and HTTPS ----
FD = 1
FDEV = sim.devices[FD]
FA = (FDEV["http"]["user"], FDEV["http"]["password"])
URLS = {"http": "http://127.0.0.1:%d" % FDEV["http"]["port"], "https": "https://127.0.0.1:%d" % FDEV["http"]["https_port"]}


def fget(scheme, path=PDU, timeout=3):
    t0 = time.time()
    rc, st, h, body = curl(URLS[scheme] + path, auth=FA, timeout=timeout, extra=["-k"])
    return rc, st, body, time.time() - t0


for scheme in ("http", "https"):
    rc, st, body, _ = fget(scheme)
    F.check(rc == 0 and st == 200 and js(body), "%s healthy before faults" % scheme)

    sim.faults(FD, http_status=500)
    rc, st, body, _ = fget(scheme)
    F.check(st == 500 and js(body) and js(body)["error"]["code"].endswith("InternalError"), "%s fault 500: %d" % (scheme, st))
    sim.faults(FD, http_status=503)
    rc, st, body, _ = fget(scheme)
    F.check(st == 503, "%s fault 503: %d" % (scheme, st))
    sim.faults(FD, http_status=401)
    rc, st, body, _ = fget(scheme)
    F.check(st == 401, "%s fault 401 despite valid credentials: %d" % (scheme, st))

    sim.faults(FD, http_status=0, garbage=True)
    rc, st, body, _ = fget(scheme)
    F.check(rc == 0 and st == 200 and body and js(body) is None, "%s garbage JSON: %r" % (scheme, body[:60]))

    sim.faults(FD, garbage=False, truncated=True)
    rc, st, body, _ = fget(scheme)
    F.check(rc == 18 and js(body) is None and len(body) > 10, "%s truncated body: curl rc %d, %d bytes" % (scheme, rc, len(body)))

    sim.faults(FD, truncated=False, timeout=True)
    rc, st, body, dt = fget(scheme, timeout=1)
    F.check(rc == 28 and dt >= 0.9, "%s no answer: curl rc %d after %.2f s" % (scheme, rc, dt))

    sim.faults(FD, timeout=False, delay_ms=500)
    rc, st, body, dt = fget(scheme)
    F.check(rc == 0 and st == 200 and dt >= 0.45 and js(body), "%s delay 500 ms: %.3f s, %d" % (scheme, dt, st))
    rc, st, body, dt = fget(scheme, timeout=0.2)
    F.check(rc == 28, "%s client gives up during the delay: rc %d" % (scheme, rc))

    sim.faults(FD, delay_ms=0, disconnect=True)
    rc, st, body, _ = fget(scheme)
    F.check(rc in (52, 35, 56) and st == 0, "%s disconnect: curl rc %d" % (scheme, rc))

    sim.faults(FD, disconnect=False, loss_pct=50)
    ok = sum(1 for _ in range(16) if fget(scheme, path="/redfish/v1", timeout=0.5)[0] == 0)
    F.check(1 <= ok <= 15, "%s loss 50%%: %d of 16 answered" % (scheme, ok))

    sim.clear(FD)
    rc, st, body, _ = fget(scheme)
    F.check(rc == 0 and st == 200 and js(body), "%s answers again after clearing faults" % scheme)

rc, st, _, _ = curl(HTTP + PE, auth=(USER, PASS))
F.check(st == 200, "the healthy device was never affected by the other's faults")

# ---- hostile input ----
import random  # noqa: E402
import socket  # noqa: E402
rnd = random.Random(99)
A = (USER, PASS)
bad = [
    ("POST", SESS, "not json"), ("POST", SESS, "[1,2]"), ("POST", SESS, '{"UserName": 5, "Password": []}'),
    ("POST", PDU + "/Outlets/1/Outlet.PowerControl", '{"PowerState": null}'),
    ("POST", PDU + "/Outlets/1/Outlet.PowerControl", "{"),
    ("PATCH", "/redfish/v1/SessionService", '{"SessionTimeout": 1e99}'),
    ("PATCH", "/redfish/v1/SessionService", '{"SessionTimeout": -5}'),
    ("POST", PDU + "/Outlets/1/Outlet.PowerControl", "x" * 70000),
]
for method, path, body in bad:
    p = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-u", "%s:%s" % A, "-X", method,
                        "-H", "Content-Type: application/json", "--data-binary", body, HTTP + path],
                       capture_output=True, text=True)
    F.check(p.stdout in ("400", "401", "413"), "%s %s with %r...: HTTP %s" % (method, path, body[:20], p.stdout))
rc, st, _, _ = curl(HTTP + "/redfish/v1/" + "a/" * 400, auth=A)
F.check(st == 404, "a very long path: %d" % st)
rc, st, _, _ = curl(HTTP + PDU + "/Outlets/%00", auth=A)
F.check(st in (400, 404), "an encoded NUL in the path: %d" % st)
for _ in range(30):
    g = socket.create_connection(("127.0.0.1", D["http"]["port"]), timeout=2)
    g.sendall(bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 2000))))
    g.close()
    g = socket.create_connection(("127.0.0.1", D["http"]["https_port"]), timeout=2)
    g.sendall(bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 2000))))
    g.close()
rc, st, _, _ = curl(HTTP + PDU, auth=A)
rc2, st2, _, _ = curl(HTTPS + PDU, auth=A, extra=["-k"])
F.check(st == 200 and st2 == 200, "HTTP and HTTPS still answer after hostile input: %d %d" % (st, st2))
F.check(sim.state(0)["pdu"]["units"][0]["outlets"][0]["on"] is True, "no hostile request switched an outlet")
sim.stop()
F.done()
