package web

import (
	"net/http"
	"slices"
	"strings"

	"github.com/backapp/backapp/internal/auth"
	"github.com/backapp/backapp/internal/notify"
	"github.com/backapp/backapp/internal/notify/webhook"
	"github.com/backapp/backapp/internal/store"
)

func (h *Handler) registerNotifications(mux *http.ServeMux) {
	if h.notify == nil {
		return
	}
	mux.HandleFunc("GET /settings/notifications", h.signedIn(h.notificationsShow))
	mux.HandleFunc("POST /settings/notifications", h.signedIn(h.notificationSave))
	mux.HandleFunc("POST /settings/notifications/{id}", h.signedIn(h.notificationSave))
	mux.HandleFunc("POST /settings/notifications/{id}/test", h.signedIn(h.notificationCheck))
	mux.HandleFunc("POST /settings/notifications/{id}/delete", h.signedIn(h.notificationDelete))
}

// eventLabels are the events as the page names them.
var eventLabels = map[string]string{
	notify.EventFailure:      "Failures (failed runs, no recent backup, failing storage, checksum mismatches)",
	notify.EventWarning:      "Warnings (skipped files or errors, retention that could not delete)",
	notify.EventLate:         "Late or missed scheduled runs",
	notify.EventAgentOffline: "Agent offline",
	notify.EventAgentOnline:  "Agent back online",
	notify.EventResolved:     "Resolved alerts",
	notify.EventSummary:      "Daily summary",
}

type notifyChoice struct {
	Value, Label string
	Checked      bool
}

type channelRow struct {
	store.Channel
	Events   string
	Configs  string
	Attempts []store.Attempt
	Deleting bool // the no-JavaScript delete confirmation is open for it
}

// channelForm is the add or edit form.
type channelForm struct {
	ID, Action                 string
	Name, Kind, Target, Preset string
	Secret                     string
	Enabled                    bool
	EmailOff                   string // why e-mail channels cannot be added; "" when they can
	Events, Configs, Presets   []notifyChoice
}

type notificationsData struct {
	Rows   []channelRow
	Form   channelForm
	Tested *channelRow // the channel a "Send test" was for
	Test   *store.Attempt
}

func (h *Handler) notificationsShow(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	q := r.URL.Query()
	var form *channelForm
	if id := q.Get("edit"); id != "" {
		c, err := h.notify.Get(r.Context(), sess.User, id)
		if err != nil {
			h.RenderError(w, r, err)
			return
		}
		f := h.channelFormOf(r, sess, notify.Input{Name: c.Name, Kind: c.Kind, Preset: c.Preset, Target: c.Target,
			Secret: c.Secret, Events: c.Events, ConfigIDs: c.ConfigIDs, Enabled: c.Enabled})
		f.ID, f.Action = c.ID, "/settings/notifications/"+c.ID
		form = &f
	}
	h.renderNotifications(w, r, sess, http.StatusOK, form, q.Get("delete"), "", nil, nil)
}

func (h *Handler) channelFormOf(r *http.Request, sess auth.Session, in notify.Input) channelForm {
	f := channelForm{Action: "/settings/notifications", Name: in.Name, Kind: in.Kind, Target: in.Target, Preset: in.Preset,
		Secret: in.Secret, Enabled: in.Enabled, EmailOff: h.notify.EmailUnavailable()}
	if f.Kind == "" {
		f.Kind = store.ChannelWebhook
	}
	for _, e := range notify.Events {
		f.Events = append(f.Events, notifyChoice{Value: e, Label: eventLabels[e], Checked: slices.Contains(in.Events, e)})
	}
	for _, p := range webhook.Presets {
		label := map[string]string{webhook.Generic: "Generic JSON, signed", webhook.Slack: "Slack", webhook.Discord: "Discord",
			webhook.Teams: "Microsoft Teams", webhook.Ntfy: "ntfy", webhook.Gotify: "Gotify"}[p]
		f.Presets = append(f.Presets, notifyChoice{Value: p, Label: label, Checked: p == in.Preset || in.Preset == "" && p == webhook.Generic})
	}
	if h.configs != nil {
		if list, err := h.configs.List(r.Context(), sess.User); err == nil {
			for _, c := range list {
				if c.UserID == sess.User.ID {
					f.Configs = append(f.Configs, notifyChoice{Value: c.ID, Label: c.Name, Checked: slices.Contains(in.ConfigIDs, c.ID)})
				}
			}
		} else {
			h.log.Warn("notifications page: configurations", "err", err)
		}
	}
	return f
}

// renderNotifications renders the page: the channels with their recent attempts,
// the form (form, or an empty one), and a test's result.
func (h *Handler) renderNotifications(w http.ResponseWriter, r *http.Request, sess auth.Session, status int, form *channelForm,
	deleting, tested string, test *store.Attempt, formErr error) {
	list, err := h.notify.List(r.Context(), sess.User)
	if err != nil {
		h.RenderError(w, r, err)
		return
	}
	names := map[string]string{}
	if h.configs != nil {
		if cs, err := h.configs.List(r.Context(), sess.User); err == nil {
			for _, c := range cs {
				names[c.ID] = c.Name
			}
		}
	}
	data := notificationsData{Test: test}
	for _, c := range list {
		row := channelRow{Channel: c, Deleting: c.ID == deleting}
		var evs []string
		for _, e := range c.Events {
			evs = append(evs, strings.ReplaceAll(e, "_", " "))
		}
		row.Events = strings.Join(evs, ", ")
		if len(c.ConfigIDs) == 0 {
			row.Configs = "all"
		} else {
			var ns []string
			for _, id := range c.ConfigIDs {
				n := names[id]
				if n == "" {
					n = "(deleted)"
				}
				ns = append(ns, n)
			}
			row.Configs = strings.Join(ns, ", ")
		}
		row.Attempts, err = h.notify.Attempts(r.Context(), sess.User, c.ID, 10)
		if err != nil {
			h.RenderError(w, r, err)
			return
		}
		data.Rows = append(data.Rows, row)
		if c.ID == tested {
			data.Tested = &data.Rows[len(data.Rows)-1]
		}
	}
	if form == nil {
		f := h.channelFormOf(r, sess, notify.Input{Enabled: true, Events: []string{notify.EventFailure, notify.EventWarning,
			notify.EventLate, notify.EventAgentOffline, notify.EventAgentOnline, notify.EventResolved}})
		form = &f
	}
	data.Form = *form
	p := &page{Title: "Notifications", Nav: "notifications", Form: "channel", Data: data}
	if formErr != nil {
		h.formError(w, r, "notifications", p, formErr)
		return
	}
	h.render(w, r, status, "notifications", p)
}
