// Package csrf protects state-changing requests from cross-site forgery in two layers:
// the browser's own origin signals (net/http's CrossOriginProtection: Sec-Fetch-Site
// and Origin) reject cross-origin requests, and a token proves that a form or script
// was served by us.
//
// Tokens: a signed-in user's token is the one stored with their session; before
// sign-in, a random token lives in a cookie (double submit). Forms send it in the
// csrf_token field, scripts in the X-CSRF-Token header. JSON requests without a
// session cookie (sign-in, registration and password reset by curl or scripts) need no
// token: a browser cannot send a cross-origin JSON body without a CORS preflight, which
// backapp never grants, and the origin check stops the rest.
package csrf

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"mime"
	"net/http"
	"strings"

	"github.com/backapp/backapp/internal/apperr"
	"github.com/backapp/backapp/internal/auth"
)

const (
	// FieldName is the form field that carries the token.
	FieldName = "csrf_token"
	// HeaderName is the request header that carries the token.
	HeaderName = "X-CSRF-Token"
	cookieName = "backapp_csrf"
)

// Protector is the CSRF middleware. Exempt reports requests that are not cookie-
// authenticated at all (the agent API with its bearer keys).
type Protector struct {
	Secure bool
	Exempt func(r *http.Request) bool
	// Fail writes the rejection (as JSON or HTML, as the request wants).
	Fail func(w http.ResponseWriter, r *http.Request, err error)
}

type tokenKey struct{}

// Token returns the token to embed in forms for this request.
func Token(r *http.Request) string {
	if sess, ok := auth.SessionFrom(r.Context()); ok {
		return sess.CSRFToken
	}
	if t, ok := r.Context().Value(tokenKey{}).(string); ok {
		return t
	}
	if c, err := r.Cookie(cookieName); err == nil {
		return c.Value
	}
	return ""
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// Handler wraps next. It must run after the session middleware.
func (p *Protector) Handler(next http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.Fail(w, r, apperr.New(apperr.Forbidden, "cross-origin request refused: submit the form from the backapp page itself"))
	}))
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p.Exempt != nil && p.Exempt(r) {
			next.ServeHTTP(w, r)
			return
		}
		sess, signedIn := auth.SessionFrom(r.Context())
		if safeMethod(r.Method) {
			if !signedIn {
				r = p.ensureCookie(w, r)
			}
			next.ServeHTTP(w, r)
			return
		}
		var want string
		if signedIn {
			want = sess.CSRFToken
		} else if c, err := r.Cookie(cookieName); err == nil {
			want = c.Value
		}
		mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		isForm := mt == "application/x-www-form-urlencoded" || mt == "multipart/form-data"
		if !signedIn && (!isForm || strings.HasPrefix(r.URL.Path, "/api/")) {
			// JSON without a session: see the package comment. The API accepts only
			// JSON, so a form sent there is refused by the handler with 415.
			next.ServeHTTP(w, r)
			return
		}
		got := r.Header.Get(HeaderName)
		if got == "" && isForm {
			got = r.PostFormValue(FieldName)
		}
		if got == "" {
			p.Fail(w, r, apperr.New(apperr.Forbidden, "missing CSRF token: reload the page and submit again (scripts send the X-CSRF-Token header from GET /api/auth/session)"))
			return
		}
		if want == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
			p.Fail(w, r, apperr.New(apperr.Forbidden, "invalid CSRF token: reload the page and submit again"))
			return
		}
		next.ServeHTTP(w, r)
	})
	return cop.Handler(inner)
}

// ensureCookie gives an anonymous visitor a token cookie (and the request a token in
// its context so the page rendered now can embed it).
func (p *Protector) ensureCookie(w http.ResponseWriter, r *http.Request) *http.Request {
	if c, err := r.Cookie(cookieName); err == nil && len(c.Value) >= 32 && !strings.ContainsAny(c.Value, " ;") {
		return r
	}
	b := make([]byte, 32)
	rand.Read(b)
	t := base64.RawURLEncoding.EncodeToString(b)
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: t, Path: "/", HttpOnly: true, Secure: p.Secure, SameSite: http.SameSiteLaxMode})
	return r.WithContext(contextWithToken(r, t))
}
