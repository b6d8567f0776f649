"""Retention drops exactly the expired partitions (whole partitions, never
DELETE) and nothing else, including tables that merely look similar."""

import datetime as dt
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from stlib import *  # noqa: E402,F403

f = Failures()
pg = Postgres()
r = subprocess.run([TOOL, "migrate", pg.dsn, os.environ["WT_MIGRATIONS_DIR"]],
                   capture_output=True, text=True)
f.check(r.returncode == 0, f"migrate: {r.stderr}")

UTC = dt.timezone.utc
now = dt.datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
now_ms = int(now.timestamp() * 1000)


def month_add(d, n):
    y, m = divmod(d.month - 1 + n, 12)
    return d.replace(year=d.year + y, month=m + 1)


parts = []  # (table, parent, lo, hi)
d = dt.datetime(2026, 2, 18, tzinfo=UTC)
while d < dt.datetime(2026, 3, 13, tzinfo=UTC):
    parts.append((f"samples_5s_p{d:%Y%m%d}", "samples_5s", d, d + dt.timedelta(days=1)))
    d += dt.timedelta(days=1)
d = dt.datetime(2023, 11, 1, tzinfo=UTC)
while d < dt.datetime(2026, 5, 1, tzinfo=UTC):
    parts.append((f"samples_1h_p{d:%Y%m}", "samples_1h", d, month_add(d, 1)))
    d = month_add(d, 1)
for y in range(2014, 2028):
    parts.append((f"samples_1d_p{y}", "samples_1d", dt.datetime(y, 1, 1, tzinfo=UTC),
                  dt.datetime(y + 1, 1, 1, tzinfo=UTC)))
sql = []
for name, parent, lo, hi in parts:
    sql.append(f"CREATE TABLE {name} PARTITION OF {parent} FOR VALUES FROM ('{lo.isoformat()}')"
               f" TO ('{hi.isoformat()}');")
    # one row in each, to show kept partitions keep their rows
    if parent == "samples_5s":
        sql.append(f"INSERT INTO {parent} VALUES (1, '{lo.isoformat()}', 0, NULL, '{{1}}');")
    else:
        sql.append(f"INSERT INTO {parent} VALUES (1, '{lo.isoformat()}', 1, 0, 1, 1, 1);")
# Look-alikes that retention must leave alone: a partition with a foreign
# name covering old data, and a plain table with our prefix.
sql.append("CREATE TABLE samples_5s_manual PARTITION OF samples_5s FOR VALUES FROM "
           "('2001-01-01') TO ('2001-01-02');")
sql.append("CREATE TABLE samples_5s_p19990101 (x int);")
pg.sql("\n".join(sql))

days = {"samples_5s": 14, "samples_1h": 730, "samples_1d": 3650}
expect_dropped = {name for name, parent, lo, hi in parts
                  if hi <= now - dt.timedelta(days=days[parent])}
expect_kept = {name for name, _, _, _ in parts} - expect_dropped
f.check(len(expect_dropped) >= 10 and len(expect_kept) >= 40, "test covers both sides")

r = subprocess.run([TOOL, "retention", pg.dsn, str(now_ms), "14", "730", "3650"],
                   capture_output=True, text=True)
f.check(r.returncode == 0 and f"dropped={len(expect_dropped)}" in r.stdout,
        f"retention ran: {r.stdout} {r.stderr}")
tables = {row[0] for row in pg.sql("SELECT tablename FROM pg_tables WHERE tablename LIKE 'samples_%'")}
f.check(not (tables & expect_dropped), f"expired partitions dropped: left {tables & expect_dropped}")
f.check(expect_kept <= tables, f"kept partitions present: missing {expect_kept - tables}")
f.check("samples_5s_manual" in tables and "samples_5s_p19990101" in tables,
        "foreign tables untouched")
# Boundary cases spelled out.
f.check("samples_5s_p20260223" not in tables and "samples_5s_p20260224" in tables,
        "5 s: the day ending exactly 14 d ago + 12 h is dropped, the next kept")
f.check("samples_1h_p202402" not in tables and "samples_1h_p202403" in tables,
        "hourly: months past 730 days dropped, the current one kept")
f.check("samples_1d_p2015" not in tables and "samples_1d_p2016" in tables,
        "daily: years past 3650 days dropped")
rows = pg.sql("SELECT (SELECT count(*) FROM samples_5s), (SELECT count(*) FROM samples_1h),"
              " (SELECT count(*) FROM samples_1d)")[0]
n5 = sum(1 for n, p, _, _ in parts if p == "samples_5s" and n in expect_kept)
nh = sum(1 for n, p, _, _ in parts if p == "samples_1h" and n in expect_kept)
nd = sum(1 for n, p, _, _ in parts if p == "samples_1d" and n in expect_kept)
f.check([int(x) for x in rows] == [n5, nh, nd], f"rows of kept partitions all there: {rows}")

# Running again drops nothing more.
r = subprocess.run([TOOL, "retention", pg.dsn, str(now_ms), "14", "730", "3650"],
                   capture_output=True, text=True)
f.check(r.returncode == 0 and "dropped=0" in r.stdout, f"second run drops nothing: {r.stdout}")
f.done()
