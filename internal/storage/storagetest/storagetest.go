// Package storagetest is the contract every storage.Destination must meet: one suite,
// run against S3 (on the real test server) and the local directory, that talks to the
// pre-signed URLs with a plain net/http client exactly as an agent does.
package storagetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/backapp/backapp/internal/storage"
)

// Run runs the contract suite. open returns a destination with nothing stored in it;
// it is called once per subtest.
func Run(t *testing.T, open func(t *testing.T) storage.Destination) {
	tests := []struct {
		name string
		fn   func(t *testing.T, d storage.Destination)
	}{
		{"PresignedPutThenGet", testPresignedPutGet},
		{"RangeGet", testRangeGet},
		{"ExpiredURLRejected", testExpired},
		{"WrongMethodRejected", testWrongMethod},
		{"URLForOneKeyOnly", testWrongKey},
		{"TTLClamped", testTTLClamped},
		{"InvalidKeysRejected", testInvalidKeys},
		{"ProductKeys", testProductKeys},
		{"Multipart", testMultipart},
		{"MultipartWrongETag", testMultipartWrongETag},
		{"AbortMultipart", testAbort},
		{"ListUploadsByPrefix", testListUploads},
		{"PutGetStat", testPutGetStat},
		{"ListByPrefix", testList},
		{"Delete", testDelete},
		{"Usage", testUsage},
		{"Test", testTest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, open(t))
		})
	}
}

func ctxOf(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func randomBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// do sends one request to a pre-signed URL with a plain client, as an agent does,
// and returns the status, the body and the response headers.
func do(t *testing.T, method, rawURL string, header http.Header, body []byte) (int, []byte, http.Header) {
	t.Helper()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, rawURL, r)
	if err != nil {
		t.Fatalf("new %s request: %v", method, err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, rawURL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, rawURL, err)
	}
	return resp.StatusCode, b, resp.Header
}

func presignPut(t *testing.T, d storage.Destination, key string) storage.PresignedURL {
	t.Helper()
	u, err := d.PresignPut(ctxOf(t), key, 10*time.Minute)
	if err != nil {
		t.Fatalf("PresignPut(%q): %v", key, err)
	}
	if u.Method != http.MethodPut || u.Key != key {
		t.Fatalf("PresignPut(%q) = method %q key %q, want PUT %q", key, u.Method, u.Key, key)
	}
	return u
}

func presignGet(t *testing.T, d storage.Destination, key string) storage.PresignedURL {
	t.Helper()
	u, err := d.PresignGet(ctxOf(t), key, 10*time.Minute)
	if err != nil {
		t.Fatalf("PresignGet(%q): %v", key, err)
	}
	if u.Method != http.MethodGet || u.Key != key {
		t.Fatalf("PresignGet(%q) = method %q key %q, want GET %q", key, u.Method, u.Key, key)
	}
	return u
}

// upload PUTs body to key through a pre-signed URL and fails the test unless it is 200.
func upload(t *testing.T, d storage.Destination, key string, body []byte) {
	t.Helper()
	u := presignPut(t, d, key)
	if code, b, _ := do(t, http.MethodPut, u.URL, u.Header, body); code != http.StatusOK {
		t.Fatalf("PUT %q: status %d: %s", key, code, b)
	}
}

func download(t *testing.T, d storage.Destination, key string) []byte {
	t.Helper()
	u := presignGet(t, d, key)
	code, b, _ := do(t, http.MethodGet, u.URL, u.Header, nil)
	if code != http.StatusOK {
		t.Fatalf("GET %q: status %d: %s", key, code, b)
	}
	return b
}

const prefix = "users/u1/agents/a1/configs/c1/"

