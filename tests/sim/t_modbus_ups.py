"""wattrack-sim Modbus TCP UPS maps read with pymodbus and checked against the
simulator's ground truth. APC Smart-UPS (realdata/modbus/apc-smart-ups-modbus-registers.txt):
status bit fields, binary-point scales, strings, a mains failure seen through the status
word and the falling charge, the output switched by OutletCommand_BF (also with the off
delay), writable settings, exceptions. Socomec Delphys JBUS and Huawei UPS2000
(socomec-delphys-jbus-registers.txt, huawei-ups2000-modbus-registers.txt): the blocks NUT
reads, scales, status words, FC 43 identification, output control, mains failure."""

import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.environ["WT_SOURCE_ROOT"], "tests/lib"))
from wtfix import *  # noqa: E402,F401
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from simfix import modbus_sim  # noqa: E402
from probefix import probe, readings  # noqa: E402

from pymodbus.client import ModbusTcpClient  # noqa: E402

F = Failures()


def string(regs):
    return bytes(b for w in regs for b in (w >> 8, w & 255)).rstrip(b"\0").decode()


def s16(v):
    return v - 65536 if v & 0x8000 else v


def near(what, got, want, rel=0.03, res=0.0):
    tol = max(res, rel * abs(want))
    return F.check(abs(got - want) <= tol, "%s: Modbus %.4f, ground truth %.4f (tol %.4f)" % (what, got, want, tol))


sim = modbus_sim([
    {"model": "apc-ups", "protocol": "modbus"},
    {"model": "apc-ups", "protocol": "modbus"},
    {"model": "socomec-ups", "protocol": "modbus"},
    {"model": "huawei-ups2000", "protocol": "modbus"},
], F)
UPS = 0
port = sim.devices[UPS]["modbus"]["port"]
unit = sim.devices[UPS]["modbus"]["unit"]
unit2 = sim.devices[1]["modbus"]["unit"]
F.check(sim.devices[1]["modbus"]["port"] == port and unit2 != unit, "two UPSs share one port: %s" %
        [d["modbus"] for d in sim.devices])
cli = ModbusTcpClient("127.0.0.1", port=port, timeout=3)
F.check(cli.connect(), "pymodbus connects")


def hr(addr, count, u=unit):
    r = cli.read_holding_registers(addr, count, slave=u)
    if r.isError():
        F.check(False, "FC3 %d+%d: %s" % (addr, count, r))
        return [0] * count
    return r.registers


def exc(r):
    return getattr(r, "exception_code", None) if r.isError() else None


def blocks(u=unit):
    """The four blocks NUT polls, as {address: value}."""
    regs = {}
    for start, n in ((0, 27), (128, 44), (516, 120), (1026, 22)):
        for i, v in enumerate(hr(start, n, u)):
            regs[start + i] = v
    return regs


def u32(regs, a):
    return (regs[a] << 16) | regs[a + 1]


def s32(regs, a):
    v = u32(regs, a)
    return v - (1 << 32) if v & 0x80000000 else v


time.sleep(1.0)
st = sim.state(UPS)["ups"]
R = blocks()
st2 = sim.state(UPS)["ups"]
status = u32(R, 0)
F.check(status & (1 << 1) and not status & (1 << 2) and not status & (1 << 4),
        "status word on line: 0x%x" % status)
