package runs

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/backapp/backapp/internal/apperr"
	"github.com/backapp/backapp/internal/engine/manifest"
	"github.com/backapp/backapp/internal/engine/seal"
	"github.com/backapp/backapp/internal/storage"
	"github.com/backapp/backapp/internal/store"
)

// ErrNoCatalog is returned (wrapped) by Trees.Open for a run of which the server can
// read no manifest: an encrypted run without a catalog copy (older than catalogs, or
// its agent could not send it).
var ErrNoCatalog = errors.New("no catalog")

// Opener opens what the server sealed under its master key.
type Opener interface {
	Open(purpose string, sealed, context []byte) ([]byte, error)
}

// Trees reads the tree of a completed run at its time, as the server sees it: what
// browsing shows, and what an agent that lost its local state continues from.
//
// Each run's document is its manifest, zstd-compressed and not encrypted: for an
// unencrypted run the manifest object beside the archive itself (checked against the
// SHA-256 recorded for it); for an encrypted one the catalog copy its agent sent
// (storage.CatalogKey), sealed under the master key, since the server cannot open the
// age-encrypted manifest. A run whose manifest is a delta (manifest.Header.Delta) is
// merged with the documents of its chain back to the full one it builds on.
type Trees struct {
	Store RunGetter
	Dests Resolver
	Keys  Opener
	// Max caps one document read from storage (bytes).
	Max int64
}

// Open returns the tree of run (completed) and its chain's runs from the full
// manifest on. The caller closes the closer.
func (t Trees) Open(ctx context.Context, run store.Run) (*manifest.Reader, io.Closer, error) {
	last, err := t.document(ctx, run)
	if err != nil {
		return nil, nil, err
	}
	lr, lc, err := last.open()
	if err != nil {
		return nil, nil, err
	}
	if !lr.Header.Delta {
		return lr, lc, nil
	}
	lc.Close()
	chain, err := Chain(ctx, t.Store, run)
	if err != nil {
		return nil, nil, err
	}
	h := lr.Header
	if len(chain) != len(h.Chain) {
		return nil, nil, fmt.Errorf("run %s: its manifest names %d archives, its chain has %d runs", run.ID, len(h.Chain), len(chain))
	}
	docs := make([]doc, 0, len(chain)-h.Base)
	for _, r := range chain[h.Base : len(chain)-1] {
		d, err := t.document(ctx, r)
		if err != nil {
			return nil, nil, err
		}
		docs = append(docs, d)
	}
	docs = append(docs, last)
	var rs []*manifest.Reader
	var cs multiCloser
	for _, d := range docs {
		r, c, err := d.open()
		if err != nil {
			cs.Close()
			return nil, nil, err
		}
		rs, cs = append(rs, r), append(cs, c)
	}
	if rs[0].Header.Delta {
		cs.Close()
		return nil, nil, fmt.Errorf("run %s: the manifest its delta builds on (run %s) is a delta too", run.ID, chain[h.Base].ID)
	}
	mr, err := manifest.Merge(rs...)
	if err != nil {
		cs.Close()
		return nil, nil, fmt.Errorf("run %s: %w", run.ID, err)
	}
	return mr, cs, nil
}

// doc is one run's manifest, zstd-compressed.
type doc struct {
	run  store.Run
	body []byte
}

func (d doc) open() (*manifest.Reader, io.Closer, error) {
	zr, _, err := seal.NewReader(bytes.NewReader(d.body), nil)
	if err != nil {
		return nil, nil, fmt.Errorf("decompress the manifest of run %s: %w", d.run.ID, err)
	}
	mr, err := manifest.NewReader(zr)
	if err != nil {
		zr.Close()
		return nil, nil, fmt.Errorf("read the manifest of run %s: %w", d.run.ID, err)
	}
	if mr.Header.Name != d.run.S3Path {
		zr.Close()
		return nil, nil, fmt.Errorf("read the manifest of run %s: it is the manifest of %s", d.run.ID, mr.Header.Name)
	}
	return mr, zr, nil
}

// document reads run's manifest as the server can: see Trees.
func (t Trees) document(ctx context.Context, run store.Run) (doc, error) {
	dest, err := t.Dests.Resolve(ctx, run.UserID, run.DestinationID)
	if err != nil {
		return doc{}, err
	}
	if !run.Encrypted && run.ManifestSHA256 != "" {
		body, err := t.read(ctx, dest, run.ManifestKey)
		if err != nil {
			return doc{}, unreadable(run, err)
		}
		if sum := sha256.Sum256(body); hex.EncodeToString(sum[:]) != run.ManifestSHA256 {
			return doc{}, fmt.Errorf("read the manifest of run %s: sha256 mismatch (stored object changed or cut off)", run.ID)
		}
		return doc{run: run, body: body}, nil
	}
	sealed, err := t.read(ctx, dest, storage.CatalogKey(run.UserID, run.ConfigID, run.ID))
	if errors.Is(err, storage.ErrNotFound) {
		return doc{}, fmt.Errorf("run %s: %w", run.ID, ErrNoCatalog)
	}
	if err != nil {
		return doc{}, unreadable(run, err)
	}
	body, err := t.Keys.Open(CatalogPurpose, sealed, []byte(run.ID))
	if err != nil {
		return doc{}, fmt.Errorf("open the catalog of run %s: %w", run.ID, err)
	}
	return doc{run: run, body: body}, nil
}

func (t Trees) read(ctx context.Context, dest storage.Destination, key string) ([]byte, error) {
	rc, err := dest.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(io.LimitReader(rc, t.Max+1<<10))
}

func unreadable(run store.Run, err error) error {
	return apperr.Wrap(apperr.Unavailable, err, "the storage of backup %s cannot be read now; try again later", run.ID)
}

type multiCloser []io.Closer

func (m multiCloser) Close() error {
	for _, c := range m {
		c.Close()
	}
	return nil
}
