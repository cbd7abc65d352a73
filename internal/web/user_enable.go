package web

import (
	"net/http"

	"github.com/backapp/backapp/internal/auth"
)

// userEnable serves POST /users/{id}/enable: a disabled user may sign in again.
func (h *Handler) userEnable(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	if !h.adminOnly(w, r, sess) {
		return
	}
	u, err := h.auth.SetDisabled(r.Context(), sess.User, r.PathValue("id"), false, meta(r))
	h.userActionDone(w, r, sess, err, "user-enabled", u.Email)
}
