#!/usr/bin/env bash
# Runs one command with the services the tests need (PostgreSQL, S3), as make test
# would start them, and stops what it started afterwards. For running a subset:
#   bash scripts/with-services.sh go test -race ./internal/engine/...
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$(go env GOPATH)/bin:$PATH"
cleanup_fns=()
cleanup() { for f in "${cleanup_fns[@]}"; do "$f" || true; done; }
trap cleanup EXIT
for f in scripts/services/*.sh; do
	[ -e "$f" ] && source "$f"
done
"$@"
