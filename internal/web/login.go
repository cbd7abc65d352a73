package web

import (
	"net/http"

	"github.com/backapp/backapp/internal/auth"
)

type loginData struct {
	Next             string
	FirstRun         bool // no account exists yet
	RegistrationOpen bool
}

func (h *Handler) loginData(r *http.Request, next string) (loginData, error) {
	n, err := h.store.CountUsers(r.Context())
	if err != nil {
		return loginData{}, err
	}
	open, err := h.auth.RegistrationOpen(r.Context())
	if err != nil {
		return loginData{}, err
	}
	return loginData{Next: next, FirstRun: n == 0, RegistrationOpen: open}, nil
}

// loginShow serves GET /login; ?next= says where to go after signing in.
func (h *Handler) loginShow(w http.ResponseWriter, r *http.Request) {
	next := r.URL.Query().Get("next")
	if _, ok := auth.SessionFrom(r.Context()); ok {
		seeOther(w, r, safeNext(next))
		return
	}
	d, err := h.loginData(r, next)
	if err != nil {
		h.RenderError(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "login", &page{Title: "Sign in", Data: d})
}

// loginSubmit serves POST /login: checks the credentials, opens a session and goes
// back to where the visitor was headed.
func (h *Handler) loginSubmit(w http.ResponseWriter, r *http.Request) {
	email, password, next := r.PostFormValue("email"), r.PostFormValue("password"), r.PostFormValue("next")
	_, token, err := h.auth.Login(r.Context(), email, password, meta(r))
	if err != nil {
		d, derr := h.loginData(r, next)
		if derr != nil {
			h.RenderError(w, r, derr)
			return
		}
		h.formError(w, r, "login", &page{Title: "Sign in", Form: "login", Values: map[string]string{"email": email}, Data: d}, err)
		return
	}
	// Someone signing in over another account's session ends that session rather
	// than leaving it orphaned in the database.
	if c, cerr := r.Cookie(auth.CookieName); cerr == nil && c.Value != "" {
		if err := h.auth.Logout(r.Context(), c.Value, meta(r)); err != nil {
			h.log.Warn("end previous session", "err", err)
		}
	}
	h.auth.SetCookie(w, token, h.secure)
	seeOther(w, r, safeNext(next))
}
