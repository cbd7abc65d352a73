package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/backapp/backapp/internal/storage"
	"github.com/backapp/backapp/internal/storage/s3test"
	"github.com/backapp/backapp/internal/store/pgtest"
	"github.com/backapp/backapp/internal/testenv"
	"github.com/backapp/backapp/internal/testenv/testbin"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testbin.Cleanup()
	os.Exit(code)
}

// build compiles the server and the agent (once per test binary) and returns their paths.
func build(t *testing.T) (server, agentBin string) {
	t.Helper()
	return testbin.Build(t, testbin.Module+"/cmd/backapp"), testbin.Build(t, testbin.Module+"/cmd/backapp-agent")
}

// proc is a started process whose output is kept for failure messages.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start runs bin; when the test fails, the process's output is logged.
func start(t *testing.T, name string, env []string, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, cmd: exec.Command(bin, args...), out: &syncBuffer{}, done: make(chan struct{})}
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("--- output of %s ---\n%s", name, p.out.String())
		}
	})
	return p
}

// stop sends SIGTERM and waits (SIGKILL after 30 s).
func (p *proc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

func (p *proc) kill() {
	p.cmd.Process.Kill()
	<-p.done
}

// cleanEnv is the environment without BACKAPP_* settings that would change the server
// (and with the coverage directory when the run counts the programs' coverage).
func cleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "BACKAPP_") && !strings.HasPrefix(kv, "DATABASE_URL=") {
			env = append(env, kv)
		}
	}
	return append(append(env, extra...), testbin.CoverEnv()...)
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// web is a signed-in user of the JSON API.
type web struct {
	t    *testing.T
	base string
	c    *http.Client
	csrf string
}

