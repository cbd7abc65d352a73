package web

import (
	"net/http"

	"github.com/backapp/backapp/internal/api"
	"github.com/backapp/backapp/internal/auth"
	"github.com/backapp/backapp/internal/report"
)

type reportsData struct {
	Period, From, To, Config, Agent, Status, Format string
	// User is the user an administrator reports on ("" everyone); Users is set
	// for administrators only (the picker).
	User                       string
	Users                      []filterOption
	Configs, Agents            []filterOption
	Statuses, Formats, Periods []filterOption
}

func (h *Handler) registerReports(mux *http.ServeMux) {
	if h.reports == nil {
		return
	}
	mux.HandleFunc("GET /reports", h.signedIn(h.reportsShow))
}

// reportsShow serves GET /reports: the report form; with download=1 the report
// itself (CSV, JSON or PDF, as GET /api/reports makes it), or the form again with
// what to fix.
func (h *Handler) reportsShow(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	q := r.URL.Query()
	d := &reportsData{Period: q.Get("period"), From: q.Get("from"), To: q.Get("to"), Config: q.Get("config"),
		Agent: q.Get("agent"), Status: q.Get("status"), Format: q.Get("format"), User: q.Get("user")}
	if d.Period == "" && d.From == "" && d.To == "" {
		d.Period = "30d"
	}
	p := &page{Title: "Reports", Nav: "reports", Data: d, Form: "report"}
	d.Periods = []filterOption{{"24h", "Last 24 hours"}, {"7d", "Last 7 days"}, {"30d", "Last 30 days"}, {"90d", "Last 90 days"}, {"", "From and to dates below"}}
	d.Formats = []filterOption{{"csv", "CSV (spreadsheet)"}, {"pdf", "PDF (summary and tables)"}, {"json", "JSON"}}
	for _, s := range report.Statuses {
		d.Statuses = append(d.Statuses, filterOption{s, runStatusView(s).Word})
	}
	if sess.User.IsAdmin() {
		us, err := h.auth.ListUsers(r.Context(), sess.User)
		if err != nil {
			h.RenderError(w, r, err)
			return
		}
		for _, u := range us {
			d.Users = append(d.Users, filterOption{u.ID, u.Email})
		}
	}
	if h.configs != nil {
		cs, err := h.configs.List(r.Context(), sess.User)
		if err != nil {
			h.RenderError(w, r, err)
			return
		}
		for _, c := range cs {
			d.Configs = append(d.Configs, filterOption{c.ID, c.Name})
		}
	}
	if h.agents != nil {
		as, err := h.agents.List(r.Context(), sess.User)
		if err != nil {
			h.RenderError(w, r, err)
			return
		}
		for _, a := range as {
			d.Agents = append(d.Agents, filterOption{a.ID, a.Name})
		}
	}
	if q.Get("download") == "" {
		h.render(w, r, http.StatusOK, "reports", p)
		return
	}
	req, err := report.ParseRequest(q)
	if err == nil {
		_, err = h.reports.Prepare(r.Context(), sess.User, req)
	}
	if err != nil {
		h.formError(w, r, "reports", p, err)
		return
	}
	api.ServeReport(w, r, sess, h.reports, h.log)
}

// selectArgs is what the "select" template of reports.html renders.
type selectArgs struct {
	Name, Label, Any, Value string
	Options                 []filterOption
	Error                   string
}
