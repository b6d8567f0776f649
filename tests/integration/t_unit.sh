#!/bin/sh
# The systemd unit as meson configures it passes `systemd-analyze verify`
# (pointed at this build's binary), and its ExecStartPre accepts the sample
# configuration. Skips (77) where systemd-analyze is missing.
set -eu
unit="$WT_BUILD_ROOT/packaging/wattrack.service"
command -v systemd-analyze >/dev/null 2>&1 || { echo "no systemd-analyze: skipped"; exit 77; }
[ -f "$unit" ] || { echo "FAIL: $unit was not generated"; exit 1; }

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
bindir=$(sed -n 's|^ExecStart=\(.*\)/wattrack --config.*|\1|p' "$unit")
confdir=$(sed -n 's|^ExecStart=.* --config \(.*\)/wattrack.conf$|\1|p' "$unit")
if [ -z "$bindir" ] || [ -z "$confdir" ]; then
	echo "FAIL: no ExecStart line in $unit"
	exit 1
fi
cp "$WT_SOURCE_ROOT/packaging/wattrack.conf.example" "$dir/wattrack.conf"
sed "s|$bindir/wattrack|$WT_BUILD_ROOT/wattrack|g; s|$confdir/|$dir/|g" "$unit" \
	>"$dir/wattrack.service"

out=$(systemd-analyze verify "$dir/wattrack.service" 2>&1) || {
	echo "FAIL: systemd-analyze verify:"
	echo "$out"
	exit 1
}
if [ -n "$out" ]; then
	echo "FAIL: systemd-analyze verify complained:"
	echo "$out"
	exit 1
fi
echo "ok: systemd-analyze verify"

pre=$(sed -n 's|^ExecStartPre=||p' "$dir/wattrack.service")
# shellcheck disable=SC2086 # the unit's command line, split as systemd does
$pre >/dev/null || { echo "FAIL: ExecStartPre refused the sample configuration: $pre"; exit 1; }
echo "ok: ExecStartPre accepts the sample configuration"
