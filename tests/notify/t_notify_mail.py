"""E-mail notifications end to end: the real alarm table -> wt_notify ->
PostgreSQL outbox -> libcurl SMTP -> aiosmtpd. Batching inside the delay
window, immediate severity, business/after-hours recipients under the
manual clock, an SMTP outage plus a restart of the sender (every mail
exactly once), RFC 5322/MIME headers, room grouping, a 5,000-alarm storm,
and the test e-mail returning the server's exact error."""
import email.utils
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from notifylib import Host, Smtp, body_text, tmpdir, utc_ms  # noqa: E402
sys.path.insert(0, os.path.join(os.environ["WT_SOURCE_ROOT"], "tests/lib"))
from wtfix import Failures, Postgres  # noqa: E402

f = Failures()
pg = Postgres()
work = tmpdir("wt-notify-mail-")
smtp = Smtp(work)

# Wednesday 18 Nov 2026, 10:00 in Prague (CET, UTC+1): business hours.
T0 = utc_ms(2026, 11, 18, 9, 0)
MIN = 60000
cfg = {
    "conninfo": pg.dsn, "hostname": "wt-test.example.net", "clock": T0, "id_base": 1000,
    "retry_base_s": 10,
    "mail": {"server": "127.0.0.1", "port": smtp.port, "tls": "none",
             "sender": "wattrack@example.net", "subject": "wattrack DC Praha",
             "recipients": "ops@example.com, day@example.com;business_hours, "
                           "night@example.com;after_hours",
             "min_severity": "warning", "immediate": "error", "delay_min": 5,
             "holdoff_s": 60, "timezone": "Europe/Prague",
             "text_before": "Dear operator,", "text_after": "-- \nwattrack"},
}
h = Host(cfg, work)
f.check(h.cmd("migrate").startswith("ok"), "migrations applied")


def mails_to(addr):
    return [(m, raw) for rcpt, m, raw in smtp.messages() if addr in rcpt]


def alarm_ids(msg):
    return [int(x) for x in re.findall(r"#(\d+)\s*$", body_text(msg), re.M)]


# 1. Three warnings inside the 5-minute window -> one mail with 3 entries.
ids = []
for i in range(3):
    h.cmd(f"clock {T0 + i * 10000}")
    r = h.cmd(f"raise w{i} dev={i + 1} sev=1 metric=current value={16.1 + i} thr=16 "
              f"msg=branch current above warning")
    ids.append(int(r.split()[1]))
h.cmd("sync")
f.check(len(smtp.messages()) == 0, "nothing sent inside the delay window")
h.cmd(f"clock {T0 + 4 * MIN}")
h.cmd("sync")
f.check(len(smtp.messages()) == 0, "nothing sent 4 min after the first alarm")
h.cmd(f"clock {T0 + 5 * MIN + 1000}")
h.cmd("sync")
ops = mails_to("ops@example.com")
f.check(len(ops) == 1, f"one batched mail to ops (got {len(ops)})")
if ops:
    got = alarm_ids(ops[0][0])
    f.check(sorted(got) == sorted(ids), f"the batch lists all 3 alarms: {got} vs {ids}")
    body = body_text(ops[0][0])
    f.check(body.startswith("Dear operator,"), "text before the notifications")
    f.check("wattrack" in body.rstrip().splitlines()[-1], "text after the notifications")
    f.check("pdu-1 / outlet 3" in body and "current 16.1 A (threshold 16)" in body,
            "entry names device, entity, metric, value, threshold")
    f.check("Sál 1 / Row 1 / R02" in body, "entry carries the location")
    f.check("CET" in body, "times are shown in the configured zone")
f.check(len(mails_to("day@example.com")) == 1, "business-hours recipient gets it at 10:00")
f.check(len(mails_to("night@example.com")) == 0, "after-hours recipient does not at 10:00")
skipped = pg.sql("SELECT count(*) FROM notify_outbox WHERE target = 'night@example.com' "
                 "AND state = 'skipped' AND last_error = 'inside business hours'")
f.check(skipped[0][0] == "3", f"after-hours rows kept as skipped with a reason: {skipped}")