F.check(R[2] == 8, "UPSStatusChangeCause = AcceptableInput (8): %d" % R[2])
F.check(u32(R, 3) == 1 and u32(R, 6) == 1, "MOG and SOG0 StateOn: %x %x" % (u32(R, 3), u32(R, 6)))
F.check(u32(R, 9) == 0 and u32(R, 12) == 0, "SOG1/SOG2 absent read 0")
F.check(R[590] == 3, "SOGRelayConfigSetting: MOG + SOG0 present (%d)" % R[590])
F.check(R[18] == 0 and u32(R, 20) == 0 and R[22] == 0, "no shutdown-imminent, power or battery errors")
near("battery.runtime (s)", u32(R, 128), (st["battery_runtime_s"] + st2["battery_runtime_s"]) / 2, 0.02, 5)
near("battery.charge (raw/512)", R[130] / 512, st["battery_charge_pct"], 0.01, 0.05)
near("battery.voltage (raw/32)", s16(R[131]) / 32, st["battery_voltage"], 0.01, 0.05)
near("battery.temperature (raw/128)", s16(R[135]) / 128, st["battery_temperature"], 0.02, 0.1)
out_w = sum(l["power"] for l in st["output"]["lines"])
out_va = sum(l["apparent_power"] for l in st["output"]["lines"])
out_a = sum(l["current"] for l in st["output"]["lines"])
near("ups.load (raw/256, %% of W)", R[136] / 256, 100 * out_w / st["rating_w"], 0.08, 0.5)
near("ups.power (raw/256, %% of VA)", R[138] / 256, 100 * out_va / st["rating_va"], 0.08, 0.5)
near("output.current (raw/32)", R[140] / 32, out_a, 0.08, 0.05)
near("output.voltage (raw/64)", R[142] / 64, st["output"]["lines"][0]["voltage"], 0.01, 0.1)
near("output.frequency (raw/128)", R[144] / 128, st["output"]["frequency"], 0.005, 0.02)
near("output energy (Wh)", u32(R, 145), st["output_energy_wh"], 0.02, 1.5)
near("input.voltage (raw/64)", R[151] / 64, st["input"]["lines"][0]["voltage"], 0.01, 0.1)
F.check(0 < s16(R[154]) / 128 <= 100, "efficiency %.1f %%" % (s16(R[154]) / 128))
F.check(all(s16(R[a]) == -1 for a in (155, 156, 159, 160, 163, 164, 167, 168)) and s32(R, 157) == -1,
        "every timer reads -1 (not active)")
F.check(string([R[a] for a in range(516, 524)]) == sim.devices[UPS]["firmware"], "ups.firmware %r" %
        string([R[a] for a in range(516, 524)]))
F.check(string([R[a] for a in range(532, 548)]) == "Smart-UPS %d" % st["rating_va"],
        "ups.model %r" % string([R[a] for a in range(532, 548)]))
F.check(string([R[a] for a in range(564, 572)]) == sim.devices[UPS]["serial"][:16], "ups.serial")
F.check(R[588] == st["rating_va"] and R[589] == st["rating_w"], "nominal VA/W %d/%d" % (R[588], R[589]))
F.check(R[1026] > R[1027] > 0, "transfer high/low %d/%d" % (R[1026], R[1027]))
R2 = blocks(unit2)
F.check(string([R2[a] for a in range(564, 572)]) == sim.devices[1]["serial"][:16],
        "second unit id answers for the second UPS")

# ---- exceptions ----
F.check(exc(cli.read_input_registers(0, 2, slave=unit)) == 1, "FC4 on the APC map: illegal function")
F.check(exc(cli.read_holding_registers(200, 2, slave=unit)) == 2, "register 200 outside every block: 2")
F.check(exc(cli.read_holding_registers(20, 10, slave=unit)) == 2, "span leaving the status block: 2")
F.check(exc(cli.write_register(128, 5, slave=unit)) == 2, "write to battery.runtime (read-only): 2")
F.check(exc(cli.write_register(596, 0x4142, slave=unit)) == 2, "write to half of ups.id: 2")
F.check(exc(cli.write_registers(1538, [0, (1 << 1) | (1 << 2)], slave=unit)) == 3,
        "OutletCommand with two commands: 3")
F.check(exc(cli.write_registers(1538, [0, (1 << 2) | (1 << 10)], slave=unit)) == 3,
        "OutletCommand on absent SOG1: 3")
F.check(exc(cli.write_register(1027, 1000, slave=unit)) == 3, "low transfer voltage above high: 3")

# ---- writable settings read back ----
F.check(not cli.write_register(1026, 260, slave=unit).isError() and hr(1026, 1) == [260],
        "input.transfer.high written and read back")
name = b"RACK-7-UPS".ljust(16, b"\0")
words = [(name[i] << 8) | name[i + 1] for i in range(0, 16, 2)]
F.check(not cli.write_registers(596, words, slave=unit).isError() and string(hr(596, 8)) == "RACK-7-UPS",
        "ups.id written and read back")

