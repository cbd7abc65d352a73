package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Local is a Destination in a directory on the server's disk. The server serves its
// pre-signed URLs itself: Local is also the http.Handler for them (see ServeHTTP), so
// agents upload and download exactly as they do with S3.
//
// Layout under the directory:
//
//	objects/<key>              complete objects; nothing else is ever written here
//	uploads/<id>/info.json     an incomplete multipart upload (key, start time)
//	uploads/<id>/<nnnnn>.<md5> its parts, named by number and ETag
//	tmp/                       files being written, renamed into place when complete
//
// Writes go to tmp/, are fsynced and renamed into place, so a crash or a dropped
// connection never leaves a half-written object that looks complete.
type Local struct {
	dir                   string
	objects, uploads, tmp string
	secret                []byte
	base                  *url.URL // ends in "/"
	now                   func() time.Time
	mu                    sync.Mutex
	abortAfter            time.Duration // 0: keep incomplete uploads
}

var _ Destination = (*Local)(nil)

// MinSecretLength is the shortest URL-signing secret NewLocal accepts.
const MinSecretLength = 32

// NewLocal returns a destination in dir (created if missing) whose URLs are signed
// with secret (at least MinSecretLength random bytes, kept across restarts so issued
// URLs stay valid) and start with baseURL, the public URL at which the server mounts
// the Local as a handler, e.g. "https://backup.example.com/storage/local/".
func NewLocal(dir string, secret []byte, baseURL string) (*Local, error) {
	if len(secret) < MinSecretLength {
		return nil, fmt.Errorf("local destination: signing secret has %d bytes, want at least %d", len(secret), MinSecretLength)
	}
	base, err := url.Parse(baseURL)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" || base.RawQuery != "" {
		return nil, fmt.Errorf("local destination: base URL %q is not an absolute http(s) URL without query", baseURL)
	}
	if !strings.HasSuffix(base.Path, "/") {
		base.Path += "/"
	}
	base.RawPath = ""
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("local destination %q: %w", dir, err)
	}
	l := &Local{
		dir: abs, objects: filepath.Join(abs, "objects"), uploads: filepath.Join(abs, "uploads"), tmp: filepath.Join(abs, "tmp"),
		secret: append([]byte(nil), secret...), base: base, now: time.Now,
	}
	for _, d := range []string{l.objects, l.uploads, l.tmp} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			return nil, fmt.Errorf("local destination: %w", err)
		}
	}
	l.removeLeftovers(24 * time.Hour)
	return l, nil
}

// removeLeftovers deletes what a crash left in tmp/: writes and aborts older than age
// (old enough that no running request still uses them). Errors are ignored: the
// leftovers only cost space.
func (l *Local) removeLeftovers(age time.Duration) {
	entries, _ := os.ReadDir(l.tmp)
	for _, e := range entries {
		if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > age {
			os.RemoveAll(filepath.Join(l.tmp, e.Name()))
		}
	}
}

// SetClock replaces time.Now, for tests of expiry and stale uploads; call it before
// the Local is in use.
func (l *Local) SetClock(now func() time.Time) { l.now = now }

// Kind returns "local".
func (l *Local) Kind() string { return "local" }

// Dir returns the destination's directory.
func (l *Local) Dir() string { return l.dir }

func (l *Local) path(key string) string { return filepath.Join(l.objects, filepath.FromSlash(key)) }

func localErr(op string, cause Cause, msg string, err error) error {
	return &Error{Op: op, Cause: cause, Msg: msg, Err: err}
}

// checkKey refuses keys that are not portable file names (validateLocalKey). Every
// operation that takes a key calls it before the key comes near a path.
func (l *Local) checkKey(op, key string) error {
	if err := validateLocalKey(key); err != nil {
		return localErr(op, CauseInvalid, "invalid key", err)
	}
	return nil
}

// checkPrefix is checkKey for listing prefixes (validateLocalPrefix).
func (l *Local) checkPrefix(op, prefix string) error {
	if err := validateLocalPrefix(prefix); err != nil {
		return localErr(op, CauseInvalid, "invalid prefix", err)
	}
	return nil
}

var uploadIDRE = regexp.MustCompile(`^[0-9a-f]{32}$`)

