package web

import (
	"io"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"unicode"

	"github.com/backapp/backapp/internal/auth"
	"github.com/backapp/backapp/internal/store"
)

// restoreFileDownload serves GET /restores/file?run=&path=: one file of an
// unencrypted backup, streamed out of its archive as an attachment. Encrypted
// backups are refused with a page that says to restore through an agent.
func (h *Handler) restoreFileDownload(w http.ResponseWriter, r *http.Request, sess auth.Session) {
	q := r.URL.Query()
	run, err := h.restores.Run(r.Context(), sess.User, q.Get("run"))
	if err != nil {
		h.RenderError(w, r, err)
		return
	}
	if run.Encrypted {
		p := "/" + strings.Trim(q.Get("path"), "/")
		h.render(w, r, http.StatusConflict, "download_encrypted", &page{Title: "This file cannot be downloaded in the browser",
			Nav: "restores", Data: downloadEncryptedData{Run: run, Path: p,
				Restore: restoreState{run: run.ID, dir: path.Dir(p), sel: []string{p}}.url()}})
		return
	}
	f, err := h.restores.OpenFile(r.Context(), run, q.Get("path"))
	if err != nil {
		h.RenderError(w, r, err)
		return
	}
	defer f.Close()
	hd := w.Header()
	hd.Set("Content-Type", "application/octet-stream")
	hd.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": safeFilename(f.Name)}))
	hd.Set("Content-Length", strconv.FormatInt(f.Size, 10))
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Cache-Control", "no-store")
	if _, err := io.Copy(w, f); err != nil {
		h.log.Warn("download of a backed-up file stopped", "run", run.ID, "err", err)
	}
}

type downloadEncryptedData struct {
	Run     store.Run
	Path    string
	Restore string // the restore page with the file selected
}

// safeFilename keeps a name a browser can save: no path separators, quotes or
// control characters, not empty, at most 200 bytes.
func safeFilename(name string) string {
	name = strings.Map(func(r rune) rune {
		switch {
		case r == '/' || r == '\\' || r == '"' || r == ':' || unicode.IsControl(r):
			return '_'
		}
		return r
	}, name)
	name = strings.TrimLeft(name, ".")
	if len(name) > 200 {
		name = strings.ToValidUTF8(name[:200], "")
	}
	if strings.TrimSpace(name) == "" {
		return "download"
	}
	return name
}
