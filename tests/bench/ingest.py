"""Ingest benchmark (run it as: tests/bench/run ingest [--quick]).

Starts a private PostgreSQL 15 with production durability (fsync on,
full_page_writes on, synchronous_commit on) and sizing (shared_buffers 1GB,
max_wal_size 8GB so no checkpoint lands in the middle), then:
  1. compares storage layouts (row per sample vs arrays per minute);
  2. runs bench_ingest: synthetic samples for many series at 5 s through the
     real rollup + writer on a manual clock, and a raw COPY of the same rows
     into the same layout as the baseline.
Last line: RESULT ingest samples_per_s=.. copy_baseline_samples_per_s=.. ratio=..
cpu_us_per_sample=.. disk_bytes_per_sample=.. ram_bytes_per_series=.."""

import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.environ["WT_SOURCE_ROOT"], "tests/lib"))
from wtfix import PG_BIN, Postgres, tmpdir  # noqa: E402

quick = "--quick" in sys.argv[1:]
series, minutes = (20000, 12) if quick else (100000, 30)
lay_series, lay_minutes = (4000, 5) if quick else (20000, 30)
for a in sys.argv[1:]:
    if a.startswith("--series="):
        series = int(a.split("=")[1])
    if a.startswith("--minutes="):
        minutes = int(a.split("=")[1])


class BenchPostgres(Postgres):
    def start(self):
        self._run([f"{PG_BIN}/pg_ctl", "-D", self.data, "-w", "-s", "-l",
                   os.path.join(self.base, "log"), "-o",
                   f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.sock} "
                   "-c shared_buffers=1GB -c max_wal_size=8GB -c checkpoint_timeout=30min "
                   "-c wal_buffers=64MB", "start"])


tool = os.path.join(os.environ["WT_BUILD_ROOT"], "tests/storage/bench_ingest")
subprocess.run(["ninja", "-C", os.environ["WT_BUILD_ROOT"], "-j2", "tests/storage/bench_ingest"],
               check=True, stdout=subprocess.DEVNULL)
env = dict(os.environ, WT_BENCH_SPOOL=os.path.join(tmpdir("wt-bench-"), "spool"))

pg = BenchPostgres()
print(f"PostgreSQL 15, fsync on; {'quick' if quick else 'full'} run", flush=True)
subprocess.run([tool, "layouts", pg.dsn, str(lay_series), str(lay_minutes)], check=True, env=env)
pg.stop()

pg = BenchPostgres()
r = subprocess.run([tool, "ingest", pg.dsn, str(series), str(minutes)], env=env,
                   capture_output=True, text=True)
sys.stdout.write(r.stdout)
sys.stderr.write(r.stderr)
pg.stop()
sys.exit(r.returncode)
