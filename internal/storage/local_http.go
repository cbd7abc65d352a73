package storage

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Query parameters of a local pre-signed URL.
const (
	qExpires   = "X-Backapp-Expires"
	qSignature = "X-Backapp-Signature"
	qUploadID  = "uploadId"
	qPart      = "partNumber"
)

// signature is HMAC-SHA256 over everything the URL allows: method, key, upload and
// part, and expiry. Changing any of them invalidates it.
func signature(secret []byte, method, key, uploadID string, part int, expires int64) string {
	m := hmac.New(sha256.New, secret)
	fmt.Fprintf(m, "backapp-local-v1\n%s\n%s\n%s\n%d\n%d", method, key, uploadID, part, expires)
	return hex.EncodeToString(m.Sum(nil))
}

func signedQuery(secret []byte, method, key, uploadID string, part int, expires int64) url.Values {
	q := url.Values{}
	if uploadID != "" {
		q.Set(qUploadID, uploadID)
		q.Set(qPart, strconv.Itoa(part))
	}
	q.Set(qExpires, strconv.FormatInt(expires, 10))
	q.Set(qSignature, signature(secret, method, key, uploadID, part, expires))
	return q
}

// ServeHTTP serves the pre-signed URLs: GET of an object (with Range), PUT of an
// object and PUT of a multipart part. A GET URL also answers HEAD with the headers a
// GET would have (Content-Length, Accept-Ranges, Last-Modified), as `curl -I`
// expects: HEAD reveals less than the GET the URL already allows. S3's pre-signed GET
// URLs refuse HEAD (their signature binds the method), so backapp's own clients never
// rely on it. Mount it at the path of the base URL given to NewLocal, e.g.
// mux.Handle("/storage/local/", local); it expects the full path, so do not wrap it in
// http.StripPrefix. A bad, expired, altered or wrong-method signature is a 403 whose
// body says which.
func (l *Local) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key, ok := strings.CutPrefix(r.URL.Path, l.base.Path)
	if !ok {
		httpError(w, http.StatusNotFound, "not a local storage URL")
		return
	}
	if err := validateLocalKey(key); err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	q := r.URL.Query()
	uploadID := q.Get(qUploadID)
	part := 0
	if uploadID != "" {
		n, err := strconv.Atoi(q.Get(qPart))
		if err != nil || n < 1 || n > MaxParts {
			httpError(w, http.StatusBadRequest, "invalid partNumber")
			return
		}
		part = n
	}
	expires, err := strconv.ParseInt(q.Get(qExpires), 10, 64)
	sig := q.Get(qSignature)
	if err != nil || sig == "" {
		httpError(w, http.StatusForbidden, "missing or malformed signature: this URL was not issued by backapp")
		return
	}
	valid := func(method string) bool {
		return hmac.Equal([]byte(sig), []byte(signature(l.secret, method, key, uploadID, part, expires)))
	}
	method := r.Method
	if method == http.MethodHead {
		method = http.MethodGet // see above: a GET URL allows HEAD
	}
	if !valid(method) {
		for _, m := range []string{http.MethodGet, http.MethodPut} {
			if m != method && valid(m) {
				httpError(w, http.StatusForbidden, fmt.Sprintf("signature does not allow %s: this URL is for %s only", r.Method, m))
				return
			}
		}
		httpError(w, http.StatusForbidden, "signature does not match: the URL was altered or is for another key")
		return
	}
	if now := l.now(); now.Unix() > expires {
		httpError(w, http.StatusForbidden, fmt.Sprintf("URL expired at %s (now %s)", time.Unix(expires, 0).UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339)))
		return
	}
	switch {
	case method == http.MethodGet && uploadID == "":
		l.serveGet(w, r, key) // http.ServeContent sends no body for HEAD
	case r.Method == http.MethodPut && uploadID == "":
		l.servePut(w, r, key)
	case r.Method == http.MethodPut:
		l.servePart(w, r, key, uploadID, part)
	default:
		httpError(w, http.StatusMethodNotAllowed, "method not allowed")
	}
}

func httpError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	fmt.Fprintln(w, msg)
}

func (l *Local) serveGet(w http.ResponseWriter, r *http.Request, key string) {
	f, st, err := l.open("get", key)
	if errors.Is(err, ErrNotFound) {
		httpError(w, http.StatusNotFound, "no such key")
		return
	}
	if err != nil {
		httpError(w, http.StatusInternalServerError, "cannot read the object")
		return
	}
	defer f.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	http.ServeContent(w, r, "", st.ModTime(), f)
}

// hashingWriter computes the MD5 of what passes through, for the ETag.
type hashingWriter struct {
	w io.Writer
	h hash.Hash
}

func (hw hashingWriter) Write(p []byte) (int, error) {
	hw.h.Write(p)
	return hw.w.Write(p)
}

// receive copies the request body (at most maxObjectSize bytes, exactly
// Content-Length when given) into f and returns its MD5 in hex.
func receive(r *http.Request, f *os.File) (string, error) {
	hw := hashingWriter{f, md5.New()}
	n, err := io.Copy(hw, io.LimitReader(r.Body, maxObjectSize+1))
	if err != nil {
		return "", fmt.Errorf("read request body: %w", err)
	}
	if n > maxObjectSize {
		return "", fmt.Errorf("body larger than %d bytes", int64(maxObjectSize))
	}
	if r.ContentLength >= 0 && n != r.ContentLength {
		return "", fmt.Errorf("body has %d bytes, Content-Length says %d", n, r.ContentLength)
	}
	return hex.EncodeToString(hw.h.Sum(nil)), nil
}

func (l *Local) servePut(w http.ResponseWriter, r *http.Request, key string) {
	var etag string
	err := l.writeAtomically(key, func(f *os.File) (err error) {
		etag, err = receive(r, f)
		return err
	})
	if err != nil {
		httpError(w, http.StatusBadRequest, "upload failed: "+err.Error())
		return
	}
	w.Header().Set("ETag", `"`+etag+`"`)
	w.WriteHeader(http.StatusOK)
}

func (l *Local) servePart(w http.ResponseWriter, r *http.Request, key, uploadID string, part int) {
	dir, _, err := l.openUpload("put part", key, uploadID)
	if errors.Is(err, ErrNotFound) {
		httpError(w, http.StatusNotFound, "no such upload: it was completed, aborted or never started")
		return
	}
	if err != nil {
		httpError(w, http.StatusInternalServerError, "cannot read the upload")
		return
	}
	// The part is named by its ETag, so CompleteMultipart finds exactly the bytes the
	// ETag describes even when a part is uploaded twice.
	var etag string
	err = l.writeFileAtomically(func() string { return filepath.Join(dir, partName(part, etag)) }, false, func(f *os.File) (err error) {
		etag, err = receive(r, f)
		return err
	})
	if errors.Is(err, fs.ErrNotExist) {
		httpError(w, http.StatusNotFound, "no such upload: it was aborted or completed meanwhile")
		return
	}
	if err != nil {
		httpError(w, http.StatusBadRequest, "upload of part failed: "+err.Error())
		return
	}
	w.Header().Set("ETag", `"`+etag+`"`)
	w.WriteHeader(http.StatusOK)
}
