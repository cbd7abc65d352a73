package main

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/backapp/backapp/internal/testenv/wine"
)

// TestDeps keeps the agent binary free of what it must not link: database drivers,
// templates, the AWS SDK (the agent holds no storage credentials) and server code.
func TestDeps(t *testing.T) {
	wine.Skip(t, "the Go toolchain this test runs is a Linux program")
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	forbidden := []string{
		"github.com/jackc/pgx", "modernc.org/sqlite", "github.com/lib/pq", "github.com/mattn/go-sqlite3",
		"database/sql", "html/template", "github.com/aws/", "github.com/pressly/goose",
		"github.com/backapp/backapp/internal/server", "github.com/backapp/backapp/internal/web",
		"github.com/backapp/backapp/internal/api", "github.com/backapp/backapp/internal/store",
		"github.com/backapp/backapp/internal/agentapi", "github.com/backapp/backapp/internal/storage",
		"github.com/backapp/backapp/internal/testenv/",
	}
	n := 0
	for _, pkg := range strings.Fields(string(out)) {
		n++
		for _, f := range forbidden {
			if pkg == f || strings.HasPrefix(pkg, strings.TrimSuffix(f, "/")+"/") || (strings.HasSuffix(f, "/") && strings.HasPrefix(pkg, f)) {
				t.Errorf("backapp-agent imports %s (forbidden: %s)", pkg, f)
			}
		}
	}
	if n < 10 {
		t.Fatalf("go list printed only %d packages:\n%s", n, out)
	}
}
