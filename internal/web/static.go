package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"time"
)

//go:embed static
var staticFS embed.FS

// staticFile is one embedded file with the checksum that names its URL.
type staticFile struct {
	name        string
	sum         string
	body        []byte
	contentType string
}

type staticFiles struct {
	files map[string]*staticFile
}

func loadStatic() (*staticFiles, error) {
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, err
	}
	s := &staticFiles{files: map[string]*staticFile{}}
	err = fs.WalkDir(sub, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(sub, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		ct := mime.TypeByExtension(path.Ext(p))
		if ct == "" {
			ct = "application/octet-stream"
		}
		s.files[p] = &staticFile{name: p, sum: hex.EncodeToString(sum[:])[:16], body: b, contentType: ct}
		return nil
	})
	return s, err
}

// url returns the checksummed URL of the static file name.
func (s *staticFiles) url(name string) (string, error) {
	f, ok := s.files[name]
	if !ok {
		return "", fmt.Errorf("no static file %q", name)
	}
	return "/static/" + f.sum + "/" + f.name, nil
}

// staticServe serves GET /static/{sum}/{name}. The checksum in the URL changes with
// the content, so a response can be cached forever. An outdated checksum (a page
// cached across an upgrade) is redirected to the current file.
func (h *Handler) staticServe(w http.ResponseWriter, r *http.Request) {
	f, ok := h.static.files[r.PathValue("name")]
	if !ok {
		h.notFound(w, r)
		return
	}
	if r.PathValue("sum") != f.sum {
		w.Header().Set("Cache-Control", "no-cache")
		http.Redirect(w, r, "/static/"+f.sum+"/"+f.name, http.StatusFound)
		return
	}
	w.Header().Set("Content-Type", f.contentType)
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	w.Header().Set("ETag", `"`+f.sum+`"`)
	http.ServeContent(w, r, f.name, time.Time{}, bytes.NewReader(f.body))
}
