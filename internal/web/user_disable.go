package web

import (
	"net/http"

	"github.com/backapp/backapp/internal/auth"
)

// userDisable serves POST /users/{id}/disable: the user can no longer sign in and
// their sessions end at once.
func (h *Handler) userDisable(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	if !h.adminOnly(w, r, sess) {
		return
	}
	u, err := h.auth.SetDisabled(r.Context(), sess.User, r.PathValue("id"), true, meta(r))
	h.userActionDone(w, r, sess, err, "user-disabled", u.Email)
}