func (l *Local) presign(op, method, key, uploadID string, part int, ttl time.Duration) (PresignedURL, error) {
	if err := l.checkKey(op, key); err != nil {
		return PresignedURL{}, err
	}
	ttl, err := clampTTL(ttl)
	if err != nil {
		return PresignedURL{}, localErr(op, CauseInvalid, "invalid lifetime", err)
	}
	expires := l.now().Add(ttl).Truncate(time.Second)
	u := *l.base
	u.Path += key
	u.RawQuery = signedQuery(l.secret, method, key, uploadID, part, expires.Unix()).Encode()
	return PresignedURL{URL: u.String(), Method: method, Key: key, Expires: expires, Header: http.Header{}}, nil
}

// PresignPut returns a URL for one or more PUTs of key until it expires.
func (l *Local) PresignPut(ctx context.Context, key string, ttl time.Duration) (PresignedURL, error) {
	return l.presign(fmt.Sprintf("presign put of %q", key), "PUT", key, "", 0, ttl)
}

// PresignGet returns a URL for GETs (including ranged GETs) of key.
func (l *Local) PresignGet(ctx context.Context, key string, ttl time.Duration) (PresignedURL, error) {
	return l.presign(fmt.Sprintf("presign get of %q", key), "GET", key, "", 0, ttl)
}

// PresignPart returns a URL for a PUT of one part; the response's ETag header is the
// part's ETag for CompleteMultipart.
func (l *Local) PresignPart(ctx context.Context, key, uploadID string, partNumber int, ttl time.Duration) (PresignedURL, error) {
	op := fmt.Sprintf("presign part %d of upload %s of %q", partNumber, uploadID, key)
	if partNumber < 1 || partNumber > MaxParts {
		return PresignedURL{}, localErr(op, CauseInvalid, fmt.Sprintf("part number must be 1 to %d", MaxParts), nil)
	}
	if !uploadIDRE.MatchString(uploadID) {
		return PresignedURL{}, localErr(op, CauseInvalid, "malformed upload id", nil)
	}
	return l.presign(op, "PUT", key, uploadID, partNumber, ttl)
}

// uploadInfo is uploads/<id>/info.json.
type uploadInfo struct {
	Key       string    `json:"key"`
	Initiated time.Time `json:"initiated"`
}

// CreateMultipart starts a multipart upload of key. When EnsureAbortIncompleteUploads
// has set an age, uploads older than it are aborted first.
func (l *Local) CreateMultipart(ctx context.Context, key string) (string, error) {
	op := fmt.Sprintf("create multipart upload of %q", key)
	if err := l.checkKey(op, key); err != nil {
		return "", err
	}
	l.mu.Lock()
	age := l.abortAfter
	l.mu.Unlock()
	if age > 0 {
		if _, err := l.AbortStaleUploads(ctx, age); err != nil {
			return "", err
		}
	}
	id := randomHex(16)
	// Build the upload's directory in tmp/ and rename it into uploads/, so a listing
	// never sees an upload without its info.
	staging, err := os.MkdirTemp(l.tmp, "upload-")
	if err != nil {
		return "", localErr(op, CauseOther, "create staging directory", err)
	}
	b, _ := json.Marshal(uploadInfo{Key: key, Initiated: l.now().UTC()})
	if err := writeFileSync(filepath.Join(staging, "info.json"), b); err != nil {
		os.RemoveAll(staging)
		return "", localErr(op, CauseOther, "write upload info", err)
	}
	if err := os.Rename(staging, filepath.Join(l.uploads, id)); err != nil {
		os.RemoveAll(staging)
		return "", localErr(op, CauseOther, "create upload", err)
	}
	return id, nil
}

