package report

import (
	"net/url"
	"time"

	"github.com/backapp/backapp/internal/apperr"
)

// ParseRequest reads a report request from query parameters: period, from, to
// (YYYY-MM-DD, UTC), configId (or config), agentId (or agent), status, userId (or
// user), format.
func ParseRequest(q url.Values) (Request, error) {
	get := func(names ...string) string {
		for _, n := range names {
			if v := q.Get(n); v != "" {
				return v
			}
		}
		return ""
	}
	req := Request{Period: q.Get("period"), ConfigID: get("configId", "config"), AgentID: get("agentId", "agent"),
		Status: q.Get("status"), UserID: get("userId", "user"), Format: q.Get("format")}
	fields := apperr.Fields{}
	for _, d := range []struct {
		name string
		t    *time.Time
	}{{"from", &req.From}, {"to", &req.To}} {
		if v := q.Get(d.name); v != "" {
			t, err := time.Parse(time.DateOnly, v)
			if err != nil {
				fields.Add(d.name, "%q is not a date: write YYYY-MM-DD", v)
			}
			*d.t = t
		}
	}
	return req, fields.Err()
}
