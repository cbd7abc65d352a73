package web

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/backapp/backapp/internal/agents"
	"github.com/backapp/backapp/internal/auth"
	"github.com/backapp/backapp/internal/store"
)

type agentShowData struct {
	Agent   agentView
	Actions []agentAction
	// The log filter as the form shows it (datetime-local values, in UTC).
	Level, Since, Until string
	Levels              []string
	Logs                []agentLogView
	FilterFailed        bool
	Filtered            bool   // any filter or page is applied
	OlderURL            string // next page of older lines; "" when none
	Limit               int
}

type agentLogView struct {
	store.AgentLog
	Lvl statusView
}

// When is the line's time to the second, in UTC.
func (l agentLogView) When() string { return l.Timestamp.UTC().Format("2006-01-02 15:04:05") }

// dateTimeLocal is the value format of <input type="datetime-local" step="1">.
const dateTimeLocal = "2006-01-02T15:04:05"

// agentShow serves GET /agents/{id}: the agent's facts, rename, key actions, and its
// log lines filtered by level and time through the URL (?level=&since=&until=), so a
// filtered view can be linked. Times in the URL are RFC 3339; the form's
// datetime-local values (no zone) are taken as UTC.
func (h *Handler) agentShow(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	a, err := h.agents.Get(r.Context(), sess.User, r.PathValue("id"))
	if err != nil {
		h.RenderError(w, r, err)
		return
	}
	p := h.agentPage(a)
	d := p.Data.(*agentShowData)
	v := r.URL.Query()
	formTimesToRFC3339(v)
	d.Level, d.Since, d.Until = v.Get("level"), v.Get("since"), v.Get("until")
	d.Filtered = d.Level != "" || d.Since != "" || d.Until != ""
	q, err := agents.ParseLogQuery(v)
	if err != nil {
		d.FilterFailed = true
		p.Form = "logs"
		h.formError(w, r, "agent_show", p, err)
		return
	}
	d.Since, d.Until = inputTime(q.Since), inputTime(q.Until)
	pg, err := h.agents.Logs(r.Context(), sess.User, a.ID, q)
	if err != nil {
		h.RenderError(w, r, err)
		return
	}
	d.Logs = make([]agentLogView, len(pg.Lines))
	for i, l := range pg.Lines {
		d.Logs[i] = agentLogView{l, logLevel(l.Level)}
	}
	if !pg.Next.IsZero() {
		next := q
		next.Until = pg.Next
		d.OlderURL = "/agents/" + url.PathEscape(a.ID) + "?" + next.Values().Encode() + "#logs-h"
	}
	h.render(w, r, http.StatusOK, "agent_show", p)
}

// agentPage is the agent page without its logs, for agentShow and for the rename
// form shown again with an error.
func (h *Handler) agentPage(a agents.Agent) *page {
	d := &agentShowData{Agent: agentView{a}, Levels: agents.Levels, Limit: agents.DefaultLogLimit}
	for _, k := range []agentActionKind{agentRotate, agentRevoke, agentDelete} {
		if k == agentRotate && a.Revoked || k == agentRevoke && a.Revoked {
			continue
		}
		d.Actions = append(d.Actions, agentActionFor(k, a))
	}
	return &page{Title: a.Name, Nav: "agents", Values: map[string]string{"name": a.Name}, Data: d}
}

// formTimesToRFC3339 rewrites a log filter's since and until from the form's
// datetime-local values to RFC 3339, in place, before agents.ParseLogQuery reads them.
func formTimesToRFC3339(v url.Values) {
	for _, k := range []string{"since", "until"} {
		if s := strings.TrimSpace(v.Get(k)); s != "" {
			v.Set(k, localToRFC3339(s))
		}
	}
}

// localToRFC3339 turns a datetime-local value into RFC 3339 UTC; anything else is
// returned as it is, for ParseLogQuery to accept or name.
func localToRFC3339(s string) string {
	for _, layout := range []string{dateTimeLocal, "2006-01-02T15:04"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC().Format(time.RFC3339)
		}
	}
	return s
}

func inputTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(dateTimeLocal)
}
