#!/usr/bin/python3
"""The API's operator routes against the real daemon, real PostgreSQL,
wattrack-sim and a real SMTP server (aiosmtpd):

- POST /api/v1/probe: SNMP v2c, SNMPv3, Modbus and Redfish devices of the
  simulator answer with what `wattrack probe` prints (profile, identity,
  readings); a dead address answers "unreachable" within its timeout; a bad
  URL is a 400 naming "url"; more than 4 at once get 429; the URL's
  credentials appear neither in the reply nor in the log, nor in any
  process's argv (ps).
- POST/GET /api/v1/discovery: a scan with its own ports and write-only
  communities finds the SNMP device with its profile and reports the dead
  port skipped with a reason; 409 while it runs; no community in the status.
- PATCH /api/v1/settings: reloadable settings change at once, all or
  nothing, audited (who, old -> new), written back to the configuration file
  (comments kept) so that a SIGHUP keeps them; 400 naming the key for an
  unknown, restart-only or invalid one; secrets never echoed.
- POST /api/v1/notifications/test-mail: delivered to the SMTP server, or
  the SMTP error in the reply.
- The role table of these routes: allowed roles succeed, others 403,
  no credentials 401."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

ROOT = os.environ.get("WT_SOURCE_ROOT", ".")
sys.path.insert(0, os.path.join(ROOT, "tests/sim"))
sys.path.insert(0, os.path.join(ROOT, "tests/integration"))
sys.path.insert(0, os.path.join(ROOT, "tests/api"))
sys.path.insert(0, os.path.join(ROOT, "tests/notify"))
from simfix import port_range_sim  # noqa: E402
from wtdaemon import TEST_API, WATTRACK, Daemon  # noqa: E402
from wtfix import Failures, Postgres, tmpdir, free_port  # noqa: E402
from apilib import Client, daemon_admin, err_code, is_error_shape, query, until  # noqa: E402
from notifylib import Smtp  # noqa: E402

f = Failures()
d = tmpdir()

COMMUNITY = "probe-Vx8Secret"
V3_AUTH = "v3auth-Qm4Secret"
V3_PRIV = "v3priv-Lp7Secret"
RF_PASS = "rfpass-Tz2Secret"
DISC_COMMUNITY = "disc-Wn5Secret"
SECRETS = [COMMUNITY, V3_AUTH, V3_PRIV, RF_PASS, DISC_COMMUNITY]

fleet_in = {"devices": [
    {"name": "pdu-v2", "model": "apc-rpdu2", "protocol": "snmp", "wiring": "1ph", "outlets": 8,
     "snmp": {"community": COMMUNITY,
              "v3": {"user": "wt-probe-v3", "auth": "sha256", "auth_pass": V3_AUTH,
                     "priv": "aes", "priv_pass": V3_PRIV}}},
    {"name": "pdu-disc", "model": "apc-rpdu2", "protocol": "snmp", "wiring": "1ph", "outlets": 8,
     "snmp": {"community": DISC_COMMUNITY}},
    {"name": "mb-pdu", "model": "modbus-pdu", "protocol": "modbus", "wiring": "1ph", "outlets": 8},
    {"name": "rf-pdu", "model": "redfish-pdu", "protocol": "redfish", "wiring": "1ph", "outlets": 8,
     "http": {"user": "admin", "password": RF_PASS}},
]}
fleet_file = os.path.join(d, "fleet-in.json")
with open(fleet_file, "w") as fh:
    json.dump(fleet_in, fh)

pg = Postgres()
sim, base = port_range_sim(["--fleet", fleet_file])
by_name = {x["name"]: x for x in sim.devices}
snmp_port = by_name["pdu-v2"]["snmp"]["port"]
disc_port = by_name["pdu-disc"]["snmp"]["port"]
mb = by_name["mb-pdu"]["modbus"]
rf = by_name["rf-pdu"]["http"]
dead_port = free_port()  # nothing answers there (UDP)
smtp = Smtp(d)

conf = os.path.join(d, "wattrack.conf")
CONF_TEXT = (f'# wattrack test configuration\ndatabase.url = "{pg.dsn}"\n'
             f"state_dir = {os.path.join(d, 'state')}\n"
             "# polling: the operator's comment stays\npoll.interval = 2s\n"
             "poll.timeout = 500ms\npoll.retries = 0  # the bench's note\n"
             "storage.flush_interval = 5s\ndevices.rescan = 1s\nworkers.threads = 3\n"
             f"notify.mail.server = 127.0.0.1\nnotify.mail.port = {smtp.port}\n"
             "notify.mail.tls = none\nnotify.mail.sender = wattrack@example.com\n" + TEST_API)
with open(conf, "w") as fh:
    fh.write(CONF_TEXT)


def q(sql, args=()):
    return query(pg.dsn, sql, args)


w = None
argv_seen = []
stop_ps = threading.Event()


def watch_ps():
    """Every process's argv, while the probes run: no credential in any."""
    while not stop_ps.is_set():
        for pid in os.listdir("/proc"):
            if pid.isdigit():
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as fh:
                        argv_seen.append(fh.read().decode("utf-8", "replace"))
                except OSError:
                    pass
        time.sleep(0.05)