// openUpload returns the directory of upload id of key, or an error wrapping
// ErrNotFound when there is no such upload for that key.
func (l *Local) openUpload(op, key, id string) (string, uploadInfo, error) {
	if !uploadIDRE.MatchString(id) {
		return "", uploadInfo{}, localErr(op, CauseNotFound, "no such upload (malformed upload id)", nil)
	}
	dir := filepath.Join(l.uploads, id)
	b, err := os.ReadFile(filepath.Join(dir, "info.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return "", uploadInfo{}, localErr(op, CauseNotFound, "no such upload (completed, aborted or never started)", nil)
	}
	if err != nil {
		return "", uploadInfo{}, localErr(op, CauseOther, "read upload info", err)
	}
	var info uploadInfo
	if err := json.Unmarshal(b, &info); err != nil {
		return "", uploadInfo{}, localErr(op, CauseOther, "read upload info", err)
	}
	if info.Key != key {
		return "", uploadInfo{}, localErr(op, CauseNotFound, "no such upload for this key", nil)
	}
	return dir, info, nil
}

func partName(n int, etag string) string { return fmt.Sprintf("%05d.%s", n, etag) }

var etagRE = regexp.MustCompile(`^[0-9a-f]{32}$`)

// CompleteMultipart concatenates the parts in number order into the object. Every
// part but the last must be at least MinPartSize, as on S3, so that an engine tested
// against local storage also works against S3.
func (l *Local) CompleteMultipart(ctx context.Context, key, uploadID string, parts []Part) error {
	op := fmt.Sprintf("complete multipart upload %s of %q", uploadID, key)
	if err := l.checkKey(op, key); err != nil {
		return err
	}
	dir, _, err := l.openUpload(op, key, uploadID)
	if err != nil {
		return err
	}
	sorted, err := sortParts(parts)
	if err != nil {
		return localErr(op, CauseInvalid, "invalid part list", err)
	}
	err = l.writeAtomically(key, func(w *os.File) error {
		for i, p := range sorted {
			if err := ctx.Err(); err != nil {
				return err
			}
			etag := strings.Trim(p.ETag, `"`)
			if !etagRE.MatchString(etag) {
				return localErr(op, CauseInvalid, fmt.Sprintf("part %d: etag %q does not match the uploaded part", p.Number, p.ETag), nil)
			}
			f, err := os.Open(filepath.Join(dir, partName(p.Number, etag)))
			if errors.Is(err, fs.ErrNotExist) {
				return localErr(op, CauseInvalid, fmt.Sprintf("part %d with etag %s was not uploaded", p.Number, p.ETag), nil)
			}
			if err != nil {
				return localErr(op, CauseOther, fmt.Sprintf("open part %d", p.Number), err)
			}
			st, err := f.Stat()
			if err == nil && i < len(sorted)-1 && st.Size() < MinPartSize {
				err = localErr(op, CauseInvalid, fmt.Sprintf("part %d is %d bytes; every part but the last must be at least 5 MiB", p.Number, st.Size()), nil)
			}
			if err == nil {
				// File to file: io.Copy uses copy_file_range where the OS has it.
				_, err = io.Copy(w, f)
			}
			f.Close()
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			return err
		}
		return localErr(op, CauseOther, "assemble parts", err)
	}
	// The object is in place; an upload directory that cannot be removed now only
	// shows in ListUploads until it is aborted as stale.
	_ = l.removeUpload(uploadID)
	return nil
}

// removeUpload renames the upload away first so that it disappears at once, even
// while parts are being written into it.
func (l *Local) removeUpload(id string) error {
	gone := filepath.Join(l.tmp, "aborted-"+id+"-"+randomHex(4))
	if err := os.Rename(filepath.Join(l.uploads, id), gone); err != nil {
		return err
	}
	return os.RemoveAll(gone)
}

// AbortMultipart discards an upload and its parts; an unknown upload is ErrNotFound.
func (l *Local) AbortMultipart(ctx context.Context, key, uploadID string) error {
	op := fmt.Sprintf("abort multipart upload %s of %q", uploadID, key)
	if err := l.checkKey(op, key); err != nil {
		return err
	}
	if _, _, err := l.openUpload(op, key, uploadID); err != nil {
		return err
	}
	if err := l.removeUpload(uploadID); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return localErr(op, CauseNotFound, "no such upload", err)
		}
		return localErr(op, CauseOther, "remove upload", err)
	}
	return nil
}

