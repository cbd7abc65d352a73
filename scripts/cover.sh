#!/usr/bin/env bash
# make cover: every test (without the race detector, for speed) with coverage counted
# in the test binaries and in the real server and agent programs the end-to-end tests
# run; prints the per-package table and the total, writes cover.out and cover.html.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$(go env GOPATH)/bin:$PATH"

cleanup_fns=()
cleanup() { for f in "${cleanup_fns[@]}"; do "$f" || true; done; }
trap cleanup EXIT
for f in scripts/services/*.sh; do
	[ -e "$f" ] && source "$f"
done
source scripts/coverage.sh
cover_begin

status=0
go test -count=1 -timeout 20m "${cover_flags[@]}" ./... "${cover_args[@]}" >/dev/null || status=$?
cover_report cover.out
go tool cover -html=cover.out -o cover.html
echo "coverage: cover.out, cover.html"
exit "$status"