# ---- mains failure: on battery, charge falls ----
sim.api("POST", "/devices/%d/mains" % UPS, {"failed": True})
time.sleep(0.2)
R = blocks()
status = u32(R, 0)
F.check(status & (1 << 2) and not status & (1 << 1), "status OnBattery after mains failure: 0x%x" % status)
F.check(R[2] == 2, "change cause LowInputVoltage (2): %d" % R[2])
F.check(s16(R[154]) == -4, "efficiency on battery reads the reason code -4 (OnBattery): %d" % s16(R[154]))
c0 = R[130] / 512
time.sleep(2.5)
c1 = hr(130, 1)[0] / 512
truth = sim.state(UPS)["ups"]
F.check(truth["on_battery"] and c1 < c0, "charge falls on battery: %.4f -> %.4f %%" % (c0, c1))
near("charge on battery", c1, truth["battery_charge_pct"], 0.01, 0.05)
sim.api("POST", "/devices/%d/mains" % UPS, {"failed": False})
time.sleep(0.2)
status = u32(hr(0, 2), 0)
F.check(status & (1 << 1) and not status & (1 << 2), "back on line after restore: 0x%x" % status)

# ---- the output switched by OutletCommand_BF ----
OFF, ON, MOG, USE_OFF_DELAY = 1 << 2, 1 << 1, 1 << 8, 1 << 7
r = cli.write_registers(1538, [0, OFF | MOG], slave=unit)
F.check(not r.isError(), "OutletCommand output off: %s" % r)
truth = sim.state(UPS)["ups"]
F.check(truth["output_off"] is True, "ground truth: output off")
time.sleep(0.2)
R = blocks()
F.check(u32(R, 0) & (1 << 4) and u32(R, 3) == 2, "status OutputOff and MOG StateOff: 0x%x 0x%x" % (u32(R, 0), u32(R, 3)))
F.check(R[140] == 0 and R[136] == 0, "no output current or load while off: %d %d" % (R[140], R[136]))
F.check(s16(R[154]) == -3 and R[2] == 12, "efficiency -3 (OutputOff), cause 12 (ProtocolCommand): %d %d" %
        (s16(R[154]), R[2]))
r = cli.write_registers(1538, [0, ON | MOG], slave=unit)
F.check(not r.isError() and sim.state(UPS)["ups"]["output_off"] is False, "OutletCommand output on")
F.check(u32(hr(3, 2), 0) == 1, "MOG StateOn again")

# delayed off: 1 s off delay on the main group, pending bit, then off
F.check(not cli.write_register(1029, 2, slave=unit).isError() and s16(hr(1029, 1)[0]) == 2, "off delay 2 s")
r = cli.write_registers(1538, [0, OFF | MOG | USE_OFF_DELAY], slave=unit)
mog = u32(hr(3, 2), 0)
F.check(not r.isError() and mog & 1 and mog & (1 << 9), "pending off delay shown: 0x%x" % mog)
F.check(sim.state(UPS)["ups"]["output_off"] is False, "output still on during the off delay")
time.sleep(2.4)
mog = u32(hr(3, 2), 0)
F.check(mog == 2, "output off after the delay: 0x%x" % mog)
F.check(sim.state(UPS)["ups"]["output_off"] is True, "ground truth: off after the delay")
cli.write_registers(1538, [0, ON | MOG], slave=unit)
F.check(sim.state(UPS)["ups"]["output_off"] is False, "output back on")

# ---- faults through the APC map: forced exception ----
sim.faults(UPS, modbus_exception=4)
F.check(exc(cli.read_holding_registers(0, 2, slave=unit)) == 4, "forced exception 4 on the UPS")
F.check(not cli.read_holding_registers(0, 2, slave=unit2).isError(), "the other UPS on the port answers")
sim.clear(UPS)
F.check(not cli.read_holding_registers(0, 2, slave=unit).isError(), "answers after clearing")

# ---- Socomec Delphys JBUS ----
SO = 2
su = sim.devices[SO]["modbus"]["unit"]


def so_blocks():
    regs = {}
    for start, n in ((0x1000, 12), (0x1020, 6), (0x1040, 4), (0x1060, 48), (0x10E0, 32), (0x1360, 4)):
        for i, v in enumerate(hr(start, n, su)):
            regs[start + i] = v
    return regs