func testPresignedPutGet(t *testing.T, d storage.Destination) {
	key := prefix + "backup-2026-01-02-030405.tar.gz"
	want := randomBytes(t, 100_000)
	upload(t, d, key, want)
	if got := download(t, d, key); !bytes.Equal(got, want) {
		t.Fatalf("GET after PUT: got %d bytes, want the %d bytes put", len(got), len(want))
	}
	// A second PUT replaces the object.
	want2 := []byte("second version")
	upload(t, d, key, want2)
	if got := download(t, d, key); !bytes.Equal(got, want2) {
		t.Fatalf("GET after second PUT = %q, want %q", got, want2)
	}
	// Unicode and spaces in keys survive the URL encoding.
	odd := prefix + "ünï cödé/名前 (1)+x.tar"
	upload(t, d, odd, want2)
	if got := download(t, d, odd); !bytes.Equal(got, want2) {
		t.Fatalf("GET %q = %q, want %q", odd, got, want2)
	}
}

func testRangeGet(t *testing.T, d storage.Destination) {
	key := prefix + "range.bin"
	data := randomBytes(t, 4096)
	upload(t, d, key, data)
	u := presignGet(t, d, key)
	code, got, _ := do(t, http.MethodGet, u.URL, http.Header{"Range": {"bytes=1000-1999"}}, nil)
	if code != http.StatusPartialContent {
		t.Fatalf("ranged GET: status %d, want 206: %s", code, got)
	}
	if !bytes.Equal(got, data[1000:2000]) {
		t.Fatalf("ranged GET bytes=1000-1999: got %d bytes, not the range", len(got))
	}
	code, got, _ = do(t, http.MethodGet, u.URL, http.Header{"Range": {"bytes=4000-"}}, nil)
	if code != http.StatusPartialContent || !bytes.Equal(got, data[4000:]) {
		t.Fatalf("ranged GET bytes=4000-: status %d, %d bytes; want 206 and the last 96 bytes", code, len(got))
	}
}

func testExpired(t *testing.T, d storage.Destination) {
	ctx := ctxOf(t)
	key := prefix + "expiring.bin"
	upload(t, d, key, []byte("x"))
	get, err := d.PresignGet(ctx, key, time.Second)
	if err != nil {
		t.Fatalf("PresignGet: %v", err)
	}
	put, err := d.PresignPut(ctx, key, time.Second)
	if err != nil {
		t.Fatalf("PresignPut: %v", err)
	}
	if until := time.Until(get.Expires); until > time.Second || until < -time.Second {
		t.Errorf("PresignGet with 1s TTL: Expires in %v, want about 1s", until)
	}
	// SigV4 counts in whole seconds from the signing second.
	time.Sleep(2500 * time.Millisecond)
	if code, b, _ := do(t, http.MethodGet, get.URL, get.Header, nil); code != http.StatusForbidden {
		t.Errorf("GET with expired URL: status %d, want 403: %s", code, b)
	}
	if code, b, _ := do(t, http.MethodPut, put.URL, put.Header, []byte("overwritten")); code != http.StatusForbidden {
		t.Errorf("PUT with expired URL: status %d, want 403: %s", code, b)
	}
	if got := download(t, d, key); string(got) != "x" {
		t.Errorf("after an expired PUT the object is %q, want %q", got, "x")
	}
}

func testWrongMethod(t *testing.T, d storage.Destination) {
	key := prefix + "method.bin"
	upload(t, d, key, []byte("original"))
	get := presignGet(t, d, key)
	if code, b, _ := do(t, http.MethodPut, get.URL, get.Header, []byte("evil")); code != http.StatusForbidden {
		t.Errorf("PUT with a GET URL: status %d, want 403: %s", code, b)
	}
	put := presignPut(t, d, key)
	if code, b, _ := do(t, http.MethodGet, put.URL, put.Header, nil); code != http.StatusForbidden {
		t.Errorf("GET with a PUT URL: status %d, want 403: %s", code, b)
	}
	if code, b, _ := do(t, http.MethodDelete, put.URL, put.Header, nil); code != http.StatusForbidden {
		t.Errorf("DELETE with a PUT URL: status %d, want 403: %s", code, b)
	}
	if got := download(t, d, key); string(got) != "original" {
		t.Errorf("object after refused requests = %q, want %q", got, "original")
	}
}

