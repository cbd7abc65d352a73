package agentapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/klauspost/compress/zstd"

	"github.com/backapp/backapp/internal/agentapi"
	"github.com/backapp/backapp/internal/agentkey"
	"github.com/backapp/backapp/internal/agentproto"
	"github.com/backapp/backapp/internal/engine"
	"github.com/backapp/backapp/internal/engine/manifest"
	"github.com/backapp/backapp/internal/engine/seal"
	"github.com/backapp/backapp/internal/engine/upload"
	"github.com/backapp/backapp/internal/secrets"
	"github.com/backapp/backapp/internal/storage"
	"github.com/backapp/backapp/internal/storage/s3test"
	"github.com/backapp/backapp/internal/store"
	"github.com/backapp/backapp/internal/store/pgtest"
	"github.com/backapp/backapp/internal/store/postgres"
	"github.com/backapp/backapp/internal/store/sqlite"
	"github.com/backapp/backapp/internal/testenv/treetest"
)

// clock is the injected clock of a test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// resolver maps destination ids to destinations ("" is the local one).
type resolver map[string]storage.Destination

func (r resolver) Resolve(ctx context.Context, userID, id string) (storage.Destination, error) {
	d, ok := r[id]
	if !ok {
		return nil, fmt.Errorf("destination %q: %w", id, store.ErrNotFound)
	}
	return d, nil
}

// env is a server with the agent API, a local destination mounted beside it and,
// when the S3 test server is there, an S3 destination with id "s3".
type env struct {
	t     testing.TB
	st    store.Store
	api   *agentapi.API
	srv   *httptest.Server
	clock *clock
	local *storage.Local
	dests resolver
	keys  *secrets.Keys
}

type backend struct {
	name string
	open func(t *testing.T) store.Store
	dest string // destination id of the configs: "" local, "s3"
}

func openSQLite(t *testing.T) store.Store {
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "backapp.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func openPostgres(t testing.TB) store.Store {
	s, err := postgres.Open(context.Background(), pgtest.New(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// backends: SQLite with the local destination, PostgreSQL with S3.
var backends = []backend{
	{"SQLite+local", openSQLite, ""},
	{"PostgreSQL+S3", func(t *testing.T) store.Store { return openPostgres(t) }, "s3"},
}

func forBackends(t *testing.T, fn func(t *testing.T, e *env, dest string)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, b.open(t), b.dest == "s3")
			fn(t, e, b.dest)
		})
	}
}

// newEnv serves an agent API on st; tweak changes its configuration, which has its
// Store, Destinations and Keys set, before the API is made.
func newEnv(t testing.TB, st store.Store, withS3 bool, tweak ...func(*agentapi.Config)) *env {
	t.Helper()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	local, err := storage.NewLocal(t.TempDir(), []byte("0123456789abcdef0123456789abcdef"), srv.URL+"/storage/local/")
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("/storage/local/", local)
	dests := resolver{"": local}
	if withS3 {
		dests["s3"] = s3test.New(t)
	}
	keys, err := secrets.Load(t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Now().UTC().Truncate(time.Second)}
	cfg := agentapi.Config{Store: st, Destinations: dests, Keys: keys, Now: c.Now,
		PollEvery: 50 * time.Millisecond, AuthFailures: 5}
	for _, f := range tweak {
		f(&cfg)
	}
	api, err := agentapi.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("/api/agent/", api)
	return &env{t: t, st: st, api: api, srv: srv, clock: c, local: local, dests: dests, keys: keys}
}

func (e *env) user(email string) store.User {
	e.t.Helper()
	u := store.User{Email: email, Name: email, PasswordHash: "x", CreatedAt: e.clock.Now(), UpdatedAt: e.clock.Now()}
	if err := e.st.CreateUser(context.Background(), &u, false); err != nil {
		e.t.Fatal(err)
	}
	return u
}

// agent is a client holding an agent's key.
type agent struct {
	e   *env
	key string
	store.Agent
}

