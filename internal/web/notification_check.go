package web

import (
	"net/http"

	"github.com/backapp/backapp/internal/auth"
)

// notificationCheck serves POST /settings/notifications/{id}/test ("Send test"): it
// sends a test at once and shows the page with the remote's answer or the precise
// error.
func (h *Handler) notificationCheck(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	id := r.PathValue("id")
	a, err := h.notify.Test(r.Context(), sess.User, id)
	if err != nil {
		h.RenderError(w, r, err)
		return
	}
	h.renderNotifications(w, r, sess, http.StatusOK, nil, "", id, &a, nil)
}
