package web

import (
	"net/http"

	"github.com/backapp/backapp/internal/apperr"
	"github.com/backapp/backapp/internal/auth"
	"github.com/backapp/backapp/internal/store"
)

type registerData struct {
	Open     bool // registration is open
	FirstRun bool // the account created now becomes the administrator
}

func (h *Handler) registerData(r *http.Request) (registerData, error) {
	open, err := h.auth.RegistrationOpen(r.Context())
	if err != nil {
		return registerData{}, err
	}
	n, err := h.store.CountUsers(r.Context())
	if err != nil {
		return registerData{}, err
	}
	return registerData{Open: open, FirstRun: n == 0}, nil
}

// registerShow serves GET /register, or says plainly that registration is closed.
func (h *Handler) registerShow(w http.ResponseWriter, r *http.Request) {
	if _, ok := auth.SessionFrom(r.Context()); ok {
		seeOther(w, r, "/dashboard")
		return
	}
	d, err := h.registerData(r)
	if err != nil {
		h.RenderError(w, r, err)
		return
	}
	title := "Create an account"
	if !d.Open {
		title = "Registration is closed"
	}
	h.render(w, r, http.StatusOK, "register", &page{Title: title, Data: d})
}

// registerSubmit serves POST /register: creates the account (the first one becomes
// admin) and signs it in.
func (h *Handler) registerSubmit(w http.ResponseWriter, r *http.Request) {
	if _, ok := auth.SessionFrom(r.Context()); ok {
		seeOther(w, r, "/dashboard")
		return
	}
	in := auth.RegisterInput{Name: r.PostFormValue("name"), Email: r.PostFormValue("email"), Password: r.PostFormValue("password")}
	u, err := h.register(r, in, r.PostFormValue("password_confirm"))
	if err != nil {
		d, derr := h.registerData(r)
		if derr != nil {
			h.RenderError(w, r, derr)
			return
		}
		p := &page{Title: "Create an account", Form: "register", Values: map[string]string{"name": in.Name, "email": in.Email}, Data: d}
		h.formError(w, r, "register", p, err)
		return
	}
	token, err := h.auth.NewSession(r.Context(), u.ID, meta(r))
	if err != nil {
		// The account exists; only the automatic sign-in failed.
		h.log.Error("session after registration", "err", err)
		seeOther(w, r, "/login")
		return
	}
	h.auth.SetCookie(w, token, h.secure)
	if u.IsAdmin() {
		h.flash(w, "welcome-admin")
	} else {
		h.flash(w, "welcome")
	}
	seeOther(w, r, "/dashboard")
}

func (h *Handler) register(r *http.Request, in auth.RegisterInput, confirm string) (store.User, error) {
	if in.Password != "" && confirm != in.Password {
		return store.User{}, apperr.Invalidf("password_confirm", "the two passwords differ; type the same password twice")
	}
	return h.auth.Register(r.Context(), in, meta(r))
}
