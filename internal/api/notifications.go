package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/backapp/backapp/internal/apperr"
	"github.com/backapp/backapp/internal/auth"
	"github.com/backapp/backapp/internal/httpx"
	"github.com/backapp/backapp/internal/notify"
	"github.com/backapp/backapp/internal/store"
)

// notificationsAPI serves each user's notification channels under
// /api/notifications/channels: CRUD, "send test" and the recent attempts.
type notificationsAPI struct {
	*API
	svc *notify.Service
}

// RegisterNotifications adds the notification channel routes to mux.
func (a *API) RegisterNotifications(mux *http.ServeMux, svc *notify.Service) {
	h := &notificationsAPI{API: a, svc: svc}
	mux.HandleFunc("GET /api/notifications/channels", a.signedIn(h.list))
	mux.HandleFunc("POST /api/notifications/channels", a.signedIn(h.create))
	mux.HandleFunc("GET /api/notifications/channels/{id}", a.signedIn(h.get))
	mux.HandleFunc("PUT /api/notifications/channels/{id}", a.signedIn(h.update))
	mux.HandleFunc("DELETE /api/notifications/channels/{id}", a.signedIn(h.delete))
	mux.HandleFunc("POST /api/notifications/channels/{id}/test", a.signedIn(h.test))
	mux.HandleFunc("GET /api/notifications/channels/{id}/attempts", a.signedIn(h.attempts))
}

// Channel is a notification channel's API shape. The signing secret is shown: its
// owner needs it to verify signatures.
type Channel struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Kind      string    `json:"kind"`
	Preset    string    `json:"preset,omitempty"`
	Target    string    `json:"target"`
	Secret    string    `json:"secret,omitempty"`
	Events    []string  `json:"events"`
	ConfigIDs []string  `json:"configIds"`
	Enabled   bool      `json:"enabled"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// ChannelJSON is c's API shape.
func ChannelJSON(c store.Channel) Channel {
	out := Channel{ID: c.ID, Name: c.Name, Kind: c.Kind, Preset: c.Preset, Target: c.Target, Secret: c.Secret,
		Events: c.Events, ConfigIDs: c.ConfigIDs, Enabled: c.Enabled, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
	if out.Events == nil {
		out.Events = []string{}
	}
	if out.ConfigIDs == nil {
		out.ConfigIDs = []string{}
	}
	return out
}

// Attempt is a delivery attempt's API shape.
type Attempt struct {
	ID         string    `json:"id"`
	MessageID  string    `json:"messageId,omitempty"`
	Event      string    `json:"event"`
	At         time.Time `json:"at"`
	OK         bool      `json:"ok"`
	Status     int       `json:"status,omitempty"`
	Error      string    `json:"error,omitempty"`
	Response   string    `json:"response,omitempty"`
	DurationMS int64     `json:"durationMs"`
}

// AttemptJSON is a's API shape.
func AttemptJSON(a store.Attempt) Attempt {
	return Attempt{ID: a.ID, MessageID: a.MessageID, Event: a.Event, At: a.At, OK: a.Error == "", Status: a.Status,
		Error: a.Error, Response: a.Response, DurationMS: a.Duration.Milliseconds()}
}

// channelInput is notify.Input with enabled defaulting to true.
type channelInput struct {
	notify.Input
	Enabled *bool `json:"enabled"`
}

func (in channelInput) input() notify.Input {
	out := in.Input
	out.Enabled = in.Enabled == nil || *in.Enabled
	return out
}

func (h *notificationsAPI) list(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	list, err := h.svc.List(r.Context(), sess.User)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := struct {
		Channels []Channel `json:"channels"`
		Events   []string  `json:"events"`
	}{Channels: make([]Channel, len(list)), Events: notify.Events}
	for i, c := range list {
		out.Channels[i] = ChannelJSON(c)
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}

func (h *notificationsAPI) get(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	c, err := h.svc.Get(r.Context(), sess.User, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, ChannelJSON(c))
}

func (h *notificationsAPI) create(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	var in channelInput
	if err := httpx.DecodeJSON(r, &in); err != nil {
		h.fail(w, r, err)
		return
	}
	c, err := h.svc.Create(r.Context(), sess.User, in.input())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusCreated, ChannelJSON(c))
}

func (h *notificationsAPI) update(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	var in channelInput
	if err := httpx.DecodeJSON(r, &in); err != nil {
		h.fail(w, r, err)
		return
	}
	c, err := h.svc.Update(r.Context(), sess.User, r.PathValue("id"), in.input())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, ChannelJSON(c))
}

func (h *notificationsAPI) delete(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	n, err := h.svc.Delete(r.Context(), sess.User, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, struct {
		Dropped int `json:"dropped"` // undelivered messages dropped with the channel
	}{n})
}

func (h *notificationsAPI) test(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	a, err := h.svc.Test(r.Context(), sess.User, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, AttemptJSON(a))
}

func (h *notificationsAPI) attempts(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	limit := 50
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			h.fail(w, r, apperr.Invalidf("limit", "limit must be a whole number ≥ 1, not %q", v))
			return
		}
		limit = n
	}
	list, err := h.svc.Attempts(r.Context(), sess.User, r.PathValue("id"), limit)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := struct {
		Attempts []Attempt `json:"attempts"`
	}{Attempts: make([]Attempt, len(list))}
	for i, a := range list {
		out.Attempts[i] = AttemptJSON(a)
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}
