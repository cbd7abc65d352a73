// Package testbin builds the project's own programs for tests that run them as real
// processes, once per test binary, and with coverage counters when the run collects
// coverage (BACKAPP_TEST_COVERDIR set, as `make test` and `make cover` do), so that what the
// end-to-end tests exercise counts in the coverage total.
package testbin

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Module is the import path every built program and coverage package lives under.
const Module = "github.com/backapp/backapp"

var (
	mu    sync.Mutex
	dir   string
	built = map[string]*result{}
)

type result struct {
	once sync.Once
	path string
	err  error
}

// Build compiles the main package pkg (an import path under Module, such as
// Module+"/cmd/backapp") once per test binary and returns the executable's path.
// A failed build fails the test with the compiler's output.
func Build(t testing.TB, pkg string) string {
	t.Helper()
	mu.Lock()
	r := built[pkg]
	if r == nil {
		r = &result{}
		built[pkg] = r
	}
	mu.Unlock()
	r.once.Do(func() { r.path, r.err = build(pkg) })
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.path
}

func build(pkg string) (string, error) {
	mu.Lock()
	if dir == "" {
		d, err := os.MkdirTemp("", "backapp-testbin-")
		if err != nil {
			mu.Unlock()
			return "", err
		}
		dir = d
	}
	out := filepath.Join(dir, filepath.Base(pkg))
	mu.Unlock()
	args := []string{"build", "-o", out}
	if Covering() {
		args = append(args, "-cover", "-covermode=atomic", "-coverpkg="+Module+"/...")
	}
	cmd := exec.Command("go", append(args, pkg)...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go %s: %v\n%s", strings.Join(append(args, pkg), " "), err, b)
	}
	return out, nil
}

// CoverDirEnv names the directory where the programs' coverage counters go. It is not
// GOCOVERDIR itself, which `go test` replaces with a directory of its own for each
// test binary; scripts/coverage.sh sets both to the same directory.
const CoverDirEnv = "BACKAPP_TEST_COVERDIR"

// Covering reports whether this run collects the programs' coverage.
func Covering() bool { return os.Getenv(CoverDirEnv) != "" }

// Cleanup removes the built programs; call it from TestMain after m.Run.
func Cleanup() {
	mu.Lock()
	defer mu.Unlock()
	if dir != "" {
		os.RemoveAll(dir)
		dir = ""
	}
}

// CoverEnv is what a test adds at the end of a program's environment so that the
// program's coverage counters reach the run's directory (later entries win in
// os/exec, so it overrides the GOCOVERDIR that `go test` set for the test itself).
func CoverEnv() []string {
	if d := os.Getenv(CoverDirEnv); d != "" {
		return []string{"GOCOVERDIR=" + d}
	}
	return nil
}