// do sends in as JSON, fails the test on an error status and decodes the answer into out.
func (w *web) do(method, path string, in, out any) int {
	w.t.Helper()
	status, b := w.try(method, path, in)
	if status >= 300 {
		w.t.Fatalf("%s %s: status %d: %s", method, path, status, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			w.t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
	return status
}

// try sends in as JSON and returns the status and body, whatever the status.
func (w *web) try(method, path string, in any) (int, []byte) {
	w.t.Helper()
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, w.base+path, body)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if w.csrf != "" {
		req.Header.Set("X-CSRF-Token", w.csrf)
	}
	resp, err := w.c.Do(req)
	if err != nil {
		w.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// readTree reads every regular file under dir, by path relative to dir.
func readTree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		out[rel] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// writeTree writes files (path relative to dir → content), creating directories.
func writeTree(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, content, 0o640); err != nil {
			t.Fatal(err)
		}
	}
}

// sameTree reports how got differs from want, file by file ("" when identical).
func sameTree(got, want map[string][]byte) string {
	var diffs []string
	for name, w := range want {
		g, ok := got[name]
		switch {
		case !ok:
			diffs = append(diffs, fmt.Sprintf("%s: missing", name))
		case !bytes.Equal(g, w):
			diffs = append(diffs, fmt.Sprintf("%s: differs (%d bytes, want %d)", name, len(g), len(w)))
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s: not in the source", name))
		}
	}
	sort.Strings(diffs)
	return strings.Join(diffs, "; ")
}

// backupLog is a run as GET /api/backups/{id} and /api/backups/logs show it.
type backupLog struct {
	ID               string     `json:"id"`
	UserID           string     `json:"userId"`
	ConfigID         string     `json:"configId"`
	Status           string     `json:"status"`
	StartTime        time.Time  `json:"startTime"`
	DueAt            *time.Time `json:"dueAt"`
	Late             bool       `json:"late"`
	Full             bool       `json:"full"`
	PreviousRunID    string     `json:"previousRunId"`
	ObjectKey        string     `json:"objectKey"`
	ManifestKey      string     `json:"manifestKey"`
	ArchiveSize      int64      `json:"archiveSize"`
	CatalogSize      int64      `json:"catalogSize"`
	BytesTransferred int64      `json:"bytesTransferred"`
	ExpiredAt        *time.Time `json:"expiredAt"`
	Error            any        `json:"errors"`
}

func (r backupLog) String() string {
	kind := "full"
	if !r.Full {
		kind = "incremental on " + r.PreviousRunID
	}
	return fmt.Sprintf("%s %s (%s, started %s, %d bytes)", r.ID, r.Status, kind, r.StartTime.Format(time.TimeOnly), r.ArchiveSize)
}

// app is a running `backapp serve` on a fresh PostgreSQL database, with a signed-in
// administrator.
type app struct {
	t         *testing.T
	base      string
	data      string
	env       []string // the server's environment
	serverBin string
	agentBin  string
	p         *proc
	w         *web
}

// startApp builds the binaries, starts `backapp serve` with extra arguments, waits
// until it is ready and signs an administrator in.
func startApp(t *testing.T, args ...string) *app {
	t.Helper()
	return startAppOn(t, pgtest.New(t), args...)
}

// startAppOn is startApp on the PostgreSQL database dbURL.
func startAppOn(t *testing.T, dbURL string, args ...string) *app {
	t.Helper()
	a := &app{t: t, data: t.TempDir()}
	a.serverBin, a.agentBin = build(t)
	addr := freePort(t)
	a.base = "http://" + addr
	a.env = cleanEnv("DATABASE_URL=" + dbURL)
	a.p = start(t, "server", a.env, a.serverBin, append([]string{"serve", "--listen", addr, "--data-dir", a.data}, args...)...)
	testenv.EventuallyWithin(t, 60*time.Second, "the server", func() bool {
		resp, err := http.Get(a.base + "/readyz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == 200
	})

	const email, password = "admin@example.com", "correct horse battery staple"
	adm := exec.Command(a.serverBin, "admin", "create-user", "--email", email, "--name", "Admin", "--password-stdin", "--data-dir", a.data)
	adm.Env, adm.Stdin = a.env, strings.NewReader(password+"\n")
	if b, err := adm.CombinedOutput(); err != nil {
		t.Fatalf("create admin: %v\n%s", err, b)
	}
	jar, _ := cookiejar.New(nil)
	a.w = &web{t: t, base: a.base, c: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
	var session struct {
		CSRF string `json:"csrfToken"`
	}
	a.w.do("POST", "/api/auth/login", map[string]string{"email": email, "password": password}, &session)
	a.w.csrf = session.CSRF
	return a
}

// s3Destination creates a destination on a fresh bucket of the S3 test server and
// returns its id and direct access to the bucket.
func (a *app) s3Destination(name string) (string, *storage.S3) {
	a.t.Helper()
	return a.s3DestinationVia(name, nil)
}

// s3DestinationVia is s3Destination with the destination's endpoint changed by via
// (a fault proxy's URL in front of the S3 server, say); nil leaves it.
func (a *app) s3DestinationVia(name string, via func(endpoint string) string) (string, *storage.S3) {
	a.t.Helper()
	cfg := s3test.NewConfig(a.t)
	direct := cfg
	if via != nil {
		cfg.Endpoint = via(cfg.Endpoint)
	}
	var dest struct {
		ID string `json:"id"`
	}
	a.w.do("POST", "/api/destinations", map[string]any{"name": name, "kind": "s3", "endpoint": cfg.Endpoint,
		"region": cfg.Region, "bucket": cfg.Bucket, "pathStyle": true,
		"accessKeyId": cfg.AccessKey, "secretAccessKey": cfg.SecretKey}, &dest)
	s3, err := storage.NewS3(direct)
	if err != nil {
		a.t.Fatal(err)
	}
	return dest.ID, s3
}

// agentProc is an enrolled `backapp-agent run` daemon.
type agentProc struct {
	id, key, dir string
	p            *proc
}

// enroll creates an agent through the API, enrolls a `backapp-agent` with its key
// and starts the daemon.
func (a *app) enroll(name string) *agentProc {
	a.t.Helper()
	var created struct {
		ID     string `json:"id"`
		APIKey string `json:"apiKey"`
	}
	a.w.do("POST", "/api/agents", map[string]string{"name": name}, &created)
	e := &agentProc{id: created.ID, key: created.APIKey, dir: a.t.TempDir()}
	cmd := exec.Command(a.agentBin, "enroll", "--config-dir", e.dir, "--server", a.base, "--key", e.key)
	cmd.Env = cleanEnv()
	if b, err := cmd.CombinedOutput(); err != nil {
		a.t.Fatalf("enroll %s: %v\n%s", name, err, b)
	}
	e.p = start(a.t, name, cleanEnv(), a.agentBin, "run", "--config-dir", e.dir)
	return e
}

// restore restores the whole of run with agentID into a new directory, waits for it
// and returns the directory.
func (a *app) restore(runID, agentID string, timeout time.Duration) string {
	a.t.Helper()
	dst := a.t.TempDir()
	var rs struct {
		ID     string `json:"id"`
		Status string `json:"status"`
		Error  string `json:"error"`
	}
	a.w.do("POST", "/api/restores", map[string]any{"runId": runID, "agentId": agentID, "targetDir": dst}, &rs)
	testenv.EventuallyWithin(a.t, timeout, "the restore of run "+runID, func() bool {
		a.w.do("GET", "/api/restores/"+rs.ID, nil, &rs)
		if rs.Status == "failed" || rs.Status == "cancelled" {
			a.t.Fatalf("restore %s of run %s: %s: %s", rs.ID, runID, rs.Status, rs.Error)
		}
		return rs.Status == "completed"
	})
	return dst
}
