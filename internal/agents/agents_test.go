package agents

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/backapp/backapp/internal/apperr"
	"github.com/backapp/backapp/internal/store"
)

func TestState(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *time.Time { x := now.Add(-d); return &x }
	for _, tc := range []struct {
		name string
		a    store.Agent
		want string
	}{
		{"never seen", store.Agent{Status: store.AgentOnline}, store.AgentOffline},
		{"just now", store.Agent{LastSeen: at(0), Status: store.AgentOnline}, store.AgentOnline},
		{"4m59s ago", store.Agent{LastSeen: at(4*time.Minute + 59*time.Second), Status: store.AgentOnline}, store.AgentOnline},
		{"5m ago", store.Agent{LastSeen: at(5 * time.Minute), Status: store.AgentOnline}, store.AgentOffline},
		{"an hour ago", store.Agent{LastSeen: at(time.Hour), Status: store.AgentOnline}, store.AgentOffline},
		{"error, recent", store.Agent{LastSeen: at(time.Minute), Status: store.AgentError}, store.AgentError},
		{"error, silent", store.Agent{LastSeen: at(10 * time.Minute), Status: store.AgentError}, store.AgentOffline},
		{"revoked", store.Agent{LastSeen: at(0), Status: store.AgentOnline, Revoked: true}, store.AgentOffline},
		{"clock behind the heartbeat", store.Agent{LastSeen: at(-time.Minute), Status: store.AgentOnline}, store.AgentOnline},
	} {
		if got := State(tc.a, now); got != tc.want {
			t.Errorf("%s: State = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestValidateName(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{"web-1", "web-1", ""},
		{"  Ada’s laptop  ", "Ada’s laptop", ""},
		{strings.Repeat("é", MaxNameLen), strings.Repeat("é", MaxNameLen), ""},
		{"", "", "enter a name"},
		{" \t ", "", "enter a name"},
		{strings.Repeat("x", MaxNameLen+1), "", "at most 100"},
		{"a\nb", "", "control characters"},
		{"a\x00b", "", "control characters"},
		{"\xff", "", "UTF-8"},
	} {
		got, err := ValidateName(tc.in)
		if tc.err == "" {
			if err != nil || got != tc.want {
				t.Errorf("ValidateName(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
			continue
		}
		e := apperr.From(err)
		if err == nil || e.Kind != apperr.Invalid || e.Fields["name"] == "" || !strings.Contains(e.Message, tc.err) {
			t.Errorf("ValidateName(%q) error %v, want invalid name containing %q", tc.in, err, tc.err)
		}
	}
}

func TestParseLogQuery(t *testing.T) {
	t1 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	ok := []struct {
		query string
		want  LogQuery
	}{
		{"", LogQuery{}},
		{"level=error", LogQuery{Level: "error"}},
		{"level=Warning", LogQuery{Level: "warning"}},
		{"since=2026-05-01T12:00:00Z", LogQuery{Since: t1}},
		{"since=2026-05-01T14:00:00%2B02:00&until=2026-05-01T13:00:00.5Z&limit=7", LogQuery{Since: t1, Until: t1.Add(time.Hour + 500*time.Millisecond), Limit: 7}},
	}
	for _, tc := range ok {
		v, _ := url.ParseQuery(tc.query)
		got, err := ParseLogQuery(v)
		if err != nil || got != tc.want {
			t.Errorf("ParseLogQuery(%q) = %+v, %v; want %+v", tc.query, got, err, tc.want)
		}
		// Values is the inverse, so paging links keep the filters.
		if err == nil {
			back, err := ParseLogQuery(got.Values())
			if err != nil || back != got {
				t.Errorf("ParseLogQuery(%q).Values() reads back as %+v, %v", tc.query, back, err)
			}
		}
	}
	bad := []struct{ query, field string }{
		{"level=debug", "level"},
		{"since=2026-05-01", "since"},
		{"until=noon", "until"},
		{"since=2026-05-02T00:00:00Z&until=2026-05-01T00:00:00Z", "until"},
		{"limit=0", "limit"},
		{"limit=1001", "limit"},
		{"limit=ten", "limit"},
	}
	for _, tc := range bad {
		v, _ := url.ParseQuery(tc.query)
		_, err := ParseLogQuery(v)
		e := apperr.From(err)
		if err == nil || e.Kind != apperr.Invalid || e.Fields[tc.field] == "" || !strings.Contains(e.Message, tc.field) {
			t.Errorf("ParseLogQuery(%q) error %v, want invalid %q named in the message", tc.query, err, tc.field)
		}
	}
	v, _ := url.ParseQuery("level=loud&since=x&limit=-1")
	if _, err := ParseLogQuery(v); len(apperr.From(err).Fields) != 3 {
		t.Errorf("three bad parameters: fields %v, want all three reported at once", apperr.From(err).Fields)
	}
}
