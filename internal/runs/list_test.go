package runs_test

import (
	"context"
	"testing"
	"time"

	"github.com/backapp/backapp/internal/runs"
	"github.com/backapp/backapp/internal/store"
)

// The history counts at most runs.CountCap runs past the page's start: beyond that
// its total is a lower bound, marked TotalCapped, and the next page is still offered.
// Near the end the count is exact again.
func TestListCapsTotal(t *testing.T) {
	e := newLifecycleEnv(t)
	ctx := context.Background()
	const n = runs.CountCap + 60
	for i := range n {
		at := e.clock.Now().Add(-time.Duration(i) * time.Minute)
		r := store.Run{ConfigID: e.cfg.ID, UserID: e.cfg.UserID, AgentID: e.ag.ID, StartTime: at, EndTime: &at,
			Status: runs.StatusCompleted, Full: true}
		if err := e.st.CreateRun(ctx, &r); err != nil {
			t.Fatal(err)
		}
	}
	svc, err := runs.New(runs.Config{Store: e.st, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	u, err := e.st.GetUser(ctx, e.cfg.UserID)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		offset, total int
		capped        bool
	}{
		{0, runs.CountCap, true},
		{50, 50 + runs.CountCap, true},
		{100, n, false}, // 100 + CountCap > n: every match counted
		{n - 10, n, false},
		{n + 50, n, false}, // past the end
	} {
		p, err := svc.List(ctx, u, runs.Filter{Offset: tc.offset})
		if err != nil {
			t.Fatal(err)
		}
		if p.Total != tc.total || p.TotalCapped != tc.capped {
			t.Errorf("offset %d: total %d capped %v, want %d %v", tc.offset, p.Total, p.TotalCapped, tc.total, tc.capped)
		}
	}
}
