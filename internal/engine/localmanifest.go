package engine

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"runtime"

	"filippo.io/age"

	"github.com/backapp/backapp/internal/engine/manifest"
	"github.com/backapp/backapp/internal/engine/seal"
	"github.com/backapp/backapp/internal/engine/upload"
)

// manifestInMemory is the largest stored manifest a restore keeps in memory; a larger
// one goes to a temporary file. (A million files make a manifest of some tens of MB.)
var manifestInMemory int64 = 8 << 20

// localManifest is a stored manifest object downloaded whole and checked against the
// SHA-256 the server recorded before a restore writes anything, so that entries of a
// manifest swapped in storage never decide what is written. It is kept as stored
// (compressed, perhaps encrypted), in memory or in a temporary file, and decoded anew
// by each pass that reads it.
type localManifest struct {
	mem  []byte
	file *os.File // when larger than manifestInMemory
	size int64
}

// fetchManifest downloads the manifest of ref, checking it against ref.ManifestSHA256
// when known. A large one is spilled to a temporary file in dir ("": the system's).
func fetchManifest(ctx context.Context, ref ArchiveRef, dir string, o upload.Options) (*localManifest, error) {
	label := "manifest"
	if ref.Name != "" {
		label = ref.Name + " manifest"
	}
	dl := upload.NewDownload(ctx, label, ref.Manifest, ref.ManifestSHA256, -1, o)
	defer dl.Close()
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(dl, manifestInMemory+1))
	if err != nil {
		return nil, err // the download's error names it
	}
	if n <= manifestInMemory {
		return &localManifest{mem: buf.Bytes(), size: n}, nil
	}
	f, err := os.CreateTemp(dir, "manifest-*.tmp")
	if err != nil {
		return nil, fmt.Errorf("keep the %s: %w", label, err)
	}
	m := &localManifest{file: f}
	if runtime.GOOS != "windows" { // an open file stays readable: a crash leaves nothing
		_ = os.Remove(f.Name())
	}
	if _, err := f.Write(buf.Bytes()); err != nil {
		m.Close()
		return nil, fmt.Errorf("keep the %s: %w", label, err)
	}
	rest, err := io.Copy(f, dl)
	if err != nil {
		m.Close()
		return nil, fmt.Errorf("keep the %s: %w", label, err)
	}
	m.size = n + rest
	return m, nil
}

// open decodes the manifest from its start. The caller closes the closer.
func (m *localManifest) open(name string, ids []age.Identity) (*manifest.Reader, io.Closer, error) {
	var src io.Reader
	if m.file != nil {
		src = io.NewSectionReader(m.file, 0, m.size)
	} else {
		src = bytes.NewReader(m.mem)
	}
	plain, _, err := seal.NewReader(src, ids)
	if err != nil {
		return nil, nil, fmt.Errorf("open manifest of %s: %w", name, err)
	}
	r, err := manifest.NewReader(plain)
	if err != nil {
		plain.Close()
		return nil, nil, fmt.Errorf("open manifest of %s: %w", name, err)
	}
	return r, plain, nil
}

// Close removes the temporary file, if any.
func (m *localManifest) Close() error {
	if m.file == nil {
		return nil
	}
	m.file.Close()
	_ = os.Remove(m.file.Name())
	return nil
}

// treeManifest is the tree at the time of the last archive of a restore's chain: the
// last manifest, and when that is a delta the manifests from its full base on, each
// downloaded and checked against its recorded SHA-256 before anything is written.
type treeManifest struct {
	parts []*localManifest // Chain[base] … Chain[last]
	base  int
}

// fetchTree downloads the last manifest of o.Chain and, when it is a delta, those it
// builds on (back to its full base).
func fetchTree(ctx context.Context, o RestoreOptions) (*treeManifest, error) {
	last := o.Chain[len(o.Chain)-1]
	lm, err := fetchManifest(ctx, last, o.TempDir, o.Download)
	if err != nil {
		return nil, err
	}
	t := &treeManifest{parts: []*localManifest{lm}, base: len(o.Chain) - 1}
	mr, mc, err := lm.open(last.Name, o.Identities)
	if err != nil {
		t.Close()
		return nil, err
	}
	h := mr.Header
	mc.Close()
	if !h.Delta {
		return t, nil
	}
	if err := checkChain(h, o.Chain); err != nil {
		t.Close()
		return nil, err
	}
	t.base = h.Base
	parts := make([]*localManifest, 0, len(o.Chain)-h.Base)
	for _, ref := range o.Chain[h.Base : len(o.Chain)-1] {
		if ref.Manifest == nil {
			t.Close()
			closeAll(parts)
			return nil, fmt.Errorf("the manifest of %s is needed (%s lists only what changed since)", ref.Name, h.Name)
		}
		m, err := fetchManifest(ctx, ref, o.TempDir, o.Download)
		if err != nil {
			t.Close()
			closeAll(parts)
			return nil, err
		}
		parts = append(parts, m)
	}
	t.parts = append(parts, lm)
	return t, nil
}

func closeAll(ms []*localManifest) {
	for _, m := range ms {
		m.Close()
	}
}

// open decodes the tree from its start (manifest.Merge of the parts). The caller
// closes the closer.
func (t *treeManifest) open(name string, ids []age.Identity) (*manifest.Reader, io.Closer, error) {
	if len(t.parts) == 1 {
		return t.parts[0].open(name, ids)
	}
	var rs []*manifest.Reader
	var cs closers
	for i, p := range t.parts {
		r, c, err := p.open(fmt.Sprintf("%s (part %d of its tree)", name, i+1), ids)
		if err != nil {
			cs.Close()
			return nil, nil, err
		}
		rs, cs = append(rs, r), append(cs, c)
	}
	if h := rs[0].Header; h.Delta || len(h.Chain) != t.base+1 {
		cs.Close()
		return nil, nil, fmt.Errorf("open manifest of %s: its base %s is not the full manifest of archive %d of the chain", name, h.Name, t.base)
	}
	mr, err := manifest.Merge(rs...)
	if err != nil {
		cs.Close()
		return nil, nil, fmt.Errorf("open manifest of %s: %w", name, err)
	}
	return mr, cs, nil
}

// Close removes the temporary files, if any.
func (t *treeManifest) Close() error {
	closeAll(t.parts)
	return nil
}
