#!/usr/bin/python3
"""Notifications end to end: the real wattrack daemon polls a wattrack-sim
UPS (SNMP, PowerNet) registered in a real PostgreSQL with an "on battery"
threshold rule; a mains failure injected through the simulator's control
API puts the UPS on battery, the daemon raises the critical alarm from the
polled value, a hook configured in notify.hooks_file runs with the alarm in
its environment (written to a file), and a real SMTP server (aiosmtpd)
receives the e-mail naming the UPS, its metric and its rack. Mains back:
the alarm clears. Bad notify settings stop the daemon with file and key."""

import json
import os
import socket
import subprocess
import sys
import time

ROOT = os.environ.get("WT_SOURCE_ROOT", ".")
sys.path.insert(0, os.path.join(ROOT, "tests/sim"))
sys.path.insert(0, os.path.join(ROOT, "tests/integration"))
sys.path.insert(0, os.path.join(ROOT, "tests/notify"))
import importlib.util  # noqa: E402

from notifylib import Smtp, body_text  # noqa: E402
from simfix import port_range_sim  # noqa: E402
from wtdaemon import TEST_API, WATTRACK, Daemon  # noqa: E402
from wtfix import Failures, Postgres, free_port, spawn, stop_pid, tmpdir, until  # noqa: E402

import psycopg2  # noqa: E402

spec = importlib.util.spec_from_file_location("wtfleet", os.path.join(ROOT, "scripts/wattrack-fleet.py"))
wtfleet = importlib.util.module_from_spec(spec)
spec.loader.exec_module(wtfleet)

HOOK = os.path.join(ROOT, "tests/notify/hook_env.py")
f = Failures()
d = tmpdir()



def write(name, text):
    p = os.path.join(d, name)
    with open(p, "w") as fh:
        fh.write(text)
    os.chmod(p, 0o600)
    return p


# --- bad settings are refused before anything starts, with file and key ---
bad_hooks = write("bad-hooks.json", json.dumps([
    {"name": "x", "command": ["relative/path"], "metric": "on_battery"}]))
bad_conf = os.path.join(d, "bad.conf")
# A typo'd filter key must be refused too, not silently match everything.
typo_hooks = write("typo-hooks.json", json.dumps([
    {"name": "y", "command": ["/bin/true"], "metrc": "on_battery"}]))

fleet_in = {"devices": [
    {"name": "ups-1", "model": "apc-ups", "protocol": "snmp",
     "placement": {"room": "Hall", "row": "Hall-R1", "rack": "K7", "feed": "A"}},
]}
fleet_file = write("fleet-in.json", json.dumps(fleet_in))

