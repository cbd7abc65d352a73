package web

import (
	"net/http"

	"github.com/backapp/backapp/internal/auth"
)

type dashboardData struct {
	UserCount        int  // admins only
	RegistrationOpen bool // admins only
}

// dashboardShow serves GET /dashboard: what exists so far, and nothing invented.
func (h *Handler) dashboardShow(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	var d dashboardData
	if sess.User.IsAdmin() {
		n, err := h.store.CountUsers(r.Context())
		if err != nil {
			h.RenderError(w, r, err)
			return
		}
		open, err := h.auth.RegistrationOpen(r.Context())
		if err != nil {
			h.RenderError(w, r, err)
			return
		}
		d = dashboardData{UserCount: n, RegistrationOpen: open}
	}
	h.render(w, r, http.StatusOK, "dashboard", &page{Title: "Dashboard", Nav: "dashboard", Data: d})
}
