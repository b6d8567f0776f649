"""Discovery against wattrack-sim serving each device on its own UDP port (127.0.0.1 only):
every device is found with the right profile and credential, a dead port is reported as
"no answer", secrets never appear in the output, the start rate is honoured and scans
larger than the limit are refused before any packet is sent, and a scan SIGTERMed mid-way
cancels its probes in flight and exits leak-free."""
import json
import os
import random
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.environ["WT_SOURCE_ROOT"], "tests/sim"))
from simfix import Sim  # noqa: E402
from wtfix import BUILD_ROOT, Failures, free_port  # noqa: E402

DISC = os.path.join(BUILD_ROOT, "pollers", "wattrack-discover")
PROFILE = {"apc-rpdu2": "apc-rpdu2", "raritan-px3": "raritan-pdu2", "eaton-epdu": "eaton-epdu",
           "sentry4": "sentry4", "ups-mib": "rfc1628-ups", "apc-ups": "apc-ups"}
F = Failures()

sim = None
for attempt in range(5):
    base = random.randrange(20000, 60000)
    try:
        sim = Sim(["--generate", "pdus=4,ups=1,outlets=8", "--snmp-port-base", str(base)])
        break
    except RuntimeError:
        continue
if not F.check(sim is not None, "wattrack-sim did not start with a port range"):
    F.done()
devs = [d for d in sim.devices if d["protocol"] == "snmp"]
dead = free_port()
ports = [d["snmp"]["port"] for d in devs] + [dead]
v3dev = devs[-1]
v = v3dev["snmp"]["v3"]
AUTH = {"md5": "MD5", "sha": "SHA", "sha224": "SHA-224", "sha256": "SHA-256", "sha384": "SHA-384",
        "sha512": "SHA-512"}
v3url = (f"snmpv3://{v['user']}:{v['auth_pass']}:{v['priv_pass']}@-?auth={AUTH[v['auth']]}"
         f"&priv={'DES' if v['priv'] == 'des' else 'AES'}")
comms = ["wrong-community"] + [d["snmp"]["community"] for d in devs[:-1]]
argv = [DISC, "-t", "400", "-3", v3url] + sum((["-P", str(p)] for p in ports), []) + \
    sum((["-c", c] for c in comms), []) + ["127.0.0.1"]
t0 = time.time()
r = subprocess.run(argv, capture_output=True, text=True, timeout=120)
F.check(r.returncode == 0, f"discover exit {r.returncode}: {r.stderr[-500:]}")
lines = [json.loads(x) for x in r.stdout.splitlines() if x.strip()]
res = {x["port"]: x for x in lines if "port" in x}
summary = [x["summary"] for x in lines if "summary" in x]
F.check(summary and summary[0]["candidates"] == len(ports), f"summary {summary}")
for d in devs:
    x = res.get(d["snmp"]["port"])
    if not F.check(x is not None, f"{d['name']}: not reported"):
        continue
    F.check(x["status"] == "found" and x["profile"] == PROFILE.get(d["model"]),
            f"{d['name']} ({d['model']}): {x}")
    F.check(x.get("sys_name") == d["name"], f"{d['name']}: sysName {x.get('sys_name')}")
x = res.get(v3dev["snmp"]["port"], {})
F.check(x.get("snmp_version") == "3" and x.get("credential") == f"v3 user {v['user']}",
        f"v3 device found with its user: {x}")
x = res.get(dead, {})
F.check(x.get("status") == "no_answer" and "no answer" in (x.get("reason") or ""), f"dead port: {x}")
for secret in comms[1:] + [v["auth_pass"], v["priv_pass"]]:
    F.check(secret not in r.stdout and secret not in r.stderr, "a secret appears in the output")

# pacing: 30 candidates at 40 per second take at least 0.6 s
many = sum((["-P", str(p)] for p in range(dead, dead + 30)), [])
t0 = time.time()
r = subprocess.run([DISC, "-t", "100", "-R", "40", "-c", "x"] + many + ["127.0.0.1"],
                   capture_output=True, text=True, timeout=60)
dt = time.time() - t0
F.check(r.returncode == 0 and '"candidates":30' in r.stdout, f"paced scan: {r.stdout[-200:]}")
F.check(dt >= 0.6, f"30 probes at 40/s took only {dt:.2f}s")

# a scan larger than the limit is refused before anything is sent
r = subprocess.run([DISC, "-c", "x", "10.0.0.0/15"], capture_output=True, text=True, timeout=10)
F.check(r.returncode == 64 and "more than the limit" in r.stderr, f"/15: {r.returncode} {r.stderr}")
r = subprocess.run([DISC, "-c", "x", "300.1.2.0/24"], capture_output=True, text=True, timeout=10)
F.check(r.returncode == 64 and "bad CIDR" in r.stderr, f"bad CIDR: {r.returncode} {r.stderr}")

# stopped mid-scan: a /24 of loopback addresses where nothing answers, paced slowly, is
# SIGTERMed while probes are in flight. No new probe starts, those in flight end within one
# timeout, the summary accounts for every candidate, and under the 'asan' setup
# LeakSanitizer aborts the process if any probe (session, timer, store) leaks.
p = subprocess.Popen([DISC, "-t", "3000", "-R", "60", "-n", "64", "-c", "x", "-c", "y",
                      "-P", str(dead), "127.0.1.0/24"],
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
time.sleep(1.0)
p.terminate()
t0 = time.time()
try:
    out, err = p.communicate(timeout=30)
except subprocess.TimeoutExpired:
    p.kill()
    out, err = p.communicate()
dt = time.time() - t0
F.check(p.returncode == 128 + 15, f"SIGTERMed scan: exit {p.returncode}: {err[-1500:]}")
F.check("Sanitizer" not in err, f"sanitizer report after stopping mid-scan: {err[-3000:]}")
# at most one 3 s timeout for the request in flight, not the second credential's (6 s)
F.check(dt < 5.0, f"SIGTERMed scan took {dt:.1f}s to exit: it tried further credentials")
summ = [json.loads(x)["summary"] for x in out.splitlines() if x.startswith('{"summary"')]
s0 = summ[0] if len(summ) == 1 else {}
F.check(s0.get("candidates") == 254 and s0.get("stopped", 0) > 0 and
        s0.get("not_started", 0) > 0 and
        s0.get("reported", 0) + s0.get("stopped", 0) + s0.get("not_started", 0) == 254,
        f"stopped summary accounts for every candidate: {summ}")
F.check("waiting for" in err and "stopped by signal 15" in err, f"stop is logged: {err[-500:]}")

sim.stop()
F.done()
