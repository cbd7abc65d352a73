package web

import (
	"net/http"
	"strconv"

	"github.com/backapp/backapp/internal/auth"
)

// notificationDelete serves POST /settings/notifications/{id}/delete (confirm=yes):
// messages still queued for the channel are dropped, never sent.
func (h *Handler) notificationDelete(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	c, err := h.notify.Get(r.Context(), sess.User, r.PathValue("id"))
	if err != nil {
		h.RenderError(w, r, err)
		return
	}
	if r.PostFormValue("confirm") != "yes" {
		seeOther(w, r, "/settings/notifications?delete="+c.ID)
		return
	}
	n, err := h.notify.Delete(r.Context(), sess.User, c.ID)
	if err != nil {
		h.RenderError(w, r, err)
		return
	}
	h.flash(w, "channel-deleted", c.Name, strconv.Itoa(n))
	seeOther(w, r, "/settings/notifications")
}
