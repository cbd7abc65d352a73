package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/backapp/backapp/internal/store"
)

func testRestoreIdentity(t *testing.T, s store.Store) { restoreIdentity(t, s, nil) }

// RunRestoreIdentity is the suite's RestoreIdentity test, also reading the identity
// columns of each restore row through db: an identity the store no longer hands out
// must be gone from the row, not only hidden.
func RunRestoreIdentity(t *testing.T, s store.Store, db SQL) { restoreIdentity(t, s, &db) }

// restoreIdentity: an identity given with CreateRestore is never read back into a
// Restore, is handed out (RestoreIdentity) at every hand-out until the agent
// acknowledges the restore (a heartbeat listing it after the hand-out, or progress),
// and is erased then, when the restore is cancelled or finishes, and when it expires
// (on read, or by EraseExpiredRestoreIdentities).
func restoreIdentity(t *testing.T, s store.Store, db *SQL) {
	ctx := context.Background()
	u := mkUser(t, s, "identity@example.com", t0, true)
	a := mkAgent(t, s, u.ID, "box", t0)
	run := mkRestoreRun(t, s, u.ID, a.ID)
	day := t0.Add(24 * time.Hour)
	mk := func(sealed string, until time.Time) store.Restore {
		t.Helper()
		r := store.Restore{UserID: u.ID, RunID: run.ID, AgentID: a.ID, TargetDir: "/t", CreatedAt: t0}
		if sealed != "" {
			r.Identity = &store.SealedIdentity{Sealed: []byte(sealed), Until: until}
		}
		check(t, "CreateRestore", s.CreateRestore(ctx, &r))
		if r.Identity != nil {
			t.Errorf("CreateRestore left the sealed identity in the restore it returns")
		}
		return r
	}
	kept := func(what, id string, now time.Time, want string) {
		t.Helper()
		got, err := s.RestoreIdentity(ctx, id, now)
		if want == "" {
			wantErr(t, what, err, store.ErrNotFound)
		} else {
			check(t, what, err)
			equal(t, what, string(got), want)
		}
		if db == nil {
			return
		}
		n, err := db.Count(ctx, fmt.Sprintf(`SELECT COUNT(*) FROM restores WHERE id = '%s'
			AND (identity_sealed IS NOT NULL OR identity_until IS NOT NULL)`, id))
		check(t, what+": count the row's identity columns", err)
		if stored := n == 1; stored != (want != "") {
			t.Errorf("%s: the row holds an identity: %v, want %v", what, stored, want != "")
		}
	}

	r := mk("sealed-1", day)
	got, err := s.GetRestore(ctx, r.ID)
	check(t, "GetRestore", err)
	equal(t, "identity read back by GetRestore", got.Identity, nil)
	list, err := s.ListRestores(ctx, store.RestoreFilter{UserID: u.ID})
	check(t, "ListRestores", err)
	equal(t, "identity read back by ListRestores", list[0].Identity, nil)
	pend, err := s.PendingRestores(ctx, a.ID)
	check(t, "PendingRestores", err)
	equal(t, "identity read back by PendingRestores", pend[0].Identity, nil)
	kept("queued", r.ID, t0, "sealed-1")
	kept("without an identity", mk("", time.Time{}).ID, t0, "")
	kept("unknown restore", newID(t), t0, "")
	_, err = s.RestoreIdentity(ctx, "not-a-uuid", t0)
	wantErr(t, "not a restore id", err, store.ErrNotFound)

	// Handed out: still kept, also after the hand-out's own report (at StartedAt),
	// for a hand-out again; the agent's next report acknowledges it and erases it.
	at := t0.Add(time.Minute)
	check(t, "StartRestore", s.StartRestore(ctx, r.ID, at))
	kept("handed out", r.ID, at, "sealed-1")
	check(t, "TouchRestores at the hand-out", s.TouchRestores(ctx, a.ID, []string{r.ID}, at))
	kept("touched at the hand-out", r.ID, at, "sealed-1")
	check(t, "TouchRestores by the agent", s.TouchRestores(ctx, a.ID, []string{r.ID}, at.Add(time.Second)))
	kept("acknowledged by a heartbeat", r.ID, at, "")

	p := mk("sealed-2", day)
	check(t, "StartRestore", s.StartRestore(ctx, p.ID, at))
	check(t, "ProgressRestore", s.ProgressRestore(ctx, p.ID, a.ID, 1, 2, at))
	kept("acknowledged by progress", p.ID, at, "")

	for _, running := range []bool{false, true} {
		c := mk("sealed-3", day)
		if running {
			check(t, "StartRestore", s.StartRestore(ctx, c.ID, at))
		}
		_, err := s.CancelRestore(ctx, c.ID, at)
		check(t, "CancelRestore", err)
		kept(fmt.Sprintf("cancelled (running %v)", running), c.ID, at, "")
	}
	for _, status := range []string{store.RestoreCompleted, store.RestoreFailed} {
		f := mk("sealed-4", day)
		check(t, "StartRestore", s.StartRestore(ctx, f.ID, at))
		check(t, "FinishRestore", s.FinishRestore(ctx, f.ID, store.RestoreResult{Status: status, At: at}))
		kept("finished "+status, f.ID, at, "")
	}

	// Expiry: read at its time, it is gone (and erased: an earlier clock cannot
	// bring it back); EraseExpiredRestoreIdentities erases the expired ones only.
	hour := t0.Add(time.Hour)
	e1 := mk("sealed-5", hour)
	kept("just before it expires", e1.ID, hour.Add(-time.Microsecond), "sealed-5")
	kept("read when it expires", e1.ID, hour, "")
	kept("read again before it expired", e1.ID, t0, "")
	e2, e3, live := mk("sealed-6", hour), mk("sealed-7", hour.Add(time.Minute)), mk("sealed-8", day)
	n, err := s.EraseExpiredRestoreIdentities(ctx, hour)
	check(t, "EraseExpiredRestoreIdentities", err)
	equal(t, "identities erased at their expiry", n, 1)
	kept("erased when expired", e2.ID, t0, "")
	kept("not expired yet", e3.ID, t0, "sealed-7")
	n, err = s.EraseExpiredRestoreIdentities(ctx, day.Add(-time.Second))
	check(t, "EraseExpiredRestoreIdentities later", err)
	equal(t, "identities erased later", n, 1)
	kept("erased later", e3.ID, t0, "")
	kept("kept a day", live.ID, t0, "sealed-8")
}
