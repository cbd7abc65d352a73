package web

import (
	"net/http"

	"github.com/backapp/backapp/internal/apperr"
	"github.com/backapp/backapp/internal/auth"
)

// configDeleteConfirm serves GET /configs/{id}/delete: what deleting loses and keeps.
func (h *Handler) configDeleteConfirm(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	c, err := h.configs.Get(r.Context(), sess.User, r.PathValue("id"))
	if err != nil {
		h.RenderError(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "config_delete", &page{Title: "Delete " + c.Name, Nav: "configs", Data: c.Public()})
}

// configDelete serves POST /configs/{id}/delete; it needs confirm=yes.
func (h *Handler) configDelete(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	c, err := h.configs.Get(r.Context(), sess.User, r.PathValue("id"))
	if err != nil {
		h.RenderError(w, r, err)
		return
	}
	p := &page{Title: "Delete " + c.Name, Nav: "configs", Form: "delete", Data: c.Public()}
	if r.PostFormValue("confirm") != "yes" {
		h.formError(w, r, "config_delete", p, apperr.Invalidf("confirm", "tick the box to confirm that %s should be deleted", c.Name))
		return
	}
	if err := h.configs.Delete(r.Context(), sess.User, c.ID, meta(r)); err != nil {
		h.formError(w, r, "config_delete", p, err)
		return
	}
	h.flash(w, "config-deleted", c.Name)
	seeOther(w, r, "/configs")
}
