package api

import (
	"net/http"

	"github.com/backapp/backapp/internal/auth"
	"github.com/backapp/backapp/internal/destinations"
	"github.com/backapp/backapp/internal/httpx"
)

// s3Body names what to check: S3 settings and keys typed into a form, a saved
// destination (destinationId alone), or a saved destination with changed settings
// (destinationId and settings; keys left out mean the saved ones).
type s3Body struct {
	DestinationID string `json:"destinationId"`
	Name          string `json:"name"` // accepted so a form can send itself whole; not checked here
	destinations.Settings
	AccessKeyID     string `json:"accessKeyId"`
	SecretAccessKey string `json:"secretAccessKey"`
}

func (b s3Body) target() destinations.Target {
	t := destinations.Target{
		DestinationID: b.DestinationID,
		Credentials:   destinations.Credentials{AccessKeyID: b.AccessKeyID, SecretAccessKey: b.SecretAccessKey},
	}
	if b.DestinationID == "" || b.Settings != (destinations.Settings{}) {
		s := b.Settings
		t.Settings = &s
	}
	return t
}

// s3Validate serves POST /api/s3/validate: offline checks of the settings and keys,
// every problem at once in error.fields. With destinationId, keys may be left out.
func (d *destinationsAPI) s3Validate(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	var b s3Body
	if err := httpx.DecodeJSON(r, &b); err != nil {
		d.fail(w, r, err)
		return
	}
	creds := destinations.Credentials{AccessKeyID: b.AccessKeyID, SecretAccessKey: b.SecretAccessKey}
	if err := destinations.Validate(b.Settings, creds, b.DestinationID != ""); err != nil {
		d.fail(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]bool{"valid": true})
}

// s3BucketsSaved serves GET /api/s3/buckets?destinationId=…: the buckets a saved
// destination's keys can see.
func (d *destinationsAPI) s3BucketsSaved(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	d.buckets(w, r, sess, s3Body{DestinationID: r.URL.Query().Get("destinationId")})
}

// s3Buckets serves POST /api/s3/buckets: the buckets the keys in the body can see,
// to choose one in a form before saving. No bucket is needed.
func (d *destinationsAPI) s3Buckets(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	var b s3Body
	if err := httpx.DecodeJSON(r, &b); err != nil {
		d.fail(w, r, err)
		return
	}
	d.buckets(w, r, sess, b)
}

func (d *destinationsAPI) buckets(w http.ResponseWriter, r *http.Request, sess auth.Session, b s3Body) {
	names, err := d.svc.ListBuckets(r.Context(), sess.User, b.target())
	if err != nil {
		d.fail(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"buckets": names})
}

// testResult is the answer of POST /api/s3/test-connection. A test that ran answers
// 200 either way: ok false with the cause (credentials, no-such-bucket,
// unreachable, clock-skew, …), a message that names it and the field to fix.
type testResult struct {
	OK      bool              `json:"ok"`
	Cause   string            `json:"cause,omitempty"`
	Message string            `json:"message"`
	Fields  map[string]string `json:"fields,omitempty"`
}

// s3Test serves POST /api/s3/test-connection: reach the server, check the keys and
// the bucket, write and delete a probe object.
func (d *destinationsAPI) s3Test(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	var b s3Body
	if err := httpx.DecodeJSON(r, &b); err != nil {
		d.fail(w, r, err)
		return
	}
	res, err := d.svc.Test(r.Context(), sess.User, b.target())
	if err != nil {
		d.fail(w, r, err)
		return
	}
	out := testResult{OK: res.OK, Cause: string(res.Cause), Message: res.Message}
	if res.Field != "" {
		out.Fields = map[string]string{res.Field: res.Message}
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}
