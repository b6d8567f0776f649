#!/bin/sh
# Rollup engine benchmark: 1,000,000 series (100,000 with --quick), 20%
# counters, six 5 s buckets ending an hour; ingest and close cost as CPU
# time of one core, and memory per series.
# Run through tests/bench/run rollup [--quick] [--series N] [--buckets K],
# which builds first; the build directory comes from WT_BUILD_ROOT (set by
# run) or defaults to ./build.
# Last line: RESULT rollup ingest_ns=.. close_ns=.. hour_close_ms=.. bytes_per_series=.. series=..
set -eu
cd "$(dirname "$0")/../.."
BUILD=${WT_BUILD_ROOT:-build}
ninja -C "$BUILD" tests/storage/bench_rollup >/dev/null
exec "$BUILD/tests/storage/bench_rollup" "$@"