try:
    w = Daemon(conf)
    f.check(w.wait_for(r"wattrack ready", timeout=90) is not None, "the daemon starts")
    port, admin = daemon_admin(w, "Admin password 1")
    st, _, js = admin.call("GET", "/api/v1/session")
    f.check(st == 200 and (js.get("user") or {}).get("username") == "admin", f"admin logged in: {st} {js}")
    users = {}
    for role in ("admin", "readwrite", "power", "poweron", "poweroff", "readonly"):
        st, _, js = admin.call("POST", "/api/v1/users",
                               {"username": f"r-{role}", "password": f"{role} password 1",
                                "roles": [role], "must_change": False})
        f.check(st == 201, f"user r-{role}: {st} {js}")
        c = Client(port)
        st, _, _ = c.login(f"r-{role}", f"{role} password 1")
        users[role] = c
    rw = users["readwrite"]
    ro = users["readonly"]

    # ---- probe ----------------------------------------------------------------
    ps = threading.Thread(target=watch_ps, daemon=True)
    ps.start()

    def probe(c, url, **kw):
        body = {"url": url}
        body.update(kw)
        t0 = time.time()
        st, _, js = c.call("POST", "/api/v1/probe", body)
        return st, js, time.time() - t0

    st, js, took_api = probe(rw, f"snmp://{COMMUNITY}@127.0.0.1:{snmp_port}")
    t0 = time.time()
    cli = subprocess.run([WATTRACK, "probe", "-"], input=f"snmp://{COMMUNITY}@127.0.0.1:{snmp_port}\n",
                         capture_output=True, text=True, timeout=60)
    took_cli = time.time() - t0
    print(f"probe of an 8-outlet SNMP PDU: {took_api:.2f} s through the API, "
          f"{took_cli:.2f} s with wattrack probe", flush=True)

    def shape(j):
        return (sorted(k for k in j if k != "exit_code"), j.get("profile"), j.get("identity"),
                j.get("url"), [(e["kind"], e["index"], e["name"], [r["oid"] for r in e["readings"]])
                               for e in j.get("entities", [])])

    cj = json.loads(cli.stdout) if cli.returncode == 0 else {}
    f.check(cli.returncode == 0 and st == 200 and shape(cj) == shape(js),
            f"the API answers what `wattrack probe` prints (rc {cli.returncode})")
    f.check(st == 200 and js.get("status") == "ok" and js.get("exit_code") == 0
            and js.get("protocol") == "snmp" and js.get("snmp_version") == "2c"
            and (js.get("profile") or {}).get("name") == "apc-rpdu2"
            and js["identity"]["serial"] == by_name["pdu-v2"].get("serial")
            and any(e["kind"] == "outlet" for e in js.get("entities", [])),
            f"probe SNMP v2c: profile, identity, outlets: {st} {str(js)[:300]}")
    f.check(js.get("url") == f"snmp://127.0.0.1:{snmp_port}" and COMMUNITY not in json.dumps(js),
            f"the community is not echoed: {js.get('url')}")
    cur = [r for e in js.get("entities", []) if e["kind"] == "outlet" for r in e["readings"]
           if r["metric"] == "current"]
    f.check(cur and all(isinstance(r["value"], (int, float)) for r in cur),
            f"outlet currents read: {cur[:2]}")

    st, js, _ = probe(rw, f"snmpv3://wt-probe-v3:{V3_AUTH}:{V3_PRIV}@127.0.0.1:{snmp_port}"
                      "?auth=SHA-256&priv=AES")
    f.check(st == 200 and js.get("status") == "ok" and js.get("snmp_version") == "3"
            and (js.get("profile") or {}).get("name") == "apc-rpdu2",
            f"probe SNMPv3 authPriv: {st} {str(js)[:300]}")
    f.check(not any(s in json.dumps(js) for s in SECRETS), "no v3 passphrase in the reply")

    st, js, _ = probe(rw, f"snmpv3://wt-probe-v3:wrong-pass-1:{V3_PRIV}@127.0.0.1:{snmp_port}"
                      "?auth=SHA-256&priv=AES", timeout_ms=300)
    f.check(st == 200 and js.get("status") in ("auth_failed", "unreachable")
            and js.get("exit_code") == 1, f"probe SNMPv3 with a wrong passphrase: {st} {js}")

    st, js, _ = probe(rw, f"modbus://127.0.0.1:{mb['port']}?unit={mb['unit']}")
    f.check(st == 200 and js.get("status") == "ok" and js.get("protocol") == "modbus"
            and len(js.get("samples", [])) > 5, f"probe Modbus: {st} {str(js)[:300]}")

    st, js, _ = probe(rw, f"redfish://admin:{RF_PASS}@127.0.0.1:{rf['port']}")
    f.check(st == 200 and js.get("status") == "ok" and js.get("protocol") == "redfish"
            and len(js.get("samples", [])) > 5 and RF_PASS not in json.dumps(js),
            f"probe Redfish, password not echoed: {st} {str(js)[:300]}")

    st, js, took = probe(rw, f"snmp://{COMMUNITY}@127.0.0.1:{dead_port}", timeout_ms=300)
    f.check(st == 200 and js.get("status") == "unreachable" and js.get("exit_code") == 1
            and "timeout" in (js.get("error") or "") and took < 10,
            f"probe of a dead address: unreachable (timeout) in {took:.1f}s: {st} {js}")

    for body, what in [({"url": "ftp://x"}, "scheme"),
                       ({"url": "snmp://"}, "no host"),
                       ({"url": f"snmp://{COMMUNITY}@"}, "no host after a community"),
                       ({"url": f"snmpv3://u:{V3_AUTH}:{V3_PRIV}@h?auth=MD7"}, "bad auth"),
                       ({"url": "snmp://a@127.0.0.1", "deadline_s": 0}, "deadline_s"),
                       ({"url": f"snmp://{COMMUNITY}@127.0.0.1:{snmp_port}\nx"}, "newline"),
                       ({"url": "snmp://a@127.0.0.1", "timeout_ms": 5}, "timeout_ms"),
                       ({"url": 5}, "type"), ({}, "missing")]:
        st, _, js = rw.call("POST", "/api/v1/probe", body)
        field = what if what in ("timeout_ms", "deadline_s") else "url"
        f.check(st == 400 and is_error_shape(js) and f'"{field}"' in js["error"]["message"]
                and not any(x in json.dumps(js) for x in SECRETS),
                f"bad probe ({what}) names {field}, no secret: {st} {js}")

    # a device that accepts and never answers: the probe is killed at its deadline
    mute = socket.socket()
    mute.bind(("127.0.0.1", 0))
    mute.listen(8)
    st, js, took = probe(rw, f"modbus://127.0.0.1:{mute.getsockname()[1]}?unit=1",
                         timeout_ms=10000, deadline_s=1)
    f.check(st == 504 and err_code(js) == "PROBE_TIMEOUT" and 0.9 < took < 8,
            f"a probe past its deadline: 504 in {took:.1f}s: {st} {js}")
    mute.close()

    # at most 4 at once: six slow probes of a dead address, started together
    results = []

    def one():
        c = Client(port)
        c.cookie, c.csrf = rw.cookie, rw.csrf
        st, js, took = probe(c, f"snmp://{COMMUNITY}@127.0.0.1:{dead_port}", timeout_ms=1500)
        results.append((st, err_code(js) if st != 200 else js.get("status")))

    ts = [threading.Thread(target=one) for _ in range(6)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    codes = sorted(st for st, _ in results)
    f.check(codes.count(200) == 4 and codes.count(429) == 2
            and all(c == "TOO_MANY_PROBES" for st, c in results if st == 429),
            f"four probes at once, the others 429: {results}")
    stop_ps.set()
    ps.join(5)
    st, js, _ = probe(rw, f"snmp://{COMMUNITY}@127.0.0.1:{snmp_port}")
    f.check(st == 200 and js.get("status") == "ok", f"probing works again afterwards: {st}")
    f.check(argv_seen and not any(s in a for a in argv_seen for s in SECRETS),
            f"no credential in any process's argv ({len(argv_seen)} looked at)")
    f.check(any("\0probe\0" in a for a in argv_seen),
            "the probe ran as a child process (seen in ps, without its URL)")

    # ---- discovery --------------------------------------------------------------
    st, _, js = ro.call("POST", "/api/v1/discovery", {"targets": "127.0.0.1"})
    f.check(st == 403 and err_code(js) == "FORBIDDEN", f"readonly may not scan: {st} {js}")
    st, _, js = rw.call("POST", "/api/v1/discovery", {"targets": "127.0.0.1"})
    f.check(st == 400 and '"communities"' in js["error"]["message"],
            f"no community configured nor given: 400 naming communities: {st} {js}")
    st, _, js = rw.call("POST", "/api/v1/discovery", {"targets": "127.0.0.1", "ports": "9-1",
                                                      "communities": DISC_COMMUNITY})
    f.check(st == 400 and '"ports"' in js["error"]["message"], f"bad ports: {st} {js}")
    for bad_t in ("not a host!", "10.0.0.0/33"):
        st, _, js = rw.call("POST", "/api/v1/discovery", {"targets": bad_t,
                                                          "communities": DISC_COMMUNITY})
        f.check(st == 400 and '"targets"' in js["error"]["message"],
                f"bad targets {bad_t!r}: {st} {js}")
    st, _, js = rw.call("POST", "/api/v1/discovery",
                        {"targets": "127.0.0.1", "ports": f"{disc_port},{dead_port}",
                         "communities": f"nobody-knows-this, {DISC_COMMUNITY}"})
    f.check(st == 202 and js.get("state") == "running" and js.get("scan", 0) >= 1
            and js.get("ports") == f"{disc_port},{dead_port}", f"scan started: {st} {js}")
    scan = js.get("scan")
    st2, _, js2 = rw.call("POST", "/api/v1/discovery", {"targets": "127.0.0.1",
                                                        "communities": DISC_COMMUNITY})
    f.check(st2 == 409 and err_code(js2) == "SCAN_RUNNING", f"409 while it runs: {st2} {js2}")
    st, _, js = ro.call("GET", "/api/v1/discovery")
    f.check(st == 200 and js.get("scan") == scan and js.get("state") in ("running", "done"),
            f"readonly follows the scan: {st} {js}")
    done = until(lambda: (lambda r: r[2] if r[0] == 200 and r[2].get("state") == "done" else None)(
        ro.call("GET", "/api/v1/discovery")), 30)
    f.check(bool(done), f"the scan finishes: {done}")
    done = done or {}
    found = [x for x in done.get("results", []) if x.get("port") == disc_port]
    skipped = [x for x in done.get("results", []) if x.get("port") == dead_port]
    f.check(found and found[0]["status"] == "found" and found[0]["profile"] == "apc-rpdu2"
            and found[0].get("action") == "registered" and found[0].get("credential") == "community #2",
            f"found with its profile and a credential label: {found}")
    f.check(skipped and skipped[0]["status"] != "found" and skipped[0].get("reason"),
            f"the dead port is skipped with a reason: {skipped}")
    f.check(not any(s in json.dumps(done) for s in SECRETS), "no community in the status")
    reg = until(lambda: q("SELECT name, profile, rack_id FROM devices WHERE port = %s",
                          (disc_port,)), 10)
    f.check(reg and reg[0][1] == "apc-rpdu2" and reg[0][2] is None,
            f"registered unassigned with its profile: {reg}")
    f.check(until(lambda: q("SELECT count(*) FROM audit_log WHERE message LIKE "
                            "'discovery scan %%started%%' AND actor = 'r-readwrite'")[0][0] == 1, 5),
            "the scan's start is audited with who")

    # ---- settings -----------------------------------------------------------------
    def setting(c, name):
        st, _, js = c.call("GET", "/api/v1/settings")
        return {s["name"]: s for s in js.get("settings", [])}.get(name, {}).get("value")

    f.check(setting(admin, "poll.interval") == "2s", "poll.interval is 2s at first")
    st, _, js = rw.call("PATCH", "/api/v1/settings", {"poll.interval": "3s"})
    f.check(st == 403 and err_code(js) == "FORBIDDEN" and "settings" in js["error"]["message"],
            f"readwrite may not change settings: {st} {js}")
    mark = w.mark()
    st, _, js = admin.call("PATCH", "/api/v1/settings", {"poll.interval": "3s", "poll.retries": 2,
                                                         "log.level": "info"})
    f.check(st == 200 and js.get("persisted") is True and js.get("file") == conf
            and sorted((x["name"], x["old"], x["new"]) for x in js.get("changed", []))
            == [("poll.interval", "2s", "3s"), ("poll.retries", "0", "2")],
            f"two settings changed (log.level unchanged), persisted: {st} {js}")
    f.check(setting(admin, "poll.interval") == "3s" and setting(admin, "poll.retries") == "2",
            "GET /settings shows the new values at once")
    f.check(w.wait_for(r"api: setting poll\.interval: 2s -> 3s", timeout=5, start=mark) is not None,
            "the change is logged")
    text = open(conf).read()
    f.check("poll.interval = 3s\n" in text and "poll.retries = 2  # the bench's note\n" in text
            and "# polling: the operator's comment stays\n" in text
            and "poll.interval = 2s" not in text and text.count("poll.interval") == 1
            and f"notify.mail.port = {smtp.port}\n" in text,
            f"written back in place, comments kept:\n{text}")
    aud = until(lambda: q("SELECT actor, message, details::text FROM audit_log WHERE "
                          "object_kind = 'setting' ORDER BY id"), 5)
    f.check(len(aud) == 2 and all(a[0] == "admin" for a in aud)
            and any("poll.interval changed: 2s -> 3s" in a[1] for a in aud),
            f"each change audited with who, old and new: {aud}")
    # the file and the running configuration agree: a SIGHUP changes nothing
    mark = w.mark()
    w.signal(signal.SIGHUP)
    i = w.wait_for(r"reload: done, (\d+) changes? applied", timeout=10, start=mark)
    f.check(i is not None and "done, 0 changes applied" in w.lines[i],
            f"SIGHUP after the change: nothing to apply ({i is not None and w.lines[i]})")
    f.check(setting(admin, "poll.interval") == "3s", "the change survives a reload")

    before = open(conf).read()
    for body, key in [({"poll.interval": "4s", "no.such.key": 1}, "no.such.key"),
                      ({"poll.interval": "4s", "state_dir": "/tmp/x"}, "state_dir"),
                      ({"poll.interval": "banana"}, "poll.interval"),
                      ({"poll.retries": 99}, "poll.retries"),
                      ({"poll.interval": "4s", "poll.timeout": "5s"}, "poll.timeout"),
                      ({"poll.interval": ["4s"]}, "poll.interval")]:
        st, _, js = admin.call("PATCH", "/api/v1/settings", body)
        f.check(st == 400 and is_error_shape(js) and f'"{key}"' in js["error"]["message"],
                f"bad settings {body} name {key}: {st} {js}")
    f.check(setting(admin, "poll.interval") == "3s" and open(conf).read() == before,
            "nothing applied nor written when any key is bad")
    st, _, js = admin.call("PATCH", "/api/v1/settings", {"discovery.communities": "S3cr3t-Xq9"})
    f.check(st == 400 and '"discovery.communities"' in js["error"]["message"]
            and "S3cr3t-Xq9" not in json.dumps(js), f"a secret that needs a restart: {st} {js}")
    st, _, js = admin.call("GET", "/api/v1/settings")
    dc = {s["name"]: s for s in js.get("settings", [])}.get("discovery.communities", {})
    f.check(dc.get("secret") is True and "S3cr3t" not in json.dumps(js), f"secrets masked: {dc}")

    # ---- test e-mail --------------------------------------------------------------
    st, _, js = rw.call("POST", "/api/v1/notifications/test-mail", {"to": "ops@example.com"})
    f.check(st == 403, f"readwrite may not send test mail: {st} {js}")
    st, _, js = admin.call("POST", "/api/v1/notifications/test-mail", {"to": "ops@example.com"})
    f.check(st == 200 and js.get("delivered") is True and js.get("error") is None,
            f"test mail delivered: {st} {js}")
    msgs = until(lambda: [m for m in smtp.messages() if "ops@example.com" in m[0]], 5)
    f.check(msgs and "wattrack" in str(msgs[0][1]["Subject"]).lower(),
            f"the SMTP server received it: {msgs and msgs[0][1]['Subject']}")
    st, _, js = admin.call("POST", "/api/v1/notifications/test-mail", {"to": "reject-me@example.com"})
    f.check(st == 200 and js.get("delivered") is False and "550" in (js.get("error") or ""),
            f"the SMTP error is in the reply: {st} {js}")
    st, _, js = admin.call("POST", "/api/v1/notifications/test-mail", {"to": "not an address"})
    f.check(st == 400 and '"to"' in js["error"]["message"], f"bad address: {st} {js}")

    # ---- the role table of these routes (real layers: allowed ones succeed) -----------
    PERMS = {"admin": {"read", "configure", "settings"}, "readwrite": {"read", "configure"},
             "power": {"read"}, "poweron": {"read"}, "poweroff": {"read"}, "readonly": {"read"}}
    CASES = [
        ("POST", "/api/v1/probe", {"url": f"snmp://x@127.0.0.1:{dead_port}", "timeout_ms": 100},
         "configure", 200),
        ("GET", "/api/v1/discovery", None, "read", 200),
        ("POST", "/api/v1/discovery", {"targets": "127.0.0.1", "ports": str(dead_port),
                                       "communities": "x"}, "configure", 202),
        ("PATCH", "/api/v1/settings", {"poll.retries": 2}, "settings", 200),
        ("POST", "/api/v1/notifications/test-mail", {"to": "roles@example.com"}, "settings", 200),
    ]
    anon = Client(port)
    for method, path, body, perm, ok in CASES:
        for role, c in users.items():
            if method == "POST" and path == "/api/v1/discovery":
                until(lambda: ro.call("GET", "/api/v1/discovery")[2].get("state") != "running", 15)
            st, _, js = c.call(method, path, body)
            if perm in PERMS[role]:
                f.check(st == ok, f"{role}: {method} {path} allowed: {st} {js}")
            else:
                f.check(st == 403 and err_code(js) == "FORBIDDEN" and perm in js["error"]["message"],
                        f"{role}: {method} {path} forbidden naming {perm}: {st} {js}")
        st, _, js = anon.call(method, path, body)
        f.check(st == 401 and err_code(js) == "AUTH_REQUIRED", f"anonymous {method} {path}: {st} {js}")
    until(lambda: ro.call("GET", "/api/v1/discovery")[2].get("state") != "running", 15)

    # a probe still running when the daemon stops: the child is killed, the request answered
    # 503, and nothing leaks (the sanitizer check below)
    mute2 = socket.socket()
    mute2.bind(("127.0.0.1", 0))
    mute2.listen(8)
    late = {}

    def slow_probe():
        try:
            late["r"] = probe(rw, f"modbus://127.0.0.1:{mute2.getsockname()[1]}?unit=1",
                              timeout_ms=10000, deadline_s=120)
        except Exception as e:  # the connection may close first: that is an answer too
            late["r"] = (None, {"exception": repr(e)}, 0)

    th = threading.Thread(target=slow_probe)
    th.start()
    mute2.settimeout(10)
    held = mute2.accept()[0]  # the child is connected and waiting for an answer
    t0 = time.time()
    rc_early = w.stop()
    took_stop = time.time() - t0
    th.join(15)
    held.settimeout(3)
    try:
        while (got := held.recv(4096)) != b"":  # its request, then EOF when it is killed
            pass
    except ConnectionResetError:
        got = b""
    except OSError as e:
        got = repr(e)
    child_gone = got == b""
    held.close()
    mute2.close()
    st, js, _ = late.get("r", (None, {}, 0))
    f.check(rc_early == 0 and took_stop < 15 and st == 503 and err_code(js) == "SHUTTING_DOWN",
            f"a probe running at shutdown is answered 503 ({took_stop:.1f}s, rc {rc_early}): "
            f"{st} {js}")
    f.check(child_gone, f"the probe's child process is killed when the daemon stops: {got!r}")
finally:
    stop_ps.set()
    rc = w.stop() if w else -1
    sim.stop()
    smtp.stop()
f.check(rc == 0, f"the daemon stops cleanly (rc {rc})")
log = "\n".join((w.lines if w else []))
f.check(log and not any(s in log for s in SECRETS + ["S3cr3t-Xq9"]), "no secret in the daemon's log")
f.check(not re.search(r"AddressSanitizer|runtime error|LeakSanitizer", log), "no sanitizer report")
pg.stop()
f.done()
