package runs_test

import (
	"net/url"
	"testing"
	"time"

	"github.com/backapp/backapp/internal/apperr"
	"github.com/backapp/backapp/internal/runs"
)

func TestParseFilter(t *testing.T) {
	day := func(d int) time.Time { return time.Date(2026, 1, d, 0, 0, 0, 0, time.UTC) }
	for _, tc := range []struct {
		query  string
		want   runs.Filter
		fields []string // bad parameters named
	}{
		{"", runs.Filter{}, nil},
		{"status=Failed&configId=c1&agentId=a1", runs.Filter{Status: "failed", ConfigID: "c1", AgentID: "a1"}, nil},
		{"config=c2&agent=a2&status=late", runs.Filter{Status: "late", ConfigID: "c2", AgentID: "a2"}, nil},
		// A date as "to" includes that day.
		{"from=2026-01-02&to=2026-01-03", runs.Filter{From: day(2), To: day(4)}, nil},
		{"from=2026-01-02T10:00:00%2B01:00", runs.Filter{From: time.Date(2026, 1, 2, 9, 0, 0, 0, time.UTC)}, nil},
		{"limit=10&offset=20", runs.Filter{Limit: 10, Offset: 20}, nil},
		{"status=great&from=yesterday&to=soon&limit=x&offset=-1", runs.Filter{}, []string{"status", "from", "to", "limit", "offset"}},
		{"limit=201", runs.Filter{}, []string{"limit"}},
		// Orders: newest first by default, the others ascending unless dir=desc; an
		// unknown one is ignored as the pages' headers ignore it.
		{"sort=started", runs.Filter{}, nil},
		{"sort=started&dir=asc", runs.Filter{Asc: true}, nil},
		{"dir=ASC", runs.Filter{Asc: true}, nil},
		{"sort=size", runs.Filter{Sort: "size", Asc: true}, nil},
		{"sort=duration&dir=desc", runs.Filter{Sort: "duration"}, nil},
		{"sort=status&dir=sideways", runs.Filter{Sort: "status", Asc: true}, nil},
		{"sort=password_hash&dir=desc", runs.Filter{}, nil},
		{"from=2026-01-05&to=2026-01-03", runs.Filter{}, []string{"to"}},
	} {
		q, _ := url.ParseQuery(tc.query)
		got, err := runs.ParseFilter(q)
		if tc.fields != nil {
			e := apperr.From(err)
			if e.Kind != apperr.Invalid {
				t.Errorf("%q: err = %v, want invalid", tc.query, err)
				continue
			}
			for _, f := range tc.fields {
				if e.Fields[f] == "" {
					t.Errorf("%q: no message for %s in %v", tc.query, f, e.Fields)
				}
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.query, err)
			continue
		}
		if got != tc.want {
			t.Errorf("%q: got %+v, want %+v", tc.query, got, tc.want)
		}
		// Values round-trips.
		back, err := runs.ParseFilter(got.Values())
		if err != nil || back != got {
			t.Errorf("%q: Values() %v parses to %+v, %v", tc.query, got.Values(), back, err)
		}
	}
}
