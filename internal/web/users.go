package web

import (
	"cmp"
	"net/http"
	"strings"

	"github.com/backapp/backapp/internal/apperr"
	"github.com/backapp/backapp/internal/auth"
	"github.com/backapp/backapp/internal/store"
)

type usersData struct {
	Users            []store.User
	RegistrationOpen bool
	Sort             sortState
}

// usersList serves GET /users, the administrators' list of accounts; others get 403.
func (h *Handler) usersList(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	h.usersPage(w, r, sess, nil)
}

// usersPage renders the users page, with actionErr (when not nil) as the message
// of an admin action that failed, answered with its status.
func (h *Handler) usersPage(w http.ResponseWriter, r *http.Request, sess auth.Session, actionErr error) {
	us, err := h.auth.ListUsers(r.Context(), sess.User)
	if err != nil {
		h.RenderError(w, r, err)
		return
	}
	open, err := h.auth.RegistrationOpen(r.Context())
	if err != nil {
		h.RenderError(w, r, err)
		return
	}
	d := usersData{Users: us, RegistrationOpen: open, Sort: sortFrom(r, "/users", "created", "account", "role", "status", "created")}
	sortRows(d.Users, d.Sort, map[string]func(a, b store.User) int{
		"account": func(a, b store.User) int { return cmp.Compare(strings.ToLower(a.Email), strings.ToLower(b.Email)) },
		"role":    func(a, b store.User) int { return cmp.Compare(a.Role, b.Role) },
		"status":  func(a, b store.User) int { return cmp.Compare(boolInt(a.Disabled), boolInt(b.Disabled)) },
		"created": func(a, b store.User) int { return a.CreatedAt.Compare(b.CreatedAt) },
	}, func(u store.User) string { return u.Email })
	p := &page{Title: "Users", Nav: "users", Data: d}
	if actionErr != nil {
		p.Form = "users"
		h.formError(w, r, "users", p, actionErr)
		return
	}
	h.render(w, r, http.StatusOK, "users", p)
}

// adminOnly answers 403 for non-admins, before any other work is done.
func (h *Handler) adminOnly(w http.ResponseWriter, r *http.Request, sess auth.Session) bool {
	if sess.User.IsAdmin() {
		return true
	}
	h.RenderError(w, r, apperr.New(apperr.Forbidden, "only administrators can manage users"))
	return false
}

// userActionDone finishes an admin action on a user: on success a flash and back to
// the list; on failure the list with the reason (and its status).
func (h *Handler) userActionDone(w http.ResponseWriter, r *http.Request, sess auth.Session, err error, code string, args ...string) {
	if err != nil {
		if apperr.KindOf(err) == apperr.Internal {
			h.RenderError(w, r, err)
			return
		}
		h.usersPage(w, r, sess, err)
		return
	}
	h.flash(w, code, args...)
	seeOther(w, r, "/users")
}