# 2. A critical alarm is immediate: its own mail at once.
T1 = T0 + 10 * MIN
h.cmd(f"clock {T1}")
r = h.cmd("raise c1 dev=905 sev=2 metric=on_battery value=1 thr=1 msg=UPS on battery")
cid = int(r.split()[1])
h.cmd("sync")
ops = mails_to("ops@example.com")
f.check(len(ops) == 2, f"immediate mail sent without waiting (got {len(ops)} mails)")
if len(ops) == 2:
    m = ops[1][0]
    f.check(alarm_ids(m) == [cid], "the immediate mail carries just that alarm")
    f.check(m["Subject"] == "wattrack DC Praha: CRITICAL raised: UPS on battery @ Sál 1 / Row 1 / R06",
            f"subject decoded from RFC 2047: {m['Subject']!r}")
    raw = ops[1][1].decode("ascii")
    f.check("Subject: =?UTF-8?B?" in raw, "non-ASCII subject sent as encoded-words")
    f.check(all(len(l) <= 78 for l in raw.split("\r\n")), "no header or body line over 78")

# 3. After hours (20:00 local): only the after-hours recipient.
T2 = utc_ms(2026, 11, 18, 19, 0)
h.cmd(f"clock {T2}")
h.cmd("raise n1 dev=7 sev=1 metric=current value=17 thr=16 msg=evening warning")
h.cmd(f"clock {T2 + 6 * MIN}")
h.cmd("sync")
f.check(len(mails_to("night@example.com")) == 1, "after-hours recipient gets the 20:00 alarm")
f.check(len(mails_to("day@example.com")) == 2, "business-hours recipient does not")
# Saturday noon is outside business hours too.
T3 = utc_ms(2026, 11, 21, 11, 0)
h.cmd(f"clock {T3}")
h.cmd("raise s1 dev=8 sev=1 metric=current value=17 thr=16 msg=weekend warning")
h.cmd(f"clock {T3 + 6 * MIN}")
h.cmd("sync")
f.check(len(mails_to("night@example.com")) == 2, "Saturday counts as after hours")
f.check(len(mails_to("day@example.com")) == 2, "no Saturday mail to the business-hours list")

# 4. SMTP outage, then the sender restarts: every mail arrives exactly once.
before = len(smtp.messages())
smtp.stop()
T4 = T3 + 60 * MIN
h.cmd(f"clock {T4}")
r = h.cmd("raise o1 dev=9 sev=2 metric=current value=33 thr=32 msg=outage alarm")
oid = int(r.split()[1])
h.cmd("sync")
st = pg.sql(f"SELECT state, attempts, next_attempt_ms, coalesce(last_error, '') FROM notify_outbox "
            f"WHERE alarm_id = {oid} AND target = 'ops@example.com'")
f.check(st and st[0][0] == "pending" and st[0][1] == "1", f"row pending after a failure: {st}")
f.check(st and int(st[0][2]) == T4 + 10000, "next attempt after the 10 s back-off")
f.check(st and st[0][3] != "", f"the failure reason is recorded: {st and st[0][3]!r}")
h.cmd(f"clock {T4 + 11000}")
h.cmd("sync")
st = pg.sql(f"SELECT attempts, next_attempt_ms FROM notify_outbox WHERE alarm_id = {oid} "
            f"AND target = 'ops@example.com'")
f.check(st and st[0][0] == "2" and int(st[0][1]) == T4 + 11000 + 20000,
        f"second failure doubles the back-off: {st}")
rc = h.close()
f.check(rc == 0, f"host exits cleanly (rc {rc})")
smtp.start()
cfg["id_base"] = 100000
cfg["clock"] = T4 + 40000
h = Host(cfg, work)
h.cmd("sync")
after = smtp.messages()[before:]
carrying = [m for rcpt, m, raw in after if oid in alarm_ids(m)]
f.check(len(carrying) == 2, f"outage alarm delivered once to each of ops, night: {len(carrying)}")
h.cmd(f"clock {T4 + 10 * MIN}")
h.cmd("sync")
again = [m for rcpt, m, raw in smtp.messages()[before:] if oid in alarm_ids(m)]
f.check(len(again) == 2, "and never again")
st = pg.sql(f"SELECT state, message_id FROM notify_outbox WHERE alarm_id = {oid} AND "
            "target = 'ops@example.com'")
f.check(st and st[0][0] == "sent" and st[0][1], f"row sent with its Message-ID: {st}")

# 5. Headers of every mail: RFC 5322 / MIME.
msgs = smtp.messages()
mids = set()
for rcpt, m, raw in msgs:
    ok = (m["Date"] is not None and email.utils.parsedate_to_datetime(m["Date"]) is not None
          and m["MIME-Version"] == "1.0" and m["From"] == "wattrack@example.net"
          and m["To"] in rcpt and m.get_content_type() == "text/plain"
          and m.get_content_charset() == "utf-8"
          and m["Content-Transfer-Encoding"] == "quoted-printable")
    f.check(ok, f"headers of mail to {rcpt}")
    mid = m["Message-ID"]
    f.check(bool(re.fullmatch(r"<[^<>@\s]+@wt-test\.example\.net>", mid or "")),
            f"Message-ID form: {mid}")
    mids.add((mid, m["To"]))
