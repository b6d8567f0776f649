"""packaging/WATTRACK-MIB.txt passes smilint -l 3 and net-snmp's parser
cleanly, and names the OIDs the trap sender uses (rules/traps.h)."""
import os
import shutil
import subprocess
import tempfile
import sys

sys.path.insert(0, os.path.join(os.environ["WT_SOURCE_ROOT"], "tests/lib"))
from wtfix import Failures  # noqa: E402

f = Failures()
root = os.environ["WT_SOURCE_ROOT"]
mib = os.path.join(root, "packaging/WATTRACK-MIB.txt")
pkg = os.path.join(root, "packaging")
# The IETF base modules: the system's when installed (snmp-mibs-downloader),
# else the test's stand-ins holding just what WATTRACK-MIB imports.
ietf = "/usr/share/snmp/mibs/ietf"
base = ietf if os.path.exists(os.path.join(ietf, "SNMPv2-SMI")) else \
    os.path.join(root, "tests/notify/mibs")

r = subprocess.run(["smilint", "-l", "3", "-s", mib], capture_output=True, text=True,
                   env=dict(os.environ, SMIPATH=base))
f.check(r.returncode == 0 and r.stdout.strip() == "" and r.stderr.strip() == "",
        f"smilint -l 3 is clean: rc {r.returncode} {r.stdout}{r.stderr}")

# A private persistent dir: net-snmp caches MIB indexes there, and a cache
# shared with other runs can name modules that are not on our path.
tmp = tempfile.mkdtemp(prefix="wt-mib-")
# "mibs :" empties net-snmp's default module list, so "+WATTRACK-MIB" loads
# our module (and what it imports) only.
with open(os.path.join(tmp, "snmp.conf"), "w") as fh:
    fh.write("mibs :\n")
env = dict(os.environ, SNMP_PERSISTENT_DIR=tmp, SNMPCONFPATH=tmp)
env.pop("MIBS", None)
expect = {
    "WATTRACK-MIB::wtAlarmRaised": ".1.3.6.1.3.9147.0.1",
    "WATTRACK-MIB::wtAlarmChanged": ".1.3.6.1.3.9147.0.2",
    "WATTRACK-MIB::wtAlarmCleared": ".1.3.6.1.3.9147.0.3",
    "WATTRACK-MIB::wtAlarmId": ".1.3.6.1.3.9147.1.1",
    "WATTRACK-MIB::wtAlarmSeverity": ".1.3.6.1.3.9147.1.2",
    "WATTRACK-MIB::wtAlarmMessage": ".1.3.6.1.3.9147.1.9",
}
for name, oid in expect.items():
    r = subprocess.run(["snmptranslate", f"-M+:{base}:{pkg}", "-m", "+WATTRACK-MIB", "-On", name],
                       capture_output=True, text=True, env=env)
    # Complaints about absent system modules (net-snmp's default list) are
    # not ours; nothing may concern WATTRACK-MIB or the files it imports.
    ours = [l for l in r.stderr.splitlines() if not l.startswith("MIB search path")
            and not l.startswith("Created directory") and (
            "WATTRACK" in l or "packaging" in l or "SNMPv2-SMI" in l or "SNMPv2-CONF" in l
            or ("SNMPv2-TC" in l and "DisplayString" in l))]
    f.check(r.returncode == 0 and r.stdout.strip() == oid and not ours,
            f"snmptranslate {name} -> {oid}: {r.stdout.strip()} {ours}")
r = subprocess.run(["snmptranslate", f"-M+:{base}:{pkg}", "-m", "+WATTRACK-MIB", "-Td",
                    "WATTRACK-MIB::wtAlarmRaised"], capture_output=True, text=True, env=env)
for obj in ["wtAlarmId", "wtAlarmSeverity", "wtAlarmDevice", "wtAlarmEntity", "wtAlarmMetric",
            "wtAlarmValue", "wtAlarmThreshold", "wtAlarmLocation", "wtAlarmMessage"]:
    f.check(obj in r.stdout, f"wtAlarmRaised carries {obj}")
with open(mib) as fh:
    text = fh.read()
f.check("experimental" in text and "placeholder" in text, "the MIB documents its placeholder arc")
shutil.rmtree(tmp, True)
f.done()
