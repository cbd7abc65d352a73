package web

import (
	"net/http"

	"github.com/backapp/backapp/internal/auth"
)

// agentDelete serves POST /agents/{id}/delete.
func (h *Handler) agentDelete(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	a, ok := h.confirmed(w, r, sess, agentDelete)
	if !ok {
		return
	}
	if err := h.agents.Delete(r.Context(), sess.User, a.ID, meta(r)); err != nil {
		h.RenderError(w, r, err)
		return
	}
	h.flash(w, "agent-deleted", a.Name)
	seeOther(w, r, "/agents")
}
