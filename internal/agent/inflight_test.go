package agent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRestoreInFlightSweep: the temporary files of a restore that never ended (its
// process killed) are removed by SweepRestores, at any depth of its target, with its
// record and the spilled manifests; another restore's files and the user's stay; a
// restore that ended leaves no record.
func TestRestoreInFlightSweep(t *testing.T) {
	st := mustState(t)
	target := t.TempDir()
	prefix, tmpDir, end, err := st.BeginRestore(target)
	if err != nil {
		t.Fatal(err)
	}
	other, _, endOther, err := st.BeginRestore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	endOther()
	left := []string{prefix + "1", "d/" + prefix + "2", "d/e/" + prefix + "3"}
	kept := []string{"d/user-file", "d/" + other + "4"}
	for _, p := range append(left, kept...) {
		p = filepath.Join(target, p)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(tmpDir, "manifest-1.tmp"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	recs, _ := filepath.Glob(filepath.Join(st.Dir, "restores", "*.json"))
	if len(recs) != 1 {
		t.Fatalf("records %v, want the unfinished restore's only", recs)
	}

	// The process died: end was never called. The next start sweeps.
	n, err := st.SweepRestores()
	if err != nil || n != len(left) {
		t.Errorf("swept %d, %v; want %d", n, err, len(left))
	}
	for _, p := range left {
		if _, err := os.Lstat(filepath.Join(target, p)); err == nil {
			t.Errorf("%s left", p)
		}
	}
	for _, p := range kept {
		if _, err := os.Lstat(filepath.Join(target, p)); err != nil {
			t.Errorf("%s removed: %v", p, err)
		}
	}
	if ents, _ := os.ReadDir(tmpDir); len(ents) != 0 {
		t.Errorf("spilled manifests left: %v", ents)
	}
	if recs, _ := filepath.Glob(filepath.Join(st.Dir, "restores", "*")); len(recs) != 0 {
		t.Errorf("records left: %v", recs)
	}
	end() // harmless once swept
	if !strings.HasPrefix(filepath.Base(left[0]), ".backapp-tmp-") {
		t.Errorf("prefix %q", prefix)
	}
}
