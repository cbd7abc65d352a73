package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/backapp/backapp/internal/store"
)

// restoreTests test store.Restores.
var restoreTests = []test{
	{"Restores", testRestores},
	{"RestoreTransitions", testRestoreTransitions},
	{"RestoresSorted", testRestoresSorted},
	{"RestoreIdentity", testRestoreIdentity},
}

// testRestoresSorted checks the restores list's orders: each key both ways, ties
// broken by creation time then id in the same direction, paging within an order.
func testRestoresSorted(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := mkUser(t, s, "restores-sorted@example.com", t0, true)
	a := mkAgent(t, s, u.ID, "box", t0)
	run := mkRestoreRun(t, s, u.ID, a.ID)
	mk := func(sec int, status, target string) string {
		r := store.Restore{UserID: u.ID, RunID: run.ID, AgentID: a.ID, TargetDir: target, Status: status,
			CreatedAt: t0.Add(time.Duration(sec) * time.Second)}
		check(t, "CreateRestore", s.CreateRestore(ctx, &r))
		return r.ID
	}
	r0 := mk(1, store.RestoreCompleted, "/b")
	r1 := mk(2, store.RestoreFailed, "/a")
	r2 := mk(3, store.RestoreCompleted, "/c")
	r3 := mk(4, store.RestoreQueued, "/a")
	r4 := mk(5, store.RestoreRunning, "/b")
	// Same time, status and target as r4: only the id orders them.
	r5 := mk(5, store.RestoreRunning, "/b")
	lo, hi := min(r4, r5), max(r4, r5)
	for _, tc := range []struct {
		sort string
		asc  bool
		want []string
	}{
		{"", false, []string{hi, lo, r3, r2, r1, r0}},
		{"bogus", false, []string{hi, lo, r3, r2, r1, r0}},
		{store.RestoresByCreated, true, []string{r0, r1, r2, r3, lo, hi}},
		{store.RestoresByStatus, true, []string{r0, r2, r1, r3, lo, hi}},
		{store.RestoresByStatus, false, []string{hi, lo, r3, r1, r2, r0}},
		{store.RestoresByTarget, true, []string{r1, r3, r0, lo, hi, r2}},
		{store.RestoresByTarget, false, []string{r2, hi, lo, r0, r3, r1}},
	} {
		name := fmt.Sprintf("sort %q asc %v", tc.sort, tc.asc)
		list, err := s.ListRestores(ctx, store.RestoreFilter{UserID: u.ID, Sort: tc.sort, Asc: tc.asc})
		check(t, name, err)
		equal(t, name, restoreIDs(list), tc.want)
		list, err = s.ListRestores(ctx, store.RestoreFilter{UserID: u.ID, Sort: tc.sort, Asc: tc.asc, Limit: 2, Offset: 2})
		check(t, name+", page 2", err)
		equal(t, name+", page 2", restoreIDs(list), tc.want[2:4])
	}
}

func mkRestoreRun(t *testing.T, s store.Store, userID, agentID string) store.Run {
	t.Helper()
	c := mkConfig(t, s, userID, agentID, "cfg-"+newID(t), t0)
	end := t0.Add(time.Minute)
	r := store.Run{ConfigID: c.ID, UserID: userID, AgentID: agentID, StartTime: t0, EndTime: &end,
		Status: "completed", Full: true}
	check(t, "CreateRun", s.CreateRun(context.Background(), &r))
	return r
}

