#!/usr/bin/python3
"""Registers a wattrack-sim fleet (its --write-fleet JSON) in wattrack's
database: devices with their endpoints and credentials, the structure from
the fleet's placement hints (site, rooms, rows, racks, A/B feeds), and a
few sensible default rules. The running daemon picks the devices up at its
next inventory rescan (devices.rescan); structure and rules are reloaded
with them.

    wattrack-fleet.py --state-dir DIR FLEET.json        # the private cluster
    wattrack-fleet.py --conninfo "host=... dbname=..." FLEET.json

Idempotent: running it again updates what exists. Credentials go to the
devices table only and are never printed.

With --discovered, SNMP devices are not inserted: the script waits until
wattrack's discovery (discovery.targets/ports/communities) has registered
each of them, then does what an operator does with a discovered device:
names it, places it in its rack and feed, and gives it its SNMPv3 user
(read and outlet switching) when the fleet has one. Modbus and Redfish
devices, which discovery does not scan, are registered as before.
"""

import argparse
import json
import os
import sys
import time

import psycopg2

# The sim's SNMP devices are addressed one per port (--snmp-port-base), like
# a real network where each device has its own address, with their SNMPv3
# user (v2c with their community when the fleet gives no v3 user).
AUTH = {"md5": "MD5", "sha": "SHA", "sha224": "SHA-224", "sha256": "SHA-256",
        "sha384": "SHA-384", "sha512": "SHA-512"}
PRIV = {"des": "DES", "aes": "AES"}

# Default rules: (name, metric, scope, scope_text, target_kind, thresholds, hysteresis, dwell)
# thresholds: (critical_above, warning_above, warning_below, critical_below), None = off.
DEFAULT_RULES = [
    ("Outlet current", "current", "global", None, "outlet", (6.0, 5.0, None, None), 0.5, 0),
    ("Breaker tripped", "breaker_tripped", "global", None, "branch", (0.5, None, None, None), 0, 0),
    ("Inlet current", "current", "global", None, "phase", (28.0, 24.0, None, None), 1.0, 10),
    ("Temperature", "temperature", "global", None, "sensor", (40.0, 32.0, None, None), 1.0, 30),
    ("UPS battery charge", "battery_charge", "type", "UPS", None, (None, None, 50.0, 25.0), 2.0, 0),
    ("UPS load", "load_percent", "type", "UPS", None, (95.0, 80.0, None, None), 2.0, 30),
    # The UPS's own state flags (1/0): running on battery is a warning (the load is
    # safe for now, the mains is not); the device declaring its battery low is critical.
    ("UPS on battery", "on_battery", "type", "UPS", None, (None, 0.5, None, None), 0, 0),
    ("UPS low battery", "low_battery", "type", "UPS", None, (0.5, None, None, None), 0, 0),
    # Estimated runtime: under 8 minutes is a warning, under 5 critical (time to shut
    # servers down cleanly). Estimates jitter with the load: 30 s hysteresis, 10 s dwell
    # (two polls at the default interval). On mains the demo's UPSs estimate 11 to 22 min.
    ("UPS runtime", "battery_runtime", "type", "UPS", None, (None, None, 480.0, 300.0), 30.0, 10),
]
# Communication loss needs no rule: the scheduler raises a critical comm_lost alarm for
# any device that stops answering (rules/engine.c wt_rules_device_comm).


def private_conninfo(state_dir, timeout=60):
    """The private cluster's conninfo, from its postmaster.pid and password file."""
    pg = os.path.join(state_dir, "pg")
    deadline = time.time() + timeout
    while True:
        try:
            with open(os.path.join(pg, "data", "postmaster.pid")) as f:
                lines = f.read().splitlines()
            port = int(lines[3])
            with open(os.path.join(pg, "superuser.password")) as f:
                pw = f.read().strip()
            return "host=%s port=%d user=postgres password=%s dbname=wattrack" % (pg, port, pw)
        except (OSError, IndexError, ValueError):
            if time.time() > deadline:
                raise SystemExit("wattrack-fleet: no private cluster under %s" % state_dir)
            time.sleep(0.5)


