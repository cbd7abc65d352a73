package agentapi

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strconv"

	"github.com/backapp/backapp/internal/apperr"
	"github.com/backapp/backapp/internal/storage"
	"github.com/backapp/backapp/internal/store"
)

// The catalog copy of a run's manifest (zstd, as the agent sends it) is sealed under
// the server's master key and kept in the run's own destination at
// storage.CatalogKey, where every replica reaches it.
const catalogPurpose = "agent-catalog"

// putCatalog stores the catalog of a run of this agent that is running or completed.
func (a *API) putCatalog(w http.ResponseWriter, r *http.Request, ag store.Agent) error {
	ctx := r.Context()
	run, err := a.ownRun(ctx, ag, r.URL.Query().Get("runId"))
	if err != nil {
		return err
	}
	if run.Status != "running" && run.Status != "completed" {
		return apperr.New(apperr.Conflict, "run %s is %s; its catalog is not kept", run.ID, run.Status)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, a.cfg.MaxCatalogBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return apperr.New(apperr.TooLarge, "catalog is larger than the limit of %d bytes", a.cfg.MaxCatalogBytes)
		}
		return apperr.Wrap(apperr.Invalid, err, "read the catalog")
	}
	if len(body) < 4 || !bytes.Equal(body[:4], []byte{0x28, 0xb5, 0x2f, 0xfd}) {
		return apperr.New(apperr.Invalid, "catalog must be the zstd-compressed manifest")
	}
	sealed, err := a.cfg.Keys.Seal(catalogPurpose, body, []byte(run.ID))
	if err != nil {
		return err
	}
	dest, err := a.resolve(ctx, run.UserID, run.DestinationID)
	if err != nil {
		return err
	}
	if err := dest.Put(ctx, storage.CatalogKey(run.UserID, run.ConfigID, run.ID), bytes.NewReader(sealed), int64(len(sealed))); err != nil {
		return storageErr("store the catalog", err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// getCatalog returns the catalog of a completed run the agent mayRead (an agent that
// lost its local state needs its previous manifest for the next incremental).
func (a *API) getCatalog(w http.ResponseWriter, r *http.Request, ag store.Agent) error {
	ctx := r.Context()
	id := r.URL.Query().Get("runId")
	run, err := a.st.GetRun(ctx, id)
	if errors.Is(err, store.ErrNotFound) || err == nil && (run.UserID != ag.UserID || run.Status != "completed") {
		return apperr.New(apperr.NotFound, "no catalog of run %q", id)
	}
	if err != nil {
		return err
	}
	if err := a.mayRead(ctx, ag, run); err != nil {
		return err
	}
	dest, err := a.resolve(ctx, run.UserID, run.DestinationID)
	if err != nil {
		return err
	}
	rc, err := dest.Get(ctx, storage.CatalogKey(run.UserID, run.ConfigID, run.ID))
	if errors.Is(err, storage.ErrNotFound) {
		return apperr.New(apperr.NotFound, "no catalog of run %q", id)
	}
	if err != nil {
		return storageErr("read the catalog", err)
	}
	defer rc.Close()
	sealed, err := io.ReadAll(io.LimitReader(rc, a.cfg.MaxCatalogBytes+1<<10))
	if err != nil {
		return storageErr("read the catalog", err)
	}
	plain, err := a.cfg.Keys.Open(catalogPurpose, sealed, []byte(run.ID))
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/zstd")
	w.Header().Set("Content-Length", strconv.Itoa(len(plain)))
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(plain)
	return nil
}
