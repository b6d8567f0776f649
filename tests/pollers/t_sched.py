"""Scheduler + device state machine against real snmpsimd agents: a fifth of the fleet
is dead from the start and another group's agent is killed mid-run. The live devices
must be polled at every interval (no missed slot, small start lateness), the dead ones
must end communication-lost (unreachable) and backed off."""
import json
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.environ["WT_SOURCE_ROOT"], "tests/lib"))
from wtfix import BUILD_ROOT, Failures, Snmpsimd, free_port, snmprec, stop_pid  # noqa: E402

RUN = os.path.join(BUILD_ROOT, "tests", "pollers", "t_sched_run")
REC = "generex-cs141-abb-ups"  # small: snmpsimd (Python) must not be the bottleneck
DURATION_MS, INTERVAL_MS, TIMEOUT_MS = 9000, 1000, 300


def main():
    F = Failures()
    a = Snmpsimd([snmprec(REC + ".snmprec")])
    b = Snmpsimd([snmprec(REC + ".snmprec")])
    dead_port = free_port()
    live = [f"snmp://{REC}@127.0.0.1:{a.port}"] * 12
    killed = [f"snmp://{REC}@127.0.0.1:{b.port}"] * 4
    dead = [f"snmp://{REC}@127.0.0.1:{dead_port}"] * 4  # nothing listens there
    urls = live + killed + dead
    proc = subprocess.Popen([RUN, str(DURATION_MS), str(INTERVAL_MS), str(TIMEOUT_MS)] + urls,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(3.0)
    stop_pid(b.proc)  # part of the fleet dies mid-run
    out, err = proc.communicate(timeout=120)
    F.check(proc.returncode == 0, f"t_sched_run exit {proc.returncode}: {err[-2000:]}")
    res = json.loads(out)
    devs = res["devices"]
    print(json.dumps(res, indent=1)[:3000])
    expect = DURATION_MS // INTERVAL_MS - 1
    for d in devs[:len(live)]:
        F.check(d["state"] == "ok", f"live device {d['id']}: state {d['state']} ({d['reason']})")
        F.check(d["ok"] >= expect, f"live device {d['id']}: {d['ok']} good polls, want >= {expect}")
        F.check(d["missed"] == 0, f"live device {d['id']}: {d['missed']} missed slots")
    for d in devs[len(live):]:
        F.check(d["state"] == "unreachable",
                f"dead device {d['id']}: state {d['state']}, want unreachable")
        F.check(d["interval_ms"] > INTERVAL_MS, f"dead device {d['id']}: not backed off")
        F.check("timeout" in d["reason"] or "refused" in d["reason"] or d["reason"],
                f"dead device {d['id']}: no reason")
    for d in devs[len(live):len(live) + len(killed)]:
        F.check(d["ok"] >= 1, f"killed device {d['id']}: never polled before the kill")
    F.check(res["late_ms_max"] < 300, f"a healthy poll started {res['late_ms_max']} ms late")
    F.check(res["bad_series"] == 0, "samples with unresolved series ids")
    F.check(res["samples"] > len(live) * expect * 20, f"only {res['samples']} samples")
    a.stop()
    F.done()


if __name__ == "__main__":
    main()
