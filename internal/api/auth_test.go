package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/backapp/backapp/internal/config"
)

func TestAccountsFlowAPI(t *testing.T) {
	dialects(t, func(t *testing.T, db string) {
		e := start(t, db)
		admin := e.Client()
		r := admin.Register("admin@example.com")
		if r.Body["role"] != "admin" {
			t.Fatalf("first user role %v, want admin", r.Body["role"])
		}
		want(t, admin.JSON("POST", "/api/auth/logout", nil), http.StatusNoContent)
		want(t, admin.JSON("GET", "/api/auth/session", nil), http.StatusUnauthorized)
		want(t, admin.Login("admin@example.com", pw), http.StatusOK)
		want(t, admin.JSON("POST", "/api/profile/password", map[string]string{"currentPassword": pw, "newPassword": "a new password 42"}), http.StatusNoContent)
		want(t, e.Client().Login("admin@example.com", pw), http.StatusUnauthorized)
		want(t, e.Client().Login("admin@example.com", "a new password 42"), http.StatusOK)

		user := e.Client()
		if r := user.Register("user@example.com"); r.Body["role"] != "user" {
			t.Fatalf("second user role %v, want user", r.Body["role"])
		}
		want(t, user.JSON("GET", "/api/users", nil), http.StatusForbidden)
		got := admin.JSON("GET", "/api/users", nil)
		want(t, got, http.StatusOK)
		if us, _ := got.Body["users"].([]any); len(us) != 2 {
			t.Errorf("admin sees %d users, want 2", len(us))
		}
		if strings.Contains(got.Raw, "$2a$") || strings.Contains(strings.ToLower(got.Raw), "hash") {
			t.Errorf("user list leaks password hashes: %s", got.Raw)
		}
	})
}

func TestBadInputGetsClear4xxAndWritesNothing(t *testing.T) {
	e := start(t, "", func(c *config.Config) { c.MaxBodyBytes = 4096 })
	c := e.Client()
	c.Register("taken@example.com")
	anon := e.Client()
	cases := []struct {
		name, contentType, body string
		status                  int
		code, field             string
	}{
		{"malformed JSON", "application/json", `{"email":`, 400, "invalid", ""},
		{"not an object", "application/json", `[1,2]`, 400, "invalid", ""},
		{"wrong content type", "text/plain", `{"email":"a@example.com"}`, 415, "unsupported", ""},
		{"form to the API", "application/x-www-form-urlencoded", `email=a@example.com`, 415, "unsupported", ""},
		{"oversized body", "application/json", `{"name":"` + strings.Repeat("x", 5000) + `"}`, 413, "too_large", ""},
		{"unknown field", "application/json", `{"email":"a@example.com","password":"long enough pw","name":"A","admin":true}`, 400, "invalid", "admin"},
		{"wrong type", "application/json", `{"email":42,"password":"long enough pw","name":"A"}`, 400, "invalid", "email"},
		{"invalid e-mail", "application/json", `{"email":"nope","password":"long enough pw","name":"A"}`, 400, "invalid", "email"},
		{"short password", "application/json", `{"email":"a@example.com","password":"short","name":"A"}`, 400, "invalid", "password"},
		{"password is the e-mail", "application/json", `{"email":"abcdefgh@example.com","password":"abcdefgh@example.com","name":"A"}`, 400, "invalid", "password"},
		{"duplicate e-mail", "application/json", `{"email":"Taken@Example.com","password":"long enough pw","name":"A"}`, 400, "invalid", "email"},
		{"empty body", "application/json", ``, 400, "invalid", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := anon.Send("POST", "/api/auth/register", tc.contentType, tc.body)
			want(t, r, tc.status)
			if r.ErrCode() != tc.code || r.ErrMessage() == "" {
				t.Errorf("error %s, want code %s with a message", r.Raw, tc.code)
			}
			if tc.field != "" {
				fields, _ := r.Body["error"].(map[string]any)["fields"].(map[string]any)
				if fields[tc.field] == nil {
					t.Errorf("fields %v, want a message for %q", fields, tc.field)
				}
			}
		})
	}
	got := c.JSON("GET", "/api/users", nil)
	if us, _ := got.Body["users"].([]any); len(us) != 1 {
		t.Errorf("%d users after bad registrations, want 1", len(us))
	}
	// Unknown user and wrong password get the same answer.
	wrong, unknown := anon.Login("taken@example.com", "wrong password!"), anon.Login("nobody@example.com", "wrong password!")
	if wrong.Status != 401 || unknown.Status != 401 || wrong.ErrMessage() != unknown.ErrMessage() {
		t.Errorf("wrong password %d %q, unknown user %d %q: want identical 401s", wrong.Status, wrong.ErrMessage(), unknown.Status, unknown.ErrMessage())
	}
}

