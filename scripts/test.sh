#!/usr/bin/env bash
# Runs every check and test. Starts the services the tests need when they are not
# already there (scripts/services/*.sh), and stops what it started.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$(go env GOPATH)/bin:$PATH"

bash scripts/check.sh

cleanup_fns=()
cleanup() { for f in "${cleanup_fns[@]}"; do "$f" || true; done; }
trap cleanup EXIT
for f in scripts/services/*.sh; do
	[ -e "$f" ] && source "$f"
done

source scripts/coverage.sh
cover_begin

log=$(mktemp)
set +e
go test -race -count=1 -timeout 20m -v "${cover_flags[@]}" ./... "${cover_args[@]}" >"$log" 2>&1
status=$?
set -e
if [ "$status" != 0 ]; then
	# Everything, so the cause of a failure is in CI's output.
	cat "$log"
else
	# Top-level test results and package lines: which suites ran (both store dialects,
	# S3, SMTP) is visible without the noise of subtests.
	grep -E '^(--- (PASS|FAIL|SKIP)|ok |FAIL|panic)' "$log" || true
	cover_report
fi
passed=$(grep -cE '^\s*--- PASS' "$log" || true)
failed=$(grep -cE '^\s*--- FAIL' "$log" || true)
skipped=$(grep -cE '^\s*--- SKIP' "$log" || true)
rm -f "$log"
echo "tests: $passed passed, $failed failed, $skipped skipped"

# The agent's and engine's tests built for Windows, under wine (a few minutes).
if ! bash scripts/wine-test.sh; then
	status=1
fi
exit "$status"
