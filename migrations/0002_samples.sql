-- 0002_samples: 5 s, hourly and daily data, partitioned by time.
--
-- Layout chosen by tests/bench/ingest (tests/bench/README.md has the runs):
-- one row per series per flush window (default 60 s = 12 buckets) holding
-- float4 arrays. Measured here (PostgreSQL 15, fsync on, 20k series x 30 min,
-- one transaction per minute, heap + index):
--   row per 5 s sample (float4)           99.0 bytes/sample   115k samples/s COPY
--   row per series-minute, float8[12]     16.9 bytes/sample   787k samples/s
--   row per series-minute, float4[12]     12.7 bytes/sample   708k samples/s  <- chosen
-- float4 (7 significant digits) is finer than any meter's accuracy class; the
-- array layout moves 12x fewer rows and index entries than row-per-sample.
-- float8 and float4 arrays COPY equally fast within run-to-run noise (either
-- wins by ~10% from run to run); float4 is 25% smaller. Columns:
--   v    bucket averages (sum/count). NaN marks a 5 s bucket with no sample.
--        Counters (energy) hold delta/count, so the delta is v * count.
--   cnt  samples per bucket; NULL when every present bucket had exactly one
--        (the normal case at a 5 s poll interval).
--   mn, mx  bucket minima/maxima; NULL when every bucket had one sample,
--        because then min = max = avg and storing them would triple the size.
--   quality  worst enum wt_quality over the row.
--   raw  counters only: the device's raw reading at the end of the row, so a
--        restart continues the deltas (NULL for gauges). Kept in the row
--        rather than in a table updated per flush: such an upsert of every
--        counter cost 40% of the COPY time in tests/bench/ingest.
-- Rows never overlap: a row starts at its first present bucket and a bucket
-- is written exactly once (storage_batches below).
CREATE TABLE samples_5s (
    series   integer NOT NULL,
    start    timestamptz NOT NULL,
    quality  smallint NOT NULL,
    cnt      smallint[],
    v        real[] NOT NULL,
    mn       real[],
    mx       real[],
    raw      double precision
) PARTITION BY RANGE (start);
CREATE INDEX samples_5s_series_start ON samples_5s (series, start);

-- Hourly and daily aggregates: one row per series per period, folded in
-- memory by the rollup engine. sum/count is the average; for counters sum is
-- the delta over the period. Upserted: a clean shutdown may write a partial
-- period that the restarted engine completes (it is seeded from the database).
CREATE TABLE samples_1h (
    series   integer NOT NULL,
    start    timestamptz NOT NULL,
    count    integer NOT NULL,
    quality  smallint NOT NULL,
    min      double precision NOT NULL,
    max      double precision NOT NULL,
    sum      double precision NOT NULL,
    PRIMARY KEY (series, start)
) PARTITION BY RANGE (start);

CREATE TABLE samples_1d (
    series   integer NOT NULL,
    start    timestamptz NOT NULL,
    count    integer NOT NULL,
    quality  smallint NOT NULL,
    min      double precision NOT NULL,
    max      double precision NOT NULL,
    sum      double precision NOT NULL,
    PRIMARY KEY (series, start)
) PARTITION BY RANGE (start);

-- Partitions: daily for 5 s data (14-day retention drops one day at a time,
-- so at most a day beyond the retention is kept; ~1 GB/day per 20k series fits
-- a day in shared buffers' working set), monthly for hourly (730 days = ~25
-- partitions), yearly for daily (10). Created ahead by storage/partition.c.

-- Every batch the writer commits is recorded in the same transaction as its
-- rows, so replaying a spooled batch that did reach the database (e.g. the
-- connection died after COMMIT was sent) is skipped, never duplicated.
CREATE TABLE storage_batches (
    id          bigint PRIMARY KEY,
    rows        integer NOT NULL,
    ts          timestamptz NOT NULL,       -- newest data time in the batch (prune key)
    written_at  timestamptz NOT NULL DEFAULT now()
);

-- Where the 5 s data ends (newest row start + 5 s), updated in each batch's
-- transaction, so a start after a kill -9 knows which hour was left open and
-- rebuilds its hourly (and daily) row from the 5 s rows. clean is set by a
-- clean shutdown once everything (including the provisional hourly and daily
-- rows) is written, and cleared by the next 5 s batch: a start that finds it
-- set seeds the open hour from its provisional hourly row (one row per
-- series) instead of folding the hour's 5 s rows (12 s for 50k series).
CREATE TABLE storage_state (
    id        integer PRIMARY KEY CHECK (id = 1),
    data_end  timestamptz NOT NULL,
    clean     boolean NOT NULL DEFAULT false
);
