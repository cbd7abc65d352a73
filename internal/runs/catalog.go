package runs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/zstd"

	"github.com/backapp/backapp/internal/apperr"
	"github.com/backapp/backapp/internal/engine/manifest"
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

// Catalog returns the tree of a completed run agent ag mayRead, as a zstd-compressed
// manifest (an agent that lost its local state needs it for the next incremental):
// the run's own document when it is a full manifest, else the merge of its chain's
// from the full one on, with the run's header (see Trees). A document longer than
// max (plus the seal's overhead) is cut off, and fails to open.
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
	trees := Trees{Store: l.st, Dests: resolverFunc(l.resolve), Keys: l.cfg.Keys, Max: max}
	mr, c, err := trees.Open(ctx, run)
	if errors.Is(err, ErrNoCatalog) {
		return nil, apperr.New(apperr.NotFound, "no catalog of run %q", runID)
	}
	if err != nil {
		return nil, err
	}
	defer c.Close()
	var buf bytes.Buffer
	zw, err := zstd.NewWriter(&buf, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
	if err != nil {
		return nil, err
	}
	w, err := manifest.NewWriter(zw, mr.Header)
	if err != nil {
		return nil, err
	}
	for {
		e, err := mr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read the tree of run %s: %w", run.ID, err)
		}
		if err := w.Add(e); err != nil {
			return nil, err
		}
		if int64(buf.Len()) > max {
			return nil, apperr.New(apperr.TooLarge, "the tree of run %s is larger than the limit of %d bytes", run.ID, max)
		}
	}
	if err := w.Close(*mr.Trailer); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

type resolverFunc func(ctx context.Context, userID, destinationID string) (storage.Destination, error)

func (f resolverFunc) Resolve(ctx context.Context, userID, destinationID string) (storage.Destination, error) {
	return f(ctx, userID, destinationID)
}
