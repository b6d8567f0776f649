"""Syslog (RFC 5424 over UDP and TCP with octet counting), SNMP traps (v2c and
v3 authPriv, decoded by snmptrapd with WATTRACK-MIB) and action hooks (a
command on a UPS on-battery alarm, with the alarm in its environment and
its result in the audit log; a hung command killed at its timeout), all
from the real alarm table through the outbox. A syslog TCP outage loses
nothing and repeats nothing."""
import json
import os
import re
import socket
import ssl
import http.server
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from notifylib import HERE, Host, tmpdir, utc_ms  # noqa: E402
sys.path.insert(0, os.path.join(os.environ["WT_SOURCE_ROOT"], "tests/lib"))
from wtfix import Failures, Postgres, free_port, spawn, stop_pid  # noqa: E402

f = Failures()
pg = Postgres()
work = tmpdir("wt-notify-ch-")
ROOT = os.environ["WT_SOURCE_ROOT"]
T0 = utc_ms(2026, 11, 18, 9, 0)


# ---- receivers -------------------------------------------------------------
class UdpSyslog:
    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.msgs = []
        threading.Thread(target=self.run, daemon=True).start()

    def run(self):
        while True:
            data, _ = self.sock.recvfrom(65536)
            self.msgs.append(data.decode("utf-8"))


class TcpSyslog:
    """RFC 6587 octet-counting receiver; stop() closes the listener and peers."""

    def __init__(self, port=None, tls=None):
        self.port = port or free_port()
        self.msgs = []
        self.tls = tls
        self.handshake_errors = []
        self.start()

    def start(self):
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", self.port))
        self.lsock.listen()
        self.peers = []
        self.running = True
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while self.running:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            self.peers.append(c)
            threading.Thread(target=self.serve, args=(c,), daemon=True).start()

    def wrap(self, c):
        if not self.tls:
            return c
        try:
            return self.tls.wrap_socket(c, server_side=True)
        except (ssl.SSLError, OSError) as e:
            self.handshake_errors.append(str(e))
            c.close()
            return None

    def serve(self, c):
        c = self.wrap(c)
        if c is None:
            return
        buf = b""
        while True:
            try:
                d = c.recv(65536)
            except OSError:
                return
            if not d:
                return
            buf += d
            while True:
                m = re.match(rb"(\d+) ", buf)
                if not m:
                    break
                n = int(m.group(1))
                if len(buf) < m.end() + n:
                    break
                self.msgs.append(buf[m.end():m.end() + n].decode("utf-8"))
                buf = buf[m.end() + n:]

    def stop(self):
        self.running = False
        # shutdown wakes the thread blocked in accept(); close alone would
        # leave the kernel socket listening until accept returns
        try:
            self.lsock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.lsock.close()
        for p in self.peers:
            try:
                p.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            p.close()


def parse_5424(s):
    """Full RFC 5424 parse; returns a dict or raises ValueError."""
    m = re.match(r"<(\d{1,3})>(\d) (\S+) (\S+) (\S+) (\S+) (\S+) ", s)
    if not m:
        raise ValueError(f"header: {s!r}")
    pri, ver, ts, host, app, procid, msgid = m.groups()
    rest = s[m.end():]
    sd = {}
    if rest.startswith("-"):
        rest = rest[1:]
    else:
        while rest.startswith("["):
            m2 = re.match(r"\[([^ \]=\"]+)", rest)
            sdid = m2.group(1)
            i = m2.end()
            params = {}
            while rest[i] == " ":
                m3 = re.match(r" ([^ =\]\"]+)=\"", rest[i:])
                i += m3.end()
                val = ""
                while rest[i] != '"':
                    if rest[i] == "\\" and rest[i + 1] in '"\\]':
                        i += 1
                    elif rest[i] == "]":
                        raise ValueError("unescaped ] in a param value")
                    val += rest[i]
                    i += 1
                params[m3.group(1)] = val
                i += 1
            if rest[i] != "]":
                raise ValueError(f"SD element not closed: {rest[i:]!r}")
            sd[sdid] = params
            rest = rest[i + 1:]
    if rest.startswith(" "):
        rest = rest[1:]
    return {"pri": int(pri), "version": int(ver), "ts": ts, "host": host, "app": app,
            "procid": procid, "msgid": msgid, "sd": sd, "msg": rest}