func (e *env) agent(u store.User, name string) *agent {
	e.t.Helper()
	key, hash, prefix := agentkey.Generate()
	a := store.Agent{UserID: u.ID, Name: name, KeyHash: hash, KeyPrefix: prefix, CreatedAt: e.clock.Now(), UpdatedAt: e.clock.Now()}
	if err := e.st.CreateAgent(context.Background(), &a); err != nil {
		e.t.Fatal(err)
	}
	return &agent{e: e, key: key, Agent: a}
}

func (e *env) config(a *agent, dest, options string) store.BackupConfig {
	e.t.Helper()
	src, _ := json.Marshal([]agentproto.Source{{Path: "/data", ExcludePatterns: []string{"*.tmp"}}})
	c := store.BackupConfig{UserID: a.UserID, Name: "home of " + a.Name, Enabled: true, ExecutionMode: "agent", AgentID: a.ID,
		Sources: src, Destination: json.RawMessage(fmt.Sprintf(`{"destinationId":%q}`, dest)), Options: json.RawMessage(options),
		CreatedAt: e.clock.Now(), UpdatedAt: e.clock.Now()}
	if err := e.st.CreateConfig(context.Background(), &c); err != nil {
		e.t.Fatal(err)
	}
	return c
}

// call sends a request and decodes a 2xx JSON answer into out; it returns the status
// and, for errors, the error code and message.
func (a *agent) call(method, path string, in, out any) (int, string) {
	a.e.t.Helper()
	return a.e.do(a.key, "1", method, path, in, out)
}

func (e *env) do(key, proto, method, path string, in, out any) (int, string) {
	e.t.Helper()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			e.t.Fatal(err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if proto != "" {
		req.Header.Set(agentproto.HeaderProtocol, proto)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		var eb agentproto.ErrorBody
		if err := json.Unmarshal(b, &eb); err != nil {
			e.t.Errorf("%s %s: status %d with a body that is not the API's error shape: %q", method, path, resp.StatusCode, b)
		}
		return resp.StatusCode, eb.Error.Code + ": " + eb.Error.Message
	}
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			e.t.Fatalf("%s %s: decode %q: %v", method, path, b, err)
		}
	}
	return resp.StatusCode, ""
}

func wantStatus(t *testing.T, what string, got int, msg string, want int) {
	t.Helper()
	if got != want {
		t.Errorf("%s: status %d (%s), want %d", what, got, msg, want)
	}
}

func mustOK(t *testing.T, what string, got int, msg string) {
	t.Helper()
	if got != http.StatusOK && got != http.StatusNoContent {
		t.Fatalf("%s: status %d: %s", what, got, msg)
	}
}

