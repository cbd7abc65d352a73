#!/usr/bin/env bash
# Runs the benchmarks against the same real services as the tests. Each benchmark
# does a fixed amount of work (-benchtime 1x) and prints its numbers; record them with
# this command in docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$(go env GOPATH)/bin:$PATH"
cleanup_fns=()
cleanup() { for f in "${cleanup_fns[@]}"; do "$f" || true; done; }
trap cleanup EXIT
for f in scripts/services/*.sh scripts/bench.d/*.sh; do
	[ -e "$f" ] && source "$f"
done
go test -run '^$' -bench "${BENCH:-.}" -benchtime 1x -timeout 60m ${BENCH_PKGS:-./...}
