package api

import (
	"net/http"
	"time"

	"github.com/backapp/backapp/internal/apperr"
	"github.com/backapp/backapp/internal/auth"
	"github.com/backapp/backapp/internal/destinations"
	"github.com/backapp/backapp/internal/httpx"
)

// destinationsAPI serves /api/destinations and /api/s3/….
type destinationsAPI struct {
	*API
	svc *destinations.Service
}

// RegisterDestinations adds the storage destination routes to mux: CRUD under
// /api/destinations and the S3 helpers under /api/s3 (validate, buckets,
// test-connection).
func (a *API) RegisterDestinations(mux *http.ServeMux, svc *destinations.Service) {
	d := &destinationsAPI{API: a, svc: svc}
	mux.HandleFunc("GET /api/destinations", a.signedIn(d.list))
	mux.HandleFunc("POST /api/destinations", a.signedIn(d.create))
	mux.HandleFunc("GET /api/destinations/{id}", a.signedIn(d.get))
	mux.HandleFunc("PUT /api/destinations/{id}", a.signedIn(d.update))
	mux.HandleFunc("DELETE /api/destinations/{id}", a.signedIn(d.remove))
	mux.HandleFunc("GET /api/destinations/{id}/usage", a.signedIn(d.usage))

	mux.HandleFunc("POST /api/s3/validate", a.signedIn(d.s3Validate))
	mux.HandleFunc("GET /api/s3/buckets", a.signedIn(d.s3BucketsSaved))
	mux.HandleFunc("POST /api/s3/buckets", a.signedIn(d.s3Buckets))
	mux.HandleFunc("POST /api/s3/test-connection", a.signedIn(d.s3Test))
}

// Destination is the API's view of a destination. It never carries credentials:
// hasCredentials says whether some are saved and accessKeyIdMasked shows enough of
// the access key id to recognise it.
type Destination struct {
	ID      string `json:"id"`
	UserID  string `json:"userId,omitempty"` // empty for the built-in destination
	Name    string `json:"name"`
	Kind    string `json:"kind"` // s3 | local
	BuiltIn bool   `json:"builtIn"`
	destinations.Settings
	HasCredentials    bool      `json:"hasCredentials"`
	AccessKeyIDMasked string    `json:"accessKeyIdMasked,omitempty"`
	CreatedAt         time.Time `json:"createdAt"`
	UpdatedAt         time.Time `json:"updatedAt"`
}

func destinationJSON(d destinations.Destination) Destination {
	return Destination{
		ID: d.ID, UserID: d.UserID, Name: d.Name, Kind: d.Kind, BuiltIn: d.BuiltIn, Settings: d.Settings,
		HasCredentials: d.HasCredentials, AccessKeyIDMasked: d.AccessKeyHint, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt,
	}
}

// destinationBody creates or replaces an S3 destination. On PUT, leaving both keys
// out keeps the saved ones.
type destinationBody struct {
	Name string `json:"name"`
	Kind string `json:"kind"` // "s3" or omitted
	destinations.Settings
	AccessKeyID     string `json:"accessKeyId"`
	SecretAccessKey string `json:"secretAccessKey"`
}

func (b destinationBody) input() (destinations.Input, error) {
	if b.Kind != "" && b.Kind != "s3" {
		return destinations.Input{}, apperr.Invalidf("kind", `only "s3" destinations can be added; the built-in local destination exists already`)
	}
	return destinations.Input{
		Name: b.Name, Settings: b.Settings,
		Credentials: destinations.Credentials{AccessKeyID: b.AccessKeyID, SecretAccessKey: b.SecretAccessKey},
	}, nil
}

func (d *destinationsAPI) list(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	all := r.URL.Query().Get("all") == "true"
	list, err := d.svc.List(r.Context(), sess.User, all)
	if err != nil {
		d.fail(w, r, err)
		return
	}
	out := make([]Destination, len(list))
	for i, x := range list {
		out[i] = destinationJSON(x)
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"destinations": out})
}

func (d *destinationsAPI) get(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	x, err := d.svc.Get(r.Context(), sess.User, r.PathValue("id"))
	if err != nil {
		d.fail(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, destinationJSON(x))
}

func (d *destinationsAPI) create(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	var b destinationBody
	if err := httpx.DecodeJSON(r, &b); err != nil {
		d.fail(w, r, err)
		return
	}
	in, err := b.input()
	if err != nil {
		d.fail(w, r, err)
		return
	}
	x, err := d.svc.Create(r.Context(), sess.User, in)
	if err != nil {
		d.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/destinations/"+x.ID)
	httpx.WriteJSON(w, http.StatusCreated, destinationJSON(x))
}

func (d *destinationsAPI) update(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	var b destinationBody
	if err := httpx.DecodeJSON(r, &b); err != nil {
		d.fail(w, r, err)
		return
	}
	in, err := b.input()
	if err != nil {
		d.fail(w, r, err)
		return
	}
	x, err := d.svc.Update(r.Context(), sess.User, r.PathValue("id"), in)
	if err != nil {
		d.fail(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, destinationJSON(x))
}

func (d *destinationsAPI) remove(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	if err := d.svc.Delete(r.Context(), sess.User, r.PathValue("id")); err != nil {
		d.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// usage answers how much the signed-in user's backups take in the destination.
func (d *destinationsAPI) usage(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	u, err := d.svc.Usage(r.Context(), sess.User, r.PathValue("id"))
	if err != nil {
		d.fail(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]int64{"objects": u.Objects, "bytes": u.Bytes})
}
