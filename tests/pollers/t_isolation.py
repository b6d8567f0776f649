"""One bad device delays no other: the scheduler polls healthy Modbus units
(two behind one gateway) and a healthy Redfish PDU beside Modbus and Redfish
devices that hang mid-answer or answer garbage. Every healthy poll must
succeed, start on time and never be missed; the bad devices fail and back
off. Runs tests/pollers/t_sched_run (the scheduler with the driver table)."""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.environ["WT_SOURCE_ROOT"], "tests/lib"))
from wtfix import (BUILD_ROOT, REALDATA, SOURCE_ROOT, Failures, free_port, spawn,  # noqa: E402
                   stop_pid, tmpdir, wait_tcp)

SCHED = os.path.join(BUILD_ROOT, "tests", "pollers", "t_sched_run")
HERE = os.path.join(SOURCE_ROOT, "tests", "pollers")
F = Failures()
TMP = tmpdir("wt-isolation-")


def start(argv):
    port = free_port()
    p = spawn(["/usr/bin/python3"] + argv[:1] + argv[1:2] + [str(port)] + argv[2:],
              stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().startswith("READY")
    wait_tcp(port)
    return p, port


# a sim-PDU register image on units 1 and 2 (identity, 4 outlets)
img = {"hr": {"0": 1, "1": 0x5754, "58": 1, "59": 1, "60": 4, "61": 0, "63": 160},
       "ir": {str(1000 + 12 * n): 1 for n in range(4)}}
path = os.path.join(TMP, "image.json")
with open(path, "w") as f:
    json.dump({"1": img, "2": img}, f)
procs = []
mb, mb_port = start([os.path.join(HERE, "mbserver.py"), path])
rf, rf_port = start([os.path.join(HERE, "rfmock.py"), os.path.join(REALDATA, "redfish", "public-pdu")])
hang, hang_port = start([os.path.join(HERE, "badtcp.py"), "hang"])
garb, garb_port = start([os.path.join(HERE, "badtcp.py"), "garbage"])
rfhang, rfhang_port = start([os.path.join(HERE, "rfmock.py"),
                             os.path.join(REALDATA, "redfish", "public-pdu"), "--mode", "hang"])
urls = [
    f"modbus://127.0.0.1:{mb_port}?unit=1",                 # 1 healthy
    f"modbus://127.0.0.1:{mb_port}?unit=2",                 # 2 healthy, same gateway
    f"redfish://127.0.0.1:{rf_port}",                       # 3 healthy
    f"modbus://127.0.0.1:{hang_port}?unit=1&profile=wattrack-sim-pdu",  # 4 hangs mid-answer
    f"modbus://127.0.0.1:{garb_port}?unit=1&profile=wattrack-sim-pdu",  # 5 garbage
    f"redfish://127.0.0.1:{rfhang_port}",                   # 6 hangs mid-body
    f"redfish://127.0.0.1:{garb_port}",                     # 7 garbage over HTTP
    f"modbus://127.0.0.1:{hang_port}?unit=2&profile=wattrack-sim-pdu",  # 8 hangs too
]


def established(port):
    """Server-side TCP connections in ESTABLISHED state on 127.0.0.1:port."""
    n = 0
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            local, st = line.split()[1], line.split()[3]
            if st == "01" and int(local.split(":")[1], 16) == port:
                n += 1
    return n


p = subprocess.Popen([SCHED, "6000", "1000", "800"] + urls, stdout=subprocess.PIPE,
                     stderr=subprocess.PIPE, text=True)
time.sleep(3)
conns = established(mb_port)
out, errs = p.communicate(timeout=120)
F.check(p.returncode == 0, "t_sched_run ran: %s" % errs[-500:])
F.check(conns == 1, "two unit ids behind one gateway share one connection (%d open)" % conns)
res = json.loads(out or "{}")
devs = {d["id"]: d for d in res.get("devices", [])}
for i in (1, 2, 3):
    d = devs.get(i, {})
    F.check(d.get("polls", 0) >= 5 and d.get("ok") == d.get("polls") and d.get("missed") == 0 and
            d.get("state") == "ok", "healthy device %d (%s) unaffected: %s" % (i, urls[i - 1], d))
for i in (4, 5, 6, 7, 8):
    d = devs.get(i, {})
    F.check(d.get("ok") == 0 and d.get("state") in ("failing", "unreachable"),
            "bad device %d (%s) fails: %s" % (i, urls[i - 1], d))
F.check(res.get("late_ms_max", 10 ** 6) < 300,
        "healthy polls start on time beside hanging devices: late_ms_max=%s" % res.get("late_ms_max"))
F.check(res.get("bad_series") == 0, "no sample with a bad series id")
for p in (mb, rf, hang, garb, rfhang):
    stop_pid(p)
F.done()
