"""wattrack-sim Modbus TCP: the PDU register map (MODBUS-PDU-MAP.md) read with pymodbus
and checked against the simulator's ground truth, outlet switching by FC 6 / FC 16,
exception responses, several unit ids (and a daisy chain) behind one port, many
connections at once, and every Modbus fault of the control API seen by a client."""

import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.environ["WT_SOURCE_ROOT"], "tests/lib"))
from wtfix import *  # noqa: E402,F401
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from simfix import modbus_sim  # noqa: E402

from pymodbus.client import ModbusTcpClient  # noqa: E402

F = Failures()


def f32(r, i):
    return struct.unpack(">f", struct.pack(">HH", r[i], r[i + 1]))[0]


def f32le(r, i):
    return struct.unpack(">f", struct.pack(">HH", r[i + 1], r[i]))[0]


def u32(r, i):
    return (r[i] << 16) | r[i + 1]


def u32le(r, i):
    return (r[i + 1] << 16) | r[i]


def s32(r, i):
    v = u32(r, i)
    return v - (1 << 32) if v & 0x80000000 else v


def s16(v):
    return v - 65536 if v & 0x8000 else v


def string(regs):
    return bytes(b for w in regs for b in (w >> 8, w & 255)).rstrip(b"\0").decode()


def near(what, got, a, b, rel=0.06, res=0.0):
    """got lies between the ground truth before (a) and after (b), with tolerance."""
    lo, hi = min(a, b), max(a, b)
    tol = max(res, rel * max(abs(lo), abs(hi)))
    return F.check(lo - tol <= got <= hi + tol,
                   "%s: Modbus %.4f, ground truth %.4f..%.4f (tol %.4f)" % (what, got, lo, hi, tol))


def raw(port, uid, pdu, tid=0x1234, timeout=2.0, sock=None):
    """Sends one ADU; returns (response bytes or None on timeout, elapsed s)."""
    s = sock or socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.settimeout(timeout)
    t0 = time.time()
    s.sendall(struct.pack(">HHHB", tid, 0, len(pdu) + 1, uid) + pdu)
    try:
        data = s.recv(512)
    except socket.timeout:
        data = None
    dt = time.time() - t0
    if not sock:
        s.close()
    return data, dt


def exception_of(data):
    if data and len(data) == 9 and data[7] & 0x80:
        return data[8]
    return None


# ---- the fleet ----
sim = modbus_sim([
    {"model": "modbus-pdu", "protocol": "modbus", "wiring": "wye", "units": 2, "outlets": 24},
    {"model": "modbus-pdu", "protocol": "modbus", "wiring": "1ph", "units": 1, "outlets": 8},
    {"model": "modbus-pdu", "protocol": "modbus", "wiring": "delta", "units": 1, "outlets": 12},
    {"model": "modbus-pdu", "protocol": "modbus", "wiring": "1ph", "units": 1, "outlets": 8},
    {"model": "modbus-pdu", "protocol": "modbus", "wiring": "1ph", "units": 1, "outlets": 8, "switched": False},
], F)
devs = sim.devices
port = devs[0]["modbus"]["port"]
F.check(all(d["modbus"]["port"] == port for d in devs),
        "the fleet puts the four Modbus PDUs behind one port: %s" % [d["modbus"] for d in devs])
uid0 = devs[0]["modbus"]["unit"]
FAULTY = 3

cli = ModbusTcpClient("127.0.0.1", port=port, timeout=3)
F.check(cli.connect(), "pymodbus connects to port %d" % port)


def hr(addr, count, unit):
    r = cli.read_holding_registers(addr, count, slave=unit)
    if r.isError():
        F.check(False, "FC3 %d+%d unit %d: %s" % (addr, count, unit, r))
        return None
    return r.registers


def ir(addr, count, unit):
    r = cli.read_input_registers(addr, count, slave=unit)
    if r.isError():
        F.check(False, "FC4 %d+%d unit %d: %s" % (addr, count, unit, r))
        return None
    return r.registers


