#!/usr/bin/env bash
# Dead code: functions that no program (backapp, backapp-agent) reaches on any
# platform it builds for (linux, darwin, windows), found by golang.org/x/tools'
# deadcode. Code only tests reach counts as dead too (a package kept alive by its
# own tests is the case this catches), except test-support packages and the
# functions listed in scripts/deadcode.allow, which tests of other packages use.
# A second pass with -test finds what not even tests reach, test-support packages
# included. Run from the repository root by scripts/check.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
start=$SECONDS
format='{{range .Funcs}}{{$.Path}} {{.Name}} {{.Position.File}}:{{.Position.Line}}{{"\n"}}{{end}}'
for goos in linux darwin windows; do
	GOOS=$goos deadcode -f "$format" ./... | sort >"$out/$goos" &
done
deadcode -test -f "$format" ./... | sort >"$out/test" &
for job in $(jobs -p); do wait "$job"; done
# Dead on every platform (a function only windows calls is alive).
comm -12 "$out/linux" "$out/darwin" | comm -12 - "$out/windows" >"$out/all"
support='^github.com/backapp/backapp/internal/(testenv(/[^ ]*)?|server/servertest|store/storetest|store/pgtest|storage/storagetest|storage/s3test) '
sed -e 's/#.*//' -e '/^[[:space:]]*$/d' scripts/deadcode.allow | awk '{print $1" "$2}' | sort -u >"$out/allow"
{
	grep -Ev "$support" "$out/all" || true
	# Not reached even by tests (on linux), test-support packages included.
	comm -12 "$out/test" "$out/all"
} | sort -u | awk 'NR==FNR {ok[$1" "$2]=1; next} !ok[$1" "$2]' "$out/allow" - >"$out/dead"
if [ -s "$out/dead" ]; then
	echo "deadcode: no program reaches these functions on linux, darwin or windows; remove them" >&2
	echo "(or, when tests of another package need one, list it in scripts/deadcode.allow):" >&2
	awk '{print "  "$3": "$2}' "$out/dead" >&2
	exit 1
fi
# An allowed function that a program now reaches, or that is gone, leaves the list.
stale=$(awk '{print $1" "$2}' "$out/all" | sort -u | comm -13 - "$out/allow")
if [ -n "$stale" ]; then
	echo "deadcode: scripts/deadcode.allow lists functions that are no longer dead code; remove them:" >&2
	echo "$stale" | sed 's/^/  /' >&2
	exit 1
fi
echo "deadcode: no dead code ($((SECONDS - start))s)"