// ListUploads lists the incomplete multipart uploads of keys starting with prefix,
// by key then start time.
func (l *Local) ListUploads(ctx context.Context, prefix string) ([]Upload, error) {
	op := fmt.Sprintf("list multipart uploads under %q", prefix)
	if err := l.checkPrefix(op, prefix); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(l.uploads)
	if err != nil {
		return nil, localErr(op, CauseOther, "read uploads", err)
	}
	var uploads []Upload
	for _, e := range entries {
		if !uploadIDRE.MatchString(e.Name()) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(l.uploads, e.Name(), "info.json"))
		if errors.Is(err, fs.ErrNotExist) {
			continue // completed or aborted meanwhile
		}
		var info uploadInfo
		if err == nil {
			err = json.Unmarshal(b, &info)
		}
		if err != nil {
			return nil, localErr(op, CauseOther, "read upload "+e.Name(), err)
		}
		if strings.HasPrefix(info.Key, prefix) {
			uploads = append(uploads, Upload{Key: info.Key, UploadID: e.Name(), Initiated: info.Initiated})
		}
	}
	sort.Slice(uploads, func(i, j int) bool {
		if uploads[i].Key != uploads[j].Key {
			return uploads[i].Key < uploads[j].Key
		}
		return uploads[i].Initiated.Before(uploads[j].Initiated)
	})
	return uploads, nil
}

// AbortStaleUploads aborts the multipart uploads started more than olderThan ago and
// returns how many it aborted: the local equivalent of S3's lifecycle rule.
func (l *Local) AbortStaleUploads(ctx context.Context, olderThan time.Duration) (int, error) {
	uploads, err := l.ListUploads(ctx, "")
	if err != nil {
		return 0, err
	}
	n := 0
	for _, u := range uploads {
		if l.now().Sub(u.Initiated) <= olderThan {
			continue
		}
		if err := l.AbortMultipart(ctx, u.Key, u.UploadID); err != nil && !errors.Is(err, ErrNotFound) {
			return n, fmt.Errorf("abort stale uploads: %w", err)
		}
		n++
	}
	return n, nil
}

// EnsureAbortIncompleteUploads makes CreateMultipart abort uploads older than days
// (there is no background process) and aborts the ones already that old.
func (l *Local) EnsureAbortIncompleteUploads(ctx context.Context, days int) error {
	if days < 1 {
		return localErr("set abort of incomplete uploads", CauseInvalid, fmt.Sprintf("days must be at least 1, not %d", days), nil)
	}
	age := time.Duration(days) * 24 * time.Hour
	l.mu.Lock()
	l.abortAfter = age
	l.mu.Unlock()
	_, err := l.AbortStaleUploads(ctx, age)
	return err
}

// maxObjectSize caps one PUT, as S3 caps a single PUT or part at 5 GiB.
const maxObjectSize = 5 << 30

// Put stores an object from r; size is its exact length, or -1 if unknown.
func (l *Local) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	op := fmt.Sprintf("put %q", key)
	if err := l.checkKey(op, key); err != nil {
		return err
	}
	err := l.writeAtomically(key, func(w *os.File) error {
		n, err := io.Copy(w, ctxReader{ctx, r})
		if err == nil && size >= 0 && n != size {
			err = fmt.Errorf("got %d bytes, want %d", n, size)
		}
		return err
	})
	if err != nil {
		return localErr(op, CauseOther, "write object", err)
	}
	return nil
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// writeAtomically writes key through fill into a temporary file, fsyncs it and renames
// it into place; on any error the temporary file is removed and key is untouched.
func (l *Local) writeAtomically(key string, fill func(*os.File) error) error {
	dst := l.path(key)
	return l.writeFileAtomically(func() string { return dst }, true, fill)
}

// writeFileAtomically writes through fill into a temporary file in tmp/, fsyncs it and
// renames it to dst(), which is asked only after fill succeeded (a part's name holds
// its checksum). mkdir creates dst's parent directories; without it a missing parent
// (an aborted upload) is an error rather than brought back to life.
func (l *Local) writeFileAtomically(dst func() string, mkdir bool, fill func(*os.File) error) (err error) {
	f, err := os.CreateTemp(l.tmp, "write-")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := fill(f); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	target := dst()
	parent := filepath.Dir(target)
	if mkdir {
		if err := os.MkdirAll(parent, 0o750); err != nil {
			return err
		}
	}
	if err := os.Rename(f.Name(), target); err != nil {
		return err
	}
	syncDir(parent)
	return nil
}

// syncDir makes a rename in dir durable; errors are ignored because not every file
// system supports fsync on directories, and the data itself is already synced.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

func writeFileSync(name string, b []byte) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Get opens key; the caller closes it. A missing key is ErrNotFound.
func (l *Local) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	op := fmt.Sprintf("get %q", key)
	f, _, err := l.open(op, key)
	if err != nil {
		return nil, err
	}
	return f, nil
}

