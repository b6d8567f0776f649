"""Benchmark of the SNMP poller: wattrack-sim fleets of PDUs (24 outlets) polled every 5 s
by the real scheduler + SNMP driver (tests/pollers/t_sched_run: the same code the daemon
runs, with a sink that counts samples), measuring the poller process's CPU per sample,
samples per second and missed poll slots.

    tests/bench/run snmp [--quick]

Not yet measured here (needs the daemon integration, see the report): storing to
PostgreSQL end to end, and the collectd / prometheus-snmp-exporter peers (printed as
"n/a" unless those programs are installed and wired).
"""
import json
import os
import resource
import subprocess
import sys
import time

BUILD = os.environ["WT_BUILD_ROOT"]
SIM = os.path.join(BUILD, "tests/sim/wattrack-sim")
RUN = os.path.join(BUILD, "tests/pollers/t_sched_run")
quick = "--quick" in sys.argv
fleets = [100, 300] if quick else [500, 1000, 2000, 5000]
secs = 20 if quick else 60
INTERVAL = 5000


def run(n):
    sim = subprocess.Popen([SIM, "--generate", f"pdus={n},outlets=24", "--log-level", "warning"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = ""
    t0 = time.time()
    while time.time() - t0 < 120:
        line = sim.stdout.readline()
        if line.startswith("READY") or not line:
            break
    port = int(dict(x.split("=") for x in line.split()[1:])["snmp"])
    urls = [f"snmp://public-{i}@127.0.0.1:{port}" for i in range(n)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    p = subprocess.run([RUN, str(secs * 1000), str(INTERVAL), "2000"] + urls,
                       capture_output=True, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    sim.terminate()
    sim.wait()
    if p.returncode != 0:
        print(p.stderr[-2000:])
        raise SystemExit(1)
    res = json.loads(p.stdout)
    cpu_us = ((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)) * 1e6
    ok = sum(1 for d in res["devices"] if d["state"] == "ok")
    samples = res["samples"]
    return {"pdus": n, "ok_devices": ok, "samples": samples, "samples_per_s": samples / secs,
            "missed": res["missed"], "late_ms_max": res["late_ms_max"],
            "cpu_us_per_sample": cpu_us / max(samples, 1), "cpu_pct": cpu_us / 1e6 / secs * 100}


rows = []
for n in fleets:
    r = run(n)
    rows.append(r)
    print(f"pdus={r['pdus']:5d} ok={r['ok_devices']:5d} samples/s={r['samples_per_s']:9.0f} "
          f"missed={r['missed']} late_ms_max={r['late_ms_max']} "
          f"cpu_us/sample={r['cpu_us_per_sample']:.2f} cpu={r['cpu_pct']:.1f}%", flush=True)
big = rows[-1]
print(f"RESULT snmp pdus={big['pdus']} samples_per_s={big['samples_per_s']:.0f} "
      f"missed={sum(r['missed'] for r in rows)} cpu_us_per_sample={big['cpu_us_per_sample']:.2f} "
      f"collectd_cpu_us_per_sample=n/a exporter_cpu_us_per_sample=n/a")
