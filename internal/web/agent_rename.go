package web

import (
	"net/http"
	"net/url"

	"github.com/backapp/backapp/internal/apperr"
	"github.com/backapp/backapp/internal/auth"
)

// agentRename serves POST /agents/{id}/rename.
func (h *Handler) agentRename(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	a, err := h.agents.Get(r.Context(), sess.User, r.PathValue("id"))
	if err != nil {
		h.RenderError(w, r, err)
		return
	}
	name := r.PostFormValue("name")
	renamed, err := h.agents.Rename(r.Context(), sess.User, a.ID, name, meta(r))
	if err != nil {
		if apperr.KindOf(err) == apperr.Internal {
			h.RenderError(w, r, err)
			return
		}
		p := h.agentPage(a)
		p.Form, p.Values = "rename", map[string]string{"name": name}
		h.formError(w, r, "agent_show", p, err)
		return
	}
	h.flash(w, "agent-renamed", renamed.Name)
	seeOther(w, r, "/agents/"+url.PathEscape(a.ID))
}
