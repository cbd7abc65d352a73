package web

import (
	"net/http"

	"github.com/backapp/backapp/internal/auth"
)

// agentKeyRotate serves POST /agents/{id}/rotate-key: a new key, shown once on the
// page this redirects to; the old one is refused from now on.
func (h *Handler) agentKeyRotate(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	a, ok := h.confirmed(w, r, sess, agentRotate)
	if !ok {
		return
	}
	c, err := h.agents.RotateKey(r.Context(), sess.User, a.ID, meta(r))
	if err != nil {
		h.RenderError(w, r, err)
		return
	}
	h.redirectToKey(w, r, sess, c, true)
}