// otherKeyURL returns u with its path changed to name key instead of u's key.
func otherKeyURL(t *testing.T, u storage.PresignedURL, key string) string {
	t.Helper()
	p, err := url.Parse(u.URL)
	if err != nil {
		t.Fatalf("parse presigned url: %v", err)
	}
	old := strings.TrimPrefix(u.Key, "users/")
	nu := strings.TrimPrefix(key, "users/")
	if !strings.HasSuffix(p.Path, old) {
		t.Fatalf("presigned url path %q does not end with key %q", p.Path, u.Key)
	}
	p.Path = strings.TrimSuffix(p.Path, old) + nu
	p.RawPath = ""
	return p.String()
}

func testWrongKey(t *testing.T, d storage.Destination) {
	a, b := prefix+"a.bin", prefix+"b.bin"
	upload(t, d, b, []byte("b"))
	put := presignPut(t, d, a)
	if code, body, _ := do(t, http.MethodPut, otherKeyURL(t, put, b), put.Header, []byte("evil")); code != http.StatusForbidden {
		t.Errorf("PUT to key B with key A's URL: status %d, want 403: %s", code, body)
	}
	get := presignGet(t, d, a)
	if code, body, _ := do(t, http.MethodGet, otherKeyURL(t, get, b), get.Header, nil); code != http.StatusForbidden {
		t.Errorf("GET of key B with key A's URL: status %d, want 403: %s", code, body)
	}
	if got := download(t, d, b); string(got) != "b" {
		t.Errorf("key B after refused PUT = %q, want %q", got, "b")
	}
	if _, err := d.Stat(ctxOf(t), a); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Stat(A) after no PUT to A = %v, want ErrNotFound", err)
	}
}

func testTTLClamped(t *testing.T, d storage.Destination) {
	ctx := ctxOf(t)
	for name, f := range map[string]func(context.Context, string, time.Duration) (storage.PresignedURL, error){
		"PresignPut": d.PresignPut, "PresignGet": d.PresignGet,
	} {
		u, err := f(ctx, prefix+"ttl", 5*time.Hour)
		if err != nil {
			t.Fatalf("%s with 5h: %v", name, err)
		}
		if max := time.Now().Add(storage.MaxURLLifetime + time.Second); u.Expires.After(max) {
			t.Errorf("%s with 5h: expires %v, later than MaxURLLifetime from now", name, u.Expires)
		}
		if _, err := f(ctx, prefix+"ttl", 0); err == nil {
			t.Errorf("%s with ttl 0: no error", name)
		}
	}
	u, err := d.CreateMultipart(ctx, prefix+"ttl")
	if err != nil {
		t.Fatalf("CreateMultipart: %v", err)
	}
	defer d.AbortMultipart(ctx, prefix+"ttl", u)
	p, err := d.PresignPart(ctx, prefix+"ttl", u, 1, 5*time.Hour)
	if err != nil {
		t.Fatalf("PresignPart with 5h: %v", err)
	}
	if max := time.Now().Add(storage.MaxURLLifetime + time.Second); p.Expires.After(max) {
		t.Errorf("PresignPart with 5h: expires %v, later than MaxURLLifetime from now", p.Expires)
	}
}

func testInvalidKeys(t *testing.T, d storage.Destination) {
	ctx := ctxOf(t)
	for _, key := range []string{"", "../x", prefix + "../../../etc/passwd", "/etc/passwd", prefix + `a\..\b`, prefix + "a\x00b", prefix + "a//b", prefix} {
		if _, err := d.PresignPut(ctx, key, time.Minute); err == nil {
			t.Errorf("PresignPut(%q): no error", key)
		}
		if _, err := d.PresignGet(ctx, key, time.Minute); err == nil {
			t.Errorf("PresignGet(%q): no error", key)
		}
		if _, err := d.CreateMultipart(ctx, key); err == nil {
			t.Errorf("CreateMultipart(%q): no error", key)
		}
		if err := d.Put(ctx, key, strings.NewReader("x"), 1); err == nil {
			t.Errorf("Put(%q): no error", key)
		}
	}
	if _, err := d.List(ctx, "users/../"); err == nil {
		t.Errorf("List(%q): no error", "users/../")
	}
}

