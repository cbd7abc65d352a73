package api

import (
	"net/http"
	"time"

	"github.com/backapp/backapp/internal/auth"
	"github.com/backapp/backapp/internal/httpx"
)

// sessionUser is the answer to register and login: the user, plus the CSRF token
// that scripts send as X-CSRF-Token on later state-changing requests.
type sessionUser struct {
	User
	CSRFToken string `json:"csrfToken"`
}

func (a *API) register(w http.ResponseWriter, r *http.Request) {
	var in auth.RegisterInput
	if err := httpx.DecodeJSON(r, &in); err != nil {
		a.fail(w, r, err)
		return
	}
	u, err := a.auth.Register(r.Context(), in, meta(r))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	token, err := a.auth.NewSession(r.Context(), u.ID, meta(r))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.startSession(w, r, token, http.StatusCreated)
}

type loginInput struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

func (a *API) login(w http.ResponseWriter, r *http.Request) {
	var in loginInput
	if err := httpx.DecodeJSON(r, &in); err != nil {
		a.fail(w, r, err)
		return
	}
	_, token, err := a.auth.Login(r.Context(), in.Email, in.Password, meta(r))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.startSession(w, r, token, http.StatusOK)
}

func (a *API) startSession(w http.ResponseWriter, r *http.Request, token string, status int) {
	sess, err := a.auth.Authenticate(r.Context(), token)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.auth.SetCookie(w, token, a.secure)
	httpx.WriteJSON(w, status, sessionUser{User: userJSON(sess.User), CSRFToken: sess.CSRFToken})
}

func (a *API) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(auth.CookieName); err == nil {
		if err := a.auth.Logout(r.Context(), c.Value, meta(r)); err != nil {
			a.fail(w, r, err)
			return
		}
	}
	auth.ClearCookie(w, a.secure)
	w.WriteHeader(http.StatusNoContent)
}

type sessionInfo struct {
	User      User      `json:"user"`
	CSRFToken string    `json:"csrfToken"`
	ExpiresAt time.Time `json:"expiresAt"`
}

func (a *API) session(w http.ResponseWriter, r *http.Request) {
	sess, ok := auth.SessionFrom(r.Context())
	if !ok {
		a.fail(w, r, errSignIn)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, sessionInfo{User: userJSON(sess.User), CSRFToken: sess.CSRFToken, ExpiresAt: sess.ExpiresAt})
}

type forgotInput struct {
	Email string `json:"email"`
}

func (a *API) forgotPassword(w http.ResponseWriter, r *http.Request) {
	var in forgotInput
	if err := httpx.DecodeJSON(r, &in); err != nil {
		a.fail(w, r, err)
		return
	}
	if err := a.auth.RequestPasswordReset(r.Context(), in.Email, meta(r)); err != nil {
		a.fail(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusAccepted, map[string]string{"message": "if an account exists for this e-mail, a reset link is on its way"})
}

type resetInput struct {
	Token    string `json:"token"`
	Password string `json:"password"`
}

func (a *API) resetPassword(w http.ResponseWriter, r *http.Request) {
	var in resetInput
	if err := httpx.DecodeJSON(r, &in); err != nil {
		a.fail(w, r, err)
		return
	}
	if err := a.auth.ResetPassword(r.Context(), in.Token, in.Password, meta(r)); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
