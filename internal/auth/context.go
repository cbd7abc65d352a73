package auth

import (
	"context"

	"github.com/backapp/backapp/internal/apperr"
	"net/http"
	"time"
)

// CookieName is the session cookie.
const CookieName = "backapp_session"

type ctxKey struct{}

// WithSession returns ctx carrying sess.
func WithSession(ctx context.Context, sess Session) context.Context {
	return context.WithValue(ctx, ctxKey{}, sess)
}

// SessionFrom returns the session the request was authenticated with, if any.
func SessionFrom(ctx context.Context) (Session, bool) {
	s, ok := ctx.Value(ctxKey{}).(Session)
	return s, ok
}

// SetCookie sets the session cookie: HttpOnly, SameSite=Lax, Secure when secure
// (under TLS), lasting until the session's absolute expiry.
func (s *Service) SetCookie(w http.ResponseWriter, token string, secure bool) {
	http.SetCookie(w, &http.Cookie{
		Name:     CookieName,
		Value:    token,
		Path:     "/",
		Expires:  s.now().Add(s.cfg.SessionMax),
		MaxAge:   int(s.cfg.SessionMax / time.Second),
		HttpOnly: true,
		Secure:   secure,
		SameSite: http.SameSiteLaxMode,
	})
}

// ClearCookie removes the session cookie.
func ClearCookie(w http.ResponseWriter, secure bool) {
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode})
}

// Middleware authenticates the session cookie, when there is one, and puts the
// session in the request context. It never rejects a request: handlers decide what
// needs a signed-in user. An invalid cookie is cleared.
func (s *Service) Middleware(secure bool) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, err := r.Cookie(CookieName)
			if err != nil || c.Value == "" {
				next.ServeHTTP(w, r)
				return
			}
			sess, err := s.Authenticate(r.Context(), c.Value)
			if err != nil {
				// A rejected session is forgotten; a database error is not the
				// cookie's fault, so the cookie stays for the next request.
				if apperr.KindOf(err) == apperr.Unauthorized {
					ClearCookie(w, secure)
				} else {
					s.log.Error("authenticate session", "err", err)
				}
				next.ServeHTTP(w, r)
				return
			}
			next.ServeHTTP(w, r.WithContext(WithSession(r.Context(), sess)))
		})
	}
}
