package web

import (
	"net/http"

	"github.com/backapp/backapp/internal/auth"
)

// profileShow serves GET /settings/profile: the signed-in user's own name, e-mail
// and password. There is no user id in the URL: the page can only ever show oneself.
func (h *Handler) profileShow(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	h.render(w, r, http.StatusOK, "profile", h.profilePage(sess, "", nil))
}

func (h *Handler) profilePage(sess auth.Session, form string, values map[string]string) *page {
	v := map[string]string{"name": sess.User.Name, "email": sess.User.Email}
	for k, x := range values {
		v[k] = x
	}
	return &page{Title: "Your profile", Nav: "profile", Form: form, Values: v}
}

// profileUpdate serves POST /settings/profile. It changes the session's own user
// only; any id a form might carry is ignored.
func (h *Handler) profileUpdate(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	in := auth.ProfileInput{Name: r.PostFormValue("name"), Email: r.PostFormValue("email")}
	if _, err := h.auth.UpdateProfile(r.Context(), sess.User.ID, in, meta(r)); err != nil {
		h.formError(w, r, "profile", h.profilePage(sess, "profile", map[string]string{"name": in.Name, "email": in.Email}), err)
		return
	}
	h.flash(w, "profile-saved")
	seeOther(w, r, "/settings/profile")
}