pg = Postgres()
sim, base = port_range_sim(["--fleet", fleet_file])
smtp = Smtp(d)
hook_out = os.path.join(d, "hook.jsonl")
hooks = write("hooks.json", json.dumps([
    {"name": "ups-on-battery", "command": ["/usr/bin/python3", HOOK, hook_out],
     "device_type": "UPS", "metric": "on_battery", "change": "raised",
     "min_severity": "error", "timeout": "20s"},
    # A hook whose filter does not match must not run.
    {"name": "pdu-only", "command": ["/usr/bin/python3", HOOK, hook_out + ".pdu"],
     "device_type": "PDU"},
]))
# A real trap receiver (snmptrapd, v2c) and a syslog receiver (UDP socket).
trap_port = free_port(socket.SOCK_DGRAM)
trapdir = os.path.join(d, "trapd")
os.makedirs(trapdir)
write("trapd/snmptrapd.conf", "authCommunity log wt-trap-community\n")
write("trapd/snmp.conf", "mibs :\n")
traplog = os.path.join(trapdir, "out.log")
trapd = spawn(["snmptrapd", "-f", "-Lf", traplog, "-C", "-c",
               os.path.join(trapdir, "snmptrapd.conf"), f"127.0.0.1:{trap_port}"],
              env=dict(os.environ, SNMP_PERSISTENT_DIR=trapdir, SNMPCONFPATH=trapdir),
              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
traps = write("traps.json", json.dumps([
    {"host": "127.0.0.1", "port": trap_port, "version": 2, "community": "wt-trap-community"}]))
syslog_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
syslog_sock.bind(("127.0.0.1", 0))
syslog_sock.settimeout(0.2)
syslog_port = syslog_sock.getsockname()[1]


def syslog_lines(acc=[]):  # noqa: B006 - accumulates across calls on purpose
    while True:
        try:
            acc.append(syslog_sock.recv(65535).decode("utf-8", "replace"))
        except (socket.timeout, BlockingIOError):
            return acc


def traplog_text():
    return open(traplog).read() if os.path.exists(traplog) else ""


state = os.path.join(d, "state")
conf = write("wattrack.conf",
             f'database.url = "{pg.dsn}"\nstate_dir = {state}\n'
             "poll.interval = 1s\npoll.timeout = 500ms\npoll.retries = 0\n"
             "storage.flush_interval = 5s\ndevices.rescan = 1s\nworkers.threads = 3\n"
             f"notify.mail.server = 127.0.0.1\nnotify.mail.port = {smtp.port}\n"
             "notify.mail.tls = none\nnotify.mail.sender = wattrack@dc1.example.com\n"
             'notify.mail.recipients = "noc@example.com, night@example.com;after_hours"\n'
             "notify.mail.delay = 1m\nnotify.mail.holdoff = 0\n"
             'notify.mail.subject = "[dc1]"\n'
             f"notify.hooks_file = {hooks}\nnotify.retry_base = 1s\n"
             f"notify.traps_file = {traps}\nnotify.traps.min_severity = warning\n"
             f"notify.syslog.server = 127.0.0.1\nnotify.syslog.port = {syslog_port}\n"
             "notify.syslog.facility = local3\n" + TEST_API)


def q(sql, args=()):
    c = psycopg2.connect(pg.dsn)
    try:
        cur = c.cursor()
        cur.execute(sql, args)
        return cur.fetchall() if cur.description else None
    finally:
        c.commit()
        c.close()


w = None
try:
    # --- refused settings (the daemon exits; nothing is started) ---
    short_v3 = write("short-v3.json", json.dumps([
        {"host": "127.0.0.1", "version": 3, "user": "wt", "auth_pass": "short"}]))
    not_json = write("not-json.json", '[{"name": "a",\n  "command": ["/bin/true"],,}]')
    mail = "notify.mail.server = 127.0.0.1\nnotify.mail.sender = wt@example.com\n"
    cases = (
        (f"notify.hooks_file = {bad_hooks}\n", bad_hooks, "command[0] must be an absolute path"),
        (f"notify.hooks_file = {typo_hooks}\n", typo_hooks, 'unknown key "metrc"'),
        (f"notify.hooks_file = {not_json}\n", f"{not_json}:2:", "notify.hooks_file"),
        (f"notify.traps_file = {short_v3}\n", short_v3, "at least 8 characters"),
        (mail + "notify.mail.delay = 7m\n", "notify.mail.delay", "1m, 5m, 15m, 30m or 60m"),
        (mail + "notify.mail.business_hours = 18:00-08:00\n", "notify.mail.business_hours",
         "08:00-18:00"),
        (mail + "notify.mail.business_days = mon-fry\n", "notify.mail.business_days", "mon-fry"),
        (mail + 'notify.mail.recipients = "noc@example.com;nightly"\n', "notify.mail.recipients",
         "schedule"),
        ("notify.mail.server = 127.0.0.1\n", "notify.mail.sender", "required"),
    )
    for extra, where, want in cases:
        with open(bad_conf, "w") as fh:
            fh.write(f'state_dir = {d}/bad-state\ndatabase.url = "{pg.dsn}"\n' + extra + TEST_API)
        p = subprocess.run([WATTRACK, "--config", bad_conf], capture_output=True, text=True,
                           timeout=60)
        f.check(p.returncode != 0 and where in p.stderr and want in p.stderr
                and "cannot start notifications" in p.stderr
                and "Sanitizer" not in p.stderr and "runtime error" not in p.stderr,
                f"bad notify settings stop the daemon naming where ({where}: {want}): "
                f"rc={p.returncode} {p.stderr[-400:]!r}")

    # --- the fleet and an on-battery rule, as an operator would set them up ---
    w = Daemon(conf)
    f.check(w.wait_for(r"wattrack ready", timeout=90) is not None, "the daemon starts")
    f.check(w.wait_for(r"notifications: e-mail 127\.0\.0\.1 \(2 recipients\), syslog 127\.0\.0\.1, "
                       r"1 trap receivers, 2 hooks",
                       timeout=5, start=0) is not None,
            "notifications start with e-mail and both hooks")
    conn = psycopg2.connect(pg.dsn)
    cur = conn.cursor()
    # The built-in rule set has no on-battery rule: add one for every UPS.
    cur.execute("INSERT INTO rules (name, metric, scope, scope_text, critical_above, "
                "critical_above_on) SELECT 'UPS on battery', id, 'type', 'UPS', 0.5, true "
                "FROM metrics WHERE name = 'on_battery'")
    conn.commit()
    ids = wtfleet.load(conn, sim.fleet, rules=False)
    conn.close()
    ups = ids.get("ups-1")
    f.check(ups is not None, f"the UPS is registered: {ids}")

    def on_battery_series():
        r = q("SELECT s.id FROM series s JOIN entities e ON e.id = s.entity_id "
              "JOIN metrics m ON m.id = s.metric WHERE e.device_id = %s AND m.name = 'on_battery'",
              (ups,))
        return r[0][0] if r else None

    sid = until(on_battery_series, 30)
    f.check(sid is not None, "the UPS's on_battery series exists (polled and bound)")
    # A full 5 s close on mains first: the alarm must come from the change.
    time.sleep(6)
    f.check(q("SELECT count(*) FROM alarms WHERE active")[0][0] == 0, "no alarm while on mains")
    f.check(not os.path.exists(hook_out), "no hook ran while on mains")

    # --- mains failure ---
    t0 = time.time()
    st, j = sim.post("ups-1", "mains", {"failed": True})
    f.check(st == 200, f"the simulator accepts the mains failure: {st} {j}")
    f.check(sim.state("ups-1")["ups"]["on_battery"], "the simulated UPS is on battery")

    alarm = until(lambda: q("SELECT id, severity, message FROM alarms WHERE active AND "
                            "series_id = %s", (sid,)), 20)
    f.check(bool(alarm), "the daemon raises an alarm on the on_battery series")
    if alarm:
        print(f"alarm {alarm[0]} after {time.time() - t0:.1f} s")

    def hook_runs():
        if not os.path.exists(hook_out):
            return None
        with open(hook_out) as fh:
            return [json.loads(x) for x in fh if x.strip()]

    runs = until(hook_runs, 20)
    f.check(bool(runs) and len(runs) == 1, f"the on-battery hook ran once: {runs}")
    if runs:
        env = runs[0]["env"]
        print(f"hook ran {time.time() - t0:.1f} s after the mains failure: {env}")
        f.check(env.get("WATTRACK_ALARM_CHANGE") == "raised", "hook: change raised")
        f.check(env.get("WATTRACK_ALARM_DEVICE") == "ups-1", "hook: the UPS's name")
        f.check(env.get("WATTRACK_ALARM_DEVICE_ID") == str(ups), "hook: the UPS's id")
        f.check((env.get("WATTRACK_ALARM_DEVICE_TYPE") or "").upper() == "UPS", "hook: device type")
        f.check(env.get("WATTRACK_ALARM_METRIC") == "on_battery", "hook: the metric")
        f.check(env.get("WATTRACK_ALARM_SEVERITY") == "critical", "hook: severity critical")
        f.check(env.get("WATTRACK_ALARM_RULE") == "UPS on battery", "hook: the rule")
        f.check(float(env.get("WATTRACK_ALARM_VALUE", "nan")) == 1.0, "hook: value 1 (on battery)")
        f.check(env.get("WATTRACK_ALARM_RACK") == "K7", f"hook: the rack K7 ({env.get('WATTRACK_ALARM_RACK')})")
        f.check(bool(alarm) and env.get("WATTRACK_ALARM_ID") == str(alarm[0][0]),
                "hook: the alarm's id")
        f.check(runs[0]["pgid_is_own"], "hook: its own process group")
        f.check(not any(k.startswith("PG") for k in env), "hook: none of the daemon's environment")

    # The critical alarm is mailed at once (immediate_severity error).
    msgs = until(lambda: smtp.messages(), 20)
    f.check(bool(msgs), "aiosmtpd receives the alarm e-mail")
    if msgs:
        rcpt, msg, raw = msgs[0]
        text = body_text(msg)
        print(f"mail {time.time() - t0:.1f} s after the mains failure: {msg['Subject']}")
        f.check("noc@example.com" in rcpt, f"mailed to noc@example.com: {rcpt}")
        # night@ is limited to after hours (mon-fri 08:00-18:00 UTC is business).
        now = time.gmtime()
        business = now.tm_wday < 5 and 8 <= now.tm_hour < 18
        got_night = any("night@example.com" in r for r, _, _ in msgs)
        if not business and not got_night:  # the second mail may trail the first
            got_night = bool(until(lambda: any("night@example.com" in r for r, _, _ in smtp.messages()), 5))
        f.check(got_night != business,
                f"the after-hours recipient {'is' if not business else 'is not'} mailed now")
        f.check(msg["Subject"].startswith("[dc1]"), f"subject prefix: {msg['Subject']}")
        f.check("ups-1" in msg["Subject"] + text, "the mail names the UPS")
        f.check("on_battery" in text or "on battery" in text.lower(), "the mail names the metric")
        f.check("K7" in text, "the mail gives the rack")
        f.check(msg["From"] and "wattrack@dc1.example.com" in msg["From"], "the From address")
    f.check(not os.path.exists(hook_out + ".pdu"), "the PDU-only hook did not run")
    f.check(until(lambda: "ups-1" in traplog_text(), 15),
            f"snmptrapd receives the v2c trap naming the UPS: {traplog_text()[-600:]!r}")
    sl = until(lambda: [x for x in syslog_lines() if "ups-1" in x], 15)
    f.check(bool(sl), "the syslog receiver gets the RFC 5424 message naming the UPS")
    if sl:
        # <PRI>: local3 (19) * 8 + crit (2) = 154; version 1 (RFC 5424)
        f.check(sl[0].startswith("<154>1 "), f"facility local3, severity crit: {sl[0][:80]!r}")
    f.check(q("SELECT count(*) FROM notify_outbox WHERE channel = 'hook' AND state = 'sent'")[0][0] >= 1,
            "the hook's outbox row is sent")

    # --- mains back: the alarm clears; the hook (raised only) does not run again ---
    st, _ = sim.post("ups-1", "mains", {"failed": False})
    f.check(st == 200, "mains restored")
    f.check(until(lambda: q("SELECT count(*) FROM alarms WHERE series_id = %s AND active", (sid,))[0][0] == 0, 20),
            "the alarm clears when the UPS is back on mains")
    time.sleep(2)
    f.check(len(hook_runs() or []) == 1, "the raised-only hook did not run on clear")

    rc = w.stop()
    w = None
    f.check(rc == 0, f"the daemon stops cleanly (rc {rc})")
finally:
    if w:
        w.stop()
    smtp.stop()
    stop_pid(trapd)
    sim.stop()
    pg.stop()
f.done()
