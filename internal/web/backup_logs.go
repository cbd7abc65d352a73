package web

import (
	"net/http"
	"net/url"
	"time"

	"github.com/backapp/backapp/internal/agents"
	"github.com/backapp/backapp/internal/apperr"
	"github.com/backapp/backapp/internal/auth"
)

// backupLogsData is the backup logs page (the seed's /backups/logs): every line the
// user's agents sent, for backups, restores, estimates and the agents themselves.
type backupLogsData struct {
	Levels               []string
	Agents, Configs      []filterOption
	Level, Agent, Config string
	Run                  string
	Since, Until         string // datetime-local values, UTC
	Lines                []backupLogLine
	Filtered, Failed     bool
	Searched             string // when the page stopped searching early: back to when
	OlderURL, NewestURL  string
	configNames          map[string]string
}

type backupLogLine struct {
	agents.FeedLine
	Lvl        statusView
	ConfigName string
}

// When is the line's time to the second, in UTC.
func (l backupLogLine) When() string { return l.Timestamp.UTC().Format("2006-01-02 15:04:05") }

// Extra is the line's metadata without the run and config tags, which are links.
func (l backupLogLine) Extra() map[string]string {
	out := map[string]string{}
	for k, v := range l.Metadata {
		if k != "run" && k != "config" {
			out[k] = v
		}
	}
	return out
}

// backupLogs serves GET /backups/logs: log lines of every agent of the user (every
// agent for administrators) newest first, filtered by level, agent, configuration,
// run and time through the URL (?level=&agent=&config=&run=&since=&until=), so a view
// can be linked, and paged by keyset (?before=, the time the previous page ended at).
func (h *Handler) backupLogs(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	v := r.URL.Query()
	d := &backupLogsData{Levels: agents.Levels, Level: v.Get("level"), Agent: first(v, "agent", "agentId"),
		Config: first(v, "config", "configId"), Run: v.Get("run")}
	p := &page{Title: "Backup logs", Nav: "backups", Data: d}
	if err := h.filterOptions(r, sess.User, &d.Configs, &d.Agents); err != nil {
		h.RenderError(w, r, err)
		return
	}
	d.configNames = map[string]string{}
	for _, c := range d.Configs {
		d.configNames[c.Value] = c.Label
	}
	lq := url.Values{"level": {d.Level}, "since": {v.Get("since")}, "until": {v.Get("until")}}
	formTimesToRFC3339(lq)
	q, err := agents.ParseLogQuery(lq)
	d.Since, d.Until = v.Get("since"), v.Get("until")
	d.Filtered = d.Level != "" || d.Agent != "" || d.Config != "" || d.Run != "" || d.Since != "" || d.Until != ""
	var before time.Time
	if s := v.Get("before"); s != "" && err == nil {
		if before, err = time.Parse(time.RFC3339Nano, s); err != nil {
			err = apperr.Invalidf("before", "before must be an RFC 3339 time, not %q", s)
		}
	}
	if err != nil {
		d.Failed = true
		p.Form = "logs"
		h.formError(w, r, "backup_logs", p, err)
		return
	}
	d.Since, d.Until = inputTime(q.Since), inputTime(q.Until)
	fq := agents.FeedQuery{AgentID: d.Agent, ConfigID: d.Config, RunID: d.Run, Level: q.Level, Since: q.Since, Until: q.Until}
	if !before.IsZero() && (fq.Until.IsZero() || before.Before(fq.Until)) {
		fq.Until = before
	}
	if d.Config != "" {
		// Another user's configuration is not found (404); its agent narrows the search.
		c, err := h.configs.Get(r.Context(), sess.User, d.Config)
		if err != nil {
			h.RenderError(w, r, err)
			return
		}
		if fq.AgentID == "" {
			fq.AgentID = c.Agent()
		}
	}
	pg, err := h.agents.Feed(r.Context(), sess.User, fq)
	if err != nil {
		h.RenderError(w, r, err)
		return
	}
	for _, l := range pg.Lines {
		d.Lines = append(d.Lines, backupLogLine{FeedLine: l, Lvl: logLevel(l.Level), ConfigName: d.configNames[l.Metadata["config"]]})
	}
	keep := url.Values{}
	for _, k := range []string{"level", "agent", "config", "run", "since", "until"} {
		if s := v.Get(k); s != "" {
			keep.Set(k, s)
		}
	}
	if !pg.Next.IsZero() {
		older := url.Values{}
		for k, vs := range keep {
			older[k] = vs
		}
		older.Set("before", pg.Next.UTC().Format(time.RFC3339Nano))
		d.OlderURL = "/backups/logs?" + older.Encode()
		if pg.Searched {
			d.Searched = pg.Next.UTC().Format("2006-01-02 15:04:05")
		}
	}
	if !before.IsZero() {
		d.NewestURL = "/backups/logs"
		if len(keep) > 0 {
			d.NewestURL += "?" + keep.Encode()
		}
	}
	h.render(w, r, http.StatusOK, "backup_logs", p)
}