# ---- identity of every device and of both units of the daisy chain, all on one port ----
expect = [(0, uid0, 1, 2, 24, 1, 3), (0, uid0 + 1, 2, 2, 24, 1, 3),
          (1, devs[1]["modbus"]["unit"], 1, 1, 8, 0, 1),
          (2, devs[2]["modbus"]["unit"], 1, 1, 12, 2, 3)]
for dev, unit, unit_no, n_units, n_out, wiring, n_lines in expect:
    r = hr(0, 69, unit)
    if not r:
        continue
    F.check(r[0] == 1 and r[1] == 0x5754, "unit %d: map version/model id %s" % (unit, r[:2]))
    F.check(string(r[2:10]) == "wattrack-sim", "unit %d manufacturer %r" % (unit, string(r[2:10])))
    F.check(string(r[10:26]) == ("WT-MBPDU-1P" if n_lines == 1 else "WT-MBPDU-3P"),
            "unit %d model %r" % (unit, string(r[10:26])))
    F.check(string(r[26:34]) == devs[dev]["serial"][:16],
            "unit %d serial %r != fleet %r" % (unit, string(r[26:34]), devs[dev]["serial"]))
    F.check(string(r[34:42]) == devs[dev]["firmware"][:16], "unit %d firmware" % unit)
    F.check(string(r[42:58]) == devs[dev]["name"][:32], "unit %d name %r" % (unit, string(r[42:58])))
    F.check((r[58], r[60], r[62], r[67], r[68]) == (n_lines, n_out, wiring, unit_no, n_units),
            "unit %d lines/outlets/wiring/unit/units %s, expected %s" %
            (unit, (r[58], r[60], r[62], r[67], r[68]), (n_lines, n_out, wiring, unit_no, n_units)))
    st = sim.state(dev)
    up = (st["now_ms"] - st["boot_ms"]) / 1000
    F.check(abs(u32(r, 65) - up) <= 2, "unit %d uptime %d s, ground truth %.1f s" % (unit, u32(r, 65), up))


