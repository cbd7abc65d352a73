package agents

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/backapp/backapp/internal/apperr"
	"github.com/backapp/backapp/internal/store"
)

// Log levels an agent ships.
var Levels = []string{"info", "warning", "error"}

// DefaultLogLimit and MaxLogLimit bound how many log lines one request returns.
const (
	DefaultLogLimit = 100
	MaxLogLimit     = 1000
)

// LogQuery selects an agent's log lines; zero fields do not filter.
type LogQuery struct {
	Level string    // one of Levels
	Since time.Time // inclusive
	Until time.Time
	Limit int // 1…MaxLogLimit; 0 means DefaultLogLimit
}

// Values is q as URL parameters (the inverse of ParseLogQuery), for links that keep
// the filters.
func (q LogQuery) Values() url.Values {
	v := url.Values{}
	if q.Level != "" {
		v.Set("level", q.Level)
	}
	if !q.Since.IsZero() {
		v.Set("since", q.Since.UTC().Format(time.RFC3339))
	}
	if !q.Until.IsZero() {
		v.Set("until", q.Until.UTC().Format(time.RFC3339Nano))
	}
	if q.Limit != 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	return v
}

// ParseLogQuery reads level, since, until and limit from URL parameters. Times are
// RFC 3339 ("2024-05-01T12:00:00Z"). Every bad parameter is named in the error's
// Fields, so all problems are reported at once.
func ParseLogQuery(v url.Values) (LogQuery, error) {
	var q LogQuery
	bad := apperr.Fields{}
	if l := strings.TrimSpace(v.Get("level")); l != "" {
		l = strings.ToLower(l)
		if !validLevel(l) {
			bad.Add("level", "level must be one of %s, not %q", strings.Join(Levels, ", "), v.Get("level"))
		}
		q.Level = l
	}
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"since", &q.Since}, {"until", &q.Until}} {
		s := strings.TrimSpace(v.Get(p.name))
		if s == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			bad.Add(p.name, "%s must be an RFC 3339 time such as 2024-05-01T12:00:00Z, not %q", p.name, s)
			continue
		}
		*p.dst = t.UTC()
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && q.Until.Before(q.Since) {
		bad.Add("until", "until (%s) is before since (%s); swap them", q.Until.Format(time.RFC3339), q.Since.Format(time.RFC3339))
	}
	if s := strings.TrimSpace(v.Get("limit")); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxLogLimit {
			bad.Add("limit", "limit must be a whole number from 1 to %d, not %q", MaxLogLimit, s)
		}
		q.Limit = n
	}
	if err := bad.Err(); err != nil {
		return LogQuery{}, err
	}
	return q, nil
}

func validLevel(l string) bool {
	for _, x := range Levels {
		if l == x {
			return true
		}
	}
	return false
}

// LogPage is one page of log lines, newest first.
type LogPage struct {
	Lines []store.AgentLog
	// Next is the Until of the next (older) page; zero when there is none.
	Next time.Time
}

// Logs returns a page of agent id's log lines matching q, newest first.
//
// Pages end on a timestamp boundary, since Until is exclusive: a page that would stop
// in the middle of lines sharing one time (an agent's batch) stops before them, and
// the next page (Until = Next) starts with all of them; a page whose lines all share
// one time holds every line of that time, past the limit (up to MaxLogLimit).
func (s *Service) Logs(ctx context.Context, actor store.User, id string, q LogQuery) (LogPage, error) {
	a, err := s.load(ctx, actor, id)
	if err != nil {
		return LogPage{}, err
	}
	if q.Level != "" && !validLevel(q.Level) {
		return LogPage{}, apperr.Invalidf("level", "level must be one of %s, not %q", strings.Join(Levels, ", "), q.Level)
	}
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultLogLimit
	}
	if limit > MaxLogLimit {
		limit = MaxLogLimit
	}
	logs, err := s.st.ListAgentLogs(ctx, store.AgentLogFilter{AgentID: a.ID, Level: q.Level, Since: q.Since, Until: q.Until, Limit: limit + 1})
	if err != nil {
		return LogPage{}, fmt.Errorf("list logs of agent %s: %w", a.ID, err)
	}
	if len(logs) <= limit {
		return LogPage{Lines: logs}, nil
	}
	first := logs[limit].Timestamp // the first line not on this page
	page := logs[:limit]
	n := len(page)
	for n > 0 && page[n-1].Timestamp.Equal(first) {
		n--
	}
	if n > 0 {
		return LogPage{Lines: page[:n], Next: page[n-1].Timestamp}, nil
	}
	// Every line of the page has one time and more share it: the page grows to all
	// of them (times are stored to the microsecond, so [t, t+1µs) is exactly t).
	same, err := s.st.ListAgentLogs(ctx, store.AgentLogFilter{AgentID: a.ID, Level: q.Level, Since: first, Until: first.Add(time.Microsecond), Limit: MaxLogLimit})
	if err != nil {
		return LogPage{}, fmt.Errorf("list logs of agent %s at %s: %w", a.ID, first.Format(time.RFC3339Nano), err)
	}
	if len(same) < len(page) {
		same = page
	}
	return LogPage{Lines: same, Next: first}, nil
}
