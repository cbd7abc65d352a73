package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/backapp/backapp/internal/store"
)

// estimateTests test store.Estimates and the reporting of running restores.
var estimateTests = []test{
	{"Estimates", testEstimates},
	{"EstimateReports", testEstimateReports},
	{"RestoreReports", testRestoreReports},
}

func testEstimates(t *testing.T, s store.Store) {
	ctx := context.Background()
	alice := mkUser(t, s, "alice@example.com", t0, true)
	a := mkAgent(t, s, alice.ID, "laptop", t0)
	b := mkAgent(t, s, alice.ID, "desktop", t0)
	c1 := mkConfig(t, s, alice.ID, a.ID, "home", t0)
	c2 := mkConfig(t, s, alice.ID, a.ID, "work", t0)

	_, err := s.ConfigEstimate(ctx, c1.ID)
	wantErr(t, "ConfigEstimate before any", err, store.ErrNotFound)
	_, err = s.ConfigEstimate(ctx, "not-a-uuid")
	wantErr(t, "ConfigEstimate(not a uuid)", err, store.ErrNotFound)

	e1 := store.Estimate{ConfigID: c1.ID, UserID: alice.ID, AgentID: a.ID, RequestedAt: t0.Add(time.Second)}
	check(t, "PutEstimate", s.PutEstimate(ctx, &e1))
	if e1.ID == "" || e1.Status != store.EstimatePending {
		t.Fatalf("PutEstimate: id %q status %q, want an id and pending", e1.ID, e1.Status)
	}
	got, err := s.ConfigEstimate(ctx, c1.ID)
	check(t, "ConfigEstimate", err)
	equal(t, "ConfigEstimate", got, e1)
	got, err = s.GetEstimate(ctx, e1.ID)
	check(t, "GetEstimate", err)
	equal(t, "GetEstimate", got, e1)
	e2 := store.Estimate{ConfigID: c2.ID, UserID: alice.ID, AgentID: a.ID, RequestedAt: t0}
	check(t, "PutEstimate c2", s.PutEstimate(ctx, &e2))

	pend, err := s.PendingEstimates(ctx, a.ID)
	check(t, "PendingEstimates", err)
	equal(t, "PendingEstimates oldest first", estimateIDs(pend), []string{e2.ID, e1.ID})
	pend, err = s.PendingEstimates(ctx, b.ID)
	check(t, "PendingEstimates(b)", err)
	equal(t, "PendingEstimates(b)", len(pend), 0)

	at := t0.Add(time.Minute)
	check(t, "StartEstimate", s.StartEstimate(ctx, e1.ID, at))
	wantErr(t, "StartEstimate twice", s.StartEstimate(ctx, e1.ID, at), store.ErrConflict)
	wantErr(t, "StartEstimate(unknown)", s.StartEstimate(ctx, newID(t), at), store.ErrNotFound)
	got, _ = s.GetEstimate(ctx, e1.ID)
	equal(t, "started estimate", [3]any{got.Status, got.StartedAt, got.ReportedAt}, [3]any{store.EstimateRunning, &at, &at})

	done := at.Add(time.Minute)
	res := store.EstimateResult{Status: store.EstimateDone, Files: 12, Dirs: 3, Bytes: 6 << 30, Issues: 1,
		Samples: []store.EstimateIssue{{Path: "/home/a/locked", Message: "open: permission denied"}}, At: done}
	check(t, "FinishEstimate", s.FinishEstimate(ctx, e1.ID, res))
	got, _ = s.GetEstimate(ctx, e1.ID)
	equal(t, "finished estimate", [8]any{got.Status, got.Files, got.Dirs, got.Bytes, got.Issues, got.Samples, got.FinishedAt, got.Finished()},
		[8]any{store.EstimateDone, int64(12), int64(3), int64(6 << 30), int64(1), res.Samples, &done, true})
	wantErr(t, "FinishEstimate twice", s.FinishEstimate(ctx, e1.ID, res), store.ErrConflict)
	wantErr(t, "FinishEstimate(unknown)", s.FinishEstimate(ctx, newID(t), res), store.ErrNotFound)
	if err := s.FinishEstimate(ctx, e2.ID, store.EstimateResult{Status: "bogus", At: done}); err == nil {
		t.Errorf("FinishEstimate with a bogus status: no error")
	}

	// Asking again replaces the estimate: a new id, pending, the old numbers gone.
	e3 := store.Estimate{ConfigID: c1.ID, UserID: alice.ID, AgentID: b.ID, RequestedAt: done}
	check(t, "PutEstimate again", s.PutEstimate(ctx, &e3))
	if e3.ID == e1.ID {
		t.Errorf("PutEstimate again kept the id %s", e1.ID)
	}
	got, err = s.ConfigEstimate(ctx, c1.ID)
	check(t, "ConfigEstimate after replacing", err)
	equal(t, "ConfigEstimate after replacing", got, e3)
	_, err = s.GetEstimate(ctx, e1.ID)
	wantErr(t, "GetEstimate of the replaced one", err, store.ErrNotFound)

	// Deleting the agent keeps the estimate; deleting the configuration removes it.
	check(t, "DeleteAgent", s.DeleteAgent(ctx, b.ID))
	got, err = s.GetEstimate(ctx, e3.ID)
	check(t, "GetEstimate after its agent was deleted", err)
	equal(t, "agent of an estimate whose agent was deleted", got.AgentID, "")
	check(t, "DeleteConfig", s.DeleteConfig(ctx, c1.ID))
	_, err = s.GetEstimate(ctx, e3.ID)
	wantErr(t, "GetEstimate after its config was deleted", err, store.ErrNotFound)
}

