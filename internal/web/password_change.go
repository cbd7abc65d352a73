package web

import (
	"net/http"

	"github.com/backapp/backapp/internal/apperr"
	"github.com/backapp/backapp/internal/auth"
)

// passwordChange serves POST /settings/password: the current password proves it is
// really the user; every other session of theirs ends.
func (h *Handler) passwordChange(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	current, next := r.PostFormValue("current_password"), r.PostFormValue("new_password")
	var err error
	switch {
	case current == "":
		err = apperr.Invalidf("current_password", "enter your current password")
	case next != "" && r.PostFormValue("new_password_confirm") != next:
		err = apperr.Invalidf("new_password_confirm", "the two new passwords differ; type the same password twice")
	default:
		err = h.auth.ChangePassword(r.Context(), sess, current, next, meta(r))
	}
	if err != nil {
		h.formError(w, r, "profile", h.profilePage(sess, "password", nil), err)
		return
	}
	h.flash(w, "password-changed")
	seeOther(w, r, "/settings/profile")
}
