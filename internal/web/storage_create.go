package web

import (
	"net/http"

	"github.com/backapp/backapp/internal/auth"
	"github.com/backapp/backapp/internal/destinations"
)

// storageNewShow serves GET /settings/storage/new: the empty S3 form.
func (h *Handler) storageNewShow(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	h.showStorageForm(w, r, storageFormPage("", "", map[string]string{"pathStyle": "on"}), nil, nil)
}

// storageCreate serves POST /settings/storage. The "Test connection" button
// (action=test) checks the settings and keys without saving and shows the form again
// with the result, so it works without JavaScript; "Save" creates the destination.
func (h *Handler) storageCreate(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	values := formValues(r)
	in := formInput(r, values)
	p := storageFormPage("", "", values)
	if r.PostFormValue("action") == "test" {
		res, err := h.dests.Test(r.Context(), sess.User, destinations.Target{Settings: &in.Settings, Credentials: in.Credentials})
		h.showStorageForm(w, r, p, err, &res)
		return
	}
	d, err := h.dests.Create(r.Context(), sess.User, in)
	if err != nil {
		h.showStorageForm(w, r, p, err, nil)
		return
	}
	h.flash(w, "destination-saved", d.Name)
	seeOther(w, r, "/settings/storage")
}
