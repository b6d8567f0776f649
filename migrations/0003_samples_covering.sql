-- 0003_samples_covering: hourly and daily rows read by index-only scans.
--
-- The writer inserts one hourly row per series each hour, so a series'
-- rows lie one per heap page: a rack's 30-day chart (720 hourly points)
-- read 720 heap pages through a bitmap heap scan, and a room's year 365.
-- Measured on tests/bench/api's fleet (2,000 PDUs, 2.2M hourly rows):
--   primary key (series, start)                        727 buffers  2.4 ms
--   primary key (series, start) INCLUDE (the values)     9 buffers  0.4 ms
-- With a cold cache that is 720 random reads against 9. The cost is the
-- index: +36 bytes per row (139 MB against 102 MB for the plain key on that
-- fleet, about a third more for the hourly level as a whole). The key stays
-- (series, start), so ON CONFLICT (series, start) upserts are unchanged.
-- Rebuilding the index takes an exclusive lock on the table while it runs
-- (seconds per million rows): apply during an upgrade window.
ALTER TABLE samples_1h DROP CONSTRAINT samples_1h_pkey,
    ADD CONSTRAINT samples_1h_pkey PRIMARY KEY (series, start) INCLUDE (count, quality, min, max, sum);
ALTER TABLE samples_1d DROP CONSTRAINT samples_1d_pkey,
    ADD CONSTRAINT samples_1d_pkey PRIMARY KEY (series, start) INCLUDE (count, quality, min, max, sum);