// testProductKeys stores, lists, measures and deletes the keys backapp itself makes,
// with ids shaped as the store makes them (UUIDs): every destination must take them,
// whatever else it refuses (the local one refuses keys that are no portable file name).
func testProductKeys(t *testing.T, d storage.Destination) {
	ctx := ctxOf(t)
	user, agent, config := uuid.NewString(), uuid.NewString(), uuid.NewString()
	at := time.Date(2026, 12, 31, 23, 59, 58, 0, time.UTC)
	var want []string
	for _, c := range []string{storage.CompressionGzip, storage.CompressionZstd, storage.CompressionNone} {
		for _, enc := range []bool{false, true} {
			key := storage.ArchiveKey(user, agent, config, at, c, enc)
			want = append(want, key, storage.ManifestKey(key))
		}
	}
	for i, key := range want {
		body := []byte(key)
		if i == 0 {
			// The engine uploads archives in parts.
			id, err := d.CreateMultipart(ctx, key)
			if err != nil {
				t.Fatalf("CreateMultipart(%q): %v", key, err)
			}
			if err := d.CompleteMultipart(ctx, key, id, []storage.Part{putPart(t, d, key, id, 1, body)}); err != nil {
				t.Fatalf("CompleteMultipart(%q): %v", key, err)
			}
		} else {
			upload(t, d, key, body)
		}
		if got := download(t, d, key); !bytes.Equal(got, body) {
			t.Errorf("GET %q = %q, want %q", key, got, body)
		}
	}
	slices.Sort(want)
	objs, err := d.List(ctx, storage.ConfigPrefix(user, agent, config)+"backup-2026-")
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if got := keys(objs); !slices.Equal(got, want) {
		t.Errorf("List(config prefix) = %q, want %q", got, want)
	}
	u, err := d.Usage(ctx, storage.UserPrefix(user))
	if err != nil || u.Objects != int64(len(want)) {
		t.Errorf("Usage(user prefix) = %+v, %v; want %d objects", u, err, len(want))
	}
	for _, key := range want {
		if err := d.Delete(ctx, key); err != nil {
			t.Errorf("Delete(%q): %v", key, err)
		}
	}
	if objs, err := d.List(ctx, storage.AgentPrefix(user, agent)); err != nil || len(objs) != 0 {
		t.Errorf("List(agent prefix) after deleting = %q, %v; want nothing", keys(objs), err)
	}
}

// putPart uploads one part through a pre-signed part URL with a plain PUT of the raw
// bytes and returns it with the ETag of the response.
func putPart(t *testing.T, d storage.Destination, key, uploadID string, n int, body []byte) storage.Part {
	t.Helper()
	u, err := d.PresignPart(ctxOf(t), key, uploadID, n, 10*time.Minute)
	if err != nil {
		t.Fatalf("PresignPart(%d): %v", n, err)
	}
	if u.Method != http.MethodPut {
		t.Fatalf("PresignPart method = %q, want PUT", u.Method)
	}
	code, b, h := do(t, http.MethodPut, u.URL, u.Header, body)
	if code != http.StatusOK {
		t.Fatalf("PUT part %d: status %d: %s", n, code, b)
	}
	etag := h.Get("ETag")
	if etag == "" {
		t.Fatalf("PUT part %d: response has no ETag", n)
	}
	return storage.Part{Number: n, ETag: etag, Size: int64(len(body))}
}

