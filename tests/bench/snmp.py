"""Benchmark of the SNMP poller: wattrack-sim fleets of APC rPDU2 PDUs (24 outlets, 112
readings each) polled every 5 s by the real scheduler + SNMP driver (tests/pollers/
t_sched_run: the daemon's code with a sink that counts samples). It measures the poller
process's CPU per sample, samples per second and missed poll slots. collectd's snmp plugin
(Debian collectd-core) is the peer. It polls the same 112 OIDs per PDU at the same interval,
and its CPU per sample is measured the same way.

    tests/bench/run snmp [--quick]

Not measured here: storing to PostgreSQL end to end (needs the daemon integration) and
prometheus-snmp-exporter (it needs one auth module per community; printed as n/a).
"""
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

BUILD = os.environ["WT_BUILD_ROOT"]
SIM = os.path.join(BUILD, "tests/sim/wattrack-sim")
RUN = os.path.join(BUILD, "tests/pollers/t_sched_run")
quick = "--quick" in sys.argv
fleets = [100, 300] if quick else [500, 1000, 2000, 5000]
secs = 20 if quick else 60
INTERVAL = 5000
R = ".1.3.6.1.4.1.318.1.1.26"
# the OIDs of pollers/profiles/apc-rpdu2.json (dynamic readings), as collectd tables
TABLES = {
    "outlet": (24, [f"{R}.9.4.3.1.6", f"{R}.9.4.3.1.7", f"{R}.9.4.3.1.11", f"{R}.9.2.3.1.5"]),
    "phase": (1, [f"{R}.6.3.1.{c}" for c in (5, 6, 7, 8, 9, 10)]),
    "bank": (2, [f"{R}.8.3.1.5", f"{R}.8.3.1.6"]),
    "total": (1, [f"{R}.4.3.1.{c}" for c in (5, 9, 16, 17)]),
}
VALUES_PER_POLL = sum(rows * len(cols) for rows, cols in TABLES.values())


def start_sim(n, tmp):
    fleet = os.path.join(tmp, "fleet.json")
    devs = [{"id": i, "name": f"pdu-{i:05d}", "kind": "pdu", "model": "apc-rpdu2",
             "protocol": "snmp", "wiring": "1ph", "outlets": 24, "units": 1,
             "snmp": {"community": f"public-{i}", "write_community": f"private-{i}",
                      "context": f"dev-{i}"}} for i in range(n)]
    with open(fleet, "w") as f:
        json.dump({"devices": devs}, f)
    sim = subprocess.Popen([SIM, "--fleet", fleet, "--log-level", "warning"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = ""
    t0 = time.time()
    while time.time() - t0 < 120:
        line = sim.stdout.readline()
        if line.startswith("READY") or not line:
            break
    return sim, int(dict(x.split("=") for x in line.split()[1:])["snmp"])


def cpu_of(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_wattrack(n, tmp):
    sim, port = start_sim(n, tmp)
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
    samples = res["samples"]
    return {"ok": sum(1 for d in res["devices"] if d["state"] == "ok"), "samples": samples,
            "samples_per_s": samples / secs, "missed": res["missed"],
            "late_ms_max": res["late_ms_max"], "cpu_us_per_sample": cpu_us / max(samples, 1)}


def run_collectd(n, tmp):
    exe = shutil.which("collectd") or "/usr/sbin/collectd"
    if not os.path.exists(exe):
        return None
    sim, port = start_sim(n, tmp)
    conf = os.path.join(tmp, "collectd.conf")
    with open(conf, "w") as f:
        f.write(f'Hostname "bench"\nFQDNLookup false\nInterval {INTERVAL // 1000}\n'
                f'ReadThreads 16\nBaseDir "{tmp}"\nPIDFile "{tmp}/collectd.pid"\n'
                f'LoadPlugin logfile\n<Plugin logfile>\n  LogLevel warning\n  File "{tmp}/collectd.log"\n</Plugin>\n'
                'LoadPlugin snmp\n<Plugin snmp>\n')
        names = []
        for name, (_, cols) in TABLES.items():
            for k, c in enumerate(cols):  # a "gauge" Data block carries one column
                names.append(f"{name}{k}")
                f.write(f'  <Data "{name}{k}">\n    Type "gauge"\n    Table true\n'
                        f'    Values "{c}"\n  </Data>\n')
        for i in range(n):
            f.write(f'  <Host "pdu{i}">\n    Address "127.0.0.1:{port}"\n    Version 2\n'
                    f'    Community "public-{i}"\n    Collect {" ".join(chr(34) + t + chr(34) for t in names)}\n'
                    f'    Interval {INTERVAL // 1000}\n  </Host>\n')
        f.write("</Plugin>\n")
    cd = subprocess.Popen([exe, "-C", conf, "-f"], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
    time.sleep(secs)
    cpu = cpu_of(cd.pid)
    cd.terminate()
    cd.wait()
    sim.terminate()
    sim.wait()
    with open(os.path.join(tmp, "collectd.log")) as f:
        errors = [x for x in f if "failed" in x or "error" in x.lower()]
    if errors:
        print("collectd reported errors, its figure is not valid:", errors[:3])
        return None
    polls = n * (secs * 1000 // INTERVAL)
    return {"cpu_us_per_sample": cpu * 1e6 / max(polls * VALUES_PER_POLL, 1)}


rows = []
for n in fleets:
    with tempfile.TemporaryDirectory(prefix="wt-bench-snmp-") as tmp:
        r = run_wattrack(n, tmp)
        c = run_collectd(n, tmp)
    r["pdus"] = n
    r["collectd"] = c["cpu_us_per_sample"] if c else None
    rows.append(r)
    print(f"pdus={n:5d} ok={r['ok']:5d} samples/s={r['samples_per_s']:9.0f} missed={r['missed']} "
          f"late_ms_max={r['late_ms_max']} cpu_us/sample={r['cpu_us_per_sample']:.2f} "
          f"collectd_cpu_us/sample={r['collectd'] if r['collectd'] is None else round(r['collectd'], 2)}",
          flush=True)
big = rows[-1]
col = f"{big['collectd']:.2f}" if big["collectd"] is not None else "n/a"
print(f"RESULT snmp pdus={big['pdus']} samples_per_s={big['samples_per_s']:.0f} "
      f"missed={sum(r['missed'] for r in rows)} cpu_us_per_sample={big['cpu_us_per_sample']:.2f} "
      f"collectd_cpu_us_per_sample={col} exporter_cpu_us_per_sample=n/a")
