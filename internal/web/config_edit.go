package web

import (
	"net/http"

	"github.com/backapp/backapp/internal/auth"
)

// configEditShow serves GET /configs/{id}/edit: the form with the saved values.
func (h *Handler) configEditShow(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	c, err := h.configs.Get(r.Context(), sess.User, r.PathValue("id"))
	if err != nil {
		h.RenderError(w, r, err)
		return
	}
	d := configFormData{ID: c.ID, Action: "/configs/" + c.ID + "/edit", Admin: sess.User.IsAdmin(),
		PassphraseSet: c.Options.Passphrase != "", Sources: sourceRows(c.Sources),
		Estimate: h.estimate(r.Context(), sess.User, c.ID)}
	local := h.choices(r.Context(), &d, sess.User, c.ID)
	h.showConfigForm(w, r, http.StatusOK, "Edit "+c.Name, d, configValues(c, local), nil)
}

// configUpdate serves POST /configs/{id}/edit.
func (h *Handler) configUpdate(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	c, err := h.configs.Get(r.Context(), sess.User, r.PathValue("id"))
	if err != nil {
		h.RenderError(w, r, err)
		return
	}
	d := configFormData{ID: c.ID, Action: "/configs/" + c.ID + "/edit", Admin: sess.User.IsAdmin(),
		PassphraseSet: c.Options.Passphrase != "", Estimate: h.estimate(r.Context(), sess.User, c.ID)}
	h.choices(r.Context(), &d, sess.User, c.ID)
	h.submitConfig(w, r, sess, c.ID, "Edit "+c.Name, d)
}
