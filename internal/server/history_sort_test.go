package server_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/backapp/backapp/internal/store"
)

// TestHistoryAPISorted: GET /api/backups/logs takes the pages' sort and dir, pages in
// that order (its next link keeps it), and ignores an unknown sort as the pages do.
func TestHistoryAPISorted(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	e := startRuns(t, "", newSchedClock(now), false)
	c := e.Client()
	uid := registerID(t, c, "ada@example.com")
	agentID, _, _ := c.CreateAgent("box")
	cfg := e.MkScheduled(uid, agentID, "nightly", "", `{}`)
	var ids []string
	for i, size := range []int64{300, 100, 200, 400} { // started 4h, 3h, 2h, 1h ago
		r := store.Run{ConfigID: cfg.ID, UserID: uid, AgentID: agentID, StartTime: now.Add(-time.Duration(4-i) * time.Hour),
			Status: "completed", TotalBytes: size}
		if err := e.App.Store.CreateRun(context.Background(), &r); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	page := func(path string) ([]string, string) {
		t.Helper()
		r := c.JSON("GET", path, nil)
		want(t, r, http.StatusOK)
		var got []string
		for _, l := range r.Body["logs"].([]any) {
			got = append(got, l.(map[string]any)["id"].(string))
		}
		next, _ := r.Body["next"].(string)
		return got, next
	}
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"", []string{ids[3], ids[2], ids[1], ids[0]}},
		{"sort=nonsense", []string{ids[3], ids[2], ids[1], ids[0]}},
		{"sort=started&dir=asc", []string{ids[0], ids[1], ids[2], ids[3]}},
		{"sort=size", []string{ids[1], ids[2], ids[0], ids[3]}},
		{"sort=size&dir=desc", []string{ids[3], ids[0], ids[2], ids[1]}},
	} {
		first, next := page("/api/backups/logs?limit=2&" + tc.query)
		if next == "" {
			t.Fatalf("%q: no next page", tc.query)
		}
		u, _ := url.Parse(next)
		second, _ := page(next)
		if got := append(first, second...); !slices.Equal(got, tc.want) {
			t.Errorf("%q: runs %q (next page %s), want %q", tc.query, got, u.RawQuery, tc.want)
		}
	}
}
