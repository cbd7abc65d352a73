package web

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/backapp/backapp/internal/agents"
	"github.com/backapp/backapp/internal/auth"
)

// agentKeyData is the page that shows a key: after registering an agent, and after
// rotating its key. It is the only page that ever holds a key.
type agentKeyData struct {
	Agent   agentView
	Created agents.Created
	Rotated bool
	// OneLine installs, enrols and starts the agent on Linux and macOS from this
	// server's binaries; "" when the server has none. WindowsLine does the same in
	// PowerShell; Windows are the .exe files to download by hand.
	OneLine     string
	WindowsLine string
	Windows     []string // the Windows binaries this server has
}

// agentNewShow serves GET /agents/new: the name form.
func (h *Handler) agentNewShow(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	h.render(w, r, http.StatusOK, "agent_new", &page{Title: "Register an agent", Nav: "agents"})
}

// agentCreate serves POST /agents/new and redirects (303) to the key's page, so a
// reload never posts the form again. The key reaches that page through this server's
// memory (keyStash), never a URL, a cookie or the database; pages are never cached
// (render sets Cache-Control: no-store).
func (h *Handler) agentCreate(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	name := r.PostFormValue("name")
	c, err := h.agents.Create(r.Context(), sess.User, name, meta(r))
	if err != nil {
		h.formError(w, r, "agent_new", &page{Title: "Register an agent", Nav: "agents", Form: "agent", Values: map[string]string{"name": name}}, err)
		return
	}
	h.redirectToKey(w, r, sess, c, false)
}

// redirectToKey stashes c's key for this session and redirects to its page.
func (h *Handler) redirectToKey(w http.ResponseWriter, r *http.Request, sess auth.Session, c agents.Created, rotated bool) {
	t := h.keys.put(sess.TokenHash, c, rotated, h.now())
	seeOther(w, r, "/agents/"+url.PathEscape(c.Agent.ID)+"/key?t="+t)
}

// agentKeyShow serves GET /agents/{id}/key?t=: the key just made, for keyShowFor,
// in the session that made it; after that a page that says how to get a new one.
func (h *Handler) agentKeyShow(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	e, ok := h.keys.get(r.URL.Query().Get("t"), sess.TokenHash, h.now())
	if !ok || e.created.Agent.ID != r.PathValue("id") {
		a, err := h.agents.Get(r.Context(), sess.User, r.PathValue("id"))
		if err != nil {
			h.RenderError(w, r, err)
			return
		}
		h.render(w, r, http.StatusOK, "agent_key_gone", &page{Title: "The key is no longer shown", Nav: "agents", Data: agentView{a}})
		return
	}
	title := "Agent " + e.created.Agent.Name + " is registered"
	if e.rotated {
		title = "New key for " + e.created.Agent.Name
	}
	d := agentKeyData{Agent: agentView{e.created.Agent}, Created: e.created, Rotated: e.rotated}
	if h.dist != nil {
		for _, f := range h.dist.Files() {
			if strings.Contains(f, "-windows-") {
				d.Windows = append(d.Windows, f)
				d.WindowsLine = h.dist.WindowsInstallCommand(e.created.Key)
			} else {
				d.OneLine = h.dist.InstallCommand(e.created.Key)
			}
		}
	}
	h.render(w, r, http.StatusOK, "agent_key", &page{Title: title, Nav: "agents", Data: d})
}
