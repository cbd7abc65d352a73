package web

import (
	"net/http"

	"github.com/backapp/backapp/internal/auth"
)

// registrationUpdate serves POST /settings/registration (admins): open=true opens
// registration to anyone who can reach the server, open=false closes it.
func (h *Handler) registrationUpdate(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	if !h.adminOnly(w, r, sess) {
		return
	}
	open := r.PostFormValue("open") == "true"
	err := h.auth.SetRegistrationOpen(r.Context(), sess.User, open, meta(r))
	code := "registration-closed"
	if open {
		code = "registration-open"
	}
	h.userActionDone(w, r, sess, err, code)
}