# ---- measurements against the ground truth, both word orders ----
def check_unit(dev, unit_idx, unit):
    before = sim.state(dev)["pdu"]["units"][unit_idx]
    inlet = ir(100, 16, unit)
    lines = ir(200, 20 * len(before["lines"]), unit)
    branches = ir(300, 10 * len(before["branches"]), unit)
    sensors = ir(500, 4 * len(before["sensors"]), unit)
    outs = []
    n = len(before["outlets"])
    for first in range(0, n, 10):
        k = min(10, n - first)
        outs += ir(1000 + 12 * first, 12 * k, unit) or []
    after = sim.state(dev)["pdu"]["units"][unit_idx]
    if None in (inlet, lines, branches, sensors) or len(outs) != 12 * n:
        return
    tag = "dev %d unit %d" % (dev, unit_idx + 1)
    near(tag + " inlet voltage (float32 BE)", f32(inlet, 0), before["voltage"], after["voltage"], 0.02)
    near(tag + " inlet current (float32 BE)", f32(inlet, 2), before["current"], after["current"], res=0.05)
    near(tag + " inlet power (int32)", s32(inlet, 4), before["power"], after["power"], res=2)
    near(tag + " inlet VA (uint32)", u32(inlet, 6), before["apparent_power"], after["apparent_power"], res=2)
    near(tag + " inlet PF", s16(inlet[8]) / 1000, before["power_factor"], after["power_factor"], 0.03, 0.002)
    near(tag + " frequency", inlet[9] / 100, before["frequency"], after["frequency"], 0.01, 0.01)
    near(tag + " energy (uint32 LE)", u32le(inlet, 10), before["energy_wh"], after["energy_wh"], 0.01, 1.5)
    near(tag + " neutral (float32 LE)", f32le(inlet, 12), before["neutral_current"], after["neutral_current"],
         res=0.1)
    for i, (lb, la) in enumerate(zip(before["lines"], after["lines"])):
        o = 20 * i
        near(tag + " L%d voltage" % (i + 1), lines[o] / 10, lb["voltage"], la["voltage"], 0.02, 0.1)
        near(tag + " L%d current" % (i + 1), lines[o + 1] / 100, lb["current"], la["current"], res=0.05)
        near(tag + " L%d current float LE" % (i + 1), f32le(lines, o + 9), lb["current"], la["current"], res=0.05)
        near(tag + " L%d power" % (i + 1), s32(lines, o + 2), lb["power"], la["power"], res=2)
        near(tag + " L%d energy" % (i + 1), u32(lines, o + 7), lb["energy_wh"], la["energy_wh"], 0.01, 1.5)
        F.check(lines[o + 11] / 10 == lb["rating_a"], tag + " L%d rating" % (i + 1))
    for i, (bb, ba) in enumerate(zip(before["branches"], after["branches"])):
        o = 10 * i
        near(tag + " branch %d current" % (i + 1), branches[o] / 100, bb["current"], ba["current"], res=0.05)
        near(tag + " branch %d power" % (i + 1), s32(branches, o + 1), bb["power"], ba["power"], res=2)
        near(tag + " branch %d energy (LE)" % (i + 1), u32le(branches, o + 3), bb["energy_wh"], ba["energy_wh"],
             0.01, 1.5)
        F.check(branches[o + 5] / 10 == bb["rating_a"] and branches[o + 6] == int(bb["tripped"])
                and branches[o + 7] == bb["line"], tag + " branch %d rating/trip/line %s" % (i + 1, branches[o + 5:o + 8]))
    for i, (sb, sa) in enumerate(zip(before["sensors"], after["sensors"])):
        o = 4 * i
        F.check(sensors[o] == (0 if sb["kind"] == "temperature" else 1), tag + " sensor %d kind" % (i + 1))
        near(tag + " sensor %d value" % (i + 1), s16(sensors[o + 1]) / 10, sb["value"], sa["value"], 0.05, 0.1)
        near(tag + " sensor %d float" % (i + 1), f32(sensors, o + 2), sb["value"], sa["value"], 0.05, 0.1)
    for i, (ob, oa) in enumerate(zip(before["outlets"], after["outlets"])):
        o = 12 * i
        w = outs[o:o + 12]
        F.check(w[0] == int(ob["on"]), tag + " outlet %d state %d, truth %s" % (i + 1, w[0], ob["on"]))
        near(tag + " outlet %d current" % (i + 1), w[1] / 100, ob["current"], oa["current"], res=0.03)
        near(tag + " outlet %d voltage" % (i + 1), w[2] / 10, ob["voltage"], oa["voltage"], 0.02, 0.1)
        near(tag + " outlet %d power (float BE)" % (i + 1), f32(w, 3), ob["power"], oa["power"], res=1)
        near(tag + " outlet %d energy" % (i + 1), u32(w, 5), ob["energy_wh"], oa["energy_wh"], 0.01, 1.5)
        near(tag + " outlet %d VA (float LE)" % (i + 1), f32le(w, 8), ob["apparent_power"], oa["apparent_power"],
             res=1)
        F.check(w[10] == ob["branch"], tag + " outlet %d branch %d != %d" % (i + 1, w[10], ob["branch"]))
        F.check(w[11] & 3 == (1 if ob["switchable"] else 0) | (2 if ob["metered"] else 0),
                tag + " outlet %d flags %d" % (i + 1, w[11]))


time.sleep(1.2)  # let energy counters grow past zero
check_unit(0, 0, uid0)
check_unit(0, 1, uid0 + 1)
check_unit(1, 0, devs[1]["modbus"]["unit"])
check_unit(2, 0, devs[2]["modbus"]["unit"])

# ---- values follow the physics over time: the energy counter grows ----
e1 = ir(110, 2, uid0)
time.sleep(1.3)
e2 = ir(110, 2, uid0)
F.check(e1 and e2 and u32le(e2, 0) > u32le(e1, 0), "inlet energy grows: %s -> %s Wh" %
        (e1 and u32le(e1, 0), e2 and u32le(e2, 0)))

# ---- writes switch outlets: FC 6 off, FC 16 on, power cycle ----
u2 = uid0 + 1
w = cli.write_register(2000 + 4, 0, slave=u2)  # outlet 5 of unit 2
F.check(not w.isError(), "FC6 outlet 5 off: %s" % w)
r = ir(1000 + 12 * 4, 12, u2)
if r:
    F.check(r[0] == 0 and r[1] == 0 and f32(r, 3) == 0.0,
            "outlet 5 after FC6 off: state %d current %d power %s" % (r[0], r[1], f32(r, 3)))
