#!/bin/sh
# The whole test suite, under AddressSanitizer and UndefinedBehaviorSanitizer,
# in one pass. Installs what is missing first. Ends with "N passed, N failed".
set -eu
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
[ -d tests/browser ] && [ -f tests/browser/package.json ] && \
	(cd tests/browser && npm install --no-audit --no-fund --silent)

BUILD=build-asan
if [ ! -f "$BUILD/build.ninja" ]; then
	meson setup "$BUILD" -Db_sanitize=address,undefined -Db_lundef=false >/dev/null
fi
ninja -C "$BUILD" >/dev/null

status=0
meson test -C "$BUILD" --setup asan --num-processes 2 --print-errorlogs "$@" || status=$?

# Summarise from meson's machine-readable log.
/usr/bin/python3 - "$BUILD/meson-logs/testlog-asan.json" <<'PY'
import json, sys
passed = failed = skipped = 0
for line in open(sys.argv[1]):
    r = json.loads(line).get("result")
    if r in ("OK", "EXPECTEDFAIL"):
        passed += 1
    elif r == "SKIP":
        skipped += 1
    else:
        failed += 1
print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
PY
exit $status
