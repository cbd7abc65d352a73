package web

import (
	"fmt"
	"net/http"
	"net/url"

	"github.com/backapp/backapp/internal/agents"
	"github.com/backapp/backapp/internal/apperr"
	"github.com/backapp/backapp/internal/auth"
)

type agentActionKind int

const (
	agentRotate agentActionKind = iota
	agentRevoke
	agentDelete
)

// agentAction is a destructive action on an agent and the words that confirm it, in
// the agent page's <dialog> and on the confirmation page for browsers without it.
type agentAction struct {
	Kind   agentActionKind
	ID     string // dialog id
	Path   string // GET: confirmation page; POST: the action
	Link   string // the button that opens the dialog
	Title  string
	Lost   []string // what will be lost, one sentence each
	Button string
	Danger bool
	// Confirm labels the checkbox of the confirmation page.
	Confirm string
}

func agentActionFor(k agentActionKind, a agents.Agent) agentAction {
	base := "/agents/" + url.PathEscape(a.ID)
	host := "its machine"
	if a.Hostname != "" {
		host = a.Hostname
	}
	switch k {
	case agentRotate:
		return agentAction{Kind: k, ID: "rotate-key", Path: base + "/rotate-key", Link: "Rotate key…",
			Title: fmt.Sprintf("Rotate the key of %s?", a.Name),
			Lost: []string{
				fmt.Sprintf("The current key (%s…) stops working at once: the agent on %s cannot reach the server until you enrol it again with the new key.", a.KeyPrefix, host),
				"The new key is shown once, on the next page.",
			},
			Button: "Rotate key", Confirm: "I understand that the current key stops working at once"}
	case agentRevoke:
		return agentAction{Kind: k, ID: "revoke", Danger: true, Path: base + "/revoke", Link: "Revoke…",
			Title: fmt.Sprintf("Revoke %s?", a.Name),
			Lost: []string{
				fmt.Sprintf("The key of %s stops working at once and for good: the agent on %s can no longer back up, restore or report.", a.Name, host),
				"Its history and logs stay. To back up the machine again, register a new agent.",
			},
			Button: "Revoke " + a.Name, Confirm: fmt.Sprintf("I understand that %s can never use its key again", a.Name)}
	default:
		return agentAction{Kind: k, ID: "delete", Danger: true, Path: base + "/delete", Link: "Delete…",
			Title: fmt.Sprintf("Delete %s?", a.Name),
			Lost: []string{
				fmt.Sprintf("%s and its logs are deleted for good, and its key stops working at once.", a.Name),
				"Backup configurations assigned to it are left without an agent and do not run until you assign another. Backups already stored stay in storage and in the history.",
				"This cannot be undone.",
			},
			Button: "Delete " + a.Name, Confirm: fmt.Sprintf("I understand that %s and its logs will be deleted for good", a.Name)}
	}
}

type agentConfirmData struct {
	Agent  agentView
	Action agentAction
}

// agentConfirm serves GET /agents/{id}/{rotate-key,revoke,delete}: the confirmation
// page for browsers without <dialog> or JavaScript.
func (h *Handler) agentConfirm(k agentActionKind) func(http.ResponseWriter, *http.Request, auth.Session) {
	return func(w http.ResponseWriter, r *http.Request, sess auth.Session) {
		a, err := h.agents.Get(r.Context(), sess.User, r.PathValue("id"))
		if err != nil {
			h.RenderError(w, r, err)
			return
		}
		act := agentActionFor(k, a)
		h.render(w, r, http.StatusOK, "agent_confirm", &page{Title: act.Title, Nav: "agents", Data: agentConfirmData{Agent: agentView{a}, Action: act}})
	}
}

// confirmed loads the agent of a confirmed action. Without confirm=yes (the dialog's
// hidden field, or the confirmation page's checkbox) it shows the confirmation page
// again with the reason and returns false, so a stray click changes nothing.
func (h *Handler) confirmed(w http.ResponseWriter, r *http.Request, sess auth.Session, k agentActionKind) (agents.Agent, bool) {
	a, err := h.agents.Get(r.Context(), sess.User, r.PathValue("id"))
	if err != nil {
		h.RenderError(w, r, err)
		return agents.Agent{}, false
	}
	if r.PostFormValue("confirm") != "yes" {
		act := agentActionFor(k, a)
		p := &page{Title: act.Title, Nav: "agents", Form: "confirm", Data: agentConfirmData{Agent: agentView{a}, Action: act}}
		h.formError(w, r, "agent_confirm", p, apperr.Invalidf("confirm", "tick the box to confirm: %s", act.Button))
		return agents.Agent{}, false
	}
	return a, true
}