f.check(len(mids) == len(msgs), "no message delivered twice (Message-ID, To) unique")

# 6. A room in alarm summarises its children in one message.
T5 = utc_ms(2026, 11, 23, 9, 0)  # Monday 10:00 local
h.cmd(f"clock {T5}")
h.cmd("raise room elem=10 sev=1 metric=power_active value=120000 thr=100000 "
      "msg=room power above budget")
for i in range(6):
    h.cmd(f"raise ch{i} dev={20 + i} sev=1 metric=current value=17 thr=16 msg=child")
h.cmd(f"clock {T5 + 6 * MIN}")
h.cmd("sync")
last = mails_to("ops@example.com")[-1][0]
body = body_text(last)
f.check("room Sál 1 in alarm:" in body, "the room alarm heads the message")
f.check("+ 6 more alarm changes below it (0 critical, 6 warning, 0 cleared)" in body,
        "the children are summarised, not listed")
f.check(body.count("  child") == 0 and len(alarm_ids(last)) == 1, "children not listed one by one")

# 7. Storm: 5,000 critical alarms in one room within one window.
T6 = T5 + 30 * MIN
h.cmd(f"clock {T6}")
n_before = len(mails_to("ops@example.com"))
r = h.cmd("storm 5000 20 2")
f.check(r == "ok 5000", f"5,000 alarms raised: {r}")
h.cmd("sync")
for k in range(1, 8):  # seven minutes of passes
    h.cmd(f"clock {T6 + k * MIN}")
    h.cmd("sync")
storm_mails = mails_to("ops@example.com")[n_before:]
f.check(1 <= len(storm_mails) <= 3, f"storm gives a handful of mails to ops: {len(storm_mails)}")
total = 0
for m, raw in storm_mails:
    b = body_text(m)
    listed = len(alarm_ids(m))
    more = re.search(r"\.\.\. and (\d+) more in this room \((\d+) critical", b)
    f.check(listed <= 20, f"a storm mail lists at most 20 alarms ({listed})")
    total += listed + (int(more.group(1)) if more else 0)
    f.check(len(b) < 20000, f"a storm mail stays small ({len(b)} chars)")
f.check(total == 5000, f"the storm mails account for all 5,000 alarms ({total})")
cnt = pg.sql(f"SELECT count(*), count(*) FILTER (WHERE state = 'sent') FROM notify_outbox "
             f"WHERE target = 'ops@example.com' AND created_ms = {T6}")
f.check(cnt == [["5000", "5000"]], f"all 5,000 in the outbox history, all sent: {cnt}")

# 8. The test e-mail reports the server's exact refusal.
r = h.cmd("testmail reject.me@example.com")
f.check(r.startswith("error") and "550 5.1.1" in r and "Recipient address rejected" in r,
        f"test mail returns the SMTP server's error: {r}")
r = h.cmd("testmail ops@example.com")
f.check(r.startswith("ok"), f"test mail to a good address: {r}")
f.check(h.close() == 0, "host exits cleanly")
smtp.stop()

# 9. STARTTLS with certificate verification against the configured CA.
key, crt = os.path.join(work, "k.pem"), os.path.join(work, "c.pem")
subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                "-out", crt, "-days", "2", "-subj", "/CN=wt-smtp",
                "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
tls = Smtp(work, extra=["--tlscert", crt, "--tlskey", key], name="smtp-tls")
cfg_tls = {"conninfo": pg.dsn, "hostname": "wt-test.example.net", "clock": T6 + 3600000,
           "id_base": 900000,
           "mail": {"server": "127.0.0.1", "port": tls.port, "tls": "starttls", "cafile": crt,
                    "sender": "wattrack@example.net", "recipients": "tls@example.com",
                    "immediate": "warning"}}
h = Host(cfg_tls, work)
h.cmd("raise tls dev=5 sev=1 metric=current value=17 thr=16 msg=over starttls")
h.cmd("sync")
f.check(len(tls.messages()) == 1, f"mail delivered over STARTTLS ({len(tls.messages())})")
r = h.cmd("testmail tls@example.com")
f.check(r.startswith("ok"), f"test mail over STARTTLS: {r}")
f.check(h.close() == 0, "host exits cleanly")
cfg_tls["mail"]["cafile"] = "/etc/ssl/certs/ca-certificates.crt"
cfg_tls["id_base"] = 910000
h = Host(cfg_tls, work)
r = h.cmd("testmail tls@example.com")
f.check(r.startswith("error") and "certificate" in r.lower(),
        f"an untrusted server certificate is refused with the reason: {r}")