func testMultipart(t *testing.T, d storage.Destination) {
	ctx := ctxOf(t)
	key := prefix + "backup-2026-01-02-030405.tar.zst.age"
	id, err := d.CreateMultipart(ctx, key)
	if err != nil {
		t.Fatalf("CreateMultipart: %v", err)
	}
	chunks := [][]byte{randomBytes(t, 5<<20), randomBytes(t, 5<<20+17), randomBytes(t, 12345)}
	// Upload out of order, as parallel uploads finish; Complete gets them unsorted too.
	parts := []storage.Part{
		putPart(t, d, key, id, 3, chunks[2]),
		putPart(t, d, key, id, 1, chunks[0]),
		putPart(t, d, key, id, 2, chunks[1]),
	}
	uploads, err := d.ListUploads(ctx, prefix)
	if err != nil {
		t.Fatalf("ListUploads: %v", err)
	}
	if !slices.ContainsFunc(uploads, func(u storage.Upload) bool { return u.UploadID == id && u.Key == key }) {
		t.Errorf("ListUploads(%q) = %+v, want it to contain upload %s of %q", prefix, uploads, id, key)
	}
	if _, err := d.Stat(ctx, key); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Stat before CompleteMultipart = %v, want ErrNotFound (no half object)", err)
	}
	if err := d.CompleteMultipart(ctx, key, id, parts); err != nil {
		t.Fatalf("CompleteMultipart: %v", err)
	}
	want := bytes.Join(chunks, nil)
	if got := download(t, d, key); !bytes.Equal(got, want) {
		t.Fatalf("GET after CompleteMultipart: %d bytes, want the %d bytes of the parts in order", len(got), len(want))
	}
	obj, err := d.Stat(ctx, key)
	if err != nil || obj.Size != int64(len(want)) {
		t.Errorf("Stat after CompleteMultipart = %+v, %v; want size %d", obj, err, len(want))
	}
	uploads, err = d.ListUploads(ctx, prefix)
	if err != nil {
		t.Fatalf("ListUploads: %v", err)
	}
	if slices.ContainsFunc(uploads, func(u storage.Upload) bool { return u.UploadID == id }) {
		t.Errorf("ListUploads after CompleteMultipart still lists upload %s", id)
	}
}

func testMultipartWrongETag(t *testing.T, d storage.Destination) {
	ctx := ctxOf(t)
	key := prefix + "wrong-etag.bin"
	id, err := d.CreateMultipart(ctx, key)
	if err != nil {
		t.Fatalf("CreateMultipart: %v", err)
	}
	defer d.AbortMultipart(ctx, key, id)
	p := putPart(t, d, key, id, 1, []byte("only part"))
	p.ETag = `"00000000000000000000000000000000"`
	if err := d.CompleteMultipart(ctx, key, id, []storage.Part{p}); err == nil {
		t.Fatalf("CompleteMultipart with a wrong ETag: no error")
	}
	if _, err := d.Stat(ctx, key); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Stat after failed CompleteMultipart = %v, want ErrNotFound", err)
	}
	if err := d.CompleteMultipart(ctx, key, id, nil); err == nil {
		t.Errorf("CompleteMultipart with no parts: no error")
	}
}

func testAbort(t *testing.T, d storage.Destination) {
	ctx := ctxOf(t)
	key := prefix + "aborted.bin"
	id, err := d.CreateMultipart(ctx, key)
	if err != nil {
		t.Fatalf("CreateMultipart: %v", err)
	}
	part := putPart(t, d, key, id, 1, []byte("part one"))
	late, err := d.PresignPart(ctx, key, id, 2, 10*time.Minute)
	if err != nil {
		t.Fatalf("PresignPart: %v", err)
	}
	if err := d.AbortMultipart(ctx, key, id); err != nil {
		t.Fatalf("AbortMultipart: %v", err)
	}
	uploads, err := d.ListUploads(ctx, "")
	if err != nil {
		t.Fatalf("ListUploads: %v", err)
	}
	if slices.ContainsFunc(uploads, func(u storage.Upload) bool { return u.UploadID == id }) {
		t.Errorf("ListUploads after AbortMultipart still lists upload %s", id)
	}
	if code, b, _ := do(t, http.MethodPut, late.URL, late.Header, []byte("late part")); code < 400 {
		t.Errorf("PUT part to an aborted upload: status %d, want an error: %s", code, b)
	}
	if err := d.CompleteMultipart(ctx, key, id, []storage.Part{part}); err == nil {
		t.Errorf("CompleteMultipart of an aborted upload: no error")
	}
	if _, err := d.Stat(ctx, key); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Stat after abort = %v, want ErrNotFound", err)
	}
}

