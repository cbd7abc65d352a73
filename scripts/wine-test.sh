#!/usr/bin/env bash
# Runs the agent's and engine's tests built for Windows under wine, so the Windows
# code paths (file identity, drive letters, reserved names, ACLs) are tested on Linux.
# Called by scripts/test.sh with the test services' environment (TEST_S3_*, …), which
# wine passes on. Without wine or mingw-w64 (scripts/tools.d/wine.sh installs them) it
# skips, except in CI (CI=true), where it fails. Where wine cannot stand in for Windows,
# the tests skip under wine and say why (internal/testenv/wine).
set -euo pipefail
cd "$(dirname "$0")/.."
in_ci() { [ "${CI:-}" = true ] || [ "${CI:-}" = 1 ]; }
if ! command -v wine >/dev/null || ! command -v x86_64-w64-mingw32-gcc >/dev/null; then
	echo "wine-test: wine or x86_64-w64-mingw32-gcc is missing (Debian: wine wine64 gcc-mingw-w64-x86-64)" >&2
	if in_ci; then exit 1; fi
	echo "wine-test: the Windows tests are skipped" >&2
	exit 0
fi
# The packages whose Windows builds run here: the engine and the agent (or those named:
# `bash scripts/wine-test.sh ./internal/engine/scan`).
pkgs=(./internal/engine/... ./internal/agent/... ./internal/agentkey/... ./internal/testenv/wine ./cmd/backapp-agent)
if [ $# -gt 0 ]; then pkgs=("$@"); fi
tmp=$(mktemp -d)
export WINEPREFIX="$tmp/prefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree=;mshtml="
cleanup() { wineserver -k 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
start=$SECONDS
bash scripts/wine/prefix.sh "$tmp"
mapfile -t list < <(go list -f '{{if or .TestGoFiles .XTestGoFiles}}{{.ImportPath}} {{.Dir}}{{end}}' "${pkgs[@]}" | grep .)
# Platform-independent tests that take over ten seconds each under wine are left to the
# Linux run, to keep this one to a few minutes: a 2 GB sparse file's round trip, the
# fault-proxy runs, the cancellation of a throttled upload.
skip='^(TestRoundTrip|TestFaults|TestCancelAborts)$'
status=0
for entry in "${list[@]}"; do
	pkg=${entry%% *} dir=${entry#* }
	exe="$tmp/$(basename "$pkg").$RANDOM.test.exe"
	if ! GOOS=windows GOARCH=amd64 CGO_ENABLED=0 go test -c -overlay "$tmp/overlay.json" -o "$exe" "$pkg"; then
		echo "FAIL	$pkg (windows build)"; status=1; continue
	fi
	[ -e "$exe" ] || continue
	log="$tmp/log"
	if (cd "$dir" && wine "$exe" -test.count=1 -test.timeout=5m -test.short -test.v -test.skip "$skip" >"$log" 2>&1); then
		grep -E '^--- (FAIL|SKIP)' "$log" | sed "s|^|$pkg: |" || true
		echo "ok  	$pkg (windows, under wine)"
	else
		cat "$log"
		echo "FAIL	$pkg (windows, under wine)"; status=1
	fi
done
echo "wine-test: $((SECONDS - start))s"
exit "$status"