def connect(conninfo, timeout=60):
    deadline = time.time() + timeout
    while True:
        try:
            c = psycopg2.connect(conninfo)
            cur = c.cursor()
            cur.execute("SELECT to_regclass('rules') IS NOT NULL")
            if cur.fetchone()[0]:
                return c
            c.close()
        except psycopg2.Error:
            pass
        if time.time() > deadline:
            raise SystemExit("wattrack-fleet: the database is not ready")
        time.sleep(0.5)


def element(cur, kind, parent, name, budget_w=None, budget_a=None):
    cur.execute("SELECT id FROM structure_elements WHERE coalesce(parent_id, 0) = %s "
                "AND lower(name) = lower(%s)", (parent or 0, name))
    row = cur.fetchone()
    if row:
        return row[0]
    cur.execute("INSERT INTO structure_elements (kind, parent_id, name, budget_w, budget_a) "
                "VALUES (%s, %s, %s, %s, %s) RETURNING id", (kind, parent, name, budget_w, budget_a))
    return cur.fetchone()[0]


def device_row(d, bind):
    """(protocol, port, unit, credentials, type) for a fleet device, or None."""
    kind = "UPS" if d.get("kind") == "ups" else "PDU"
    p = d.get("protocol")
    if p == "snmp":
        s = d["snmp"]
        v3 = s.get("v3")
        if not v3:
            return "snmp", s["port"], 0, {"community": s["community"]}, kind
        # SNMPv3 with the device's own user (it may also switch outlets; a
        # v2c read community may not). On its own port the empty context is
        # the device.
        cred = {"user": v3["user"]}
        if v3.get("auth", "none") == "none":
            cred["level"] = "noAuthNoPriv"
        else:
            cred["auth"] = AUTH[v3["auth"]]
            cred["auth_pass"] = v3["auth_pass"]
            if v3.get("priv", "none") == "none":
                cred["level"] = "authNoPriv"
            else:
                cred["priv"] = PRIV[v3["priv"]]
                cred["priv_pass"] = v3["priv_pass"]
                cred["level"] = "authPriv"
        return "snmp", s["port"], 0, cred, kind
    if p == "modbus":
        m = d["modbus"]
        # Models whose register map has no model register are named, as an
        # operator names them when adding the device.
        cred = {"profile": MODBUS_NAMED[d["model"]]} if d["model"] in MODBUS_NAMED else {}
        return "modbus", m["port"], m.get("unit", 1), cred, kind
    if p == "redfish":
        h = d["http"]
        return "redfish", h["port"], 0, {"user": h["user"], "password": h["password"]}, kind
    return None


# The Huawei UPS2000 map has no model register (realdata/modbus/huawei-ups2000-modbus-
# registers.txt); wattrack-sim serves it at that map's addresses.
MODBUS_NAMED = {"huawei-ups2000": "huawei-ups2000"}


def discovered_id(conn, address, port, deadline):
    """The id of the SNMP device discovery registered at address:port, or
    None once deadline passes."""
    cur = conn.cursor()
    while True:
        cur.execute("SELECT id FROM devices WHERE protocol = 'snmp' AND address = %s "
                    "AND port = %s ORDER BY id LIMIT 1", (address, port))
        row = cur.fetchone()
        conn.commit()
        if row or time.time() > deadline:
            return row[0] if row else None
        time.sleep(0.5)