func (l *Local) open(op, key string) (*os.File, fs.FileInfo, error) {
	if err := l.checkKey(op, key); err != nil {
		return nil, nil, err
	}
	f, err := os.Open(l.path(key))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			return nil, nil, localErr(op, CauseNotFound, "not found", nil)
		}
		return nil, nil, localErr(op, CauseOther, "open object", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, localErr(op, CauseOther, "stat object", err)
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, nil, localErr(op, CauseNotFound, "not found", nil)
	}
	return f, st, nil
}

// Stat describes key; a missing key is ErrNotFound. ETag is empty: computing it would
// mean reading the whole object.
func (l *Local) Stat(ctx context.Context, key string) (Object, error) {
	f, st, err := l.open(fmt.Sprintf("stat %q", key), key)
	if err != nil {
		return Object{}, err
	}
	f.Close()
	return Object{Key: key, Size: st.Size(), Modified: st.ModTime().UTC()}, nil
}

// List returns every object whose key starts with prefix, in key order.
func (l *Local) List(ctx context.Context, prefix string) ([]Object, error) {
	var objs []Object
	err := l.walk(ctx, "list", prefix, func(o Object) { objs = append(objs, o) })
	return objs, err
}

// Usage sums the objects under prefix.
func (l *Local) Usage(ctx context.Context, prefix string) (Usage, error) {
	var u Usage
	err := l.walk(ctx, "measure usage", prefix, func(o Object) { u.Objects++; u.Bytes += o.Size })
	return u, err
}

func (l *Local) walk(ctx context.Context, what, prefix string, fn func(Object)) error {
	op := fmt.Sprintf("%s under %q", what, prefix)
	if err := l.checkPrefix(op, prefix); err != nil {
		return err
	}
	// Start at the deepest directory the prefix names in full.
	start := l.objects
	if i := strings.LastIndex(prefix, "/"); i >= 0 {
		start = filepath.Join(l.objects, filepath.FromSlash(prefix[:i]))
	}
	var objs []Object
	err := filepath.WalkDir(start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == start && (errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)) {
				return fs.SkipAll
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(l.objects, p)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if !strings.HasPrefix(key, prefix) {
			return nil
		}
		info, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil // deleted meanwhile
		}
		if err != nil {
			return err
		}
		objs = append(objs, Object{Key: key, Size: info.Size(), Modified: info.ModTime().UTC()})
		return nil
	})
	if err != nil {
		return localErr(op, CauseOther, "walk directory", err)
	}
	// Directory order is not key order ("a/x" sorts after "a-b" as a key).
	sort.Slice(objs, func(i, j int) bool { return objs[i].Key < objs[j].Key })
	for _, o := range objs {
		fn(o)
	}
	return nil
}

// Delete removes key and the directories it leaves empty; a missing key is not an
// error.
func (l *Local) Delete(ctx context.Context, key string) error {
	op := fmt.Sprintf("delete %q", key)
	if err := l.checkKey(op, key); err != nil {
		return err
	}
	p := l.path(key)
	st, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) || err == nil && st.IsDir() {
		return nil
	}
	if err == nil {
		err = os.Remove(p)
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return localErr(op, CauseOther, "remove object", err)
	}
	for dir := filepath.Dir(p); dir != l.objects && strings.HasPrefix(dir, l.objects); dir = filepath.Dir(dir) {
		if os.Remove(dir) != nil {
			break // not empty, or another writer is using it
		}
	}
	return nil
}

// Test checks that the directory exists and that an object can be written and
// deleted.
func (l *Local) Test(ctx context.Context) error {
	op := fmt.Sprintf("test local directory %s", l.dir)
	for _, d := range []string{l.objects, l.uploads, l.tmp} {
		st, err := os.Stat(d)
		if err != nil {
			return localErr(op, CauseNotFound, "directory missing", err)
		}
		if !st.IsDir() {
			return localErr(op, CauseInvalid, d+" is not a directory", nil)
		}
	}
	key := testPrefix + "probe-" + randomHex(8)
	if err := l.Put(ctx, key, strings.NewReader("backapp write test\n"), -1); err != nil {
		return fmt.Errorf("%s: write a probe object: %w", op, err)
	}
	if err := l.Delete(ctx, key); err != nil {
		return fmt.Errorf("%s: delete the probe object: %w", op, err)
	}
	return nil
}
