package web

import (
	"net/http"

	"github.com/backapp/backapp/internal/agents"
	"github.com/backapp/backapp/internal/auth"
)

// agentKeyData is the page that shows a key: after registering an agent, and after
// rotating its key. It is the only page that ever holds a key.
type agentKeyData struct {
	Agent   agentView
	Created agents.Created
	Rotated bool
}

// agentNewShow serves GET /agents/new: the name form.
func (h *Handler) agentNewShow(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	h.render(w, r, http.StatusOK, "agent_new", &page{Title: "Register an agent", Nav: "agents"})
}

// agentCreate serves POST /agents/new. On success it answers with the key page
// directly rather than redirecting: the key must not travel through a URL, a cookie
// or the database to reach a second request. Pages are never cached (render sets
// Cache-Control: no-store), so Back does not bring the key back either.
func (h *Handler) agentCreate(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	name := r.PostFormValue("name")
	c, err := h.agents.Create(r.Context(), sess.User, name, meta(r))
	if err != nil {
		h.formError(w, r, "agent_new", &page{Title: "Register an agent", Nav: "agents", Form: "agent", Values: map[string]string{"name": name}}, err)
		return
	}
	h.renderKey(w, r, c, false)
}

func (h *Handler) renderKey(w http.ResponseWriter, r *http.Request, c agents.Created, rotated bool) {
	title := "Agent " + c.Agent.Name + " is registered"
	if rotated {
		title = "New key for " + c.Agent.Name
	}
	w.Header().Set("Cache-Control", "no-store")
	h.render(w, r, http.StatusOK, "agent_key", &page{Title: title, Nav: "agents", Data: agentKeyData{Agent: agentView{c.Agent}, Created: c, Rotated: rotated}})
}
