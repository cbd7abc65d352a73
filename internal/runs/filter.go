package runs

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/backapp/backapp/internal/apperr"
	"github.com/backapp/backapp/internal/store"
)

// ParseFilter reads a history filter from query parameters, shared by the API and
// the pages: status, configId (or config), agentId (or agent), from and to (a date
// 2006-01-02, UTC, "to" inclusive; or an RFC 3339 time, "to" exclusive), limit,
// offset, sort and dir. Every bad parameter is named at once.
//
// sort is one of store.RunSorts; like the pages' sortable headers, another is
// ignored (newest first). dir=asc or dir=desc; without it the start time sorts
// newest first and the others ascending.
func ParseFilter(q url.Values) (Filter, error) {
	var f Filter
	fields := apperr.Fields{}
	f.Status = strings.ToLower(strings.TrimSpace(q.Get("status")))
	f.ConfigID = first(q, "configId", "config")
	f.AgentID = first(q, "agentId", "agent")
	if k := strings.TrimSpace(q.Get("sort")); slices.Contains(store.RunSorts, k) && k != store.RunsByStart {
		f.Sort = k
	}
	switch dir := strings.ToLower(strings.TrimSpace(q.Get("dir"))); dir {
	case "asc", "desc":
		f.Asc = dir == "asc"
	default:
		f.Asc = f.Sort != ""
	}
	var ok bool
	if f.From, ok = parseTime(q.Get("from"), false); !ok {
		fields.Add("from", "from must be a date such as 2026-01-31 or a time such as 2026-01-31T12:00:00Z")
	}
	if f.To, ok = parseTime(q.Get("to"), true); !ok {
		fields.Add("to", "to must be a date such as 2026-01-31 or a time such as 2026-01-31T12:00:00Z")
	}
	for _, p := range []struct {
		name string
		v    *int
	}{{"limit", &f.Limit}, {"offset", &f.Offset}} {
		s := strings.TrimSpace(q.Get(p.name))
		if s == "" {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil {
			fields.Add(p.name, "%s must be a whole number", p.name)
			continue
		}
		*p.v = n
	}
	f.check(fields)
	return f, fields.Err()
}

func first(q url.Values, names ...string) string {
	for _, n := range names {
		if v := strings.TrimSpace(q.Get(n)); v != "" {
			return v
		}
	}
	return ""
}

// parseTime reads a date or an RFC 3339 time; a date as the end of a range means
// the end of that day.
func parseTime(s string, end bool) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, true
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		if end {
			t = t.AddDate(0, 0, 1)
		}
		return t, true
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), true
	}
	return time.Time{}, false
}

// Values is f as query parameters (dates as given to ParseFilter round-trip as
// RFC 3339 times), without limit and offset when they are the defaults.
func (f Filter) Values() url.Values {
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("status", f.Status)
	set("configId", f.ConfigID)
	set("agentId", f.AgentID)
	if !f.From.IsZero() {
		q.Set("from", f.From.UTC().Format(time.RFC3339))
	}
	if !f.To.IsZero() {
		q.Set("to", f.To.UTC().Format(time.RFC3339))
	}
	if f.Limit != 0 && f.Limit != 50 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	if f.Offset != 0 {
		q.Set("offset", strconv.Itoa(f.Offset))
	}
	set("sort", f.Sort)
	if f.Asc == (f.Sort == "") {
		q.Set("dir", map[bool]string{true: "asc", false: "desc"}[f.Asc])
	}
	return q
}
