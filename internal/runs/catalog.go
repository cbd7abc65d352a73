package runs

import (
	"bytes"
	"context"
	"errors"
	"io"

	"github.com/backapp/backapp/internal/apperr"
	"github.com/backapp/backapp/internal/storage"
	"github.com/backapp/backapp/internal/store"
)

// CatalogPurpose is the key purpose a run's catalog copy (its manifest, zstd, as the
// agent sends it) is sealed under with the server's master key (the run id as
// context). It is kept in the run's own destination at storage.CatalogKey, where
// every replica, and the browser's restores (internal/restores), reach it.
const CatalogPurpose = "agent-catalog"

// PutCatalog stores the catalog of a run of agent ag that is running or completed.
// read returns the catalog; it is called once the run is known to take one.
func (l *Lifecycle) PutCatalog(ctx context.Context, ag store.Agent, runID string, read func() ([]byte, error)) error {
	run, err := l.ownRun(ctx, ag, runID)
	if err != nil {
		return err
	}
	if run.Status != "running" && run.Status != "completed" {
		return apperr.New(apperr.Conflict, "run %s is %s; its catalog is not kept", run.ID, run.Status)
	}
	body, err := read()
	if err != nil {
		return err
	}
	if len(body) < 4 || !bytes.Equal(body[:4], []byte{0x28, 0xb5, 0x2f, 0xfd}) {
		return apperr.New(apperr.Invalid, "catalog must be the zstd-compressed manifest")
	}
	sealed, err := l.cfg.Keys.Seal(CatalogPurpose, body, []byte(run.ID))
	if err != nil {
		return err
	}
	dest, err := l.resolve(ctx, run.UserID, run.DestinationID)
	if err != nil {
		return err
	}
	if err := dest.Put(ctx, storage.CatalogKey(run.UserID, run.ConfigID, run.ID), bytes.NewReader(sealed), int64(len(sealed))); err != nil {
		return storageErr("store the catalog", err)
	}
	return nil
}

// Catalog returns the catalog of a completed run agent ag mayRead (an agent that
// lost its local state needs its previous manifest for the next incremental). A
// sealed copy longer than max plus the seal's overhead is cut off, and fails to open.
func (l *Lifecycle) Catalog(ctx context.Context, ag store.Agent, runID string, max int64) ([]byte, error) {
	run, err := l.st.GetRun(ctx, runID)
	if errors.Is(err, store.ErrNotFound) || err == nil && (run.UserID != ag.UserID || run.Status != "completed") {
		return nil, apperr.New(apperr.NotFound, "no catalog of run %q", runID)
	}
	if err != nil {
		return nil, err
	}
	if err := l.mayRead(ctx, ag, run); err != nil {
		return nil, err
	}
	dest, err := l.resolve(ctx, run.UserID, run.DestinationID)
	if err != nil {
		return nil, err
	}
	rc, err := dest.Get(ctx, storage.CatalogKey(run.UserID, run.ConfigID, run.ID))
	if errors.Is(err, storage.ErrNotFound) {
		return nil, apperr.New(apperr.NotFound, "no catalog of run %q", runID)
	}
	if err != nil {
		return nil, storageErr("read the catalog", err)
	}
	defer rc.Close()
	sealed, err := io.ReadAll(io.LimitReader(rc, max+1<<10))
	if err != nil {
		return nil, storageErr("read the catalog", err)
	}
	return l.cfg.Keys.Open(CatalogPurpose, sealed, []byte(run.ID))
}