func TestEleventhWrongPasswordIs429(t *testing.T) {
	dialects(t, func(t *testing.T, db string) {
		e := start(t, db)
		e.Client().Register("a@example.com")
		c := e.Client()
		for i := range 10 {
			if r := c.Login("a@example.com", "wrong password!"); r.Status != http.StatusUnauthorized {
				t.Fatalf("attempt %d: status %d, want 401", i+1, r.Status)
			}
		}
		r := c.Login("a@example.com", pw)
		want(t, r, http.StatusTooManyRequests)
		if ra := r.Header.Get("Retry-After"); ra == "" || ra == "0" {
			t.Errorf("Retry-After %q, want seconds to wait", ra)
		}
		if !strings.Contains(r.ErrMessage(), "try again in") {
			t.Errorf("message %q does not say when to try again", r.ErrMessage())
		}
	})
}

func TestUsersCannotReachEachOther(t *testing.T) {
	dialects(t, func(t *testing.T, db string) {
		e := start(t, db)
		admin := e.Client()
		admin.Register("admin@example.com")
		alice, bob := e.Client(), e.Client()
		aliceID := alice.Register("alice@example.com").Body["id"].(string)
		bobID := bob.Register("bob@example.com").Body["id"].(string)

		want(t, bob.JSON("GET", "/api/users/"+aliceID, nil), http.StatusNotFound)
		want(t, bob.JSON("PATCH", "/api/users/"+aliceID, map[string]any{"role": "admin"}), http.StatusForbidden)
		want(t, bob.JSON("PATCH", "/api/users/"+bobID, map[string]any{"role": "admin"}), http.StatusForbidden)
		want(t, bob.JSON("DELETE", "/api/users/"+aliceID, nil), http.StatusForbidden)
		// Profile changes apply to the caller only; taking another's e-mail is refused.
		want(t, bob.JSON("PUT", "/api/profile", map[string]string{"name": "Bob", "email": "alice@example.com"}), http.StatusBadRequest)
		if r := alice.JSON("GET", "/api/profile", nil); r.Body["email"] != "alice@example.com" || r.Body["name"] != "N alice@example.com" {
			t.Errorf("alice's profile changed: %s", r.Raw)
		}
		// The pages: a user gets 403 on the users admin page, not the list.
		r := bob.Send("GET", "/users", "", nil)
		want(t, r, http.StatusForbidden)
		if strings.Contains(r.Raw, "alice@example.com") {
			t.Error("users page shows another user's e-mail to a non-admin")
		}
		if r := bob.Send("GET", "/settings/profile", "", nil); strings.Contains(r.Raw, "alice@example.com") {
			t.Error("profile page shows another user's e-mail")
		}
	})
}

func TestDisabledUserSessionStopsAtOnce(t *testing.T) {
	e := start(t, "")
	admin := e.Client()
	admin.Register("admin@example.com")
	user := e.Client()
	id := user.Register("user@example.com").Body["id"].(string)
	want(t, user.JSON("GET", "/api/auth/session", nil), http.StatusOK)
	want(t, admin.JSON("PATCH", "/api/users/"+id, map[string]any{"disabled": true}), http.StatusOK)
	want(t, user.JSON("GET", "/api/auth/session", nil), http.StatusUnauthorized)
	r := e.Client().Login("user@example.com", pw)
	want(t, r, http.StatusForbidden)
}