def wait_for(pred, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.05)
    return pred()


# ---- snmptrapd -------------------------------------------------------------
ietf = "/usr/share/snmp/mibs/ietf"
mib_base = ietf if os.path.exists(os.path.join(ietf, "SNMPv2-SMI")) else \
    os.path.join(HERE, "mibs")
ENGINE = "0x80007ed904777474657374"
trap_port = free_port(socket.SOCK_DGRAM)
trapdir = os.path.join(work, "trapd")
os.makedirs(trapdir)
with open(os.path.join(trapdir, "snmptrapd.conf"), "w") as fh:
    fh.write("authCommunity log wtcommunity\n"
             f"createUser -e {ENGINE} wtuser SHA wt-auth-secret AES wt-priv-secret\n"
             "authUser log wtuser priv\n")
with open(os.path.join(trapdir, "snmp.conf"), "w") as fh:
    fh.write("mibs :\n")
traplog = os.path.join(trapdir, "out.log")
trapd = spawn(["snmptrapd", "-f", "-Lf", traplog, "-C", "-c",
               os.path.join(trapdir, "snmptrapd.conf"), f"-M+:{mib_base}:{ROOT}/packaging",
               "-m", "+WATTRACK-MIB", f"127.0.0.1:{trap_port}"],
              env=dict(os.environ, SNMP_PERSISTENT_DIR=trapdir, SNMPCONFPATH=trapdir),
              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
f.check(wait_for(lambda: os.path.exists(traplog) and "NET-SNMP version" in open(traplog).read()),
        "snmptrapd started")

# ---- webhook receiver ----------------------------------------------------------
posts = []


class WebHook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        posts.append((self.path, self.headers["Content-Type"], json.loads(body)))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *a):
        pass


web = http.server.HTTPServer(("127.0.0.1", 0), WebHook)
threading.Thread(target=web.serve_forever, daemon=True).start()

# ---- phase 1: UDP syslog, traps, hooks --------------------------------------
udp = UdpSyslog()
hook_out = os.path.join(work, "hook.jsonl")
cfg = {
    "conninfo": pg.dsn, "hostname": "wt-test.example.net", "clock": T0, "id_base": 5000,
    "engine_id": ENGINE,
    "syslog": {"server": "127.0.0.1", "port": udp.port, "proto": "udp", "facility": 16},
    "traps": [{"host": "127.0.0.1", "port": trap_port, "version": 2, "community": "wtcommunity"},
              {"host": "127.0.0.1", "port": trap_port, "version": 3, "user": "wtuser",
               "auth": "wt-auth-secret", "priv": "wt-priv-secret"},
              {"host": "127.0.0.1", "port": trap_port, "version": 2, "community": "wtcommunity",
               "inform": True}],
    "hooks": [{"name": "ups-shutdown", "device_type": "ups", "metric": "on_battery",
               "change": "raised", "min_severity": "error",
               "argv": ["/usr/bin/python3", os.path.join(HERE, "hook_env.py"), hook_out]},
              {"name": "hung", "device_type": "ups", "change": "cleared", "timeout_s": 1,
               "argv": ["/bin/sleep", "30"]},
              {"name": "web", "change": "raised", "min_severity": "warning",
               "url": f"http://127.0.0.1:{web.server_address[1]}/wattrack/alarm"}],
}
h = Host(cfg, work)
f.check(h.cmd("migrate").startswith("ok"), "migrations applied")
r = h.cmd("raise ups dev=905 sev=2 metric=on_battery value=1 thr=1 msg=UPS on battery")
ups_id = int(r.split()[1])
h.cmd(f"clock {T0 + 1500}")
r = h.cmd('raise pdu dev=3 sev=1 metric=current value=16.5 thr=16 msg=odd "quoted" ] \\ text')
pdu_id = int(r.split()[1])
h.cmd("sync")

f.check(wait_for(lambda: len(udp.msgs) >= 2), f"two UDP syslog messages ({len(udp.msgs)})")
parsed = []
for s in udp.msgs:
    try:
        parsed.append(parse_5424(s))
    except (ValueError, AttributeError, IndexError) as e:
        f.check(False, f"RFC 5424 parse failed: {e} in {s!r}")
