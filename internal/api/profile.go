package api

import (
	"net/http"

	"github.com/backapp/backapp/internal/auth"
	"github.com/backapp/backapp/internal/httpx"
)

func (a *API) profileGet(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	httpx.WriteJSON(w, http.StatusOK, userJSON(sess.User))
}

func (a *API) profileUpdate(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	var in auth.ProfileInput
	if err := httpx.DecodeJSON(r, &in); err != nil {
		a.fail(w, r, err)
		return
	}
	u, err := a.auth.UpdateProfile(r.Context(), sess.User.ID, in, meta(r))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, userJSON(u))
}

type passwordInput struct {
	CurrentPassword string `json:"currentPassword"`
	NewPassword     string `json:"newPassword"`
}

func (a *API) passwordChange(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	var in passwordInput
	if err := httpx.DecodeJSON(r, &in); err != nil {
		a.fail(w, r, err)
		return
	}
	if err := a.auth.ChangePassword(r.Context(), sess, in.CurrentPassword, in.NewPassword, meta(r)); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
