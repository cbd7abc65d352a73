package web

import (
	"net/http"

	"github.com/backapp/backapp/internal/auth"
)

// userRoleUpdate serves POST /users/{id}/role (admins; not their own role).
func (h *Handler) userRoleUpdate(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	if !h.adminOnly(w, r, sess) {
		return
	}
	u, err := h.auth.SetRole(r.Context(), sess.User, r.PathValue("id"), r.PostFormValue("role"), meta(r))
	role := "a user"
	if u.Role == "admin" {
		role = "an administrator"
	}
	h.userActionDone(w, r, sess, err, "role-changed", u.Email, role)
}
