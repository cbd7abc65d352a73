package web

import (
	"net/http"
	"net/url"

	"github.com/backapp/backapp/internal/auth"
)

// agentRevoke serves POST /agents/{id}/revoke.
func (h *Handler) agentRevoke(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	a, ok := h.confirmed(w, r, sess, agentRevoke)
	if !ok {
		return
	}
	if _, err := h.agents.Revoke(r.Context(), sess.User, a.ID, meta(r)); err != nil {
		h.RenderError(w, r, err)
		return
	}
	h.flash(w, "agent-revoked", a.Name)
	seeOther(w, r, "/agents/"+url.PathEscape(a.ID))
}
