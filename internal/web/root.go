package web

import (
	"net/http"

	"github.com/backapp/backapp/internal/auth"
)

// rootShow sends signed-in visitors to the dashboard and everyone else to sign in
// (where a server without accounts offers to create the first admin).
func (h *Handler) rootShow(w http.ResponseWriter, r *http.Request) {
	if _, ok := auth.SessionFrom(r.Context()); ok {
		http.Redirect(w, r, "/dashboard", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}
