package web

import (
	"net/http"

	"github.com/backapp/backapp/internal/auth"
)

// logoutSubmit serves POST /logout: ends the session server-side and forgets the
// cookie. Signing out is a POST (with the CSRF token) so no other site can sign the
// user out with a link or an image.
func (h *Handler) logoutSubmit(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(auth.CookieName); err == nil && c.Value != "" {
		if err := h.auth.Logout(r.Context(), c.Value, meta(r)); err != nil {
			h.log.Error("logout", "err", err)
		}
	}
	auth.ClearCookie(w, h.secure)
	h.flash(w, "signed-out")
	seeOther(w, r, "/login")
}
