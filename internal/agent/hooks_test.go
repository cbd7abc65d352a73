package agent

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/backapp/backapp/internal/agentproto"
	"github.com/backapp/backapp/internal/testenv/treetest"
)

// TestHooks: a pre hook runs before the scan (what it writes is backed up) and the
// post hook after; a failing or hanging pre hook fails the run with a message that
// names the hook and shows its output, and the post hook still runs; a failing post
// hook leaves the backup completed but listed among the run's errors.
func TestHooks(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("hooks here are sh commands")
	}
	f := newFakeServer(t)
	r := newRunner(t, f)
	ctx := context.Background()
	src := t.TempDir()
	treetest.Write(t, src, map[string]string{"a.txt": "alpha"})
	marks := t.TempDir()
	post := filepath.Join(marks, "post")

	backup := func(id string, hooks agentproto.Hooks) (BackupResult, fakeRun, error) {
		t.Helper()
		_ = os.Remove(post)
		addConfig(f, id, src, agentproto.Options{Type: "full"})
		f.set(func(f *fakeServer) {
			c := f.configs[id]
			c.Hooks = &hooks
			f.configs[id] = c
		})
		res, err := r.Backup(ctx, BackupRequest{ConfigID: id})
		return res, f.run(res.RunID), err
	}
	ran := func(what string) {
		t.Helper()
		if _, err := os.Stat(post); err != nil {
			t.Errorf("%s: the post hook did not run", what)
		}
	}

	// Both succeed: the dump the pre hook writes is in the backup.
	res, run, err := backup("ok", agentproto.Hooks{Pre: "echo dumped > " + filepath.Join(src, "db.dump"), Post: "touch " + post})
	if err != nil || run.status != agentproto.StatusCompleted {
		t.Fatalf("backup with hooks: %v, status %q", err, run.status)
	}
	if res.Progress.FilesDone != 3 { // the source directory, a.txt, db.dump
		t.Errorf("stored %d entries, want 3 (the pre hook's dump included)", res.Progress.FilesDone)
	}
	ran("success")

	// A failing pre hook.
	_, run, err = backup("pre-fails", agentproto.Hooks{Pre: "echo database is locked >&2; exit 3", Post: "touch " + post})
	if err == nil || run.status != agentproto.StatusFailed || !strings.Contains(run.complete.Error, `pre hook "echo database is locked`) ||
		!strings.Contains(run.complete.Error, "exit status 3") || !strings.Contains(run.complete.Error, "database is locked") {
		t.Errorf("failing pre hook: err %v, status %q, error %q", err, run.status, run.complete.Error)
	}
	ran("failing pre hook")

	// A pre hook that hangs is stopped at its timeout.
	start := time.Now()
	_, run, err = backup("pre-hangs", agentproto.Hooks{Pre: "sleep 60", Post: "touch " + post, TimeoutSeconds: 1})
	if err == nil || run.status != agentproto.StatusFailed || !strings.Contains(run.complete.Error, "pre hook timed out after 1s") {
		t.Errorf("hanging pre hook: err %v, status %q, error %q", err, run.status, run.complete.Error)
	}
	if d := time.Since(start); d > 4*time.Second { // 1 s, then the whole process group is killed
		t.Errorf("hanging pre hook held the run for %v", d)
	}
	ran("hanging pre hook")

	// A failing post hook: the backup is good, the run says the hook failed.
	_, run, err = backup("post-fails", agentproto.Hooks{Post: "echo cannot unlock >&2; exit 1"})
	if err != nil || run.status != agentproto.StatusCompleted {
		t.Fatalf("failing post hook: %v, status %q", err, run.status)
	}
	found := false
	for _, e := range run.complete.Errors {
		found = found || strings.Contains(e.Message, "post hook") && strings.Contains(e.Message, "cannot unlock")
	}
	if !found {
		t.Errorf("run errors %+v lack the failed post hook", run.complete.Errors)
	}
}