func testRestores(t *testing.T, s store.Store) {
	ctx := context.Background()
	alice := mkUser(t, s, "alice@example.com", t0, true)
	bob := mkUser(t, s, "bob@example.com", t0, false)
	a := mkAgent(t, s, alice.ID, "laptop", t0)
	b := mkAgent(t, s, alice.ID, "desktop", t0)
	run := mkRestoreRun(t, s, alice.ID, a.ID)

	r1 := store.Restore{UserID: alice.ID, RunID: run.ID, AgentID: b.ID, TargetDir: "/restore/here",
		Paths: []string{"home/alice/a.txt", "home/alice/dir"}, Overwrite: true, UnportableNames: store.UnportableSkip,
		CreatedAt: t0.Add(time.Second)}
	check(t, "CreateRestore", s.CreateRestore(ctx, &r1))
	if r1.ID == "" || r1.Status != store.RestoreQueued {
		t.Fatalf("CreateRestore: id %q status %q, want an id and queued", r1.ID, r1.Status)
	}
	got, err := s.GetRestore(ctx, r1.ID)
	check(t, "GetRestore", err)
	equal(t, "GetRestore", got, r1)

	r2 := store.Restore{UserID: alice.ID, RunID: run.ID, AgentID: a.ID, TargetDir: "/other", CreatedAt: t0.Add(2 * time.Second)}
	check(t, "CreateRestore everything", s.CreateRestore(ctx, &r2))
	got, err = s.GetRestore(ctx, r2.ID)
	check(t, "GetRestore everything", err)
	equal(t, "paths of a restore of everything", got.Paths, []string(nil))
	// No choice given: names the target cannot hold are renamed, as before the choice.
	equal(t, "unportable names of a restore created without a choice", got.UnportableNames, store.UnportableRename)
	equal(t, "unportable names CreateRestore set", r2.UnportableNames, store.UnportableRename)

	list, err := s.ListRestores(ctx, store.RestoreFilter{UserID: alice.ID})
	check(t, "ListRestores(alice)", err)
	equal(t, "ListRestores(alice) newest first", restoreIDs(list), []string{r2.ID, r1.ID})
	list, err = s.ListRestores(ctx, store.RestoreFilter{UserID: alice.ID, Limit: 1, Offset: 1})
	check(t, "ListRestores(alice) page 2", err)
	equal(t, "ListRestores(alice) page 2", restoreIDs(list), []string{r1.ID})
	list, err = s.ListRestores(ctx, store.RestoreFilter{UserID: bob.ID})
	check(t, "ListRestores(bob)", err)
	equal(t, "ListRestores(bob)", len(list), 0)
	list, err = s.ListRestores(ctx, store.RestoreFilter{})
	check(t, "ListRestores(all)", err)
	equal(t, "ListRestores(all)", len(list), 2)

	pend, err := s.PendingRestores(ctx, b.ID)
	check(t, "PendingRestores(b)", err)
	equal(t, "PendingRestores(b)", restoreIDs(pend), []string{r1.ID})

	_, err = s.GetRestore(ctx, newID(t))
	wantErr(t, "GetRestore(unknown)", err, store.ErrNotFound)
	_, err = s.GetRestore(ctx, "not-a-uuid")
	wantErr(t, "GetRestore(not a uuid)", err, store.ErrNotFound)

	// Deleting the target agent keeps the history; deleting the run removes it.
	check(t, "DeleteAgent", s.DeleteAgent(ctx, b.ID))
	got, err = s.GetRestore(ctx, r1.ID)
	check(t, "GetRestore after its agent was deleted", err)
	equal(t, "agent of a restore whose agent was deleted", got.AgentID, "")
	check(t, "DeleteUser", s.DeleteUser(ctx, alice.ID))
	_, err = s.GetRestore(ctx, r2.ID)
	wantErr(t, "GetRestore after its user was deleted", err, store.ErrNotFound)
}

func restoreIDs(rs []store.Restore) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

