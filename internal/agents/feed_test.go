package agents

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/backapp/backapp/internal/apperr"
	"github.com/backapp/backapp/internal/store"
	"github.com/backapp/backapp/internal/store/sqlite"
)

// TestFeed: the log lines of a user's two agents, on a real SQLite store, page by
// keyset in time order, each line exactly once, also when a batch of lines sharing one
// time straddles a page and when one time holds more lines than a page; level, agent,
// configuration and run filters select what they name (the configuration's through
// many lines of others, in bounded chunks); another user's agent is not found and their
// lines never show.
func TestFeed(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "feed.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	mkUser := func(email string) store.User {
		u := store.User{Email: email, Name: email, PasswordHash: "x", CreatedAt: t0, UpdatedAt: t0}
		if err := st.CreateUser(ctx, &u, true); err != nil {
			t.Fatal(err)
		}
		return u
	}
	mkAgent := func(u store.User, name string) store.Agent {
		a := store.Agent{UserID: u.ID, Name: name, KeyHash: "hash-" + u.Email + name, KeyPrefix: "bak_" + name, CreatedAt: t0, UpdatedAt: t0}
		if err := st.CreateAgent(ctx, &a); err != nil {
			t.Fatal(err)
		}
		return a
	}
	bob := mkUser("bob@example.com") // the administrator, who sees every agent's lines
	alice := mkUser("alice@example.com")
	a1, a2, b1 := mkAgent(alice, "one"), mkAgent(alice, "two"), mkAgent(bob, "bobs")
	var lines []store.AgentLog
	add := func(a store.Agent, at time.Duration, level string, meta map[string]string) {
		lines = append(lines, store.AgentLog{AgentID: a.ID, Level: level, Message: fmt.Sprintf("%s line %d", a.Name, len(lines)),
			Metadata: meta, Timestamp: t0.Add(at)})
	}
	for i := range 40 { // interleaved, one a second, every fifth line a warning
		a := []store.Agent{a1, a2}[i%2]
		level := "info"
		if i%5 == 0 {
			level = "warning"
		}
		add(a, time.Duration(i)*time.Second, level, nil)
	}
	for range 7 { // a batch sharing one time on each agent
		add(a1, 20*time.Second+time.Millisecond, "info", map[string]string{"config": "c1", "run": "r1"})
		add(a2, 20*time.Second+time.Millisecond, "info", nil)
	}
	for range 12 { // one time holding more lines than a page
		add(a2, 50*time.Second, "error", map[string]string{"config": "c2"})
	}
	add(b1, 10*time.Second, "error", map[string]string{"config": "c1"})
	if err := st.AddAgentLogs(ctx, lines); err != nil {
		t.Fatal(err)
	}
	svc, err := New(Config{Store: st})
	if err != nil {
		t.Fatal(err)
	}

	// all pages through q, with each page's size checked
	all := func(q FeedQuery) []store.AgentLog {
		t.Helper()
		var got []store.AgentLog
		for pages := 0; ; pages++ {
			if pages > 100 {
				t.Fatal("paging does not end")
			}
			p, err := svc.Feed(ctx, alice, q)
			if err != nil {
				t.Fatal(err)
			}
			// only a page of one time may grow past the limit
			if len(p.Lines) > q.Limit && slices.ContainsFunc(p.Lines, func(l FeedLine) bool { return !l.Timestamp.Equal(p.Lines[0].Timestamp) }) {
				t.Errorf("page of %d lines, limit %d", len(p.Lines), q.Limit)
			}
			for _, l := range p.Lines {
				if l.AgentName == "" {
					t.Errorf("line %q has no agent name", l.Message)
				}
				got = append(got, l.AgentLog)
			}
			if p.Next.IsZero() {
				return got
			}
			q.Until = p.Next
		}
	}
	want := func(pred func(store.AgentLog) bool) []string {
		var w []store.AgentLog
		for _, l := range lines {
			if l.AgentID != b1.ID && pred(l) {
				w = append(w, l)
			}
		}
		slices.SortStableFunc(w, func(a, b store.AgentLog) int { return b.Timestamp.Compare(a.Timestamp) })
		return messages(w)
	}
	check := func(what string, got []store.AgentLog, want []string) {
		t.Helper()
		g := messages(got)
		// lines of one time may come in any order: compare times in order and sets per time
		if len(g) != len(want) {
			t.Errorf("%s: %d lines, want %d\n got %v\nwant %v", what, len(g), len(want), g, want)
			return
		}
		gs, ws := slices.Clone(g), slices.Clone(want)
		slices.Sort(gs)
		slices.Sort(ws)
		if !slices.Equal(gs, ws) {
			t.Errorf("%s: lines differ\n got %v\nwant %v", what, g, want)
		}
		for i := 1; i < len(got); i++ {
			if got[i].Timestamp.After(got[i-1].Timestamp) {
				t.Errorf("%s: line %d (%s) is newer than the one before", what, i, got[i].Message)
			}
		}
	}
	for _, limit := range []int{3, 5, 100} {
		check(fmt.Sprintf("every line, pages of %d", limit), all(FeedQuery{Limit: limit}), want(func(store.AgentLog) bool { return true }))
	}
	check("warnings", all(FeedQuery{Limit: 4, Level: "warning"}), want(func(l store.AgentLog) bool { return l.Level == "warning" }))
	check("agent two", all(FeedQuery{Limit: 4, AgentID: a2.ID}), want(func(l store.AgentLog) bool { return l.AgentID == a2.ID }))
	check("configuration c1", all(FeedQuery{Limit: 4, ConfigID: "c1"}), want(func(l store.AgentLog) bool { return l.Metadata["config"] == "c1" }))
	check("run r1", all(FeedQuery{Limit: 2, RunID: "r1"}), want(func(l store.AgentLog) bool { return l.Metadata["run"] == "r1" }))
	check("time range", all(FeedQuery{Limit: 3, Since: t0.Add(10 * time.Second), Until: t0.Add(21 * time.Second)}),
		want(func(l store.AgentLog) bool {
			return !l.Timestamp.Before(t0.Add(10*time.Second)) && l.Timestamp.Before(t0.Add(21*time.Second))
		}))
	if _, err := svc.Feed(ctx, alice, FeedQuery{AgentID: b1.ID}); apperr.KindOf(err) != apperr.NotFound {
		t.Errorf("another user's agent: %v, want not found", err)
	}
	if _, err := svc.Feed(ctx, alice, FeedQuery{Level: "loud"}); apperr.KindOf(err) != apperr.Invalid {
		t.Errorf("an unknown level: %v, want invalid", err)
	}
}

func messages(ls []store.AgentLog) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.Message
	}
	return out
}
