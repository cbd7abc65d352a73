package web

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/backapp/backapp/internal/alerts"
	"github.com/backapp/backapp/internal/api"
	"github.com/backapp/backapp/internal/apperr"
	"github.com/backapp/backapp/internal/auth"
	"github.com/backapp/backapp/internal/store"
)

func init() {
	flashTexts["alerts-acked"] = struct {
		text string
		args int
	}{"Acknowledged %s.", 1}
	flashTexts["alerts-none-acked"] = struct {
		text string
		args int
	}{"Nothing to acknowledge: choose open alerts first.", 0}
}

// registerAlerts mounts /alerts; without an alerts service there is none.
func (h *Handler) registerAlerts(mux *http.ServeMux) {
	if h.alerts == nil {
		return
	}
	mux.HandleFunc("GET /alerts", h.signedIn(h.alertsList))
	mux.HandleFunc("POST /alerts/acknowledge", h.signedIn(h.alertsAcknowledge))
}

type alertsData struct {
	State, Type, Config, Agent string
	States, Types              []filterOption
	Configs, Agents            []filterOption
	Alerts                     []alertView
	Total                      int
	Filtered                   bool
	NextURL, PrevURL           string
	AnyOpen                    bool
	Sort                       sortState
}

// alertView is an alert with its state as a word and a shape.
type alertView struct {
	store.Alert
	JSON api.Alert
}

// StatusView is the alert's type as word and shape.
func (v alertView) StatusView() statusView {
	switch v.Type {
	case alerts.TypeFailure:
		return statusView{"Failure", "✕", "bad"}
	case alerts.TypeWarning:
		return statusView{"Warning", "!", "warn"}
	}
	return statusView{"Info", "i", "off"}
}

// StateView is open, acknowledged or resolved as word and shape.
func (v alertView) StateView() statusView {
	switch v.JSON.State {
	case store.AlertResolved:
		return statusView{"Resolved", "✓", "ok"}
	case store.AlertAcknowledged:
		return statusView{"Acknowledged", "○", "off"}
	}
	return statusView{"Open", "●", "bad"}
}

// Open reports whether the alert can still be acknowledged.
func (v alertView) Open() bool { return v.JSON.State == store.AlertOpen }

func (h *Handler) alertsList(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	q := r.URL.Query()
	f, err := api.ParseAlertFilter(q)
	p := &page{Title: "Alerts", Nav: "alerts"}
	d := &alertsData{State: f.State, Type: f.Type, Config: f.ConfigID, Agent: f.AgentID,
		Sort: sortNewestFrom(r, "/alerts", store.AlertsByLast, store.AlertSorts...)}
	f.Sort, f.Asc = d.Sort.Key, !d.Sort.Desc
	p.Data = d
	d.States = []filterOption{{store.AlertOpen, "Open"}, {store.AlertAcknowledged, "Acknowledged"}, {store.AlertResolved, "Resolved"}}
	d.Types = []filterOption{{alerts.TypeFailure, "Failure"}, {alerts.TypeWarning, "Warning"}, {alerts.TypeInfo, "Info"}}
	d.Filtered = f.State != "" || f.Type != "" || f.ConfigID != "" || f.AgentID != ""
	if err := h.filterOptions(r, sess.User, &d.Configs, &d.Agents); err != nil {
		h.RenderError(w, r, err)
		return
	}
	if err != nil {
		p.Form = "filter"
		h.formError(w, r, "alerts", p, err)
		return
	}
	if f.Limit == 0 {
		f.Limit = 50
	}
	list, total, err := h.alerts.List(r.Context(), sess.User, f)
	if err != nil {
		p.Form = "filter"
		h.formError(w, r, "alerts", p, err)
		return
	}
	d.Total = total
	for _, a := range list {
		v := alertView{Alert: a, JSON: api.AlertJSON(a)}
		d.AnyOpen = d.AnyOpen || v.Open()
		d.Alerts = append(d.Alerts, v)
	}
	page := func(off int) string {
		v := url.Values{}
		for _, k := range []string{"state", "type", "configId", "agentId", "sort", "dir"} {
			if s := q.Get(k); s != "" {
				v.Set(k, s)
			}
		}
		v.Set("offset", strconv.Itoa(off))
		return "/alerts?" + v.Encode()
	}
	if f.Offset+len(list) < total {
		d.NextURL = page(f.Offset + f.Limit)
	}
	if f.Offset > 0 {
		d.PrevURL = page(max(f.Offset-f.Limit, 0))
	}
	h.render(w, r, http.StatusOK, "alerts", p)
}

// filterOptions fills the user's configurations and agents for the filters.
func (h *Handler) filterOptions(r *http.Request, u store.User, configs, agents *[]filterOption) error {
	if h.configs != nil {
		cs, err := h.configs.List(r.Context(), u)
		if err != nil {
			return err
		}
		for _, c := range cs {
			*configs = append(*configs, filterOption{c.ID, c.Name})
		}
	}
	if h.agents != nil {
		as, err := h.agents.List(r.Context(), u)
		if err != nil {
			return err
		}
		for _, a := range as {
			*agents = append(*agents, filterOption{a.ID, a.Name})
		}
	}
	return nil
}

// alertsAcknowledge serves POST /alerts/acknowledge: the ticked alerts (id, many).
func (h *Handler) alertsAcknowledge(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	if err := r.ParseForm(); err != nil {
		h.RenderError(w, r, apperr.New(apperr.Invalid, "the form could not be read: %v", err))
		return
	}
	n, err := h.alerts.Acknowledge(r.Context(), sess.User, r.PostForm["id"])
	if err != nil {
		h.RenderError(w, r, err)
		return
	}
	if n == 0 {
		h.flash(w, "alerts-none-acked")
	} else if n == 1 {
		h.flash(w, "alerts-acked", "1 alert")
	} else {
		h.flash(w, "alerts-acked", strconv.Itoa(n)+" alerts")
	}
	back := r.PostForm.Get("back")
	if back == "" || safeNext(back) != back {
		back = "/alerts"
	}
	seeOther(w, r, back)
}
