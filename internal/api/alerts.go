package api

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/backapp/backapp/internal/alerts"
	"github.com/backapp/backapp/internal/apperr"
	"github.com/backapp/backapp/internal/auth"
	"github.com/backapp/backapp/internal/httpx"
	"github.com/backapp/backapp/internal/store"
)

// alertsAPI serves the seed's GET /api/alerts and PUT /api/alerts/{id}/acknowledge,
// and acknowledging many at once.
type alertsAPI struct {
	*API
	svc *alerts.Service
}

// RegisterAlerts adds the alert routes to mux.
func (a *API) RegisterAlerts(mux *http.ServeMux, svc *alerts.Service) {
	h := &alertsAPI{API: a, svc: svc}
	mux.HandleFunc("GET /api/alerts", a.signedIn(h.list))
	mux.HandleFunc("GET /api/alerts/{id}", a.signedIn(h.get))
	mux.HandleFunc("PUT /api/alerts/{id}/acknowledge", a.signedIn(h.ack))
	mux.HandleFunc("POST /api/alerts/acknowledge", a.signedIn(h.ackMany))
}

// Alert is the seed's Alert (id, type failure|warning|info, configId, message,
// timestamp, acknowledged) with what the rules add.
type Alert struct {
	ID           string     `json:"id"`
	Type         string     `json:"type"`
	ConfigID     string     `json:"configId,omitempty"`
	Message      string     `json:"message"`
	Timestamp    time.Time  `json:"timestamp"`
	Acknowledged bool       `json:"acknowledged"`
	Rule         string     `json:"rule"`
	ConfigName   string     `json:"configName,omitempty"`
	AgentID      string     `json:"agentId,omitempty"`
	AgentName    string     `json:"agentName,omitempty"`
	Count        int        `json:"count"`
	LastSeen     time.Time  `json:"lastOccurrence"`
	State        string     `json:"state"` // open | acknowledged | resolved
	ResolvedAt   *time.Time `json:"resolvedAt,omitempty"`
	Resolution   string     `json:"resolution,omitempty"`
}

// AlertJSON is a's API shape.
func AlertJSON(a store.Alert) Alert {
	state := store.AlertOpen
	switch {
	case a.ResolvedAt != nil:
		state = store.AlertResolved
	case a.Acknowledged:
		state = store.AlertAcknowledged
	}
	return Alert{ID: a.ID, Type: a.Type, ConfigID: a.ConfigID, Message: a.Message, Timestamp: a.Timestamp,
		Acknowledged: a.Acknowledged, Rule: a.Rule, ConfigName: a.ConfigName, AgentID: a.AgentID, AgentName: a.AgentName,
		Count: a.Occurrences, LastSeen: a.Last(), State: state, ResolvedAt: a.ResolvedAt, Resolution: a.Resolution}
}

// ParseAlertFilter reads state, type, configId, agentId, limit, offset, sort and dir.
func ParseAlertFilter(q url.Values) (alerts.Filter, error) {
	f := alerts.Filter{State: q.Get("state"), Type: q.Get("type"), ConfigID: q.Get("configId"), AgentID: q.Get("agentId"),
		Rule: q.Get("rule"), Sort: q.Get("sort")}
	var err error
	if f.Asc, err = parseDir(q.Get("dir")); err != nil {
		return f, err
	}
	for _, p := range []struct {
		name string
		dst  *int
	}{{"limit", &f.Limit}, {"offset", &f.Offset}} {
		if v := q.Get(p.name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return f, apperr.Invalidf(p.name, "%s must be a whole number ≥ 0, not %q", p.name, v)
			}
			*p.dst = n
		}
	}
	return f, nil
}

func (h *alertsAPI) list(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	f, err := ParseAlertFilter(r.URL.Query())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	list, total, err := h.svc.List(r.Context(), sess.User, f)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	open, err := h.svc.OpenCount(r.Context(), sess.User)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := struct {
		Alerts []Alert `json:"alerts"`
		Total  int     `json:"total"`
		Open   int     `json:"open"` // the user's open alerts, whatever the filter
	}{Alerts: make([]Alert, len(list)), Total: total, Open: open}
	for i, a := range list {
		out.Alerts[i] = AlertJSON(a)
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}

func (h *alertsAPI) get(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	a, err := h.svc.Get(r.Context(), sess.User, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, AlertJSON(a))
}

func (h *alertsAPI) ack(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	id := r.PathValue("id")
	if _, err := h.svc.Get(r.Context(), sess.User, id); err != nil {
		h.fail(w, r, err)
		return
	}
	if _, err := h.svc.Acknowledge(r.Context(), sess.User, []string{id}); err != nil {
		h.fail(w, r, err)
		return
	}
	a, err := h.svc.Get(r.Context(), sess.User, id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, AlertJSON(a))
}

func (h *alertsAPI) ackMany(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	var req struct {
		IDs []string `json:"ids"`
	}
	if err := httpx.DecodeJSON(r, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	n, err := h.svc.Acknowledge(r.Context(), sess.User, req.IDs)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, struct {
		Acknowledged int `json:"acknowledged"`
	}{n})
}
