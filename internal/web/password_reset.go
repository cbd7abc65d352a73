package web

import (
	"net/http"

	"github.com/backapp/backapp/internal/apperr"
)

type resetData struct {
	Token    string
	BadToken bool // the link is incomplete, expired or used: only a new one helps
}

const incompleteLink = "this reset link is incomplete; open the link from the e-mail again, or ask for a new one"

// passwordResetShow serves GET /reset-password?token=…, the page the e-mailed link
// opens. The token is checked when the form is sent: checking it now would use it up.
func (h *Handler) passwordResetShow(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	p := &page{Title: "Choose a new password", Data: resetData{Token: token}}
	if token == "" {
		p.Data = resetData{BadToken: true}
		p.Error = incompleteLink
		h.render(w, r, http.StatusBadRequest, "password_reset", p)
		return
	}
	h.render(w, r, http.StatusOK, "password_reset", p)
}

// passwordResetSubmit serves POST /reset-password: sets the new password with the
// token, which ends every session of the account; the user then signs in.
func (h *Handler) passwordResetSubmit(w http.ResponseWriter, r *http.Request) {
	token, password := r.PostFormValue("token"), r.PostFormValue("password")
	var err error
	if password != "" && r.PostFormValue("password_confirm") != password {
		err = apperr.Invalidf("password_confirm", "the two passwords differ; type the same password twice")
	} else {
		err = h.auth.ResetPassword(r.Context(), token, password, meta(r))
	}
	if err != nil {
		p := &page{Title: "Choose a new password", Form: "reset", Data: resetData{Token: token}}
		if e := apperr.From(err); e.Fields["token"] != "" {
			p.Data = resetData{BadToken: true}
		}
		h.formError(w, r, "password_reset", p, err)
		return
	}
	h.flash(w, "password-reset")
	seeOther(w, r, "/login")
}
