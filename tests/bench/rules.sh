#!/bin/sh
# Rules benchmark: 1,000,000 series, 10,000 rules, 50 rooms, 1,000 rows,
# 20,000 racks; one 5 s close including aggregates, CPU time of one core.
# Run through tests/bench/run rules [--quick], which builds first; the build
# directory comes from WT_BUILD_ROOT (set by run) or defaults to ./build.
# Last line: RESULT rules series=.. rules=.. close_ms=.. eval_ns_per_series=..
set -eu
cd "$(dirname "$0")/../.."
BUILD=${WT_BUILD_ROOT:-build}
ninja -C "$BUILD" -j2 tests/rules/bench_rules >/dev/null
exec "$BUILD/tests/rules/bench_rules" "$@"
