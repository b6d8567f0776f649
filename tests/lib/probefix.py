"""Runs `wattrack probe` (the build's wattrack-probe) and reads its JSON, for the
tests that check profiles and control against a real or simulated device.

    rc, j, err = probe("modbus://127.0.0.1:5020?unit=3&profile=huawei-ups2000")
    got = readings(j)   # {(kind, index, metric): value} of the values the device gave
    rc, j, err = probe("snmp://private@127.0.0.1:1161", "-c", "3:off")   # switch outlet 3
"""
import json
import os
import subprocess

from wtfix import BUILD_ROOT, SOURCE_ROOT

PROBE = os.environ.get("WT_PROBE") or os.path.join(BUILD_ROOT, "pollers", "wattrack-probe")
PROFILES = os.path.join(SOURCE_ROOT, "pollers", "profiles")


def probe(url, *extra, timeout=1000, retries=1, profiles=PROFILES):
    """(exit status, decoded JSON or {} if stdout is not JSON, stderr)."""
    r = subprocess.run([PROBE, "-p", profiles, "-t", str(timeout), "-r", str(retries), *extra, url],
                       capture_output=True, text=True, timeout=120)
    try:
        j = json.loads(r.stdout)
    except ValueError:
        j = {}
    return r.returncode, j, r.stderr


def readings(j):
    """(kind, index, metric) -> value, from the probe's entities (unavailable ones left out)."""
    out = {}
    for e in j.get("entities", []):
        for r in e.get("readings", []):
            if r["value"] is not None:
                out[(e["kind"], e["index"], r["metric"])] = r["value"]
    return out
