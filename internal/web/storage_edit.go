package web

import (
	"net/http"

	"github.com/backapp/backapp/internal/apperr"
	"github.com/backapp/backapp/internal/auth"
	"github.com/backapp/backapp/internal/destinations"
)

// editable returns the destination id names if the signed-in user may change it:
// their own S3 destinations only.
func (h *Handler) editable(r *http.Request, sess auth.Session, id string) (destinations.Destination, error) {
	d, err := h.dests.Get(r.Context(), sess.User, id)
	if err != nil {
		return d, err
	}
	if d.BuiltIn {
		return d, apperr.New(apperr.Forbidden, "the built-in local destination is part of the server and cannot be changed or deleted")
	}
	if d.UserID != sess.User.ID {
		return d, apperr.New(apperr.NotFound, "no destination %q: it does not exist or is not yours", id)
	}
	return d, nil
}

// storageEditShow serves GET /settings/storage/{id}: the form with the saved
// settings; the key fields stay empty.
func (h *Handler) storageEditShow(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	d, err := h.editable(r, sess, r.PathValue("id"))
	if err != nil {
		h.RenderError(w, r, err)
		return
	}
	h.showStorageForm(w, r, storageFormPage(d.ID, d.AccessKeyHint, settingsValues(d)), nil, nil)
}

// storageUpdate serves POST /settings/storage/{id}: "Test connection" tests the
// form's settings (with the saved keys unless new ones are typed) without saving;
// "Save" saves them.
func (h *Handler) storageUpdate(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	d, err := h.editable(r, sess, r.PathValue("id"))
	if err != nil {
		h.RenderError(w, r, err)
		return
	}
	values := formValues(r)
	in := formInput(r, values)
	p := storageFormPage(d.ID, d.AccessKeyHint, values)
	if r.PostFormValue("action") == "test" {
		res, err := h.dests.Test(r.Context(), sess.User, destinations.Target{DestinationID: d.ID, Settings: &in.Settings, Credentials: in.Credentials})
		h.showStorageForm(w, r, p, err, &res)
		return
	}
	saved, err := h.dests.Update(r.Context(), sess.User, d.ID, in)
	if err != nil {
		h.showStorageForm(w, r, p, err, nil)
		return
	}
	h.flash(w, "destination-saved", saved.Name)
	seeOther(w, r, "/settings/storage")
}