func testListUploads(t *testing.T, d storage.Destination) {
	ctx := ctxOf(t)
	mine, other := prefix+"mine.bin", "users/u2/agents/a2/other.bin"
	idMine, err := d.CreateMultipart(ctx, mine)
	if err != nil {
		t.Fatalf("CreateMultipart: %v", err)
	}
	defer d.AbortMultipart(ctx, mine, idMine)
	idOther, err := d.CreateMultipart(ctx, other)
	if err != nil {
		t.Fatalf("CreateMultipart: %v", err)
	}
	defer d.AbortMultipart(ctx, other, idOther)

	got, err := d.ListUploads(ctx, "users/u1/")
	if err != nil {
		t.Fatalf("ListUploads: %v", err)
	}
	if len(got) != 1 || got[0].Key != mine || got[0].UploadID != idMine {
		t.Errorf("ListUploads(%q) = %+v, want only upload %s of %q", "users/u1/", got, idMine, mine)
	}
	if len(got) == 1 && (got[0].Initiated.IsZero() || time.Since(got[0].Initiated) > time.Hour) {
		t.Errorf("ListUploads: Initiated = %v, want about now", got[0].Initiated)
	}
	all, err := d.ListUploads(ctx, "")
	if err != nil {
		t.Fatalf("ListUploads: %v", err)
	}
	if len(all) != 2 {
		t.Errorf("ListUploads(\"\") = %+v, want 2 uploads", all)
	}
}

func testPutGetStat(t *testing.T, d storage.Destination) {
	ctx := ctxOf(t)
	key := prefix + "manifest.json"
	want := randomBytes(t, 70_000)
	// A reader that is no io.Seeker, as a stream from an encoder is.
	if err := d.Put(ctx, key, io.MultiReader(bytes.NewReader(want)), int64(len(want))); err != nil {
		t.Fatalf("Put: %v", err)
	}
	r, err := d.Get(ctx, key)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("Get after Put: %d bytes, %v; want the %d bytes put", len(got), err, len(want))
	}
	obj, err := d.Stat(ctx, key)
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}
	if obj.Key != key || obj.Size != int64(len(want)) || time.Since(obj.Modified) > time.Hour {
		t.Errorf("Stat = %+v, want key %q size %d modified about now", obj, key, len(want))
	}
	// Unknown size.
	if err := d.Put(ctx, key, strings.NewReader("small"), -1); err != nil {
		t.Fatalf("Put with size -1: %v", err)
	}
	if got := download(t, d, key); string(got) != "small" {
		t.Errorf("after Put with size -1: %q, want %q", got, "small")
	}
	if _, err := d.Get(ctx, prefix+"missing"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Get(missing) = %v, want ErrNotFound", err)
	}
	if _, err := d.Stat(ctx, prefix+"missing"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Stat(missing) = %v, want ErrNotFound", err)
	}
	u := presignGet(t, d, prefix+"missing")
	if code, _, _ := do(t, http.MethodGet, u.URL, u.Header, nil); code != http.StatusNotFound {
		t.Errorf("GET of a missing key: status %d, want 404", code)
	}
}

func putAll(t *testing.T, d storage.Destination, objs map[string]string) {
	t.Helper()
	for k, v := range objs {
		if err := d.Put(ctxOf(t), k, strings.NewReader(v), int64(len(v))); err != nil {
			t.Fatalf("Put(%q): %v", k, err)
		}
	}
}

func keys(objs []storage.Object) []string {
	var ks []string
	for _, o := range objs {
		ks = append(ks, o.Key)
	}
	return ks
}

