"""10,000 devices in one wattrack-sim process: it starts quickly and a
random sample of devices answers v2c and v3 with its own identity, also in a
burst of raw requests to many devices at once."""
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from simfix import Sim, Failures, v2c_get, udp_exchange  # noqa: E402

F = Failures()
t0 = time.time()
sim = Sim(["--generate", "pdus=9000,ups=1000"], timeout=120)
F.check(sim.n_devices == 10000, f"{sim.n_devices} devices")
print(f"start-up with 10,000 devices: {time.time() - t0:.2f}s")
random.seed(11)
sample = random.sample(sim.devices, 12)
for d in sample:
    rc, rows, err = sim.snmp("snmpget", sim.v2c(d), "1.3.6.1.2.1.1.5.0", "1.3.6.1.2.1.1.2.0")
    F.check(rc == 0 and rows and rows[0][2] == d["name"], f"{d['name']}: {rows} {err}")
for d in sample[:3]:
    rc, rows, err = sim.snmp("snmpget", sim.v3(d), "1.3.6.1.2.1.1.5.0")
    F.check(rc == 0 and rows and rows[0][2] == d["name"], f"v3 {d['name']}: {rows} {err}")
# a burst: one GET to each of 2,000 devices, all answered with their own name
burst = random.sample(sim.devices, 2000)
t1 = time.time()
ans = udp_exchange(sim.snmp_port, [v2c_get(d["snmp"]["community"], "1.3.6.1.2.1.1.5.0", i)
                                   for i, d in enumerate(burst)], wait=3)
print(f"burst of 2,000 GETs answered in {time.time() - t1:.2f}s")
F.check(len(ans) == 2000, f"{len(ans)} of 2000 burst requests answered")
names = {d["name"].encode() for d in burst}
found = sum(1 for a in ans if a[a.rfind(b"\x04") + 2:] in names)
F.check(found == len(ans), f"{found} answers carry one of the asked names")
st, stats = sim.api("GET", "/api/stats")
F.check(st == 200 and stats["devices"] == 10000 and stats["snmp"]["responses"] >= 2000, f"stats {stats}")
sim.stop()
F.done()
