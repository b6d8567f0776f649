"""API throughput and latency: wrk against wt-api-testd on a private
PostgreSQL. Measures an unauthenticated route served on the loop
(/api/v1/version), authenticated reads through the worker pool by API token
and by session cookie (/api/v1/session, one PostgreSQL round trip each), and
password logins at the production scrypt cost (N=2^15).

    tests/bench/run api [--quick]
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
from apilib import Testd, migrated_postgres  # noqa: E402

quick = "--quick" in sys.argv
secs = 2 if quick else 8
conns = 32

pg = migrated_postgres()
d = Testd(pg, scrypt_log2n=15, workers=4, throttle={"user_free": 1000000, "addr_free": 1000000})
first = d.admin_password()
c = d.client()
c.login("admin", first)
c.call("POST", "/api/v1/session/password", {"current_password": first,
                                            "new_password": "benchmark password 1"})
st, _, tok = c.call("POST", "/api/v1/tokens", {"name": "bench"})
token = tok["token"]
cookie = c.cookie


def wrk(path, header=None):
    argv = ["wrk", "-t2", f"-c{conns}", f"-d{secs}s", "--latency"]
    if header:
        argv += ["-H", header]
    out = subprocess.run(argv + [f"http://127.0.0.1:{d.http_port}{path}"], capture_output=True,
                         text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1, "s": 1000}[p99.group(2)]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, float(p99.group(1)) * scale, int(non2xx.group(1)) if non2xx else 0


results = {}
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
