package agent

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/backapp/backapp/internal/agentproto"
	"github.com/backapp/backapp/internal/testenv/treetest"
)

// TestRestoreProgress: a restore the server asked for reports files and bytes written
// while it runs, never going back; an answer "cancel" stops it, reported cancelled;
// against a server without the endpoint it goes on and completes.
func TestRestoreProgress(t *testing.T) {
	f := newFakeServer(t)
	r := newRunner(t, f)
	ctx := context.Background()
	src := t.TempDir()
	files := map[string]string{}
	for i := range 2000 {
		files[fmt.Sprintf("d%02d/f%04d.txt", i%30, i)] = strings.Repeat("x", 100+i%900)
	}
	treetest.Write(t, src, files)
	addConfig(f, "many", src, agentproto.Options{Type: "full"})
	res, err := r.Backup(ctx, BackupRequest{ConfigID: "many"})
	if err != nil {
		t.Fatal(err)
	}

	err = r.restoreCommand(ctx, agentproto.RestoreSpec{RestoreID: "rs1", RunID: res.RunID, TargetDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	f.set(func(f *fakeServer) {
		if len(f.restoreProgress) == 0 {
			t.Fatal("no progress reported during the restore")
		}
		var last int64
		for _, p := range f.restoreProgress {
			if p.RestoreID != "rs1" || p.FilesWritten < last {
				t.Errorf("progress %+v after %d files", p, last)
			}
			last = p.FilesWritten
		}
		if last == 0 || f.restores[0].Status != agentproto.StatusCompleted || f.restores[0].FilesWritten != 2000 {
			t.Errorf("last progress %d files; outcome %+v", last, f.restores[0])
		}
		f.cancelRestore = map[string]bool{"rs2": true}
	})

	err = r.restoreCommand(ctx, agentproto.RestoreSpec{RestoreID: "rs2", RunID: res.RunID, TargetDir: t.TempDir()})
	if !errors.Is(err, ErrCancelled) {
		t.Errorf("restore cancelled through its progress answer: got %v", err)
	}
	f.set(func(f *fakeServer) {
		if rs := f.restores[1]; rs.RestoreID != "rs2" || rs.Status != agentproto.StatusCancelled || !strings.Contains(rs.Error, "cancelled from the server") {
			t.Errorf("cancelled restore reported %+v", rs)
		}
		f.noRestoreProgress = true
	})

	if err := r.restoreCommand(ctx, agentproto.RestoreSpec{RestoreID: "rs3", RunID: res.RunID, TargetDir: t.TempDir()}); err != nil {
		t.Errorf("restore against a server without progress reports: %v", err)
	}
	f.set(func(f *fakeServer) {
		if rs := f.restores[2]; rs.Status != agentproto.StatusCompleted {
			t.Errorf("restore rs3 reported %+v", rs)
		}
	})
}
