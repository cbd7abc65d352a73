#!/usr/bin/env bash
# Static checks: gofmt, go mod tidy, go vet, staticcheck.
set -euo pipefail
cd "$(dirname "$0")/.."
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null; find . -name '*.go' -newer go.mod -not -path './.git/*' 2>/dev/null) | sort -u)
if [ -n "$unformatted" ]; then
	echo "gofmt: these files need formatting (run gofmt -w):" >&2
	echo "$unformatted" >&2
	exit 1
fi
if ! tidy=$(go mod tidy -diff 2>&1); then
	echo "go.mod/go.sum are not tidy (run go mod tidy):" >&2
	echo "$tidy" >&2
	exit 1
fi
go vet ./...
staticcheck ./...
echo "check: gofmt, go mod tidy, go vet, staticcheck clean"
for f in scripts/check.d/*.sh; do
	[ -e "$f" ] && bash "$f"
done
true
