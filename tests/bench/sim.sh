#!/bin/sh
# Benchmark of wattrack-sim: how many SNMP responses and varbinds the
# simulator serves per CPU-second of its own process, with 10,000 devices,
# so benchmarks of wattrack measure wattrack and not the simulator.
#
#   tests/bench/run sim [--quick]     (or tests/bench/sim.sh directly)
#
# Uses $WT_BUILD_ROOT if it holds the binaries; otherwise builds a release
# tree in ${WT_BENCH_BUILD:-/tmp/wattrack-bench-build}. Sanitizer builds
# work but report much lower figures.
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
QUICK=0
[ "${1:-}" = "--quick" ] && QUICK=1
if [ -n "${WT_BUILD_ROOT:-}" ] && [ -x "$WT_BUILD_ROOT/tests/sim/wattrack-sim" ] &&
   [ -x "$WT_BUILD_ROOT/tests/sim/wattrack-sim-load" ]; then
	B=$WT_BUILD_ROOT
else
	B=${WT_BENCH_BUILD:-/tmp/wattrack-bench-build}
	[ -f "$B/build.ninja" ] || meson setup "$B" "$ROOT" -Dbuildtype=release >/dev/null
	ninja -C "$B" -j2 tests/sim/wattrack-sim tests/sim/wattrack-sim-load >/dev/null
fi
if [ $QUICK = 1 ]; then SPEC=pdus=1800,ups=200; DEV=2000; SECS=3; else SPEC=pdus=9000,ups=1000; DEV=10000; SECS=10; fi
OUT=$(mktemp)
"$B/tests/sim/wattrack-sim" --generate "$SPEC" --log-level warning >"$OUT" &
PID=$!
trap 'kill $PID 2>/dev/null; rm -f "$OUT"' EXIT
for _ in $(seq 1 600); do grep -q READY "$OUT" && break; sleep 0.1; done
PORT=$(sed -n 's/^READY snmp=\([0-9]*\).*/\1/p' "$OUT")
[ -n "$PORT" ] || { echo "wattrack-sim did not start"; exit 1; }
if ldd "$B/tests/sim/wattrack-sim" | grep -q libasan; then echo "note: sanitizer build, figures are low"; fi
echo "== GETBULK from enterprises, 25 repetitions, window 128, $DEV devices, ${SECS}s"
"$B/tests/sim/wattrack-sim-load" -p "$PORT" -P "$PID" -d "$DEV" -s "$SECS" -w 128 -r 25 | tee "$OUT.bulk"
echo "== GET of 3 scalars, window 128"
"$B/tests/sim/wattrack-sim-load" -p "$PORT" -P "$PID" -d "$DEV" -s "$SECS" -w 128 -g | tee "$OUT.get"
echo "== SNMPv3 authPriv (HMAC-SHA-96, AES-128) GET of 3 scalars, window 128"
"$B/tests/sim/wattrack-sim-load" -p "$PORT" -P "$PID" -d "$DEV" -s "$SECS" -w 128 -3 | tee "$OUT.v3"
V3RPS=$(sed -n 's/^responses_per_cpu_s \([0-9]*\) .*/\1/p' "$OUT.v3")
rm -f "$OUT.v3"
RPS=$(sed -n 's/^responses_per_cpu_s \([0-9]*\) varbinds_per_cpu_s \([0-9]*\)/\1/p' "$OUT.get")
VPS=$(sed -n 's/^responses_per_cpu_s \([0-9]*\) varbinds_per_cpu_s \([0-9]*\)/\2/p' "$OUT.bulk")
BRPS=$(sed -n 's/^responses_per_cpu_s \([0-9]*\) .*/\1/p' "$OUT.bulk")
rm -f "$OUT.bulk" "$OUT.get"
echo "RESULT sim devices=$DEV responses_per_cpu_s=$RPS bulk_responses_per_cpu_s=$BRPS varbinds_per_cpu_s=$VPS v3_responses_per_cpu_s=$V3RPS"