truth = sim.state(0)["pdu"]["units"][1]["outlets"][4]
F.check(truth["on"] is False and truth["current"] == 0, "ground truth outlet 5 off: %s" % truth)
F.check(hr(2004, 1, u2) == [0], "control register reads back 0")
unit1_outlet5 = sim.state(0)["pdu"]["units"][0]["outlets"][4]
F.check(unit1_outlet5["on"], "unit 1 outlet 5 untouched by a write to unit 2")
w = cli.write_registers(2000 + 3, [0, 1], slave=u2)  # outlet 4 off, outlet 5 on
F.check(not w.isError(), "FC16 outlets 4-5: %s" % w)
st = sim.state(0)["pdu"]["units"][1]["outlets"]
F.check(st[3]["on"] is False and st[4]["on"] is True, "FC16 result: outlet4 %s outlet5 %s" % (st[3]["on"], st[4]["on"]))
time.sleep(0.3)
r = ir(1000 + 12 * 4, 12, u2)
if r:
    F.check(r[0] == 1 and r[1] > 0, "outlet 5 back on draws current: %s" % r[:3])
w = cli.write_register(2000 + 5, 2, slave=u2)  # power cycle outlet 6
st = sim.state(0)["pdu"]["units"][1]["outlets"][5]
F.check(not w.isError() and st["on"] is False and st["pending"] == "on",
        "power cycle: off with a pending on: %s %s" % (w, st))

# delayed switching: the delay register (2100 + n - 1) applies to the next command
F.check(not cli.write_register(2100 + 9, 2, slave=u2).isError() and hr(2100 + 9, 1, u2) == [2],
        "control delay of outlet 10 set to 2 s")
F.check(not cli.write_register(2000 + 9, 0, slave=u2).isError(), "delayed off of outlet 10 accepted")
r = ir(1000 + 12 * 9, 12, u2)
st = sim.state(0)["pdu"]["units"][1]["outlets"][9]
F.check(r and r[0] == 1 and r[11] & 4 and st["pending"] == "off", "outlet 10 still on, off pending: %s %s" %
        (r and (r[0], r[11]), st["pending"]))
time.sleep(2.3)
r = ir(1000 + 12 * 9, 12, u2)
F.check(r and r[0] == 0 and r[1] == 0 and not r[11] & 4, "outlet 10 off after the delay: %s" % (r and r[:2]))
data, _ = raw(port, u2, struct.pack(">BHH", 6, 2100 + 9, 4000))
F.check(exception_of(data) == 3, "control delay above 3600 s: exception 3")
cli.write_register(2100 + 9, 0, slave=u2)
cli.write_register(2000 + 9, 1, slave=u2)
F.check(sim.state(0)["pdu"]["units"][1]["outlets"][9]["on"], "outlet 10 on again at once with delay 0")

# ---- exceptions ----
U = uid0
cases = [
    ("FC3 on an input-only block", struct.pack(">BHH", 3, 100, 2), U, 2),
    ("FC4 on the identity block", struct.pack(">BHH", 4, 0, 2), U, 2),
    ("FC4 past the last outlet", struct.pack(">BHH", 4, 1000 + 12 * 24, 1), U, 2),
    ("FC4 span running past the last outlet", struct.pack(">BHH", 4, 1000 + 12 * 23, 13), U, 2),
    ("FC4 unmapped address", struct.pack(">BHH", 4, 9000, 1), U, 2),
    ("FC3 count 0", struct.pack(">BHH", 3, 0, 0), U, 3),
    ("FC3 count 126", struct.pack(">BHH", 3, 0, 126), U, 3),
    ("FC5 (coils) is not implemented", struct.pack(">BHH", 5, 0, 0xFF00), U, 1),
    ("FC43 is not implemented", bytes([0x2B, 0x0E, 1, 0]), U, 1),
    ("FC6 on a read-only register", struct.pack(">BHH", 6, 0, 1), U, 2),
    ("FC6 control value out of range", struct.pack(">BHH", 6, 2000, 7), U, 3),
    ("FC6 control of outlet 25 of 24", struct.pack(">BHH", 6, 2024, 1), U, 2),
    ("FC16 byte count mismatch", struct.pack(">BHHBH", 16, 2000, 2, 2, 1), U, 3),
    ("FC3 short PDU", bytes([3, 0]), U, 3),
    ("unit id with no device", struct.pack(">BHH", 3, 0, 1), 200, 11),
]
for what, pdu, unit, ex in cases:
    data, _ = raw(port, unit, pdu)
    F.check(exception_of(data) == ex and data[7] == (pdu[0] | 0x80),
            "%s: expected exception %d, got %r" % (what, ex, data))
