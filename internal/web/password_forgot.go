package web

import "net/http"

type forgotData struct {
	Sent bool
	Off  bool // the server has no SMTP settings: reset by e-mail is off
}

// passwordForgotShow serves GET /forgot-password; ?sent=1 is the page after a request.
func (h *Handler) passwordForgotShow(w http.ResponseWriter, r *http.Request) {
	h.render(w, r, http.StatusOK, "password_forgot", &page{Title: "Reset your password", Data: forgotData{Sent: r.URL.Query().Get("sent") == "1", Off: !h.auth.ResetByMail()}})
}

// passwordForgotSubmit serves POST /forgot-password. The answer is the same whether
// or not the account exists, so the page cannot be used to find accounts.
func (h *Handler) passwordForgotSubmit(w http.ResponseWriter, r *http.Request) {
	email := r.PostFormValue("email")
	if err := h.auth.RequestPasswordReset(r.Context(), email, meta(r)); err != nil {
		p := &page{Title: "Reset your password", Form: "forgot", Values: map[string]string{"email": email}, Data: forgotData{Off: !h.auth.ResetByMail()}}
		h.formError(w, r, "password_forgot", p, err)
		return
	}
	seeOther(w, r, "/forgot-password?sent=1")
}
