package web

import (
	"net/http"

	"github.com/backapp/backapp/internal/auth"
	"github.com/backapp/backapp/internal/destinations"
)

// storageCheck serves POST /settings/storage/{id}/test, the list's "Test" button:
// it tests a saved destination and shows the list with the result.
func (h *Handler) storageCheck(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	id := r.PathValue("id")
	res, err := h.dests.Test(r.Context(), sess.User, destinations.Target{DestinationID: id})
	if err != nil {
		h.RenderError(w, r, err)
		return
	}
	h.renderStorageList(w, r, sess, id, &res)
}
