# backapp — the two commands: `make run` and `make test`.
SHELL := /bin/bash
GO ?= go
GOBIN ?= $(shell $(GO) env GOPATH)/bin
export PATH := $(GOBIN):$(PATH)
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS := -s -w -X github.com/backapp/backapp/internal/version.Version=$(VERSION) -X github.com/backapp/backapp/internal/version.Commit=$(COMMIT)

.PHONY: run build agents test check tools bench cover clean screenshots

## run: start the server on http://localhost:8080 (SQLite + local storage under ./data)
run:
	$(GO) run -ldflags '$(LDFLAGS)' ./cmd/backapp serve

## build: build the server and agent binaries into ./bin, and the agents for every
## platform into ./bin/agents, which the server offers for download
build: agents
	CGO_ENABLED=0 $(GO) build -ldflags '$(LDFLAGS)' -o bin/backapp ./cmd/backapp
	CGO_ENABLED=0 $(GO) build -ldflags '$(LDFLAGS)' -o bin/backapp-agent ./cmd/backapp-agent

## agents: static agent binaries for every supported platform into ./bin/agents
AGENT_TARGETS := linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64
agents:
	@for t in $(AGENT_TARGETS); do \
		os=$${t%/*}; arch=$${t#*/}; ext=; [ $$os = windows ] && ext=.exe; \
		echo "bin/agents/backapp-agent-$$os-$$arch$$ext"; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags '$(LDFLAGS)' \
			-o bin/agents/backapp-agent-$$os-$$arch$$ext ./cmd/backapp-agent || exit 1; \
	done

## tools: install the test tools this project needs (cached in GOPATH/bin and apt)
tools:
	@bash scripts/tools.sh

## test: format, vet and lint checks, then every test against real PostgreSQL and S3
test: tools
	@bash scripts/test.sh

## check: only the static checks
check: tools
	@bash scripts/check.sh

## cover: every test with coverage counted in the test binaries and in the real server
## and agent programs the end-to-end tests start; prints the table and the total,
## writes cover.out and cover.html (make test prints the same table, with -race)
cover: tools
	@bash scripts/cover.sh

## bench: benchmarks against real PostgreSQL and S3 (numbers go in docs/benchmarks.md)
bench: tools
	@bash scripts/bench.sh

## screenshots: PNGs of the dashboard, configurations, backups, a run, the restore form
## and a restore at 390 and 1280 px, light and dark, into ./screenshots (ignored by
## git), from a server and agent seeded for it (needs chromium: make tools)
screenshots:
	rm -rf screenshots
	BACKAPP_SCREENSHOTS=$(CURDIR)/screenshots $(GO) test -count=1 -run '^TestScreenshots$$' ./internal/server/

clean:
	rm -rf bin
