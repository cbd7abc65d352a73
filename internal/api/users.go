package api

import (
	"net/http"

	"github.com/backapp/backapp/internal/apperr"
	"github.com/backapp/backapp/internal/auth"
	"github.com/backapp/backapp/internal/httpx"
	"github.com/backapp/backapp/internal/store"
)

func (a *API) userList(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	us, err := a.auth.ListUsers(r.Context(), sess.User)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := make([]User, len(us))
	for i, u := range us {
		out[i] = userJSON(u)
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"users": out})
}

func (a *API) userGet(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	u, err := a.auth.GetUser(r.Context(), sess.User, r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, userJSON(u))
}

// userPatch changes role and/or the disabled flag (admins only).
type userPatch struct {
	Role     *string `json:"role"`
	Disabled *bool   `json:"disabled"`
}

func (a *API) userUpdate(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	if !sess.User.IsAdmin() {
		a.fail(w, r, apperr.New(apperr.Forbidden, "only administrators can change users; change your own profile with PUT /api/profile"))
		return
	}
	var in userPatch
	if err := httpx.DecodeJSON(r, &in); err != nil {
		a.fail(w, r, err)
		return
	}
	if in.Role == nil && in.Disabled == nil {
		a.fail(w, r, apperr.New(apperr.Invalid, `nothing to change: send "role" and/or "disabled"`))
		return
	}
	id := r.PathValue("id")
	var u store.User
	var err error
	if in.Role != nil {
		if u, err = a.auth.SetRole(r.Context(), sess.User, id, *in.Role, meta(r)); err != nil {
			a.fail(w, r, err)
			return
		}
	}
	if in.Disabled != nil {
		if u, err = a.auth.SetDisabled(r.Context(), sess.User, id, *in.Disabled, meta(r)); err != nil {
			a.fail(w, r, err)
			return
		}
	}
	httpx.WriteJSON(w, http.StatusOK, userJSON(u))
}

func (a *API) userDelete(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	if err := a.auth.DeleteUser(r.Context(), sess.User, r.PathValue("id"), meta(r)); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

type registrationSetting struct {
	Open *bool `json:"open"`
}

func (a *API) registrationGet(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	if !sess.User.IsAdmin() {
		a.fail(w, r, apperr.New(apperr.Forbidden, "only administrators can see server settings"))
		return
	}
	open, err := a.auth.RegistrationOpen(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, registrationSetting{Open: &open})
}

func (a *API) registrationSet(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	var in registrationSetting
	if err := httpx.DecodeJSON(r, &in); err != nil {
		a.fail(w, r, err)
		return
	}
	if in.Open == nil {
		a.fail(w, r, apperr.Invalidf("open", `"open" is required (true or false)`))
		return
	}
	if err := a.auth.SetRegistrationOpen(r.Context(), sess.User, *in.Open, meta(r)); err != nil {
		a.fail(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, in)
}