st = sim.state(SO)["ups"]
R = so_blocks()
st2 = sim.state(SO)["ups"]
F.check(R[0x1000] == 515, "Socomec UPS code 515 (DELPHYS MX): %d" % R[0x1000])
F.check(R[0x1001] * 100 == st["rating_va"], "Socomec kVA*10 %d vs rating %s VA" % (R[0x1001], st["rating_va"]))
serial = "".join(chr(R[a] & 0xFF) + chr(R[a] >> 8) for a in range(0x1003, 0x1008))
F.check(serial == sim.devices[SO]["serial"][:10], "Socomec serial low byte first: %r" % serial)
F.check(R[0x1020] & 0b1111 == 0b1111 and not R[0x1020] & (1 << 5), "Socomec status word 0 on line: 0x%x" % R[0x1020])
F.check(R[0x1021] & 1 and R[0x1022] & 1, "Socomec battery OK, unit operating")
for i in range(3):
    ol = st["output"]["lines"][i]
    near("Socomec L%d load %%" % (i + 1), R[0x1060 + i], ol["load_pct"], 0.1, 1.5)
    near("Socomec output L%d V" % (i + 1), R[0x1069 + i], ol["voltage"], 0.01, 1)
    near("Socomec output L%d A" % (i + 1), R[0x106F + i], ol["current"], 0.1, 1)
    near("Socomec bypass L%d V" % (i + 1), R[0x1066 + i], st["bypass"]["lines"][i]["voltage"], 0.01, 1)
near("Socomec total load %", R[0x1063], st["load_pct"], 0.1, 1.5)
near("Socomec charge", R[0x1064], st["battery_charge_pct"], 0.01, 1)
near("Socomec output Hz*10", R[0x1073] / 10, st["output"]["frequency"], 0.01, 0.1)
near("Socomec battery V*10", R[0x1074] / 10, st["battery_voltage"], 0.01, 0.1)
F.check(R[0x1077] == 0xFFFF, "Socomec runtime reads 0xFFFF on mains: %d" % R[0x1077])
F.check(R[0x10E0] == st["nominal_v"] and R[0x10E2] in (50, 60), "Socomec nominal V/Hz")
now = time.gmtime(sim.state(SO)["now_ms"] / 1000)
F.check(R[0x1363] + 2000 == now.tm_year and R[0x1362] >> 8 == now.tm_mon and R[0x1361] >> 8 == now.tm_mday,
        "Socomec packed date %d-%d-%d" % (R[0x1363] + 2000, R[0x1362] >> 8, R[0x1361] >> 8))
F.check(not cli.read_input_registers(0x1060, 4, slave=su).isError(), "Socomec answers FC 4 as well")
F.check(exc(cli.write_register(0x1060, 1, slave=su)) == 2, "Socomec registers are read-only")
F.check(exc(cli.read_holding_registers(0x1100, 1, slave=su)) == 2, "Socomec gap between blocks: 2")
sim.api("POST", "/devices/%d/mains" % SO, {"failed": True})
time.sleep(0.3)
R = so_blocks()
truth = sim.state(SO)["ups"]
F.check(R[0x1020] & (1 << 5) and not R[0x1020] & 1, "Socomec on battery: status 0x%x" % R[0x1020])
F.check(R[0x1077] != 0xFFFF and abs(R[0x1077] - truth["battery_runtime_s"] / 60) <= 1.01,
        "Socomec runtime in minutes on battery: %d vs %.1f" % (R[0x1077], truth["battery_runtime_s"] / 60))
F.check(R[0x1040] & (1 << 5), "Socomec alarm: rectifier input out of tolerance")
sim.api("POST", "/devices/%d/mains" % SO, {"failed": False})

