package agentapi_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/backapp/backapp/internal/agentproto"
	"github.com/backapp/backapp/internal/storage"
	"github.com/backapp/backapp/internal/store"
)

// A restarted agent's first heartbeat (it says how long its process is up) settles
// at once the runs and restores of the previous process that it does not list:
// failed, "the agent restarted during the backup", uploads aborted. A run it lists
// (to resume it) stays running, as does one started after the process, and an agent
// that does not say its uptime (older agents) leaves its runs to the reaper.
func TestRestartedAgentSettlesItsDeadRunsAtOnce(t *testing.T) {
	forBackends(t, func(t *testing.T, e *env, dest string) {
		ctx := context.Background()
		u := e.user("u@example.com")
		a, old := e.agent(u, "a"), e.agent(u, "old")
		dies := a.startAndUpload(t, e.config(a, dest, `{"type":"full"}`).ID)
		resumed := a.startAndUpload(t, e.config(a, dest, `{"type":"full"}`).ID)
		oldRun := old.startAndUpload(t, e.config(old, dest, `{"type":"full"}`).ID)
		done := store.Run{ConfigID: e.config(a, dest, `{}`).ID, UserID: u.ID, AgentID: a.ID, StartTime: e.clock.Now(), Status: agentproto.StatusCompleted}
		if err := e.st.CreateRun(ctx, &done); err != nil {
			t.Fatal(err)
		}
		mkRestore := func() string {
			r := store.Restore{UserID: u.ID, RunID: done.ID, AgentID: a.ID, TargetDir: "/restore", CreatedAt: e.clock.Now()}
			if err := e.st.CreateRestore(ctx, &r); err != nil {
				t.Fatal(err)
			}
			return r.ID
		}
		restoreDies, restoreLives := mkRestore(), mkRestore()
		feats := []string{agentproto.FeatureReportRestores}
		if cmds := a.heartbeat(t, agentproto.HeartbeatRequest{Features: feats, UptimeMS: 60_000,
			Running: []string{dies.RunID, resumed.RunID}}); len(cmds) != 2 {
			t.Fatalf("commands = %+v, want the two restores", cmds)
		}

		// The agent is killed and comes back two minutes later.
		e.clock.Add(2 * time.Minute)
		old.heartbeat(t, agentproto.HeartbeatRequest{}) // no uptime: as before
		a.heartbeat(t, agentproto.HeartbeatRequest{Features: feats, UptimeMS: 1500,
			Running: []string{resumed.RunID}, Restores: []string{restoreLives}})
		// A foreground backup started after the process, not (yet) listed.
		e.clock.Add(10 * time.Second)
		fg := a.startAndUpload(t, e.config(a, dest, `{"type":"full"}`).ID)
		a.heartbeat(t, agentproto.HeartbeatRequest{Features: feats, UptimeMS: 11_500,
			Running: []string{resumed.RunID}, Restores: []string{restoreLives}})

		got := e.run(dies.RunID)
		if got.Status != agentproto.StatusFailed || !strings.Contains(string(got.Errors), "the agent restarted during the backup") ||
			got.ArchiveUploadID != "" || got.ManifestUpload != "" {
			t.Errorf("run not listed after the restart: %s %s (uploads %q %q); want failed: the agent restarted during the backup, uploads aborted",
				got.Status, got.Errors, got.ArchiveUploadID, got.ManifestUpload)
		}
		ups, err := e.dests[dest].ListUploads(ctx, storage.AgentPrefix(u.ID, a.ID))
		if err != nil {
			t.Fatal(err)
		}
		for _, up := range ups {
			if up.Key == dies.ArchiveKey || up.Key == dies.ManifestKey {
				t.Errorf("upload of the dead run left open: %s", up.Key)
			}
		}
		if _, err := e.dests[dest].Stat(ctx, dies.ArchiveKey); err == nil {
			t.Errorf("archive of the dead run exists")
		}
		for what, id := range map[string]string{"listed (resumed)": resumed.RunID, "of an agent without uptime": oldRun.RunID, "started after the process": fg.RunID} {
			if got := e.run(id); got.Status != agentproto.StatusRunning {
				t.Errorf("run %s: %s %s; want running", what, got.Status, got.Errors)
			}
		}
		if got := e.restore(restoreDies); got.Status != store.RestoreFailed || got.Error != "the agent restarted during the restore" {
			t.Errorf("restore not listed after the restart: %s %q; want failed: the agent restarted during the restore", got.Status, got.Error)
		}
		if got := e.restore(restoreLives); got.Status != store.RestoreRunning {
			t.Errorf("restore listed after the restart: %s %q; want running", got.Status, got.Error)
		}
	})
}
