//go:build !windows

package agent

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A state directory that already exists with a mode open to others (made by hand, or
// by an older agent) is made 0700 on opening, and the change is logged; a private one
// is left alone, silently. The catalogs in it list every file name backed up.
func TestOpenStateTightensExistingDirectory(t *testing.T) {
	for _, tc := range []struct {
		mode    os.FileMode
		logged  bool
		wantLog string
	}{
		{0o755, true, "was=0755 now=0700"},
		{0o770, true, "was=0770 now=0700"},
		{0o700, false, ""},
	} {
		dir := filepath.Join(t.TempDir(), "state")
		if err := os.MkdirAll(filepath.Join(dir, "configs"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, tc.mode); err != nil {
			t.Fatal(err)
		}
		var logs logBuffer
		if _, err := OpenState(dir, slog.New(slog.NewTextHandler(&logs, nil))); err != nil {
			t.Fatalf("OpenState of a %#o directory: %v", tc.mode, err)
		}
		fi, err := os.Stat(dir)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != 0o700 {
			t.Errorf("state directory made %#o: mode %#o after OpenState, want 0700", tc.mode, got)
		}
		got := logs.String()
		if tc.logged != strings.Contains(got, "state directory was open to other users") || !strings.Contains(got, tc.wantLog) {
			t.Errorf("state directory made %#o: log %q; want the change logged: %v (%s)", tc.mode, got, tc.logged, tc.wantLog)
		}
	}
}

// A new state directory is created 0700.
func TestOpenStateCreatesPrivateDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new", "state")
	if _, err := OpenState(dir, nil); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{dir, filepath.Join(dir, "configs")} {
		if fi, err := os.Stat(d); err != nil || fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s: %v, %v; want mode 0700", d, fi.Mode(), err)
		}
	}
}
