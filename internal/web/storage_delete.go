package web

import (
	"net/http"

	"github.com/backapp/backapp/internal/apperr"
	"github.com/backapp/backapp/internal/auth"
)

// storageDeleteConfirm serves GET /settings/storage/{id}/delete, the confirmation
// page for browsers without JavaScript (with it, the list confirms in a <dialog>).
func (h *Handler) storageDeleteConfirm(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	d, err := h.editable(r, sess, r.PathValue("id"))
	if err != nil {
		h.RenderError(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "storage_delete", &page{Title: "Delete " + d.Name, Nav: "storage", Data: d})
}

// storageDelete serves POST /settings/storage/{id}/delete. It needs confirm=yes, so
// a stray click cannot delete a destination.
func (h *Handler) storageDelete(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	d, err := h.editable(r, sess, r.PathValue("id"))
	if err != nil {
		h.RenderError(w, r, err)
		return
	}
	if r.PostFormValue("confirm") != "yes" {
		p := &page{Title: "Delete " + d.Name, Nav: "storage", Form: "delete", Data: d}
		h.formError(w, r, "storage_delete", p, apperr.Invalidf("confirm", "tick the box to confirm that %s should be deleted", d.Name))
		return
	}
	if err := h.dests.Delete(r.Context(), sess.User, d.ID); err != nil {
		h.RenderError(w, r, err)
		return
	}
	h.flash(w, "destination-deleted", d.Name)
	seeOther(w, r, "/settings/storage")
}
