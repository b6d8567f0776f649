"""Benchmark: the Modbus TCP poller (and, through redfish.py, the Redfish
poller) polling 500 simulated devices every 5 s for 60 s (--quick: 200
devices for 15 s) through the real scheduler (tests/pollers/t_sched_run
drives pollers/sched.c with the driver table and a counting sink).

Prints samples/s, missed deadlines, worst start lateness, CPU microseconds
per sample and peak RSS of the polling process (getrusage of the child),
and ends with "RESULT modbus key=value ..." (or "RESULT redfish ...").

    tests/bench/run modbus [--quick]
"""
import json
import os
import subprocess
import sys
import tempfile
import time


def run(protocol, argv):
    quick = "--quick" in argv
    n = 200 if quick else 500
    secs = 15 if quick else 60
    interval_ms, timeout_ms = 5000, 2000
    build = os.environ.get("WT_BUILD_ROOT", "build")
    sim_bin = os.path.join(build, "tests", "sim", "wattrack-sim")
    sched_bin = os.path.join(build, "tests", "pollers", "t_sched_run")
    for b in (sim_bin, sched_bin):
        if not os.access(b, os.X_OK):
            print("missing %s (build the tree first)" % b)
            return 1
    tmp = tempfile.mkdtemp(prefix="wt-bench-%s-" % protocol)
    fleet = os.path.join(tmp, "fleet.json")
    sim = subprocess.Popen([sim_bin, "--generate", "%s=%d,outlets=24" % (protocol, n),
                            "--write-fleet", fleet, "--log-level", "warning"],
                           stdout=subprocess.PIPE, text=True)
    try:
        line = sim.stdout.readline()
        if not line.startswith("READY"):
            print("wattrack-sim did not start:", line)
            return 1
        devs = [d for d in json.load(open(fleet))["devices"] if d.get("protocol") == protocol]
        if protocol == "modbus":
            urls = ["modbus://127.0.0.1:%d?unit=%d" % (d["modbus"]["port"], d["modbus"]["unit"])
                    for d in devs]
        else:
            urls = ["redfish://%s:%s@127.0.0.1:%d" % (d["http"]["user"], d["http"]["password"],
                                                      d["http"]["port"]) for d in devs]
        gateways = len({u.split("?")[0] for u in urls})
        print("== %d %s devices (%d endpoints), every %d s, for %d s" %
              (len(urls), protocol, gateways, interval_ms // 1000, secs))
        load0 = os.getloadavg()[0]
        t0 = time.time()
        p = subprocess.Popen([sched_bin, str(secs * 1000), str(interval_ms), str(timeout_ms)] + urls,
                             stdout=subprocess.PIPE, text=True)
        out = p.stdout.read()
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.time() - t0
        if status != 0:
            print("t_sched_run failed:", status)
            return 1
        res = json.loads(out)
        # the simulator shares the two cores: its CPU explains timeouts
        with open("/proc/%d/stat" % sim.pid) as f:
            st = f.read().rsplit(")", 1)[1].split()
        sim_cpu = (int(st[11]) + int(st[12])) / os.sysconf("SC_CLK_TCK")
    finally:
        sim.terminate()
        sim.wait()
    d = res["devices"]
    polls = sum(x["polls"] for x in d)
    ok = sum(x["ok"] for x in d)
    missed = res["missed"]
    not_ok = [x for x in d if x["state"] != "ok"]
    samples = res["samples"]
    cpu = ru.ru_utime + ru.ru_stime
    rss_mib = ru.ru_maxrss / 1024.0
    sps = samples / float(secs)
    cpu_us = cpu * 1e6 / samples if samples else 0
    print("polls %d, ok %d, failed %d, devices not ok at the end %d" %
          (polls, ok, polls - ok, len(not_ok)))
    for x in not_ok[:5]:
        print("  device %d: %s %s" % (x["id"], x["state"], x["reason"]))
    print("samples %d (%.0f/s), missed deadlines %d, worst start lateness %d ms" %
          (samples, sps, missed, res["late_ms_max"]))
    print("poller CPU %.2f s over %.1f s wall (%.1f%% of a core), %.2f us per sample, peak RSS %.1f MiB"
          % (cpu, wall, 100 * cpu / wall, cpu_us, rss_mib))
    print("simulator CPU %.1f s (%.1f%% of a core); load average %.1f at start, %.1f at end "
          "(2 cores shared)" % (sim_cpu, 100 * sim_cpu / wall, load0, os.getloadavg()[0]))
    sanit = b"libasan" in subprocess.run(["ldd", sched_bin], capture_output=True).stdout
    if sanit:
        print("note: sanitizer build, figures are low")
    print("RESULT %s devices=%d interval_s=%d duration_s=%d samples_per_s=%.0f polls=%d failed=%d "
          "missed=%d late_ms_max=%d cpu_us_per_sample=%.2f cpu_pct=%.1f rss_mib=%.1f "
          "sim_cpu_pct=%.1f load=%.1f" %
          (protocol, len(urls), interval_ms // 1000, secs, sps, polls, polls - ok, missed,
           res["late_ms_max"], cpu_us, 100 * cpu / wall, rss_mib, 100 * sim_cpu / wall, load0))
    return 0


if __name__ == "__main__":
    sys.exit(run("modbus", sys.argv[1:]))