if len(parsed) >= 2:
    a, b = parsed[0], parsed[1]
    f.check(a["pri"] == 16 * 8 + 2 and a["version"] == 1, f"PRI local0.crit, VERSION 1: {a}")
    f.check(a["ts"] == "2026-11-18T09:00:00.000Z", f"RFC 3339 timestamp: {a['ts']}")
    f.check(a["host"] == "wt-test.example.net" and a["app"] == "wattrack", "HOSTNAME and APP-NAME")
    f.check(a["procid"].isdigit() and a["msgid"] == "ALARM_RAISED", "PROCID and MSGID")
    sd = a["sd"].get("wattrack@32473", {})
    f.check(sd.get("alarm") == str(ups_id) and sd.get("device") == "ups-905" and
            sd.get("metric") == "on_battery" and sd.get("value") == "1" and
            sd.get("threshold") == "1" and sd.get("location") == "Sál 1 / Row 1 / R06" and
            sd.get("severity") == "critical" and sd.get("type") == "ups",
            f"structured data: {sd}")
    f.check(a["msg"] == "CRITICAL raised: UPS on battery", f"MSG: {a['msg']!r}")
    f.check(b["pri"] == 16 * 8 + 4 and b["ts"] == "2026-11-18T09:00:01.500Z", "warning PRI, ms")
    f.check('odd "quoted" ] \\ text' in b["msg"], "free-form MSG kept as is")

# Traps: one v2c and one v3 per alarm change, decoded with our MIB.
def trap_text():
    return open(traplog).read() if os.path.exists(traplog) else ""


f.check(wait_for(lambda: trap_text().count("WATTRACK-MIB::wtAlarmRaised") >= 6),
        "6 wtAlarmRaised notifications (2 alarms x v2c trap, v3 trap, v2c inform)")
inf = pg.sql("SELECT state, count(*) FROM notify_outbox WHERE channel = 'trap' AND "
             "target LIKE '127.0.0.1:%' GROUP BY 1")
f.check(inf == [["sent", "6"]], f"trap rows sent, the inform acknowledged: {inf}")
t = trap_text()
f.check("WATTRACK-MIB::wtAlarmDevice.0 = STRING: ups-905" in t, "device varbind named by the MIB")
f.check("WATTRACK-MIB::wtAlarmSeverity.0 = INTEGER: critical(3)" in t, "severity enum decoded")
f.check("WATTRACK-MIB::wtAlarmLocation.0 = STRING: \"Sál 1 / Row 1 / R06\"" in t or
        "wtAlarmLocation.0 = STRING: Sál 1 / Row 1 / R06" in t or "wtAlarmLocation.0" in t,
        "location varbind present")
f.check("WATTRACK-MIB::wtAlarmMetric.0 = STRING: on_battery" in t, "metric varbind")
f.check("WATTRACK-MIB::wtAlarmThreshold.0 = STRING: 16" in t, "threshold varbind")
f.check(t.count("UDP: [127.0.0.1]") >= 6, "traps came from loopback")
f.check(t.count("wtAlarmRaised") == 6,
        "the v3 traps were authenticated and decrypted (snmptrapd logs only what passes "
        "authUser priv; v2c alone makes 4)")

# Hook: ran once for the UPS on-battery alarm, not for the PDU.
f.check(wait_for(lambda: os.path.exists(hook_out)), "hook ran")
runs = [json.loads(l) for l in open(hook_out)] if os.path.exists(hook_out) else []
f.check(len(runs) == 1, f"hook ran exactly once ({len(runs)})")
if runs:
    env = runs[0]["env"]
    f.check(env.get("WATTRACK_ALARM_ID") == str(ups_id) and
            env.get("WATTRACK_ALARM_SEVERITY") == "critical" and
            env.get("WATTRACK_ALARM_DEVICE") == "ups-905" and
            env.get("WATTRACK_ALARM_DEVICE_TYPE") == "ups" and
            env.get("WATTRACK_ALARM_METRIC") == "on_battery" and
            env.get("WATTRACK_ALARM_VALUE") == "1" and
            env.get("WATTRACK_ALARM_CHANGE") == "raised" and
            env.get("WATTRACK_ALARM_LOCATION") == "Sál 1 / Row 1 / R06",
            f"hook environment: {env}")
    f.check(runs[0]["pgid_is_own"], "hook runs in its own process group")
    f.check(not any(k.startswith("PG") for k in env), "no daemon environment leaks in")
