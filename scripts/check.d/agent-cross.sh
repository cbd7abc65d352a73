#!/usr/bin/env bash
# Cross-compiles backapp-agent for every platform it ships on (linux, darwin, windows ×
# amd64, arm64) without cgo, so a platform-specific file that breaks one of them fails
# `make test`. With a warm Go build cache the six builds take seconds; on a fresh
# machine each operating system's standard library and dependencies compile once
# (about a minute of CPU each). Run from the repository root by scripts/check.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
start=$SECONDS
for goos in linux darwin windows; do
	for goarch in amd64 arm64; do
		t=$SECONDS
		if ! CGO_ENABLED=0 GOOS=$goos GOARCH=$goarch GOFLAGS= go build -trimpath -o "$out/backapp-agent-$goos-$goarch" ./cmd/backapp-agent; then
			echo "agent-cross: backapp-agent does not build for $goos/$goarch" >&2
			exit 1
		fi
		echo "agent-cross: $goos/$goarch in $((SECONDS - t))s"
	done
done
echo "agent-cross: backapp-agent builds for linux, darwin and windows on amd64 and arm64 ($((SECONDS - start))s)"