def load(conn, fleet, site="Demo site", rules=True, budget_w=None, discovered=False,
         wait_s=180):
    """Upserts devices, structure and rules; returns {fleet name: device id}.
    discovered: SNMP devices are waited for (registered by discovery), then
    assigned, not inserted."""
    cur = conn.cursor()
    deadline = time.time() + wait_s
    missing = []
    bind = fleet.get("bind", "127.0.0.1")
    site_id = element(cur, "site", None, site)
    racks = {}
    ids = {}
    for d in fleet["devices"]:
        r = device_row(d, bind)
        if not r:
            continue
        proto, port, unit, creds, kind = r
        pl = d.get("placement") or {}
        rack_id = None
        feed = pl.get("feed") if pl.get("feed") in ("A", "B", "C", "D") else "none"
        if pl.get("room") and pl.get("row") and pl.get("rack"):
            key = (pl["room"], pl["row"], pl["rack"])
            if key not in racks:
                room = element(cur, "room", site_id, pl["room"])
                row = element(cur, "row", room, pl["row"])
                racks[key] = element(cur, "rack", row, pl["rack"], budget_w)
            rack_id = racks[key]
        info = json.dumps({"type": kind, "sim_id": d.get("id")})
        if discovered and proto == "snmp":
            dev = discovered_id(conn, bind, port, deadline)
            if dev is None:
                missing.append(d.get("name"))
                continue
            # As an operator assigns a discovered device: name, rack, feed,
            # and the credentials it is to be polled and switched with.
            cur.execute(
                "UPDATE devices SET name = %s, credentials = %s::jsonb, feed = %s, rack_id = %s, "
                "info = info || %s::jsonb, updated_at = now() WHERE id = %s",
                (d.get("name") or "sim-%s" % d.get("id"), json.dumps(creds), feed, rack_id,
                 info, dev))
            ids[d.get("name")] = dev
            continue
        cur.execute(
            "INSERT INTO devices (name, protocol, address, port, unit, credentials, model, "
            "serial, firmware, feed, rack_id, info) "
            "VALUES (%s, %s, %s, %s, %s, %s::jsonb, %s, %s, %s, %s, %s, %s::jsonb) "
            "ON CONFLICT (protocol, address, port, unit) DO UPDATE SET name = EXCLUDED.name, "
            "credentials = EXCLUDED.credentials, feed = EXCLUDED.feed, "
            "rack_id = EXCLUDED.rack_id, info = EXCLUDED.info, updated_at = now() RETURNING id",
            (d.get("name") or "sim-%s" % d.get("id"), proto, bind, port, unit, json.dumps(creds),
             d.get("model"), d.get("serial"), d.get("firmware"), feed, rack_id, info))
        ids[d.get("name")] = cur.fetchone()[0]
    if rules:
        for name, metric, scope, text, target, thr, hyst, dwell in DEFAULT_RULES:
            cur.execute("SELECT 1 FROM rules WHERE name = %s", (name,))
            if cur.fetchone():
                continue
            cur.execute("SELECT id FROM metrics WHERE name = %s", (metric,))
            mid = cur.fetchone()[0]
            ca, wa, wb, cb = thr
            cur.execute(
                "INSERT INTO rules (name, metric, scope, scope_text, target_kind, "
                "critical_above, critical_above_on, warning_above, warning_above_on, "
                "warning_below, warning_below_on, critical_below, critical_below_on, "
                "hysteresis, dwell_s) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, "
                "%s, %s, %s, %s)",
                (name, mid, scope, text, target, ca, ca is not None, wa, wa is not None, wb,
                 wb is not None, cb, cb is not None, hyst, dwell))
    conn.commit()
    if missing:
        print("wattrack-fleet: %d SNMP devices not discovered within %d s (first: %s)"
              % (len(missing), wait_s, ", ".join(str(m) for m in missing[:5])), file=sys.stderr)
    return ids


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("fleet", help="the JSON written by wattrack-sim --write-fleet")
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--state-dir", help="wattrack's state_dir (private cluster)")
    g.add_argument("--conninfo", help="libpq conninfo of wattrack's database")
    ap.add_argument("--no-rules", action="store_true", help="do not add the default rules")
    ap.add_argument("--discovered", action="store_true",
                    help="wait for discovery to register the SNMP devices, then assign them")
    ap.add_argument("--wait", type=int, default=180,
                    help="with --discovered: seconds to wait for discovery (default 180)")
    a = ap.parse_args()
    with open(a.fleet) as f:
        fleet = json.load(f)
    conninfo = a.conninfo or private_conninfo(a.state_dir)
    conn = connect(conninfo)
    ids = load(conn, fleet, rules=not a.no_rules, discovered=a.discovered, wait_s=a.wait)
    conn.close()
    print("wattrack-fleet: %d devices registered%s" % (
        len(ids), " (SNMP ones found by discovery, then assigned)" if a.discovered else ""))


if __name__ == "__main__":
    sys.exit(main())