# ---- Huawei UPS2000 ----
HW = 3
hu = sim.devices[HW]["modbus"]["unit"]
st = sim.state(HW)["ups"]
A = hr(1000, 50, hu)
B = hr(2000, 34, hu)
N = hr(9009, 1, hu)
st2 = sim.state(HW)["ups"]
near("Huawei input V", A[0] / 10, st["input"]["lines"][0]["voltage"], 0.01, 0.2)
near("Huawei output V", A[8] / 10, st["output"]["lines"][0]["voltage"], 0.01, 0.2)
near("Huawei output A", A[11] / 10, st["output"]["lines"][0]["current"], 0.08, 0.15)
near("Huawei output Hz", A[14] / 10, st["output"]["frequency"], 0.01, 0.1)
near("Huawei output W (0.1 kW)", A[15] * 100, st["output"]["lines"][0]["power"], 0.1, 100)
near("Huawei load %", A[21] / 10, st["load_pct"], 0.08, 1)
F.check(A[24] == 2, "Huawei status normal (2): %d" % A[24])
near("Huawei battery V", B[0] / 10, st["battery_voltage"], 0.01, 0.2)
F.check(B[2] in (2, 3), "Huawei charger resting/charging: %d" % B[2])
near("Huawei charge", B[3], st["battery_charge_pct"], 0.01, 1)
near("Huawei runtime (u32)", (B[4] << 16) | B[5], st["battery_runtime_s"], 0.03, 10)
F.check(N[0] * 100 == st["rating_va"], "Huawei nominal VA (0.1 kVA): %d" % N[0])
F.check(exc(cli.read_holding_registers(11000, 2, slave=hu)) == 2, "Huawei at the +10000 offset: 2 (the real map has none)")
F.check(exc(cli.read_input_registers(1000, 2, slave=hu)) == 1, "Huawei FC 4: illegal function")
s = socket.create_connection(("127.0.0.1", port), timeout=3)
s.sendall(struct.pack(">HHHBBBBB", 7, 0, 5, hu, 0x2B, 0x0E, 3, 0x87))
ident = s.recv(300)
F.check(ident[7] == 0x2B and b"\x87\x04\x00\x00\x00\x01" in ident and
        ("1=UPS2000A;2=%s;3=" % sim.devices[HW]["firmware"]).encode() in ident and
        ("4=%s;" % sim.devices[HW]["serial"]).encode() in ident, "Huawei FC 43 object 0x87/0x88: %r" % ident)
s.sendall(struct.pack(">HHHBBBBB", 8, 0, 5, unit, 0x2B, 0x0E, 1, 0))
d = s.recv(300)
F.check(len(d) == 9 and d[7] == 0xAB and d[8] == 1, "FC 43 on the APC map: illegal function %r" % d)
s.close()
F.check(not cli.write_register(1030, 1, slave=hu).isError(), "Huawei load.off (1030 = 1)")
F.check(sim.state(HW)["ups"]["output_off"] is True and hr(1024, 1, hu) == [0], "Huawei output off, status 0")
F.check(exc(cli.write_register(1030, 2, slave=hu)) == 3, "Huawei 1030 = 2: illegal value")
F.check(not cli.write_register(1029, 1, slave=hu).isError() and sim.state(HW)["ups"]["output_off"] is False,
        "Huawei load.on (1029 = 1)")
F.check(not cli.write_register(1046, 1, slave=hu).isError() and hr(1046, 1, hu) == [1], "Huawei beeper disabled")
# wattrack's own Modbus poller with the realdata-based profile reads the simulator's Huawei:
# the profile binds (named in the URL: the map has no model register) and every value
# agrees with the ground truth in canonical units
prc, pj, perr = probe("modbus://127.0.0.1:%d?unit=%d&profile=huawei-ups2000" % (port, hu), timeout=2000)
F.check(prc == 0 and (pj.get("profile") or {}).get("name") == "huawei-ups2000",
        "wattrack probe binds huawei-ups2000 on the simulator: rc=%d %s %s"
        % (prc, pj.get("status"), perr[-300:]))
got = readings(pj)
st = sim.state(HW)["ups"]
for key, want, tol in [(("inlet", 1, "voltage"), st["input"]["lines"][0]["voltage"], 0.2),
                       (("output", 1, "voltage"), st["output"]["lines"][0]["voltage"], 0.2),
                       (("output", 1, "current"), st["output"]["lines"][0]["current"], 0.15),
                       (("output", 1, "frequency"), st["output"]["frequency"], 0.1),
                       (("output", 1, "power_active"), st["output"]["lines"][0]["power"], 100),
                       (("output", 1, "load_percent"), st["load_pct"], 1),
                       (("battery", 1, "voltage"), st["battery_voltage"], 0.2),
                       (("battery", 1, "battery_charge"), st["battery_charge_pct"], 1),
                       (("battery", 1, "battery_runtime"), st["battery_runtime_s"], 30)]:
    v = got.get(key)
    F.check(v is not None and abs(v - want) <= tol,
            "Huawei via wattrack probe %s: %s, ground truth %.2f" % (key, v, want))

sim.api("POST", "/devices/%d/mains" % HW, {"failed": True})
time.sleep(0.3)
F.check(hr(1024, 1, hu) == [3] and hr(2002, 1, hu) == [5], "Huawei on battery: status 3, discharging")
F.check(hr(40161, 1, hu)[0] & 2, "Huawei alarm: abnormal bypass voltage")
sim.api("POST", "/devices/%d/mains" % HW, {"failed": False})

cli.close()
sim.stop()
F.done()