st = sim.state(0)["pdu"]["units"][0]["outlets"]
F.check(all(o["on"] for o in st), "refused writes changed no outlet")

# ---- a metered-only PDU refuses switching with exception 4 ----
MU = devs[4]["modbus"]["unit"]
r = ir(1000, 12, MU)
F.check(r is not None and r[11] & 1 == 0 and r[11] & 2, "metered-only outlet flags: %s" % (r and r[11]))
data, _ = raw(port, MU, struct.pack(">BHH", 6, 2000, 0))
F.check(exception_of(data) == 4, "switching a metered-only outlet: exception 4 (%r)" % data)
F.check(sim.state(4)["pdu"]["units"][0]["outlets"][0]["on"] is True, "the metered-only outlet stayed on")

# ---- many connections at once, pipelined requests, answers in order ----
socks = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(150)]
for i, s in enumerate(socks):
    unit = [uid0, uid0 + 1, devs[1]["modbus"]["unit"]][i % 3]
    s.sendall(struct.pack(">HHHBBHH", i, 0, 6, unit, 4, 100, 16) +
              struct.pack(">HHHBBHH", 10000 + i, 0, 6, unit, 3, 58, 3))
good = 0
for i, s in enumerate(socks):
    buf = b""
    try:
        while len(buf) < (9 + 32) + (9 + 6):
            chunk = s.recv(4096)
            if not chunk:
                break
            buf += chunk
    except socket.timeout:
        pass
    if len(buf) == 56:
        t1, t2 = struct.unpack(">H", buf[:2])[0], struct.unpack(">H", buf[41:43])[0]
        good += t1 == i and t2 == 10000 + i and buf[7] == 4 and buf[48] == 3
    s.close()
F.check(good == len(socks), "%d of %d concurrent pipelined connections answered in order" % (good, len(socks)))

# ---- faults, each seen by a client ----
FU = devs[FAULTY]["modbus"]["unit"]
REQ = struct.pack(">BHH", 4, 100, 16)
data, _ = raw(port, FU, REQ)
F.check(data and len(data) == 9 + 32 and data[7] == 4, "healthy answer before faults: %r" % data)

sim.faults(FAULTY, timeout=True)
data, dt = raw(port, FU, REQ, timeout=1.0)
F.check(data is None and dt >= 0.9, "timeout fault: no answer (%r after %.2f s)" % (data, dt))
data, _ = raw(port, uid0, REQ)
F.check(data and len(data) == 41, "another unit on the same port still answers during the timeout fault")

sim.faults(FAULTY, timeout=False, delay_ms=400)
data, dt = raw(port, FU, REQ, timeout=3)
F.check(data and len(data) == 41 and dt >= 0.38, "delay fault: answer after %.3f s (%r)" % (dt, data and len(data)))

sim.faults(FAULTY, delay_ms=0, garbage=True)
data, _ = raw(port, FU, REQ, tid=0x4242)
F.check(data is not None and len(data) > 0 and not (data[:2] == b"\x42\x42" and len(data) == 41),
        "garbage fault: an answer that is not the valid response (%r)" % data)

sim.faults(FAULTY, garbage=False, truncated=True)
data, _ = raw(port, FU, REQ, timeout=1.0)
F.check(data is not None and 0 < len(data) < 41, "truncated fault: %r bytes of 41" % (data and len(data)))

