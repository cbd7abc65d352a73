# backapp — the two commands: `make run` and `make test`.
SHELL := /bin/bash
GO ?= go
GOBIN ?= $(shell $(GO) env GOPATH)/bin
export PATH := $(GOBIN):$(PATH)
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS := -s -w -X github.com/backapp/backapp/internal/version.Version=$(VERSION) -X github.com/backapp/backapp/internal/version.Commit=$(COMMIT)

.PHONY: run build test check tools bench clean

## run: start the server on http://localhost:8080 (SQLite + local storage under ./data)
run:
	$(GO) run -ldflags '$(LDFLAGS)' ./cmd/backapp serve

## build: build the server and agent binaries into ./bin
build:
	CGO_ENABLED=0 $(GO) build -ldflags '$(LDFLAGS)' -o bin/backapp ./cmd/backapp

## tools: install the test tools this project needs (cached in GOPATH/bin and apt)
tools:
	@bash scripts/tools.sh

## test: format, vet and lint checks, then every test against real PostgreSQL and S3
test: tools
	@bash scripts/test.sh

## check: only the static checks
check: tools
	@bash scripts/check.sh

## bench: benchmarks against real PostgreSQL and S3 (numbers go in docs/benchmarks.md)
bench: tools
	@bash scripts/bench.sh

clean:
	rm -rf bin
