"""Migrations against a real PostgreSQL: applied in order with gaps, twice is
harmless, a newer schema is refused with the clear message, an edited applied
migration is detected by name, two instances at once are serialised."""

import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from stlib import *  # noqa: E402,F403

f = Failures()
pg = Postgres()
src = os.environ["WT_MIGRATIONS_DIR"]


def migrate(db, d):
    dsn = pg.dsn.replace("dbname=postgres", f"dbname={db}")
    r = subprocess.run([TOOL, "migrate", dsn, d], capture_output=True, text=True, timeout=60)
    return r.returncode, r.stdout, r.stderr


def newdb(name):
    pg.sql(f"CREATE DATABASE {name}")


# A private copy of the real migrations plus a gap and a later file that
# depends on the earlier ones (proves the order).
d = tmpdir()
for fn in sorted(os.listdir(src)):
    if fn.endswith(".sql"):
        shutil.copy(os.path.join(src, fn), d)
files = sorted(x for x in os.listdir(d) if x.endswith(".sql"))
top = max(int(x.split("_")[0]) for x in files)
later = f"{top + 7:04d}_later.sql"
with open(os.path.join(d, later), "w") as fh:
    fh.write("CREATE TABLE later_probe (series integer REFERENCES series (id));\n"
             "INSERT INTO later_probe VALUES (NULL);\n")
with open(os.path.join(d, "README"), "w") as fh:
    fh.write("not a migration\n")
files.append(later)
versions = sorted(int(x.split("_")[0]) for x in files)

newdb("m1")
rc, out, err = migrate("m1", d)
f.check(rc == 0 and f"applied={len(files)}" in out, f"first run applies all: {rc} {out} {err}")
rows = pg.sql("SELECT version, name, length(checksum) FROM schema_migrations ORDER BY version",
              db="m1")
f.check([int(r[0]) for r in rows] == versions, f"versions recorded in order: {rows}")
f.check(all(r[2] == "64" for r in rows), "sha-256 checksums recorded")
f.check(pg.sql("SELECT count(*) FROM later_probe", db="m1") == [["1"]], "later file applied")
applied_at = pg.sql("SELECT version, applied_at FROM schema_migrations ORDER BY 1", db="m1")
order = pg.sql("SELECT version FROM schema_migrations ORDER BY applied_at, version", db="m1")
f.check([int(r[0]) for r in order] == versions, "applied in numeric order")

rc, out, err = migrate("m1", d)
f.check(rc == 0 and "applied=0" in out, f"second run is harmless: {rc} {out} {err}")
f.check(pg.sql("SELECT version, applied_at FROM schema_migrations ORDER BY 1", db="m1") ==
        applied_at, "second run changed nothing")

# The real directory knows less than m1 now holds: refused, clearly.
rc, out, err = migrate("m1", src)
want = (f"database schema is at version {top + 7} but this wattrack knows up to {top}; "
        "upgrade wattrack")
f.check(rc == 3 and want in err, f"newer schema refused with the message: {rc} {err}")

# An applied file edited afterwards is named.
with open(os.path.join(d, files[0]), "a") as fh:
    fh.write("-- edited\n")
rc, out, err = migrate("m1", d)
f.check(rc == 3 and files[0] in err and "changed after it was applied" in err,
        f"checksum mismatch names the file: {rc} {err}")

# A failing migration rolls back entirely, including its row.
d2 = tmpdir()
for fn in os.listdir(src):
    if fn.endswith(".sql"):
        shutil.copy(os.path.join(src, fn), d2)
with open(os.path.join(d2, f"{top + 1:04d}_broken.sql"), "w") as fh:
    fh.write("CREATE TABLE half_done (x int);\nSELECT no_such_function();\n")
newdb("m2")
rc, out, err = migrate("m2", d2)
f.check(rc != 0, "a broken migration fails")
f.check(pg.sql("SELECT count(*) FROM schema_migrations WHERE version = %d" % (top + 1),
               db="m2") == [["0"]], "its row is not recorded")
f.check(pg.sql("SELECT count(*) FROM pg_tables WHERE tablename = 'half_done'", db="m2") ==
        [["0"]], "its statements were rolled back")
f.check(pg.sql("SELECT count(*) FROM schema_migrations", db="m2") == [[str(len(files) - 1)]],
        "earlier migrations stay applied")

# Two instances at once on an empty database: the advisory lock serialises
# them, both succeed and every file is applied exactly once.
newdb("m3")
dsn = pg.dsn.replace("dbname=postgres", "dbname=m3")
procs = [subprocess.Popen([TOOL, "migrate", dsn, src], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True) for _ in range(3)]
res = [p.communicate(timeout=60) + (p.returncode,) for p in procs]
f.check(all(r[2] == 0 for r in res), f"concurrent runs all succeed: {res}")
total = sum(int(r[0].split("applied=")[1].split()[0]) for r in res)
f.check(total == len(files) - 1, f"each file applied once across instances ({total})")

# The schema does what the registry needs: an aggregate series owned by a
# rack, with phase/feed qualifiers, unique; entity series unique.
pg.sql("INSERT INTO metrics VALUES (7, 'power_active', 'W', 4)", db="m3")
pg.sql("INSERT INTO series (owner_kind, owner_id, metric, agg_phase, agg_feed) "
       "VALUES ('rack', 1, 7, NULL, 'A')", db="m3")
try:
    pg.sql("INSERT INTO series (owner_kind, owner_id, metric, agg_phase, agg_feed) "
           "VALUES ('rack', 1, 7, NULL, 'A')", db="m3")
    f.check(False, "duplicate aggregate series accepted")
except subprocess.CalledProcessError:
    f.check(True, "duplicate aggregate series refused (NULLS NOT DISTINCT)")
try:
    pg.sql("INSERT INTO series (metric) VALUES (7)", db="m3")
    f.check(False, "series without an owner accepted")
except subprocess.CalledProcessError:
    f.check(True, "a series needs an entity or a structure owner")

f.done()
