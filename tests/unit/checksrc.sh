#!/bin/sh
# A tiny banned-function check, like curl's checksrc: functions that write
# past buffers or hide errors have no place in wattrack's C code.
#   strcpy, strcat, sprintf, vsprintf  -> snprintf / memcpy with a length
#   gets                               -> fgets
#   atoi                               -> strtol with an end pointer
# Usage: checksrc.sh SOURCE_ROOT   (checks every .c/.h outside build dirs)
# First it proves on a planted file that it does find a banned call.
set -eu

BANNED='(^|[^A-Za-z0-9_])(strcpy|strcat|sprintf|vsprintf|gets|atoi)[[:space:]]*\('

# Prints "file:line: text" for each banned call in the .c/.h files under $1.
# Lines that are only comments ("/* ...", " * ...", "// ...") are skipped.
scan() {
	find "$1" -type d \( -name '.git' -o -name 'build*' -o -name 'node_modules' -o -name 'subprojects' \) \
		-prune -o -type f \( -name '*.c' -o -name '*.h' \) -print |
		sort |
		while IFS= read -r f; do
			grep -nE "$BANNED" "$f" /dev/null |
				grep -vE '^[^:]+:[0-9]+:[[:space:]]*(/\*|\*|//)' || true
		done
}

root=${1:-$(dirname "$0")/../..}

selftest=$(mktemp -d)
trap 'rm -rf "$selftest"' EXIT
printf 'int f(char *d) {\n\t/* strcpy( in a comment is fine */\n\tsnprintf(d, 2, "x");\n\treturn atoi (d);\n}\n' \
	>"$selftest/planted.c"
found=$(scan "$selftest")
case "$found" in
*planted.c:4:*) ;;
*)
	echo "checksrc: self-test failed: the planted atoi() on line 4 was not found" >&2
	echo "$found" >&2
	exit 2
	;;
esac
if echo "$found" | grep -q 'planted.c:[23]:'; then
	echo "checksrc: self-test failed: a comment or snprintf was flagged" >&2
	exit 2
fi

out=$(scan "$root")
if [ -n "$out" ]; then
	echo "$out"
	echo "checksrc: banned functions found (use snprintf, memcpy with a length, fgets, strtol)" >&2
	exit 1
fi
n=$(find "$root" -type d \( -name '.git' -o -name 'build*' -o -name 'node_modules' -o -name 'subprojects' \) \
	-prune -o -type f \( -name '*.c' -o -name '*.h' \) -print | wc -l)
echo "checksrc: $n files clean"