aud = pg.sql("SELECT severity, object_id, message, rtrim(details->>'output', E'\\n'), "
             "details->>'status' "
             "FROM audit_log WHERE message LIKE 'hook %' ORDER BY id")
f.check(len(aud) == 1 and aud[0][1] == str(ups_id) and aud[0][4] == "0" and
        "exited with status 0" in aud[0][2] and "shutdown requested for servers fed by ups-905"
        in aud[0][3], f"hook result in the audit log: {aud}")

# The webhook got both raised alarms as JSON.
f.check(wait_for(lambda: len(posts) == 2), f"two webhook POSTs ({len(posts)})")
f.check(all(p[0] == "/wattrack/alarm" and p[1] == "application/json" for p in posts),
        "POSTed as application/json to the configured path")
f.check(sorted(p[2].get("alarm_id") for p in posts) == sorted([ups_id, pdu_id]) and
        all(p[2].get("change") == "raised" for p in posts), "webhook bodies are the alarm JSON")
aud = pg.sql("SELECT count(*) FROM audit_log WHERE message = 'webhook web answered HTTP 200'")
f.check(aud == [["2"]], f"webhook results audited: {aud}")

# The hung hook: killed at its 1 s timeout, audited as an error.
h.cmd(f"clock {T0 + 60000}")
t0 = time.time()
h.cmd("clear ups 0")
h.cmd("sync")
took = time.time() - t0
aud = pg.sql("SELECT severity, message, details->>'timed_out' FROM audit_log "
             "WHERE message LIKE 'hook hung%'")
f.check(aud == [["4", "hook hung timed out after 1 s and was killed", "true"]],
        f"a hung hook is killed and audited: {aud}")
f.check(took < 8, f"the timeout bounds the wait ({took:.1f} s)")
f.check(subprocess.run(["pgrep", "-f", "^/bin/sleep 30$"], capture_output=True).stdout == b"",
        "no sleep process left behind")
f.check(wait_for(lambda: "wtAlarmCleared" in trap_text()), "wtAlarmCleared trap")
f.check(wait_for(lambda: any("ALARM_CLEARED" in m for m in udp.msgs)), "cleared syslog message")
f.check(h.close() == 0, "host exits cleanly")

# ---- phase 2: TCP syslog with an outage --------------------------------------
tcp = TcpSyslog()
cfg2 = {"conninfo": pg.dsn, "hostname": "wt-test.example.net", "clock": T0 + 120000,
        "id_base": 6000, "retry_base_s": 10,
        "syslog": {"server": "127.0.0.1", "port": tcp.port, "proto": "tcp", "facility": 23}}
h = Host(cfg2, work)
for i in range(3):
    h.cmd(f"raise t{i} dev={40 + i} sev=1 metric=current value=17 thr=16 msg=tcp {i}")
h.cmd("sync")
f.check(wait_for(lambda: len(tcp.msgs) == 3), f"3 messages over TCP ({len(tcp.msgs)})")
ok = True
for s in tcp.msgs:
    try:
        p = parse_5424(s)
        ok &= p["pri"] == 23 * 8 + 4 and p["version"] == 1
    except (ValueError, AttributeError, IndexError):
        ok = False
f.check(ok, "TCP frames are whole RFC 5424 messages with PRI local7.warning")
tcp.stop()
time.sleep(0.2)
h.cmd(f"clock {T0 + 130000}")
r = h.cmd("raise out dev=50 sev=1 metric=current value=17 thr=16 msg=during outage")
out_id = int(r.split()[1])
h.cmd("sync")
st = pg.sql(f"SELECT state, attempts, coalesce(last_error, '') FROM notify_outbox "
            f"WHERE channel = 'syslog' AND alarm_id = {out_id}")
f.check(st and st[0][0] == "pending" and st[0][1] == "1" and "127.0.0.1" in st[0][2],
        f"syslog row pending with the reason during the outage: {st}")
tcp.start()
h.cmd(f"clock {T0 + 141000}")
h.cmd("sync")
f.check(wait_for(lambda: sum("during outage" in m for m in tcp.msgs) == 1),
        "the outage message arrives after the receiver returns")
