"""Bulk series creation by the daemon's series cache against a real PostgreSQL
(seriesbulk_tool drives server/daemon_series.c; this checks the tables it leaves):
  - one batch of many devices' misses creates every entity and series, with the driver's
    names (quotes and backslashes kept), default names, daisy-chain indexes (unit 2 -> 1000+i),
    and dense ids (no identity value spent on a row that existed);
  - two caches on two connections creating the same series at once: no duplicate, same ids;
  - a restart reuses the ids (loaded cache, and an empty cache that asks the database),
    without spending identity values;
  - a device that does not exist and a name PostgreSQL refuses fail alone in their batch.
"""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.environ["WT_SOURCE_ROOT"], "tests/lib"))
from wtfix import Failures, Postgres, tmpdir  # noqa: E402

TOOL = sys.argv[1]
PER_DEV = 139        # series per device (seriesbulk_tool.c)
ENT_PER_DEV = 36     # total, 3 phases, 24 + 8 outlets
f = Failures()
pg = Postgres()
spool = tmpdir("wt-seriesbulk-")


def tool(mode, ndev):
    r = subprocess.run([TOOL, pg.dsn, spool, mode, str(ndev)], capture_output=True, text=True,
                       timeout=200)
    out = r.stdout + r.stderr
    ok = r.returncode == 0 and f"{mode} ok" in r.stdout
    if not ok:
        print(out[-4000:])
    f.check(ok, f"{mode} {ndev}: every expectation of the tool held")
    return out


def one(q):
    rows = pg.sql(q)
    return rows[0][0] if rows else ""


def seq():
    return int(one("SELECT last_value FROM pg_sequences WHERE "
                   "schemaname || '.' || sequencename = pg_get_serial_sequence('series', 'id')"))


def counts():
    return (int(one("SELECT count(*) FROM series WHERE entity_id IS NOT NULL")),
            int(one("SELECT count(*) FROM entities")))


# 1. one batch, 300 devices
out = tool("create", 300)
m = re.search(r"series_per_s=(\d+)", out)
print("bulk creation:", m and m.group(0))
ns, ne = counts()
f.check(ns == 300 * PER_DEV, f"create: {ns} series, want {300 * PER_DEV}")
f.check(ne == 300 * ENT_PER_DEV, f"create: {ne} entities, want {300 * ENT_PER_DEV}")
lo, hi = map(int, pg.sql("SELECT min(id), max(id) FROM series")[0])
f.check(hi - lo + 1 == ns, f"create: ids dense ({lo}..{hi} for {ns})")
f.check(seq() == hi, f"create: no identity value spent beyond the rows ({seq()} vs {hi})")
dev0 = one("SELECT id FROM devices WHERE name = 'pdu-00000'")
names = {r[0]: r[1] for r in pg.sql(
    f"SELECT kind || ':' || idx, name FROM entities WHERE device_id = {dev0}")}
f.check(names.get("outlet:5") == 'srv "A" \\ 5', f"driver's name kept: {names.get('outlet:5')!r}")
f.check(names.get("outlet:1003") == "outlet 3",
        f"unit 2 outlet 3 stored as index 1003, default name: {names.get('outlet:1003')!r}")
f.check(names.get("outlet:9") == 'srv "A" \\ 9' and "outlet:25" not in names
        and "outlet:1009" not in names, "unit 1 outlets 1..24, unit 2 outlets 1001..1008")
f.check(names.get("total:1") == "total 1" and names.get("phase:3") == "phase 3",
        "default names of total and phases")
f.check(one(f"SELECT count(*) FROM series s JOIN entities e ON e.id = s.entity_id "
            f"WHERE e.device_id = {dev0} AND e.kind = 'phase' AND e.idx = 2 "
            f"AND s.metric IN (0, 3, 7)") == "3", "phase 2 has voltage, current, power")

# An operator renames an entity: the next creation of its device's series keeps the name.
pg.sql(f"UPDATE entities SET name = 'renamed' WHERE device_id = {dev0} AND kind = 'outlet' "
       "AND idx = 5")
pg.sql(f"DELETE FROM series WHERE entity_id = (SELECT id FROM entities WHERE device_id = {dev0} "
       "AND kind = 'outlet' AND idx = 5) AND metric = 11")

# 2. the race: 300 existing + 300 new devices, two caches at once
tool("race", 600)
ns, ne = counts()
f.check(ns == 600 * PER_DEV, f"race: {ns} series, want {600 * PER_DEV}")
f.check(ne == 600 * ENT_PER_DEV, f"race: {ne} entities, want {600 * ENT_PER_DEV}")
f.check(one("SELECT count(*) FROM (SELECT 1 FROM series WHERE entity_id IS NOT NULL "
            "GROUP BY entity_id, metric HAVING count(*) > 1) d") == "0", "race: no duplicate")
f.check(one(f"SELECT name FROM entities WHERE device_id = {dev0} AND kind = 'outlet' "
            "AND idx = 5") == "renamed", "an operator's entity name is not overwritten")

# 3. restart
before, s_before = counts(), seq()
tool("reuse", 600)
f.check(counts() == before, f"reuse: nothing created ({counts()} vs {before})")
f.check(seq() == s_before, f"reuse: no identity value spent ({seq()} vs {s_before})")

# 4. bad entries in a batch of 100 new devices
out = tool("bad", 700)
ns, ne = counts()
f.check(ns == 700 * PER_DEV, f"bad: {ns} series, want {700 * PER_DEV} (the bad two not made)")
f.check("invalid byte sequence" in out, "bad: PostgreSQL's refusal of the name is logged")
f.check(one("SELECT count(*) FROM entities WHERE kind = 'sensor'") == "0",
        "bad: the refused entity does not exist")

pg.stop()
f.done()
