package web

import (
	"fmt"
	"net/http"

	"github.com/backapp/backapp/internal/apperr"
	"github.com/backapp/backapp/internal/destinations"
)

// registerStorage mounts the storage settings pages (issue 3) when the server has a
// destinations service.
func (h *Handler) registerStorage(mux *http.ServeMux) {
	if h.dests == nil {
		return
	}
	mux.HandleFunc("GET /settings/storage", h.signedIn(h.storageList))
	mux.HandleFunc("GET /settings/s3", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/settings/storage", http.StatusMovedPermanently) // the seed's name for the page
	})
	mux.HandleFunc("GET /settings/storage/new", h.signedIn(h.storageNewShow))
	mux.HandleFunc("POST /settings/storage", h.signedIn(h.storageCreate))
	mux.HandleFunc("GET /settings/storage/{id}", h.signedIn(h.storageEditShow))
	mux.HandleFunc("POST /settings/storage/{id}", h.signedIn(h.storageUpdate))
	mux.HandleFunc("POST /settings/storage/{id}/test", h.signedIn(h.storageCheck))
	mux.HandleFunc("GET /settings/storage/{id}/delete", h.signedIn(h.storageDeleteConfirm))
	mux.HandleFunc("POST /settings/storage/{id}/delete", h.signedIn(h.storageDelete))
}

// storageField is one labelled control of the S3 form.
type storageField struct {
	ID, Name, Label, Type, Help, Value, Error, Autocomplete string
	Required                                                bool
}

// Describe is the aria-describedby list: help text and error.
func (f storageField) Describe() string {
	return field{ID: f.ID, Help: f.Help, Error: f.Error}.Describe()
}

// storageFormData is the S3 destination form, new or edit. Credentials are never
// put back into it: not after saving, not after a failed submission.
type storageFormData struct {
	ID        string // "" for a new destination
	Action    string
	Fields    []storageField // text inputs, in order
	Keys      []storageField // the access key pair
	PathStyle bool
	SSE       string
	SSEError  string
	KeyHint   string // the saved access key id, masked
	Test      *destinations.TestResult
}

// formValues reads the S3 form.
func formValues(r *http.Request) map[string]string {
	v := map[string]string{}
	for _, k := range []string{destinations.FieldName, destinations.FieldEndpoint, destinations.FieldRegion, destinations.FieldBucket,
		destinations.FieldStorageClass, destinations.FieldSSE, destinations.FieldSSEKMSKeyID, "pathStyle", destinations.FieldAccessKeyID} {
		v[k] = r.PostFormValue(k)
	}
	return v
}

func formInput(r *http.Request, v map[string]string) destinations.Input {
	return destinations.Input{
		Name: v[destinations.FieldName],
		Settings: destinations.Settings{
			Endpoint: v[destinations.FieldEndpoint], Region: v[destinations.FieldRegion], Bucket: v[destinations.FieldBucket],
			PathStyle: v["pathStyle"] != "", StorageClass: v[destinations.FieldStorageClass],
			SSE: v[destinations.FieldSSE], SSEKMSKeyID: v[destinations.FieldSSEKMSKeyID],
		},
		Credentials: destinations.Credentials{
			AccessKeyID: r.PostFormValue(destinations.FieldAccessKeyID), SecretAccessKey: r.PostFormValue(destinations.FieldSecretAccessKey),
		},
	}
}

// settingsValues are a saved destination's settings as form values.
func settingsValues(d destinations.Destination) map[string]string {
	v := map[string]string{
		destinations.FieldName: d.Name, destinations.FieldEndpoint: d.Endpoint, destinations.FieldRegion: d.Region,
		destinations.FieldBucket: d.Bucket, destinations.FieldStorageClass: d.StorageClass, destinations.FieldSSE: d.SSE,
		destinations.FieldSSEKMSKeyID: d.SSEKMSKeyID,
	}
	if d.PathStyle {
		v["pathStyle"] = "on"
	}
	return v
}

// storageFormPage builds the form page. id is "" for a new destination; hint is
// the saved access key id, masked.
func storageFormPage(id, hint string, values map[string]string) *page {
	f := func(name, label, help string, required bool, autocomplete string) storageField {
		typ := "text"
		if name == destinations.FieldSecretAccessKey {
			typ = "password"
		}
		sf := storageField{ID: "s3-" + name, Name: name, Label: label, Type: typ, Help: help, Required: required, Autocomplete: autocomplete}
		if name != destinations.FieldSecretAccessKey { // the access key id is kept after a test or an error; the secret never
			sf.Value = values[name]
		}
		return sf
	}
	d := storageFormData{ID: id, PathStyle: values["pathStyle"] != "", SSE: values[destinations.FieldSSE], KeyHint: hint}
	d.Fields = []storageField{
		f(destinations.FieldName, "Name", "How this destination is shown when you choose where a backup goes.", true, "off"),
		f(destinations.FieldEndpoint, "Endpoint", "The S3 server's address, e.g. https://s3.eu-central-1.wasabisys.com or http://minio.lan:9000. Leave empty for Amazon S3.", false, "url"),
		f(destinations.FieldRegion, "Region", "e.g. us-east-1 (the default when empty). Some S3-compatible servers ignore it.", false, "off"),
		f(destinations.FieldBucket, "Bucket", "The bucket must exist already; backapp writes under users/<your id>/ in it.", true, "off"),
		f(destinations.FieldStorageClass, "Storage class", "Optional, e.g. STANDARD_IA or GLACIER_IR; empty uses the server's default.", false, "off"),
		f(destinations.FieldSSEKMSKeyID, "KMS key id", "Only with server-side encryption by AWS KMS; empty uses the bucket's default key.", false, "off"),
	}
	keyHelp := "Create a key that may list, read, write and delete objects in this bucket only."
	if id != "" {
		keyHelp = fmt.Sprintf("Saved keys are kept (access key id %s). Fill in both fields only to replace them.", hint)
		if hint == "" {
			keyHelp = "Saved keys are kept. Fill in both fields only to replace them."
		}
	}
	d.Keys = []storageField{
		f(destinations.FieldAccessKeyID, "Access key id", keyHelp, id == "", "off"),
		f(destinations.FieldSecretAccessKey, "Secret access key", "Stored encrypted and never shown again, not even to you; enter it again after testing or an error.", id == "", "new-password"),
	}
	title, action := "Add an S3 destination", "/settings/storage"
	if id != "" {
		title, action = "Edit "+values[destinations.FieldName], "/settings/storage/"+id
	}
	d.Action = action
	return &page{Title: title, Nav: "storage", Form: "s3", Values: values, Data: &d}
}

// showStorageForm renders the form with err (validation problems beside the
// fields, the message above the form) or test (a connection test's result, with
// the field its cause points at marked).
func (h *Handler) showStorageForm(w http.ResponseWriter, r *http.Request, p *page, err error, test *destinations.TestResult) {
	status := http.StatusOK
	if err != nil {
		e := apperr.From(err)
		if e.Kind == apperr.Internal {
			h.RenderError(w, r, err)
			return
		}
		p.Errors, p.Error, status = e.Fields, e.Message, apperr.Status(e.Kind)
	}
	d := p.Data.(*storageFormData)
	if test != nil {
		d.Test = test
		if !test.OK && test.Field != "" {
			p.Errors = map[string]string{test.Field: test.Message}
		}
	}
	for _, list := range [][]storageField{d.Fields, d.Keys} {
		for i := range list {
			list[i].Error = p.Errors[list[i].Name]
		}
	}
	d.SSEError = p.Errors[destinations.FieldSSE]
	h.render(w, r, status, "storage_form", p)
}
