package web

import (
	"net/http"

	"github.com/backapp/backapp/internal/apperr"
	"github.com/backapp/backapp/internal/auth"
	"github.com/backapp/backapp/internal/store"
)

type userDeleteData struct {
	Target store.User
}

// userDeleteConfirm serves GET /users/{id}/delete, the confirmation page for
// browsers without JavaScript (with it, the users page confirms in a <dialog>).
func (h *Handler) userDeleteConfirm(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	if !h.adminOnly(w, r, sess) {
		return
	}
	u, err := h.auth.GetUser(r.Context(), sess.User, r.PathValue("id"))
	if err != nil {
		h.RenderError(w, r, err)
		return
	}
	if u.ID == sess.User.ID {
		h.RenderError(w, r, apperr.New(apperr.Forbidden, "you cannot delete your own account; ask another administrator"))
		return
	}
	h.render(w, r, http.StatusOK, "user_delete", &page{Title: "Delete " + u.Email, Nav: "users", Data: userDeleteData{Target: u}})
}

// userDelete serves POST /users/{id}/delete. It needs confirm=yes (the checkbox of
// the confirmation page, or the dialog's hidden field), so a stray click cannot
// delete an account.
func (h *Handler) userDelete(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	if !h.adminOnly(w, r, sess) {
		return
	}
	u, err := h.auth.GetUser(r.Context(), sess.User, r.PathValue("id"))
	if err != nil {
		h.userActionDone(w, r, sess, err, "")
		return
	}
	if r.PostFormValue("confirm") != "yes" {
		p := &page{Title: "Delete " + u.Email, Nav: "users", Form: "delete", Data: userDeleteData{Target: u}}
		h.formError(w, r, "user_delete", p, apperr.Invalidf("confirm", "tick the box to confirm that %s should be deleted", u.Email))
		return
	}
	err = h.auth.DeleteUser(r.Context(), sess.User, u.ID, meta(r))
	h.userActionDone(w, r, sess, err, "user-deleted", u.Email)
}
