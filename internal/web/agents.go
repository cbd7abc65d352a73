package web

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/backapp/backapp/internal/agents"
	"github.com/backapp/backapp/internal/auth"
	"github.com/backapp/backapp/internal/runs"
	"github.com/backapp/backapp/internal/store"
)

// registerAgents mounts the agent pages; without an agents service there are none.
func (h *Handler) registerAgents(mux *http.ServeMux) {
	if h.agents == nil {
		return
	}
	mux.HandleFunc("GET /agents", h.signedIn(h.agentsList))
	mux.HandleFunc("GET /agents/new", h.signedIn(h.agentNewShow))
	mux.HandleFunc("POST /agents/new", h.signedIn(h.agentCreate))
	mux.HandleFunc("GET /agents/{id}", h.signedIn(h.agentShow))
	mux.HandleFunc("GET /agents/{id}/key", h.signedIn(h.agentKeyShow))
	mux.HandleFunc("POST /agents/{id}/rename", h.signedIn(h.agentRename))
	mux.HandleFunc("GET /agents/{id}/rotate-key", h.signedIn(h.agentConfirm(agentRotate)))
	mux.HandleFunc("POST /agents/{id}/rotate-key", h.signedIn(h.agentKeyRotate))
	mux.HandleFunc("GET /agents/{id}/revoke", h.signedIn(h.agentConfirm(agentRevoke)))
	mux.HandleFunc("POST /agents/{id}/revoke", h.signedIn(h.agentRevoke))
	mux.HandleFunc("GET /agents/{id}/delete", h.signedIn(h.agentConfirm(agentDelete)))
	mux.HandleFunc("POST /agents/{id}/delete", h.signedIn(h.agentDelete))
}

// agentNames maps the agents actor may see to their names, for pages that name
// them; without an agents service it is empty.
func (h *Handler) agentNames(ctx context.Context, actor store.User) (map[string]string, error) {
	names := map[string]string{}
	if h.agents == nil {
		return names, nil
	}
	as, err := h.agents.List(ctx, actor)
	if err != nil {
		return nil, err
	}
	for _, a := range as {
		names[a.ID] = a.Name
	}
	return names, nil
}

type agentsData struct {
	Agents []agentView
	Sort   sortState
	// Example is the enroll command with a placeholder for the key, for the empty state.
	Example string
}

// OnlineText says how many agents are online: the list's live region, which
// changes (and is announced) only when an agent comes or goes.
func (d agentsData) OnlineText() string {
	n := 0
	for _, a := range d.Agents {
		if a.State == store.AgentOnline {
			n++
		}
	}
	return fmt.Sprintf("%d of %d agents online", n, len(d.Agents))
}

// agentsList serves GET /agents: the agents the user may see (all for admins), each
// with its status computed now.
func (h *Handler) agentsList(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	as, err := h.agents.List(r.Context(), sess.User)
	if err != nil {
		h.RenderError(w, r, err)
		return
	}
	d := agentsData{Agents: make([]agentView, len(as)), Example: h.agents.EnrollCommand("<key>")}
	for i, a := range as {
		d.Agents[i] = agentView{a}
	}
	d.Sort = sortFrom(r, "/agents", "name", "name", "status", "lastseen", "lastbackup", "platform", "owner")
	unix := func(t *time.Time) int64 {
		if t == nil {
			return 0
		}
		return t.UnixNano()
	}
	sortRows(d.Agents, d.Sort, map[string]func(a, b agentView) int{
		"name":       func(a, b agentView) int { return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)) },
		"status":     func(a, b agentView) int { return strings.Compare(a.Status().Word, b.Status().Word) },
		"lastseen":   func(a, b agentView) int { return cmp.Compare(unix(a.LastSeen), unix(b.LastSeen)) },
		"lastbackup": func(a, b agentView) int { return a.LastBackupTime().Compare(b.LastBackupTime()) },
		"platform":   func(a, b agentView) int { return strings.Compare(a.PlatformText(), b.PlatformText()) },
		"owner":      func(a, b agentView) int { return strings.Compare(a.Owner, b.Owner) },
	}, func(a agentView) string { return a.Name })
	h.render(w, r, http.StatusOK, "agents", &page{Title: "Agents", Nav: "agents", Data: d})
}

// agentView is an agent with what its templates show: status as a word and a shape
// (never colour alone), platform, last backup.
type agentView struct{ agents.Agent }

// Status is the status word, shape and class for the status partial.
func (a agentView) Status() statusView {
	switch {
	case a.Revoked:
		return statusView{"Revoked", "⊘", "off"}
	case !a.Enrolled():
		return statusView{"Not enrolled yet", "○", "off"}
	}
	switch a.State {
	case store.AgentOnline:
		return statusView{"Online", "●", "ok"}
	case store.AgentError:
		return statusView{"Error", "✕", "bad"}
	default:
		return statusView{"Offline", "○", "off"}
	}
}

// PlatformText is "linux/amd64", or "" before the first heartbeat.
func (a agentView) PlatformText() string {
	if a.Arch == "" {
		return a.Platform
	}
	return strings.TrimPrefix(a.Platform+"/"+a.Arch, "/")
}

// LastBackupStatus describes the newest run.
func (a agentView) LastBackupStatus() statusView {
	if a.LastRun == nil {
		return statusView{}
	}
	return runStatusOf(*a.LastRun)
}

// LastBackupTime is when the newest run ended, or started while it has not.
func (a agentView) LastBackupTime() time.Time {
	if a.LastRun == nil {
		return time.Time{}
	}
	if a.LastRun.EndTime != nil {
		return *a.LastRun.EndTime
	}
	return a.LastRun.StartTime
}

type statusView struct{ Word, Shape, Class string }

func runStatus(s string) statusView {
	switch s {
	case "completed":
		return statusView{"Completed", "✓", "ok"}
	case "failed":
		return statusView{"Failed", "✕", "bad"}
	case "running":
		return statusView{"Running", "●", "ok"}
	case "queued":
		return statusView{"Queued", "○", "off"}
	case "cancelled":
		return statusView{"Cancelled", "○", "off"}
	}
	return statusView{s, "?", "off"}
}

// runStatusOf is runStatus, but a completed run that skipped files or directories (or
// had another problem) is "Completed with warnings", never plain "Completed".
func runStatusOf(r store.Run) statusView {
	if runs.WithWarnings(r) {
		return statusView{"Completed with warnings", "!", "warn"}
	}
	return runStatus(r.Status)
}

// logLevel is a log level as a word and a shape.
func logLevel(l string) statusView {
	switch l {
	case "error":
		return statusView{"Error", "✕", "bad"}
	case "warning":
		return statusView{"Warning", "!", "warn"}
	case "info":
		return statusView{"Info", "•", "off"}
	}
	return statusView{l, "•", "off"}
}
