package web

import (
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/backapp/backapp/internal/auth"
	"github.com/backapp/backapp/internal/runs"
	"github.com/backapp/backapp/internal/stats"
	"github.com/backapp/backapp/internal/store"
)

type dashboardData struct {
	UserCount        int  // admins only
	RegistrationOpen bool // admins only
	// All is set when an administrator looks at every user's backups (?scope=all).
	All bool

	M            stats.Metrics
	SuccessText  string // "97.5 %" or "—" without finished runs
	AgentsOnline int
	AgentsTotal  int
	Failing      int // configurations whose newest run failed
	Running      []runView
	Last         []runView
	Protection   []protectionView
	// ProtectionMore counts the configurations past the table's first
	// protectionRows (the freshest), MoreStale how many of those are stale.
	ProtectionMore, MoreStale int
	Upcoming                  []stats.Upcoming
	PerDay                    []stats.Day
	RunsChart                 template.HTML
	BytesChart                template.HTML
	DurChart                  template.HTML
}

// protectionRows is how many configurations the dashboard's protection table lists.
const protectionRows = 100

// protectionView is a protection row with its age in words.
type protectionView struct {
	stats.Protection
	AgeText string
}

// LastSuccessAt is LastSuccess for templates (zero when none).
func (p protectionView) LastSuccessAt() time.Time {
	if p.LastSuccess == nil {
		return time.Time{}
	}
	return *p.LastSuccess
}

// StatusView is the row's state in words and shape.
func (p protectionView) StatusView() statusView {
	switch {
	case p.LastSuccess == nil:
		return statusView{"Never backed up", "✕", "bad"}
	case p.Stale:
		return statusView{"Stale", "!", "warn"}
	}
	return statusView{"Protected", "✓", "ok"}
}

// dayStorage is a day's recorded storage use in words ("—" when not recorded).
func dayStorage(n int64) string {
	if n < 0 {
		return "—"
	}
	return humanBytes(n)
}

// dayDuration is a day's average duration in words.
func dayDuration(ms int64) string {
	if ms <= 0 {
		return "—"
	}
	return humanDuration(time.Duration(ms) * time.Millisecond)
}

// dashboardShow serves GET /dashboard: headline numbers, running and last backups,
// upcoming ones, the protection table and the charts, for the user's own
// backups or (administrators, ?scope=all) everyone's.
func (h *Handler) dashboardShow(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	var d dashboardData
	p := &page{Title: "Dashboard", Nav: "dashboard", Data: &d}
	if sess.User.IsAdmin() {
		n, err := h.store.CountUsers(r.Context())
		if err != nil {
			h.RenderError(w, r, err)
			return
		}
		open, err := h.auth.RegistrationOpen(r.Context())
		if err != nil {
			h.RenderError(w, r, err)
			return
		}
		d.UserCount, d.RegistrationOpen = n, open
	}
	if h.metrics == nil {
		h.render(w, r, http.StatusOK, "dashboard", p)
		return
	}
	scope := r.URL.Query().Get("scope")
	userID, err := stats.ScopeUser(sess.User.ID, sess.User.IsAdmin(), scope)
	if err != nil {
		h.RenderError(w, r, err)
		return
	}
	d.All = userID == ""
	// actor is whom the lists are read for: an administrator's "mine" is read as a
	// user's, so the run and agent lists hold only their own.
	actor := sess.User
	if !d.All {
		actor.Role = store.RoleUser
	}
	ctx := r.Context()
	var prot []stats.Protection
	var failing int
	if d.M, prot, failing, err = h.metrics.Overview(ctx, userID, "30d"); err != nil {
		h.RenderError(w, r, err)
		return
	}
	d.SuccessText = "—"
	if d.M.Completed+d.M.Failed > 0 {
		d.SuccessText = strconv.FormatFloat(d.M.SuccessRate, 'f', 1, 64) + " %"
	}
	d.Failing = failing
	// The stale ones come first; past protectionRows the rest are counted, not
	// listed (1,000 rows would be most of the page's time and no one reads them).
	for _, x := range prot[min(len(prot), protectionRows):] {
		d.ProtectionMore++
		if x.Stale || x.LastSuccess == nil {
			d.MoreStale++
		}
	}
	prot = prot[:min(len(prot), protectionRows)]
	d.Protection = make([]protectionView, len(prot))
	for i, x := range prot {
		d.Protection[i] = protectionView{Protection: x}
		if x.LastSuccess != nil {
			d.Protection[i].AgeText = h.ago(*x.LastSuccess)
		}
	}
	d.Upcoming = d.M.UpcomingBackups
	if h.agents != nil {
		if d.AgentsOnline, d.AgentsTotal, err = h.agents.Counts(ctx, actor); err != nil {
			h.RenderError(w, r, err)
			return
		}
	}
	if h.runs != nil {
		now := h.now()
		running, err := h.runs.List(ctx, actor, runs.Filter{Status: runs.StatusRunning, Limit: 20, NoTotal: true})
		if err != nil {
			h.RenderError(w, r, err)
			return
		}
		for _, x := range running.Runs {
			v := runView{Run: x, now: now}
			if v.Expected, err = h.runs.ExpectedBytes(ctx, x); err != nil {
				h.RenderError(w, r, err)
				return
			}
			d.Running = append(d.Running, v)
		}
		last, err := h.runs.List(ctx, actor, runs.Filter{Limit: 10, NoTotal: true})
		if err != nil {
			h.RenderError(w, r, err)
			return
		}
		for _, x := range last.Runs {
			d.Last = append(d.Last, runView{Run: x, now: now})
		}
	}
	d.PerDay = d.M.Days
	runsBars := make([]chartBar, len(d.PerDay))
	bytesBars := make([]chartBar, len(d.PerDay))
	durBars := make([]chartBar, len(d.PerDay))
	for i, x := range d.PerDay {
		runsBars[i] = chartBar{x.Date, []int64{int64(x.Completed), int64(x.Failed)}}
		bytesBars[i] = chartBar{x.Date, []int64{max(x.StorageUsed, 0)}}
		durBars[i] = chartBar{x.Date, []int64{x.AverageDuration}}
	}
	d.RunsChart = barChart("Backups per day", []chartSeries{{"Completed", "c-ok"}, {"Failed", "c-bad"}}, runsBars)
	d.BytesChart = barChart("Storage used over time", []chartSeries{{"Used", "c-ok"}}, bytesBars)
	d.DurChart = barChart("Average duration per day", []chartSeries{{"Duration", "c-ok"}}, durBars)
	h.render(w, r, http.StatusOK, "dashboard", p)
}

// RateText is a running run's average upload rate so far ("" before any byte).
func (v runView) RateText() string {
	secs := v.now.Sub(v.StartTime).Seconds()
	if v.BytesTransfer <= 0 || secs < 1 {
		return ""
	}
	return humanBytes(int64(float64(v.BytesTransfer)/secs)) + "/s"
}

// RunningText says which backups of the list run: the list's live region, which
// changes (and is announced) only when one starts or ends.
func (d *backupsData) RunningText() string {
	var names []string
	for _, r := range d.Runs {
		if r.Active() {
			names = append(names, r.ConfigName+" "+strings.ToLower(r.StatusView().Word))
		}
	}
	if len(names) == 0 {
		return "No backup on this page is queued or running."
	}
	return strings.Join(names, ", ")
}
