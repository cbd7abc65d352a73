package agents

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/backapp/backapp/internal/apperr"
	"github.com/backapp/backapp/internal/store"
)

// FeedQuery selects log lines of every agent the actor may see (the backup logs
// page); zero fields do not filter.
type FeedQuery struct {
	AgentID  string // one agent only
	ConfigID string // lines a backup or size estimate of this configuration tagged (config=ID)
	RunID    string // lines of this run (run=ID)
	Level    string // one of Levels
	Since    time.Time
	// Until is exclusive: the page cursor (FeedPage.Next of the page before) or the
	// end of the range asked for.
	Until time.Time
	Limit int // 1…MaxLogLimit; 0 means DefaultLogLimit
}

// FeedLine is a log line with its agent's name.
type FeedLine struct {
	store.AgentLog
	AgentName string
}

// FeedPage is one page of the feed, newest first.
type FeedPage struct {
	Lines []FeedLine
	// Next is the Until of the next (older) page; zero when there is none.
	Next time.Time
	// Searched is set when the page stopped looking before it was full (filters that
	// match few lines among many): lines back to Next were searched, and the next
	// page goes on from there.
	Searched bool
}

// Feed scans at most this many lines per agent and request for filtered pages.
const (
	feedChunk  = MaxLogLimit
	feedRounds = 20
)

// Feed returns a page of the log lines of the actor's agents (every agent's for an
// administrator) that match q, newest first.
//
// Paging is by keyset: each page ends on a timestamp boundary (as Logs) and the next
// starts below it (Until), so a page costs one indexed query per agent however many
// lines lie behind it. Lines of several agents are merged by time. Filters the store
// cannot apply (configuration, run) are applied while reading chunks of lines; a
// page that found too few after feedRounds chunks ends early with Searched set.
func (s *Service) Feed(ctx context.Context, actor store.User, q FeedQuery) (FeedPage, error) {
	if q.Level != "" && !validLevel(q.Level) {
		return FeedPage{}, apperr.Invalidf("level", "level must be one of info, warning, error, not %q", q.Level)
	}
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultLogLimit
	}
	limit = min(limit, MaxLogLimit)
	names := map[string]string{}
	if q.AgentID != "" {
		a, err := s.load(ctx, actor, q.AgentID)
		if err != nil {
			return FeedPage{}, err
		}
		names[a.ID] = a.Name
	} else {
		as, err := s.st.ListAgents(ctx, actor.Scope())
		if err != nil {
			return FeedPage{}, fmt.Errorf("list agents: %w", err)
		}
		for _, a := range as {
			if !a.Builtin || actor.IsAdmin() {
				names[a.ID] = a.Name
			}
		}
	}
	match := func(l store.AgentLog) bool {
		return (q.ConfigID == "" || l.Metadata["config"] == q.ConfigID) && (q.RunID == "" || l.Metadata["run"] == q.RunID)
	}
	filtered := q.ConfigID != "" || q.RunID != ""
	chunk := limit
	if filtered {
		chunk = feedChunk
	}
	var out []store.AgentLog
	cursor := q.Until
	var page FeedPage
	for round := 0; ; round++ {
		lines, next, err := s.feedChunk(ctx, names, q.Level, q.Since, cursor, chunk)
		if err != nil {
			return FeedPage{}, err
		}
		for _, l := range lines {
			if match(l) {
				out = append(out, l)
			}
		}
		cursor = next
		if next.IsZero() || len(out) >= limit {
			break
		}
		if round+1 == feedRounds {
			page.Searched = true
			break
		}
	}
	page.Next = cursor
	if len(out) > limit { // cut on a timestamp boundary: every chunk ended on one
		first := out[limit].Timestamp
		n := limit
		for n > 0 && out[n-1].Timestamp.Equal(first) {
			n--
		}
		if n == 0 { // the page's lines share one time: keep all of that time
			for n < len(out) && out[n].Timestamp.Equal(first) {
				n++
			}
			page.Next = first
		} else {
			page.Next = out[n-1].Timestamp
		}
		out = out[:n]
		page.Searched = false
	}
	page.Lines = make([]FeedLine, len(out))
	for i, l := range out {
		page.Lines[i] = FeedLine{AgentLog: l, AgentName: names[l.AgentID]}
	}
	return page, nil
}

// feedChunk returns the newest lines (about n) of the agents below until, merged
// newest first and ending on a timestamp boundary, and the until of the chunk after
// it (zero when no older line is left). The newest n of all agents are among each
// agent's newest n+1, so one query per agent suffices.
func (s *Service) feedChunk(ctx context.Context, agents map[string]string, level string, since, until time.Time, n int) ([]store.AgentLog, time.Time, error) {
	list := func(since, until time.Time, limit int) ([]store.AgentLog, error) {
		var all []store.AgentLog
		for id := range agents {
			ls, err := s.st.ListAgentLogs(ctx, store.AgentLogFilter{AgentID: id, Level: level, Since: since, Until: until, Limit: limit})
			if err != nil {
				return nil, fmt.Errorf("list logs of agent %s: %w", id, err)
			}
			all = append(all, ls...)
		}
		slices.SortFunc(all, func(a, b store.AgentLog) int {
			return cmp.Or(b.Timestamp.Compare(a.Timestamp), cmp.Compare(b.AgentID, a.AgentID), cmp.Compare(b.ID, a.ID))
		})
		return all, nil
	}
	all, err := list(since, until, n+1)
	if err != nil || len(all) <= n {
		return all, time.Time{}, err
	}
	first := all[n].Timestamp // the first line not in this chunk
	k := n
	for k > 0 && all[k-1].Timestamp.Equal(first) {
		k--
	}
	if k > 0 {
		return all[:k], all[k-1].Timestamp, nil
	}
	// Every line has one time and more share it: take all of them (times are stored
	// to the microsecond, so [t, t+1µs) is exactly t).
	same, err := list(first, first.Add(time.Microsecond), MaxLogLimit)
	if err != nil {
		return nil, time.Time{}, err
	}
	return same, first, nil
}