sim.faults(FAULTY, truncated=False, modbus_exception=4)
data, _ = raw(port, FU, REQ)
F.check(exception_of(data) == 4, "forced exception 4 (server device failure): %r" % data)
sim.faults(FAULTY, modbus_exception=6)
data, _ = raw(port, FU, REQ)
F.check(exception_of(data) == 6, "forced exception 6 (server busy): %r" % data)

sim.faults(FAULTY, modbus_exception=0, disconnect=True)
s = socket.create_connection(("127.0.0.1", port), timeout=2)
data, _ = raw(port, FU, REQ, sock=s)
F.check(data == b"", "disconnect fault: the connection is closed (%r)" % data)
s.close()

sim.faults(FAULTY, disconnect=False, loss_pct=50)
s = socket.create_connection(("127.0.0.1", port), timeout=0.3)
answered = 0
for i in range(40):
    d, _ = raw(port, FU, REQ, tid=i, timeout=0.15, sock=s)
    if d:
        answered += 1
        if len(d) > 41:  # a late answer to an earlier request arrived with this one
            answered += len(d) // 41 - 1
s.close()
F.check(5 <= answered <= 35, "loss 50%%: %d of 40 answered" % answered)

before = sim.state(FAULTY)["requests"]
sim.clear(FAULTY)
data, _ = raw(port, FU, REQ)
F.check(data and len(data) == 41, "after clearing faults the device answers again")
F.check(sim.state(FAULTY)["requests"] > before, "the sim counts Modbus requests")

# ---- hostile input: random PDUs behind valid headers, then raw garbage ----
import random  # noqa: E402
rnd = random.Random(1234)
units = [uid0, uid0 + 1, devs[1]["modbus"]["unit"], 0, 255, rnd.randrange(256)]
s = socket.create_connection(("127.0.0.1", port), timeout=2)
sent = 0
for i in range(400):
    pdu = bytes([rnd.choice([3, 4, 6, 16, 43, 1, 2, 5, 15, 17, 0x80, 0xFF])]) + \
        bytes(rnd.randrange(256) for _ in range(rnd.randrange(0, 40)))
    s.sendall(struct.pack(">HHHB", i, 0, len(pdu) + 1, rnd.choice(units)) + pdu)
    sent += 1
time.sleep(0.5)
s.settimeout(0.5)
got = b""
try:
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        got += chunk
except socket.timeout:
    pass
s.close()
# every answer is a well-formed ADU echoing one of our transaction ids
ok, off, answers = True, 0, 0
while off + 7 <= len(got):
    ln = struct.unpack(">H", got[off + 4:off + 6])[0]
    tid = struct.unpack(">H", got[off:off + 2])[0]
    ok &= tid < sent and 2 <= ln <= 254
    off += 6 + ln
    answers += 1
F.check(ok and off == len(got) and answers > 300,
        "random PDUs: %d well-formed answers to %d requests (%d bytes)" % (answers, sent, len(got)))
for _ in range(20):
    g = socket.create_connection(("127.0.0.1", port), timeout=2)
    g.sendall(bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 600))))
    g.close()
data, _ = raw(port, uid0, REQ)
F.check(data and len(data) == 41, "the server still answers after hostile input")

# a client that sends 20,000 requests before reading any answer: the server
# pauses reading (bounded queue) and every answer still arrives, in order
import threading  # noqa: E402
N = 20000
blob = b"".join(struct.pack(">HHHBBHH", i & 0xFFFF, 0, 6, uid0, 4, 1000, 120) for i in range(N))
s = socket.create_connection(("127.0.0.1", port), timeout=30)
sender = threading.Thread(target=s.sendall, args=(blob,))
sender.start()
time.sleep(1.0)
want, got = N * (9 + 240), bytearray()
while len(got) < want:
    chunk = s.recv(1 << 20)
    if not chunk:
        break
    got += chunk
sender.join(timeout=30)
s.close()
order_ok = len(got) == want and all(struct.unpack(">H", got[i * 249:i * 249 + 2])[0] == i for i in range(0, N, 997))
F.check(order_ok, "20,000 unread pipelined requests: %d of %d bytes back, in order" % (len(got), want))

cli.close()
sim.stop()
F.done()