h.cmd(f"clock {T0 + 300000}")
h.cmd("sync")
time.sleep(0.3)
f.check(sum("during outage" in m for m in tcp.msgs) == 1, "exactly once")
f.check(len(tcp.msgs) == 4, f"nothing repeated ({len(tcp.msgs)} messages)")
# PostgreSQL away: events wait in memory, nothing is sent before it is in
# the outbox, and everything goes once the database is back.
pg.stop()
h.cmd(f"clock {T0 + 310000}")
r = h.cmd("raise dbdown dev=51 sev=1 metric=current value=17 thr=16 msg=while the database is away")
f.check(h.cmd("sync 1500") == "error sync", "sync reports the outbox cannot be written")
f.check(not any("database is away" in m for m in tcp.msgs), "nothing sent before the outbox")
st = h.cmd("stats")
f.check("depth=1 " in st and "connected=0" in st, f"the event waits in memory: {st}")
pg.start()
f.check(h.cmd("sync") == "ok sync", "sync succeeds once the database is back")
f.check(wait_for(lambda: sum("database is away" in m for m in tcp.msgs) == 1),
        "the event written and sent after the outage, once")
f.check(h.close() == 0, "host exits cleanly")

# ---- phase 3: TLS (RFC 5425) with certificate verification -------------------
key, crt = os.path.join(work, "k.pem"), os.path.join(work, "c.pem")
subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                "-out", crt, "-days", "2", "-subj", "/CN=wt-syslog",
                "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
sctx.load_cert_chain(crt, key)
tls = TcpSyslog(tls=sctx)
cfg3 = {"conninfo": pg.dsn, "hostname": "wt-test.example.net", "clock": T0 + 400000,
        "id_base": 7000, "retry_base_s": 10,
        "syslog": {"server": "127.0.0.1", "port": tls.port, "proto": "tls", "cafile": crt}}
h = Host(cfg3, work)
h.cmd("raise tls1 dev=60 sev=2 metric=current value=33 thr=32 msg=over TLS")
h.cmd("sync")
f.check(wait_for(lambda: len(tls.msgs) == 1), f"one message over TLS ({len(tls.msgs)})")
f.check(tls.msgs and parse_5424(tls.msgs[0])["msg"] == "CRITICAL raised: over TLS",
        "the TLS frame is an RFC 5424 message")
f.check(h.close() == 0, "host exits cleanly")
# A certificate the configured CA does not vouch for is refused with a reason.
cfg3["syslog"]["cafile"] = "/etc/ssl/certs/ca-certificates.crt"
cfg3["id_base"] = 8000
h = Host(cfg3, work)
r = h.cmd("raise tls2 dev=61 sev=2 metric=current value=33 thr=32 msg=untrusted")
bad_id = int(r.split()[1])
h.cmd("sync")
st = pg.sql(f"SELECT state, coalesce(last_error, '') FROM notify_outbox WHERE alarm_id = {bad_id}")
f.check(st and st[0][0] == "pending" and "certificate" in st[0][1],
        f"an untrusted certificate keeps the row pending with the reason: {st}")
f.check(len(tls.msgs) == 1, "nothing sent to the untrusted server")
f.check(h.close() == 0, "host exits cleanly")
tls.stop()
pg.sql(f"UPDATE notify_outbox SET state = 'failed' WHERE alarm_id = {bad_id}")
hist = pg.sql("SELECT channel, state, count(*) FROM notify_outbox GROUP BY 1, 2 ORDER BY 1, 2")
f.check(all(r[1] == "sent" for r in hist if r[1] != "failed"), f"every outbox row sent: {hist}")

# Retention: finished rows older than retention_days go; pending ones stay.
n_all = int(pg.sql("SELECT count(*) FROM notify_outbox")[0][0])
pg.sql("INSERT INTO notify_outbox (channel, target, created_ms, change, severity, event, "
       f"next_attempt_ms) VALUES ('hook', 'gone-hook', {T0}, 'raised', 3, '{{}}', {T0 + 10**12})")
h = Host({"conninfo": pg.dsn, "clock": T0 + 3 * 86400000, "retention_days": 2}, work)
h.cmd("sync")
left = pg.sql("SELECT state, count(*) FROM notify_outbox GROUP BY 1")
f.check(n_all > 10 and left == [["pending", "1"]],
        f"retention deleted {n_all} finished rows, kept the pending one: {left}")
f.check(h.close() == 0, "host exits cleanly")
stop_pid(trapd)
tcp.stop()
f.done()