func testRestoreTransitions(t *testing.T, s store.Store) {
	ctx := context.Background()
	alice := mkUser(t, s, "alice@example.com", t0, true)
	a := mkAgent(t, s, alice.ID, "laptop", t0)
	run := mkRestoreRun(t, s, alice.ID, a.ID)
	mk := func(sec int) store.Restore {
		r := store.Restore{UserID: alice.ID, RunID: run.ID, AgentID: a.ID, TargetDir: "/t", CreatedAt: t0.Add(time.Duration(sec) * time.Second)}
		check(t, "CreateRestore", s.CreateRestore(ctx, &r))
		return r
	}
	r1, r2, r3 := mk(1), mk(2), mk(3)

	at := t0.Add(time.Minute)
	check(t, "StartRestore", s.StartRestore(ctx, r1.ID, at))
	wantErr(t, "StartRestore twice", s.StartRestore(ctx, r1.ID, at), store.ErrConflict)
	wantErr(t, "StartRestore(unknown)", s.StartRestore(ctx, newID(t), at), store.ErrNotFound)
	got, _ := s.GetRestore(ctx, r1.ID)
	equal(t, "status after start", got.Status, store.RestoreRunning)
	equal(t, "started at", got.StartedAt, &at)

	// A running restore its agent has not acknowledged is pending (its hand-out may
	// have been lost), also when touched at the hand-out's time; once the agent
	// reports it later it is not; queued ones are.
	pend, err := s.PendingRestores(ctx, a.ID)
	check(t, "PendingRestores", err)
	equal(t, "PendingRestores just started", restoreIDs(pend), []string{r1.ID, r2.ID, r3.ID})
	equal(t, "unacknowledged just started", pend[0].Unacknowledged(), true)
	check(t, "TouchRestores at the hand-out", s.TouchRestores(ctx, a.ID, []string{r1.ID}, at))
	pend, err = s.PendingRestores(ctx, a.ID)
	check(t, "PendingRestores", err)
	equal(t, "PendingRestores touched at the hand-out", restoreIDs(pend), []string{r1.ID, r2.ID, r3.ID})
	equal(t, "unacknowledged touched at the hand-out", pend[0].Unacknowledged(), true)
	check(t, "TouchRestores by the agent", s.TouchRestores(ctx, a.ID, []string{r1.ID}, at.Add(time.Second)))
	pend, err = s.PendingRestores(ctx, a.ID)
	check(t, "PendingRestores", err)
	equal(t, "PendingRestores acknowledged", restoreIDs(pend), []string{r2.ID, r3.ID})
	got, _ = s.GetRestore(ctx, r1.ID)
	equal(t, "unacknowledged once listed", got.Unacknowledged(), false)

	// Cancel: queued → cancelled at once; running → cancel requested, pending again.
	c2, err := s.CancelRestore(ctx, r2.ID, at)
	check(t, "CancelRestore queued", err)
	equal(t, "cancelled queued restore", [2]any{c2.Status, c2.FinishedAt}, [2]any{store.RestoreCancelled, &at})
	c1, err := s.CancelRestore(ctx, r1.ID, at)
	check(t, "CancelRestore running", err)
	equal(t, "cancelled running restore", [2]any{c1.Status, c1.CancelRequested}, [2]any{store.RestoreRunning, true})
	pend, err = s.PendingRestores(ctx, a.ID)
	check(t, "PendingRestores after cancel", err)
	equal(t, "PendingRestores after cancel", restoreIDs(pend), []string{r1.ID, r3.ID})

	done := at.Add(time.Minute)
	check(t, "FinishRestore", s.FinishRestore(ctx, r1.ID, store.RestoreResult{Status: store.RestoreCancelled,
		Error: "cancelled", FilesWritten: 3, BytesWritten: 42, At: done}))
	got, _ = s.GetRestore(ctx, r1.ID)
	equal(t, "finished restore", [5]any{got.Status, got.Error, got.FilesWritten, got.BytesWritten, got.FinishedAt},
		[5]any{store.RestoreCancelled, "cancelled", int64(3), int64(42), &done})
	wantErr(t, "FinishRestore twice", s.FinishRestore(ctx, r1.ID, store.RestoreResult{Status: store.RestoreCompleted, At: done}), store.ErrConflict)
	if err := s.FinishRestore(ctx, r3.ID, store.RestoreResult{Status: "bogus", At: done}); err == nil {
		t.Errorf("FinishRestore with a bogus status: no error")
	}
	check(t, "FinishRestore of a queued one", s.FinishRestore(ctx, r3.ID, store.RestoreResult{Status: store.RestoreFailed, Error: "boom", At: done}))
	got, _ = s.GetRestore(ctx, r3.ID)
	equal(t, "failed queued restore", [3]any{got.Status, got.StartedAt, got.FinishedAt}, [3]any{store.RestoreFailed, &done, &done})
	again, err := s.CancelRestore(ctx, r3.ID, done)
	check(t, "CancelRestore finished", err)
	equal(t, "cancel leaves a finished restore alone", again, got)
	_, err = s.CancelRestore(ctx, newID(t), done)
	wantErr(t, "CancelRestore(unknown)", err, store.ErrNotFound)
}
