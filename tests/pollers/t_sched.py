"""Scheduler + device state machine against wattrack-sim fleets (a C agent, so the agent is
never the bottleneck on a loaded machine): a fifth of the fleet is dead from the start and
another group's simulator is killed mid-run. The live devices
must be polled at every interval (no missed slot, small start lateness), the dead ones
must end communication-lost (unreachable) and backed off."""
import json
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.environ["WT_SOURCE_ROOT"], "tests/sim"))
from simfix import Sim  # noqa: E402
from wtfix import BUILD_ROOT, Failures, free_port, stop_pid  # noqa: E402

RUN = os.path.join(BUILD_ROOT, "tests", "pollers", "t_sched_run")
# A loop that waited on a dead device would start healthy polls at least one
# timeout late, so the lateness bound sits below the timeout; the margin above
# zero absorbs AddressSanitizer and a loaded 2-core CI machine.
DURATION_MS, INTERVAL_MS, TIMEOUT_MS = 9000, 1000, 600
LATE_MS_MAX = 500


def main():
    F = Failures()
    a = Sim(["--generate", "pdus=12,outlets=24"])
    b = Sim(["--generate", "pdus=4,outlets=24"])
    dead_port = free_port()
    live = [f"snmp://{d['snmp']['community']}@127.0.0.1:{a.snmp_port}" for d in a.devices]
    killed = [f"snmp://{d['snmp']['community']}@127.0.0.1:{b.snmp_port}" for d in b.devices]
    dead = [f"snmp://public-0@127.0.0.1:{dead_port}"] * 4  # nothing listens there
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
    # poll starts sit on the 50 ms grid (pollers/sched.c START_GRID_MS), spread over it
    F.check(all(d["next_due_ms"] % 50 == 0 for d in devs[:len(live)]),
            f"poll starts off the 50 ms grid: {[d['next_due_ms'] for d in devs[:len(live)]]}")
    F.check(len({d["next_due_ms"] % INTERVAL_MS for d in devs[:len(live)]}) >= 4,
            "the live devices' starts are not spread over the interval")
    for d in devs[len(live):]:
        F.check(d["state"] == "unreachable",
                f"dead device {d['id']}: state {d['state']}, want unreachable")
        F.check(d["interval_ms"] > INTERVAL_MS, f"dead device {d['id']}: not backed off")
        F.check("timeout" in d["reason"] or "refused" in d["reason"] or d["reason"],
                f"dead device {d['id']}: no reason")
    for d in devs[len(live):len(live) + len(killed)]:
        F.check(d["ok"] >= 1, f"killed device {d['id']}: never polled before the kill")
    F.check(res["late_ms_max"] < LATE_MS_MAX, f"a healthy poll started {res['late_ms_max']} ms late")
    F.check(res["bad_series"] == 0, "samples with unresolved series ids")
    F.check(res["samples"] > len(live) * expect * 100, f"only {res['samples']} samples")
    a.stop()
    F.done()


if __name__ == "__main__":
    main()