func estimateIDs(es []store.Estimate) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.ID
	}
	return out
}

func testEstimateReports(t *testing.T, s store.Store) {
	ctx := context.Background()
	alice := mkUser(t, s, "alice@example.com", t0, true)
	a := mkAgent(t, s, alice.ID, "laptop", t0)
	b := mkAgent(t, s, alice.ID, "desktop", t0)
	mk := func(name string) store.Estimate {
		c := mkConfig(t, s, alice.ID, a.ID, name, t0)
		e := store.Estimate{ConfigID: c.ID, UserID: alice.ID, AgentID: a.ID, RequestedAt: t0}
		check(t, "PutEstimate", s.PutEstimate(ctx, &e))
		return e
	}
	e1, e2, e3 := mk("one"), mk("two"), mk("three")
	check(t, "StartEstimate e1", s.StartEstimate(ctx, e1.ID, t0))
	check(t, "StartEstimate e2", s.StartEstimate(ctx, e2.ID, t0))

	later := t0.Add(10 * time.Minute)
	// e3 is pending, the last id names nothing: only e1 is running on a.
	running, err := s.TouchEstimates(ctx, a.ID, []string{e1.ID, e3.ID, newID(t), "not-a-uuid"}, later)
	check(t, "TouchEstimates", err)
	equal(t, "TouchEstimates running", running, []string{e1.ID})
	running, err = s.TouchEstimates(ctx, b.ID, []string{e2.ID}, later)
	check(t, "TouchEstimates by another agent", err)
	equal(t, "TouchEstimates by another agent", len(running), 0)

	stale, err := s.StaleEstimates(ctx, t0.Add(5*time.Minute))
	check(t, "StaleEstimates", err)
	equal(t, "StaleEstimates", estimateIDs(stale), []string{e2.ID})
	stale, err = s.StaleEstimates(ctx, later.Add(time.Second))
	check(t, "StaleEstimates later", err)
	ids := estimateIDs(stale)
	slices.Sort(ids)
	want := []string{e1.ID, e2.ID}
	slices.Sort(want)
	equal(t, "StaleEstimates later", ids, want)
}

func testRestoreReports(t *testing.T, s store.Store) {
	ctx := context.Background()
	alice := mkUser(t, s, "alice@example.com", t0, true)
	a := mkAgent(t, s, alice.ID, "laptop", t0)
	b := mkAgent(t, s, alice.ID, "desktop", t0)
	run := mkRestoreRun(t, s, alice.ID, a.ID)
	mk := func() store.Restore {
		r := store.Restore{UserID: alice.ID, RunID: run.ID, AgentID: a.ID, TargetDir: "/t", CreatedAt: t0}
		check(t, "CreateRestore", s.CreateRestore(ctx, &r))
		check(t, "StartRestore", s.StartRestore(ctx, r.ID, t0))
		return r
	}
	reported, silent, old := mk(), mk(), mk()
	check(t, "TouchRestores", s.TouchRestores(ctx, a.ID, []string{reported.ID, silent.ID, "not-a-uuid"}, t0))
	later := t0.Add(10 * time.Minute)
	check(t, "TouchRestores later", s.TouchRestores(ctx, a.ID, []string{reported.ID}, later))
	check(t, "TouchRestores by another agent", s.TouchRestores(ctx, b.ID, []string{silent.ID}, later))
	check(t, "TouchRestores of none", s.TouchRestores(ctx, a.ID, nil, later))
	got, _ := s.GetRestore(ctx, reported.ID)
	equal(t, "reported at", got.ReportedAt, &later)

	// Progress: written so far, and a report; only by its agent, only while running.
	progressAt := later.Add(time.Minute)
	check(t, "ProgressRestore", s.ProgressRestore(ctx, reported.ID, a.ID, 12, 3456, progressAt))
	got, _ = s.GetRestore(ctx, reported.ID)
	equal(t, "progress", [3]any{got.FilesWritten, got.BytesWritten, *got.ReportedAt}, [3]any{int64(12), int64(3456), progressAt})
	if err := s.ProgressRestore(ctx, reported.ID, b.ID, 99, 99, progressAt); !errors.Is(err, store.ErrConflict) {
		t.Errorf("ProgressRestore by another agent: %v, want ErrConflict", err)
	}
	later = progressAt

	// old was never reported (an agent too old to list restores): never stale.
	stale, err := s.StaleRestores(ctx, later)
	check(t, "StaleRestores", err)
	equal(t, "StaleRestores", restoreIDs(stale), []string{silent.ID})
	check(t, "FinishRestore", s.FinishRestore(ctx, silent.ID, store.RestoreResult{Status: store.RestoreFailed, At: later}))
	if err := s.ProgressRestore(ctx, silent.ID, a.ID, 1, 1, later); !errors.Is(err, store.ErrConflict) {
		t.Errorf("ProgressRestore of a finished restore: %v, want ErrConflict", err)
	}
	stale, err = s.StaleRestores(ctx, later.Add(time.Hour))
	check(t, "StaleRestores after finishing", err)
	equal(t, "StaleRestores after finishing", restoreIDs(stale), []string{reported.ID})
	got, _ = s.GetRestore(ctx, old.ID)
	equal(t, "a restore never reported", [2]any{got.Status, got.ReportedAt}, [2]any{store.RestoreRunning, (*time.Time)(nil)})
}