func testList(t *testing.T, d storage.Destination) {
	putAll(t, d, map[string]string{
		"users/u1/a/1": "1", "users/u1/a/2/deep/x": "22", "users/u1/a-b": "3", "users/u1/ab/4": "4", "users/u2/5": "5",
	})
	tests := []struct {
		prefix string
		want   []string
	}{
		{"users/u1/a/", []string{"users/u1/a/1", "users/u1/a/2/deep/x"}},
		{"users/u1/a", []string{"users/u1/a-b", "users/u1/a/1", "users/u1/a/2/deep/x", "users/u1/ab/4"}},
		{"users/u1/a/2/d", []string{"users/u1/a/2/deep/x"}},
		{"users/u1/", []string{"users/u1/a-b", "users/u1/a/1", "users/u1/a/2/deep/x", "users/u1/ab/4"}},
		{"", []string{"users/u1/a-b", "users/u1/a/1", "users/u1/a/2/deep/x", "users/u1/ab/4", "users/u2/5"}},
		{"users/u3/", nil},
		{"users/u1/a/1/", nil},
	}
	for _, tt := range tests {
		objs, err := d.List(ctxOf(t), tt.prefix)
		if err != nil {
			t.Fatalf("List(%q): %v", tt.prefix, err)
		}
		if got := keys(objs); !slices.Equal(got, tt.want) {
			t.Errorf("List(%q) = %q, want %q", tt.prefix, got, tt.want)
		}
	}
	objs, err := d.List(ctxOf(t), "users/u1/a/2/")
	if err != nil || len(objs) != 1 || objs[0].Size != 2 || objs[0].Modified.IsZero() {
		t.Errorf("List(%q) = %+v, %v; want one object of 2 bytes with a time", "users/u1/a/2/", objs, err)
	}
}

func testDelete(t *testing.T, d storage.Destination) {
	ctx := ctxOf(t)
	putAll(t, d, map[string]string{prefix + "x/gone": "1", prefix + "x/kept": "2"})
	if err := d.Delete(ctx, prefix+"x/gone"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := d.Stat(ctx, prefix+"x/gone"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Stat after Delete = %v, want ErrNotFound", err)
	}
	if _, err := d.Stat(ctx, prefix+"x/kept"); err != nil {
		t.Errorf("Stat of the other key after Delete: %v", err)
	}
	if err := d.Delete(ctx, prefix+"x/gone"); err != nil {
		t.Errorf("Delete of a missing key = %v, want nil", err)
	}
	objs, err := d.List(ctx, "")
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if got, want := keys(objs), []string{prefix + "x/kept"}; !slices.Equal(got, want) {
		t.Errorf("List after Delete = %q, want %q", got, want)
	}
}

func testUsage(t *testing.T, d storage.Destination) {
	ctx := ctxOf(t)
	putAll(t, d, map[string]string{"users/u1/a": "12345", "users/u1/b/c": "123", "users/u2/d": "1234567"})
	tests := []struct {
		prefix string
		want   storage.Usage
	}{
		{"users/u1/", storage.Usage{Objects: 2, Bytes: 8}},
		{"users/u2/", storage.Usage{Objects: 1, Bytes: 7}},
		{"", storage.Usage{Objects: 3, Bytes: 15}},
		{"users/none/", storage.Usage{}},
	}
	for _, tt := range tests {
		got, err := d.Usage(ctx, tt.prefix)
		if err != nil {
			t.Fatalf("Usage(%q): %v", tt.prefix, err)
		}
		if got != tt.want {
			t.Errorf("Usage(%q) = %+v, want %+v", tt.prefix, got, tt.want)
		}
	}
}

func testTest(t *testing.T, d storage.Destination) {
	if err := d.Test(ctxOf(t)); err != nil {
		t.Fatalf("Test: %v", err)
	}
	objs, err := d.List(ctxOf(t), "")
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(objs) != 0 {
		t.Errorf("Test left objects behind: %q", keys(objs))
	}
	if k := d.Kind(); k != "s3" && k != "local" {
		t.Errorf("Kind() = %q, want s3 or local", k)
	}
}