f.check(h.close() == 0, "host exits cleanly")
tls.stop()

# 10. Daily status report: fleet state, open alarms, energy per room; once per day.
pg.sql("INSERT INTO devices (name, protocol, address, port, state) VALUES "
       "('pdu-a', 'snmp', '10.0.0.1', 161, 'ok'), ('pdu-b', 'snmp', '10.0.0.2', 161, 'ok'), "
       "('ups-c', 'snmp', '10.0.0.3', 161, 'comm_lost')")
pg.sql("INSERT INTO alarms (id, kind, active, severity, message, raised_at, updated_at) VALUES "
       "(1, 'threshold', true, 'critical', 'feed A overload', '2026-11-18 12:00Z', now()), "
       "(2, 'threshold', true, 'warning', 'inlet temperature high', '2026-11-18 13:00Z', now())")
pg.sql("INSERT INTO metrics (id, name, unit, flags) VALUES (9, 'energy_active', 'Wh', 5) "
       "ON CONFLICT DO NOTHING")
site = pg.sql("INSERT INTO structure_elements (kind, name) VALUES ('site', 'DC') RETURNING id")[0][0]
room = pg.sql(f"INSERT INTO structure_elements (kind, parent_id, name) VALUES "
              f"('room', {site}, 'Sál 1') RETURNING id")[0][0]
ser = pg.sql(f"INSERT INTO series (metric, owner_kind, owner_id) SELECT id, 'room', {room} "
             "FROM metrics WHERE name = 'energy_active' RETURNING id")[0][0]
try:
    pg.sql("CREATE TABLE samples_1h_test PARTITION OF samples_1h "
           "FOR VALUES FROM ('2026-11-01') TO ('2026-12-01')")
except subprocess.CalledProcessError:
    pass  # a partition for November exists already
pg.sql("INSERT INTO samples_1h (series, start, count, quality, min, max, sum) "
       f"SELECT {ser}, '2026-11-18 10:00Z'::timestamptz + h * interval '1 hour', 720, 0, "
       "0, 10, 5000 FROM generate_series(0, 9) h")
rep = Smtp(work, name="smtp-report")
cfg_rep = {"conninfo": pg.dsn, "hostname": "wt-test.example.net",
           "clock": utc_ms(2026, 11, 19, 5, 30), "id_base": 920000,
           "mail": {"server": "127.0.0.1", "port": rep.port, "tls": "none",
                    "sender": "wattrack@example.net", "timezone": "Europe/Prague",
                    "recipients": "boss@example.com; after_hours; daily"}}
h = Host(cfg_rep, work)
h.cmd("sync")
f.check(len(rep.messages()) == 0, "no report before 07:00 local")
h.cmd(f"clock {utc_ms(2026, 11, 19, 6, 30)}")
h.cmd("sync")
reps = rep.messages()
f.check(len(reps) == 1, f"daily report at 07:30 local ({len(reps)})")
if reps:
    m = reps[0][1]
    b = body_text(m)
    f.check(m["Subject"] == "wattrack: daily status report 2026-11-19", f"subject {m['Subject']}")
    f.check("Fleet: 3 devices: 1 comm_lost, 2 ok." in b, "fleet state in the report")
    f.check("Open alarms: 1 critical, 1 warning (2 unacknowledged)." in b, "open alarms counted")
    f.check("feed A overload" in b and "inlet temperature high" in b, "open alarms listed")
    f.check(re.search(r"Sál 1\s+50\.0 kWh", b) is not None, f"energy per room: {b}")
h.cmd(f"clock {utc_ms(2026, 11, 19, 7, 0)}")
h.cmd("sync")
f.check(h.close() == 0, "host exits cleanly")
cfg_rep["clock"] = utc_ms(2026, 11, 19, 8, 0)
h = Host(cfg_rep, work)
h.cmd("sync")
f.check(len(rep.messages()) == 1, "one report per day, also across a restart")
h.cmd(f"clock {utc_ms(2026, 11, 20, 6, 10)}")
h.cmd("sync")
f.check(len(rep.messages()) == 2, "next day's report")
f.check(h.close() == 0, "host exits cleanly")
rep.stop()
f.done()
