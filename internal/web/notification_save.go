package web

import (
	"net/http"

	"github.com/backapp/backapp/internal/auth"
	"github.com/backapp/backapp/internal/notify"
)

// notificationSave serves POST /settings/notifications (add) and
// /settings/notifications/{id} (edit). A refused form is shown again with its values
// and each field's message.
func (h *Handler) notificationSave(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	if err := r.ParseForm(); err != nil {
		h.RenderError(w, r, err)
		return
	}
	in := notify.Input{Name: r.PostFormValue("name"), Kind: r.PostFormValue("kind"), Preset: r.PostFormValue("preset"),
		Target: r.PostFormValue("target"), Secret: r.PostFormValue("secret"), Events: r.PostForm["events"],
		ConfigIDs: r.PostForm["configIds"], Enabled: r.PostFormValue("enabled") == "on"}
	id := r.PathValue("id")
	var err error
	if id == "" {
		_, err = h.notify.Create(r.Context(), sess.User, in)
	} else {
		_, err = h.notify.Update(r.Context(), sess.User, id, in)
	}
	if err != nil {
		f := h.channelFormOf(r, sess, in)
		if id != "" {
			f.ID, f.Action = id, "/settings/notifications/"+id
		}
		h.renderNotifications(w, r, sess, http.StatusBadRequest, &f, "", "", nil, err)
		return
	}
	h.flash(w, "channel-saved", in.Name)
	seeOther(w, r, "/settings/notifications")
}