func (e *env) run(id string) store.Run {
	e.t.Helper()
	r, err := e.st.GetRun(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

// completedRun records a completed run of cfg by a, now: the backup a restore reads.
func (e *env) completedRun(cfg store.BackupConfig, a *agent, encrypted bool) store.Run {
	e.t.Helper()
	r := store.Run{ConfigID: cfg.ID, UserID: cfg.UserID, AgentID: a.ID, StartTime: e.clock.Now(),
		Status: agentproto.StatusCompleted, Encrypted: encrypted}
	if err := e.st.CreateRun(context.Background(), &r); err != nil {
		e.t.Fatal(err)
	}
	return r
}

// session is an upload.Session over the agent API, as the agent implements it.
type session struct {
	a      *agent
	runID  string
	object string
	mu     sync.Mutex
	cache  map[int]agentproto.PartURL
	result *agentproto.UploadedObject
	abort  bool
}

func newSession(a *agent, start agentproto.BackupStartResponse, object string) *session {
	s := &session{a: a, runID: start.RunID, object: object, cache: map[int]agentproto.PartURL{}}
	for _, p := range start.Parts {
		if p.Object == object {
			s.cache[p.PartNumber] = p
		}
	}
	return s
}

func (s *session) PartURL(ctx context.Context, n int, refresh bool) (upload.URL, error) {
	s.mu.Lock()
	p, ok := s.cache[n]
	s.mu.Unlock()
	if !ok || refresh {
		var out agentproto.PartsResponse
		code, msg := s.a.call("POST", agentproto.PathBackupParts, agentproto.PartsRequest{RunID: s.runID, Object: s.object, PartNumbers: []int{n}}, &out)
		if code != 200 || len(out.Parts) != 1 {
			return upload.URL{}, fmt.Errorf("parts: %d %s", code, msg)
		}
		p = out.Parts[0]
	}
	h := http.Header{}
	for k, v := range p.Header {
		h.Set(k, v)
	}
	return upload.URL{URL: p.URL, Method: p.Method, Header: h, Expires: p.ExpiresAt}, nil
}

func (s *session) Complete(ctx context.Context, parts []upload.Part, sha string, size int64) error {
	o := &agentproto.UploadedObject{SHA256: sha, Size: size}
	for _, p := range parts {
		o.Parts = append(o.Parts, agentproto.CompletedPart{PartNumber: p.Number, ETag: p.ETag, Size: p.Size})
	}
	s.mu.Lock()
	s.result = o
	s.mu.Unlock()
	return nil
}

func (s *session) Abort(ctx context.Context) error { s.abort = true; return nil }

func equalTrees(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d files, want %d: %v", what, len(got), len(want), keys(got))
	}
	for p, w := range want {
		if g, ok := got[p]; !ok || g != w {
			t.Errorf("%s: %s = %q (present %v), want %q", what, p, g, ok, w)
		}
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// backup runs the real engine over the API for one config and completes the run, as
// an agent before deltas did: whole manifests, an archive and a catalog every run.
func (a *agent) backup(t *testing.T, configID, runID, source string) (agentproto.BackupStartResponse, agentproto.BackupCompleteResponse) {
	t.Helper()
	start, done, _ := a.backupWith(t, configID, runID, source, backupMode{})
	return start, done
}

// backupMode says how backupWith behaves: as today's agent (deltas, when the server
// offers them) or as one before deltas; recipients encrypt.
type backupMode struct {
	deltas     bool
	recipients []age.Recipient
}

func (a *agent) backupWith(t *testing.T, configID, runID, source string, mode backupMode) (agentproto.BackupStartResponse, agentproto.BackupCompleteResponse, engine.Result) {
	t.Helper()
	var start agentproto.BackupStartResponse
	code, msg := a.call("POST", agentproto.PathBackupStart, agentproto.BackupStartRequest{ConfigID: configID, RunID: runID}, &start)
	mustOK(t, "backup/start", code, msg)
	var prev *engineManifest
	delta := mode.deltas && start.Deltas
	switch {
	case !start.Full && (delta || len(mode.recipients) > 0):
		prev = a.catalogTree(t, start.Previous.RunID) // the server's view of the tree
		defer prev.close()
	case !start.Full:
		prev = a.previousManifest(t, start.Previous.RunID)
		defer prev.close()
	}
	as, ms := newSession(a, start, agentproto.ObjectArchive), newSession(a, start, agentproto.ObjectManifest)
	var catalog bytes.Buffer
	// The config's patterns apply, as the agent applies them.
	o := engine.BackupOptions{Name: start.ArchiveKey, Sources: []string{source}, Archive: as, Manifest: ms, Catalog: &catalog,
		Exclude: start.Config.Sources[0].ExcludePatterns, Delta: delta, Seal: seal.Options{Recipients: mode.recipients}}
	if prev != nil {
		o.Previous = prev.r
	}
	res, err := engine.Backup(context.Background(), o)
	if err != nil {
		t.Fatalf("engine.Backup: %v", err)
	}
	if !delta || len(mode.recipients) > 0 {
		code, msg = a.e.putCatalog(a.key, start.RunID, catalog.Bytes())
		mustOK(t, "PUT catalog", code, msg)
	}
	archive := as.result
	if res.NoArchive {
		archive = nil
	}
	req := agentproto.BackupCompleteRequest{RunID: start.RunID, Status: agentproto.StatusCompleted, Archive: archive, Manifest: ms.result,
		Progress: agentproto.Progress{RunID: start.RunID, FilesScanned: res.Progress.FilesScanned, FilesDone: res.Progress.FilesStored,
			BytesScanned: res.Progress.BytesScanned, BytesUploaded: res.Progress.BytesUploaded}}
	var done agentproto.BackupCompleteResponse
	code, msg = a.call("POST", agentproto.PathBackupComplete, req, &done)
	mustOK(t, "backup/complete", code, msg)
	return start, done, res
}

// catalogTree reads a run's tree back from the server (GET backup/catalog), as an
// agent that lost its local state does.
func (a *agent) catalogTree(t *testing.T, runID string) *engineManifest {
	t.Helper()
	req, _ := http.NewRequest("GET", a.e.srv.URL+agentproto.PathBackupCatalog+"?runId="+runID, nil)
	req.Header.Set("Authorization", "Bearer "+a.key)
	req.Header.Set(agentproto.HeaderProtocol, "1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET catalog of %s: %s %s", runID, resp.Status, body)
	}
	zr, err := zstd.NewReader(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	r, err := manifest.NewReader(zr)
	if err != nil {
		t.Fatalf("catalog of %s: %v", runID, err)
	}
	return &engineManifest{r: r, closer: closerFunc(func() error { zr.Close(); return nil })}
}

type closerFunc func() error

func (f closerFunc) Close() error { return f() }

func (e *env) putCatalog(key, runID string, body []byte) (int, string) {
	req, _ := http.NewRequest("PUT", e.srv.URL+agentproto.PathBackupCatalog+"?runId="+runID, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set(agentproto.HeaderProtocol, "1")
	req.Header.Set("Content-Type", "application/zstd")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// restore restores a run through /api/agent/download into a new directory.
func (a *agent) restore(t *testing.T, runID string, ids ...age.Identity) (string, int, string) {
	t.Helper()
	var dl agentproto.DownloadResponse
	code, msg := a.call("GET", agentproto.PathDownload+"?runId="+runID, nil, &dl)
	if code != 200 {
		return "", code, msg
	}
	var chain []engine.ArchiveRef
	for _, c := range dl.Chain {
		c := c
		chain = append(chain, engine.ArchiveRef{
			Archive: func(context.Context, bool) (upload.URL, error) {
				return upload.URL{URL: c.ArchiveURL, Method: "GET"}, nil
			},
			Manifest: func(context.Context, bool) (upload.URL, error) {
				return upload.URL{URL: c.ManifestURL, Method: "GET"}, nil
			},
			SHA256: c.ArchiveSHA256, Size: c.ArchiveSize, ManifestSHA256: c.ManifestSHA256,
		})
	}
	target := t.TempDir()
	if _, err := engine.Restore(context.Background(), engine.RestoreOptions{Target: target, Chain: chain, Identities: ids}); err != nil {
		t.Fatalf("engine.Restore: %v", err)
	}
	return target, code, ""
}

func sub(t *testing.T, restored, source string) map[string]string {
	t.Helper()
	return treetest.Read(t, filepath.Join(restored, strings.TrimPrefix(source, "/")))
}

type engineManifest struct {
	r      *manifest.Reader
	closer io.Closer
}

func (m *engineManifest) close() { m.closer.Close() }

// previousManifest opens a run's stored manifest through /api/agent/download, as an
// agent without local state would.
func (a *agent) previousManifest(t *testing.T, runID string) *engineManifest {
	t.Helper()
	var dl agentproto.DownloadResponse
	code, msg := a.call("GET", agentproto.PathDownload+"?runId="+runID, nil, &dl)
	mustOK(t, "download previous", code, msg)
	last := dl.Chain[len(dl.Chain)-1]
	r, c, err := engine.OpenManifest(context.Background(), "previous",
		func(context.Context, bool) (upload.URL, error) {
			return upload.URL{URL: last.ManifestURL, Method: "GET"}, nil
		},
		last.ManifestSHA256, nil, upload.Options{})
	if err != nil {
		t.Fatalf("open previous manifest: %v", err)
	}
	return &engineManifest{r: r, closer: c}
}
