package agentapi_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/backapp/backapp/internal/agentproto"
	"github.com/backapp/backapp/internal/store"
)

// heartbeat is one heartbeat of a with req; it returns the commands.
func (a *agent) heartbeat(t *testing.T, req agentproto.HeartbeatRequest) []agentproto.Command {
	t.Helper()
	var out agentproto.HeartbeatResponse
	code, msg := a.call("POST", agentproto.PathHeartbeat, req, &out)
	mustOK(t, "heartbeat of "+a.Name, code, msg)
	return out.Commands
}

func (e *env) restore(id string) store.Restore {
	e.t.Helper()
	r, err := e.st.GetRestore(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

// A restore whose agent stops listing it in its heartbeats is failed by the reaper
// once silent for StaleAfter; one it keeps listing is not; and one of an agent too
// old to list restores is never reaped (it would look silent from the start).
func TestKilledAgentRestoreReaped(t *testing.T) {
	forBackends(t, func(t *testing.T, e *env, dest string) {
		ctx := context.Background()
		u := e.user("u@example.com")
		a, old := e.agent(u, "a"), e.agent(u, "old")
		cfg := e.config(a, dest, `{"type":"full"}`)
		run := store.Run{ConfigID: cfg.ID, UserID: u.ID, AgentID: a.ID, StartTime: e.clock.Now(), Status: agentproto.StatusCompleted}
		if err := e.st.CreateRun(ctx, &run); err != nil {
			t.Fatal(err)
		}
		mk := func(ag *agent) string {
			r := store.Restore{UserID: u.ID, RunID: run.ID, AgentID: ag.ID, TargetDir: "/restore", CreatedAt: e.clock.Now()}
			if err := e.st.CreateRestore(ctx, &r); err != nil {
				t.Fatal(err)
			}
			return r.ID
		}
		dies, lives, ofOld := mk(a), mk(a), mk(old)
		feats := []string{agentproto.FeatureReportRestores}
		if cmds := a.heartbeat(t, agentproto.HeartbeatRequest{Features: feats}); len(cmds) != 2 {
			t.Fatalf("commands = %+v, want the two restores", cmds)
		}
		if cmds := old.heartbeat(t, agentproto.HeartbeatRequest{}); len(cmds) != 1 {
			t.Fatalf("commands of the old agent = %+v, want its restore", cmds)
		}

		e.clock.Add(6 * time.Minute)
		a.heartbeat(t, agentproto.HeartbeatRequest{Features: feats, Restores: []string{lives}})
		e.clock.Add(3 * time.Minute)
		if n, err := e.api.Runs().Reap(ctx); err != nil || n != 0 {
			t.Fatalf("Reap after 9 min = %d, %v; want 0", n, err)
		}
		e.clock.Add(2 * time.Minute)
		if n, err := e.api.Runs().Reap(ctx); err != nil || n != 1 {
			t.Fatalf("Reap after 11 min = %d, %v; want 1", n, err)
		}
		got := e.restore(dies)
		if got.Status != store.RestoreFailed || !strings.Contains(got.Error, "agent stopped reporting this restore") || got.FinishedAt == nil {
			t.Errorf("reaped restore = %+v, want failed: agent stopped reporting this restore", got)
		}
		if got := e.restore(lives); got.Status != store.RestoreRunning {
			t.Errorf("restore still listed: %s, want running", got.Status)
		}

		// The agent's late report changes nothing.
		code, msg := a.call("POST", agentproto.PathRestoreDone, agentproto.RestoreCompleteRequest{RestoreID: dies, Status: agentproto.StatusCompleted}, nil)
		mustOK(t, "late restore report", code, msg)
		if got := e.restore(dies); got.Status != store.RestoreFailed {
			t.Errorf("reaped restore after a late report: %s, want failed", got.Status)
		}

		e.clock.Add(time.Hour)
		if n, err := e.api.Runs().Reap(ctx); err != nil || n != 1 {
			t.Fatalf("Reap an hour later = %d, %v; want 1 (the restore no longer listed)", n, err)
		}
		if got := e.restore(lives); got.Status != store.RestoreFailed {
			t.Errorf("restore silent for an hour: %s, want failed", got.Status)
		}
		if got := e.restore(ofOld); got.Status != store.RestoreRunning {
			t.Errorf("restore of an agent too old to report restores: %s, want running", got.Status)
		}
	})
}

// Estimates through the protocol: an agent too old to estimate never gets the
// command (its estimate fails, saying so); one that can gets the config as saved
// without its secrets, once; asking again cancels the running one on the agent and
// refuses its late report; an agent that stops listing an estimate has it reaped;
// another user's agent cannot report it.
func TestEstimateCommands(t *testing.T) {
	forBackends(t, func(t *testing.T, e *env, dest string) {
		ctx := context.Background()
		u := e.user("u@example.com")
		a := e.agent(u, "a")
		mallory := e.agent(e.user("m@example.com"), "evil")
		cfg := e.config(a, dest, `{"type":"full","encryption":true,"passphrase":"secret words here"}`)
		ask := func() store.Estimate {
			es := store.Estimate{ConfigID: cfg.ID, UserID: u.ID, AgentID: a.ID, RequestedAt: e.clock.Now()}
			if err := e.st.PutEstimate(ctx, &es); err != nil {
				t.Fatal(err)
			}
			return es
		}
		get := func(id string) store.Estimate {
			es, err := e.st.GetEstimate(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			return es
		}

		e1 := ask()
		if cmds := a.heartbeat(t, agentproto.HeartbeatRequest{Host: agentproto.Host{Version: "0.9"}}); len(cmds) != 0 {
			t.Errorf("an agent without the estimate feature got %+v", cmds)
		}
		if got := get(e1.ID); got.Status != store.EstimateFailed || !strings.Contains(got.Error, "too old to estimate") {
			t.Errorf("estimate of an old agent = %+v, want failed: too old", got)
		}

		feats := []string{agentproto.FeatureEstimate}
		e2 := ask()
		cmds := a.heartbeat(t, agentproto.HeartbeatRequest{Features: feats})
		if len(cmds) != 1 || cmds[0].Type != agentproto.CommandEstimate || cmds[0].Estimate == nil {
			t.Fatalf("commands = %+v, want one estimate", cmds)
		}
		spec := *cmds[0].Estimate
		if spec.EstimateID != e2.ID || spec.Config.ID != cfg.ID || len(spec.Config.Sources) != 1 ||
			spec.Config.Sources[0].Path != "/data" || spec.Config.Sources[0].ExcludePatterns[0] != "*.tmp" || spec.Config.Options.Passphrase != "" {
			t.Errorf("estimate spec = %+v, want config %s's sources and no passphrase", spec, cfg.ID)
		}
		if cmds := a.heartbeat(t, agentproto.HeartbeatRequest{Features: feats}); len(cmds) != 0 {
			t.Errorf("estimate handed out twice: %+v", cmds)
		}

		// Asked again: the agent is told to stop the running one, and gets the new one.
		e3 := ask()
		cmds = a.heartbeat(t, agentproto.HeartbeatRequest{Features: feats, Estimates: []string{e2.ID}})
		if len(cmds) != 2 || cmds[0].Type != agentproto.CommandCancel || cmds[0].RunID != e2.ID ||
			cmds[1].Type != agentproto.CommandEstimate || cmds[1].Estimate.EstimateID != e3.ID {
			t.Fatalf("commands after asking again = %+v, want cancel %s, estimate %s", cmds, e2.ID, e3.ID)
		}
		code, msg := a.call("POST", agentproto.PathEstimateDone, agentproto.EstimateCompleteRequest{EstimateID: e2.ID, Status: "done", Files: 1}, nil)
		wantStatus(t, "report of a replaced estimate", code, msg, http.StatusNotFound)
		code, msg = mallory.call("POST", agentproto.PathEstimateDone, agentproto.EstimateCompleteRequest{EstimateID: e3.ID, Status: "done", Files: 1}, nil)
		wantStatus(t, "report by another user's agent", code, msg, http.StatusNotFound)
		code, msg = a.call("POST", agentproto.PathEstimateDone, agentproto.EstimateCompleteRequest{EstimateID: e3.ID, Status: "maybe"}, nil)
		wantStatus(t, "report with a bad status", code, msg, http.StatusBadRequest)

		// Listed at 9 minutes, silent after: reaped once StaleAfter has passed since.
		e.clock.Add(9 * time.Minute)
		if cmds := a.heartbeat(t, agentproto.HeartbeatRequest{Features: feats, Estimates: []string{e3.ID}}); len(cmds) != 0 {
			t.Errorf("commands while the estimate runs = %+v, want none", cmds)
		}
		e.clock.Add(9 * time.Minute)
		if n, err := e.api.Runs().Reap(ctx); err != nil || n != 0 {
			t.Fatalf("Reap 9 min after the last listing = %d, %v; want 0", n, err)
		}
		e.clock.Add(2 * time.Minute)
		if n, err := e.api.Runs().Reap(ctx); err != nil || n != 1 {
			t.Fatalf("Reap 11 min after the last listing = %d, %v; want 1", n, err)
		}
		if got := get(e3.ID); got.Status != store.EstimateFailed || !strings.Contains(got.Error, "agent stopped reporting this estimate") {
			t.Errorf("reaped estimate = %+v", got)
		}

		// A report is recorded as sent.
		e4 := ask()
		a.heartbeat(t, agentproto.HeartbeatRequest{Features: feats})
		rep := agentproto.EstimateCompleteRequest{EstimateID: e4.ID, Status: "done", Files: 7, Dirs: 2, Bytes: 3152, Issues: 1,
			Errors: []agentproto.FileError{{Path: "/data/locked", Message: "read dir: permission denied"}}}
		code, msg = a.call("POST", agentproto.PathEstimateDone, rep, nil)
		mustOK(t, "estimate report", code, msg)
		got := get(e4.ID)
		if got.Status != store.EstimateDone || got.Files != 7 || got.Dirs != 2 || got.Bytes != 3152 || got.Issues != 1 ||
			len(got.Samples) != 1 || got.Samples[0].Path != "/data/locked" {
			t.Errorf("recorded estimate = %+v, want the report", got)
		}
	})
}

// Restore progress: the agent running a restore reports files and bytes written so
// far (which also keeps the reaper away); the answer says when the user cancelled
// it; another agent's report is refused as unknown, and one for a restore no longer
// running is a conflict.
func TestRestoreProgressReports(t *testing.T) {
	forBackends(t, func(t *testing.T, e *env, dest string) {
		ctx := context.Background()
		u := e.user("u@example.com")
		a, b := e.agent(u, "a"), e.agent(u, "b")
		mallory := e.agent(e.user("m@example.com"), "evil")
		cfg := e.config(a, dest, `{"type":"full"}`)
		run := store.Run{ConfigID: cfg.ID, UserID: u.ID, AgentID: a.ID, StartTime: e.clock.Now(), Status: agentproto.StatusCompleted}
		if err := e.st.CreateRun(ctx, &run); err != nil {
			t.Fatal(err)
		}
		rs := store.Restore{UserID: u.ID, RunID: run.ID, AgentID: a.ID, TargetDir: "/restore", CreatedAt: e.clock.Now()}
		if err := e.st.CreateRestore(ctx, &rs); err != nil {
			t.Fatal(err)
		}
		feats := []string{agentproto.FeatureReportRestores}
		if cmds := a.heartbeat(t, agentproto.HeartbeatRequest{Features: feats}); len(cmds) != 1 {
			t.Fatalf("commands = %+v, want the restore", cmds)
		}
		e.clock.Add(8 * time.Minute) // silent in heartbeats, but reporting progress
		var resp agentproto.RestoreProgressResponse
		code, msg := a.call("POST", agentproto.PathRestoreProgress, agentproto.RestoreProgressRequest{RestoreID: rs.ID, FilesWritten: 120, BytesWritten: 4 << 20}, &resp)
		mustOK(t, "restore progress", code, msg)
		if resp.Cancel {
			t.Error("progress answered cancel for a restore nobody cancelled")
		}
		got := e.restore(rs.ID)
		if got.FilesWritten != 120 || got.BytesWritten != 4<<20 || got.ReportedAt == nil || !got.ReportedAt.Equal(e.clock.Now()) {
			t.Errorf("restore after progress = %+v", got)
		}
		e.clock.Add(4 * time.Minute)
		if n, err := e.api.Runs().Reap(ctx); err != nil || n != 0 {
			t.Errorf("Reap 4 min after a progress report = %d, %v; want 0", n, err)
		}

		for _, other := range []*agent{b, mallory} {
			if code, _ := other.call("POST", agentproto.PathRestoreProgress, agentproto.RestoreProgressRequest{RestoreID: rs.ID, FilesWritten: 1}, nil); code != http.StatusNotFound {
				t.Errorf("progress by %s: %d, want 404", other.Name, code)
			}
		}

		if _, err := e.st.CancelRestore(ctx, rs.ID, e.clock.Now()); err != nil {
			t.Fatal(err)
		}
		code, msg = a.call("POST", agentproto.PathRestoreProgress, agentproto.RestoreProgressRequest{RestoreID: rs.ID, FilesWritten: 130}, &resp)
		mustOK(t, "restore progress after cancel", code, msg)
		if !resp.Cancel {
			t.Error("progress of a cancelled restore did not answer cancel")
		}
		if err := e.st.FinishRestore(ctx, rs.ID, store.RestoreResult{Status: store.RestoreCancelled, At: e.clock.Now()}); err != nil {
			t.Fatal(err)
		}
		if code, _ := a.call("POST", agentproto.PathRestoreProgress, agentproto.RestoreProgressRequest{RestoreID: rs.ID, FilesWritten: 140}, nil); code != http.StatusConflict {
			t.Errorf("progress of a finished restore: %d, want 409", code)
		}
	})
}
