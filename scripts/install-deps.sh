#!/bin/sh
# Installs the Debian packages wattrack needs to build, run and test, if any
# are missing. Idempotent; safe to run on every invocation.
set -eu

PKGS="build-essential meson ninja-build pkg-config
libevent-dev libpq-dev libsnmp-dev libmodbus-dev libldap-dev libcurl4-openssl-dev
libjansson-dev libssl-dev
postgresql snmp snmpd snmptrapd snmpsim smitools curl wrk
python3-pymodbus python3-serial-asyncio python3-psycopg2 python3-aiosmtpd python3-prometheus-client
slapd ldap-utils chromium
collectd-core prometheus-snmp-exporter"

missing=""
# The machine's own Node.js is used when there is one; Debian's otherwise.
command -v npm >/dev/null 2>&1 || PKGS="$PKGS nodejs npm"
for p in $PKGS; do
	# dpkg-query prints "install ok installed" only for a fully installed package.
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing packages:$missing" >&2
	echo "install-deps: run as root (or install them) and try again" >&2
	exit 1
fi
echo "install-deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# Recommends are needed: pymodbus needs python3-serial-asyncio, and slapd
# must not prompt.
# shellcheck disable=SC2086
apt-get install -y -qq -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold $missing >/dev/null
