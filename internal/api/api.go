// Package api is backapp's JSON API for the browser's scripts and for scripts
// without a browser (curl with the session cookie). Every error has one shape,
// {"error":{"code","message"}}, written by httpx.WriteError.
package api

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/backapp/backapp/internal/auth"
	"github.com/backapp/backapp/internal/httpx"
	"github.com/backapp/backapp/internal/store"
)

// Config holds what the API needs.
type Config struct {
	Auth   *auth.Service
	Logger *slog.Logger
	Secure bool // cookies Secure (served over HTTPS)
}

// API is the JSON API's handlers.
type API struct {
	auth   *auth.Service
	log    *slog.Logger
	secure bool
}

// New returns the API.
func New(cfg Config) *API {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &API{auth: cfg.Auth, log: cfg.Logger, secure: cfg.Secure}
}

// Register adds the API's routes to mux.
func (a *API) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /api/auth/register", a.register)
	mux.HandleFunc("POST /api/auth/login", a.login)
	mux.HandleFunc("POST /api/auth/logout", a.logout)
	mux.HandleFunc("GET /api/auth/session", a.session)
	mux.HandleFunc("POST /api/auth/forgot-password", a.forgotPassword)
	mux.HandleFunc("POST /api/auth/reset-password", a.resetPassword)

	mux.HandleFunc("GET /api/profile", a.signedIn(a.profileGet))
	mux.HandleFunc("PUT /api/profile", a.signedIn(a.profileUpdate))
	mux.HandleFunc("POST /api/profile/password", a.signedIn(a.passwordChange))

	mux.HandleFunc("GET /api/users", a.signedIn(a.userList))
	mux.HandleFunc("GET /api/users/{id}", a.signedIn(a.userGet))
	mux.HandleFunc("PATCH /api/users/{id}", a.signedIn(a.userUpdate))
	mux.HandleFunc("DELETE /api/users/{id}", a.signedIn(a.userDelete))
	mux.HandleFunc("GET /api/settings/registration", a.signedIn(a.registrationGet))
	mux.HandleFunc("PUT /api/settings/registration", a.signedIn(a.registrationSet))

	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		httpx.WriteError(w, r, nil, notFound)
	})
}

// User is the API's view of an account; it never includes the password hash.
type User struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	Disabled  bool      `json:"disabled"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

func userJSON(u store.User) User {
	return User{ID: u.ID, Email: u.Email, Name: u.Name, Role: u.Role, Disabled: u.Disabled, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt}
}

func meta(r *http.Request) auth.Meta {
	return auth.Meta{IP: httpx.ClientIP(r), UserAgent: r.UserAgent()}
}

func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	httpx.WriteError(w, r, a.log, err)
}

// signedIn wraps a handler that needs a session.
func (a *API) signedIn(h func(http.ResponseWriter, *http.Request, auth.Session)) http.HandlerFunc {
	return requireSession(a.log, h)
}

// requireSession wraps a handler that needs a session; without one the client is
// told to sign in (401). Every API type's signedIn is this.
func requireSession(log *slog.Logger, h func(http.ResponseWriter, *http.Request, auth.Session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sess, ok := auth.SessionFrom(r.Context())
		if !ok {
			httpx.WriteError(w, r, log, errSignIn)
			return
		}
		h(w, r, sess)
	}
}
