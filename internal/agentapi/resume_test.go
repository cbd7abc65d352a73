package agentapi_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/backapp/backapp/internal/agentproto"
	"github.com/backapp/backapp/internal/storage"
)

// backup/resume: the agent that opened a run may continue it while it is running
// (same keys, same uploads, and the reaper counts silence from the resume); another
// agent may not, and a finished run cannot be resumed.
func TestBackupResume(t *testing.T) {
	forBackends(t, func(t *testing.T, e *env, dest string) {
		ctx := context.Background()
		u := e.user("u@example.com")
		a, b := e.agent(u, "a"), e.agent(u, "b")
		cfg := e.config(a, dest, `{"type":"full"}`)
		start := a.startAndUpload(t, cfg.ID)

		e.clock.Add(9 * time.Minute) // the agent was down for 9 minutes
		var res agentproto.BackupStartResponse
		code, msg := a.call("POST", agentproto.PathBackupResume, agentproto.BackupResumeRequest{RunID: start.RunID}, &res)
		mustOK(t, "backup/resume", code, msg)
		if res.RunID != start.RunID || res.ArchiveKey != start.ArchiveKey || res.ManifestKey != start.ManifestKey || res.Config.ID != cfg.ID {
			t.Errorf("resume = %+v, want the run as started: %+v", res, start)
		}
		e.clock.Add(2 * time.Minute)
		if n, err := e.api.Runs().Reap(ctx); err != nil || n != 0 {
			t.Errorf("Reap 2 min after the resume = %d, %v; want 0", n, err)
		}
		if ups, _ := e.dests[dest].ListUploads(ctx, storage.AgentPrefix(u.ID, a.ID)); len(ups) != 2 {
			t.Errorf("open uploads after the resume: %d, want the run's 2", len(ups))
		}

		code, msg = b.call("POST", agentproto.PathBackupResume, agentproto.BackupResumeRequest{RunID: start.RunID}, nil)
		wantStatus(t, "resume of another agent's run", code, msg, http.StatusNotFound)

		code, msg = a.call("POST", agentproto.PathBackupComplete, agentproto.BackupCompleteRequest{RunID: start.RunID, Status: agentproto.StatusFailed, Error: "given up"}, nil)
		mustOK(t, "backup/complete", code, msg)
		code, msg = a.call("POST", agentproto.PathBackupResume, agentproto.BackupResumeRequest{RunID: start.RunID}, nil)
		wantStatus(t, "resume of a failed run", code, msg, http.StatusConflict)
	})
}
