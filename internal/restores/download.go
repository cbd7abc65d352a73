package restores

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/backapp/backapp/internal/apperr"
	"github.com/backapp/backapp/internal/engine/manifest"
	"github.com/backapp/backapp/internal/engine/seal"
	"github.com/backapp/backapp/internal/runs"
	"github.com/backapp/backapp/internal/storage"
	"github.com/backapp/backapp/internal/store"
)

// ErrEncryptedDownload is the message for a download of an encrypted backup's file.
func errEncrypted(run store.Run) error {
	return apperr.New(apperr.Conflict, "backup %s is encrypted and the server never holds its key, so its files cannot be downloaded in the browser: restore the file through an agent instead", run.ID)
}

// File is one file of a backup opened for reading. The caller closes it.
type File struct {
	Entry
	io.Reader
	io.Closer
}

// OpenFile opens the content of file p (an absolute path) of the run as it was at
// the run's time: it reads the archive of the chain that holds it (an incremental's
// manifest says which) from storage, decompresses it and walks the tar to the entry.
// Encrypted runs are refused with a Conflict that says to restore through an agent.
func (s *Service) OpenFile(ctx context.Context, run store.Run, p string) (*File, error) {
	if run.Encrypted {
		return nil, errEncrypted(run)
	}
	c, err := s.catalog(ctx, run)
	if err != nil {
		return nil, err
	}
	name := strings.Trim(p, "/")
	e, ok := c.lookup(name)
	if !ok || c.synth[name] {
		return nil, apperr.Invalidf("path", "%q is not in backup %s", "/"+name, run.ID)
	}
	want := e.Path
	switch e.Type {
	case manifest.TypeFile:
	case manifest.TypeHardlink:
		want = e.Link // the first name of the group holds the content, in the same archive
	default:
		return nil, apperr.Invalidf("path", "%q is a %s, not a file; only files can be downloaded", "/"+name, e.Type)
	}
	chain, err := runs.Chain(ctx, s.st, run)
	if err != nil {
		return nil, apperr.Wrap(apperr.Conflict, err, "backup %s cannot be read: its chain of incremental backups is incomplete", run.ID)
	}
	if len(chain) != len(c.header.Chain) || e.In >= len(chain) {
		return nil, apperr.New(apperr.Conflict, "backup %s cannot be read: its catalog names %d archives, the server knows %d", run.ID, len(c.header.Chain), len(chain))
	}
	src := chain[e.In]
	if src.Encrypted {
		return nil, errEncrypted(src)
	}
	if !storage.KeyUnder(src.S3Path, storage.UserPrefix(run.UserID)) {
		return nil, fmt.Errorf("download from run %s: key %q outside its user's prefix", src.ID, src.S3Path)
	}
	dest, err := s.dests.Resolve(ctx, src.UserID, src.DestinationID)
	if err != nil {
		return nil, err
	}
	rc, err := dest.Get(ctx, src.S3Path)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, apperr.New(apperr.Conflict, "the archive of backup %s is missing from its storage", src.ID)
	}
	if err != nil {
		return nil, apperr.Wrap(apperr.Unavailable, err, "the storage of backup %s cannot be read now; try again later", src.ID)
	}
	plain, _, err := seal.NewReader(rc, nil)
	if errors.Is(err, seal.ErrEncrypted) {
		rc.Close()
		return nil, errEncrypted(src)
	}
	if err != nil {
		rc.Close()
		return nil, fmt.Errorf("open the archive of run %s: %w", src.ID, err)
	}
	closeAll := closers{plain, rc}
	tr := tar.NewReader(plain)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			closeAll.Close()
			return nil, apperr.New(apperr.Conflict, "%q is not in the archive of backup %s", "/"+want, src.ID)
		}
		if err != nil {
			closeAll.Close()
			return nil, fmt.Errorf("read the archive of run %s: %w", src.ID, err)
		}
		if strings.Trim(h.Name, "/") != want {
			continue
		}
		if h.Typeflag != tar.TypeReg {
			closeAll.Close()
			return nil, apperr.New(apperr.Conflict, "%q is not a regular file in the archive of backup %s", "/"+want, src.ID)
		}
		v := view(e)
		v.Size = h.Size
		return &File{Entry: v, Reader: io.LimitReader(tr, h.Size), Closer: closeAll}, nil
	}
}

type closers []io.Closer

func (cs closers) Close() error {
	var errs []error
	for _, c := range cs {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}
