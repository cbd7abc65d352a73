package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/backapp/backapp/internal/agent"
	"github.com/backapp/backapp/internal/agentproto"
	"github.com/backapp/backapp/internal/storage"
	"github.com/backapp/backapp/internal/storage/s3test"
	"github.com/backapp/backapp/internal/store/pgtest"
)

// build compiles the server and the agent into dir.
func build(t *testing.T, dir string) (server, agentBin string) {
	t.Helper()
	server, agentBin = filepath.Join(dir, "backapp"), filepath.Join(dir, "backapp-agent")
	for out, pkg := range map[string]string{server: "../cmd/backapp", agentBin: "../cmd/backapp-agent"} {
		cmd := exec.Command("go", "build", "-o", out, pkg)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", pkg, err, b)
		}
	}
	return server, agentBin
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

// cleanEnv is the environment without BACKAPP_* settings that would change the server.
func cleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "BACKAPP_") && !strings.HasPrefix(kv, "DATABASE_URL=") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
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

func (w *web) do(method, path string, in, out any) int {
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
	if resp.StatusCode >= 300 {
		w.t.Fatalf("%s %s: status %d: %s", method, path, resp.StatusCode, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			w.t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
	return resp.StatusCode
}

func waitUntil(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

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

type backupLog struct {
	ID               string `json:"id"`
	Status           string `json:"status"`
	ObjectKey        string `json:"objectKey"`
	BytesTransferred int64  `json:"bytesTransferred"`
	Error            any    `json:"errors"`
}

// TestAgentsEndToEnd: a server on PostgreSQL with an S3 destination and two enrolled
// agent daemons. Agent A backs a tree up on demand, the archive lands at the seed's key,
// agent B can obtain no URL for A's objects, and a restore of A's run on B reproduces
// the tree byte for byte.
func TestAgentsEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	dbURL := pgtest.New(t)
	s3cfg := s3test.NewConfig(t)
	bin := t.TempDir()
	serverBin, agentBin := build(t, bin)

	addr := freePort(t)
	base := "http://" + addr
	data := t.TempDir()
	srvEnv := cleanEnv("DATABASE_URL=" + dbURL)
	start(t, "server", srvEnv, serverBin, "serve", "--listen", addr, "--data-dir", data, "--run-stale-after", "15s")
	waitUntil(t, "the server", 60*time.Second, func() bool {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == 200
	})

	const email, password = "admin@example.com", "correct horse battery staple"
	adm := exec.Command(serverBin, "admin", "create-user", "--email", email, "--name", "Admin", "--password-stdin", "--data-dir", data)
	adm.Env, adm.Stdin = srvEnv, strings.NewReader(password+"\n")
	if b, err := adm.CombinedOutput(); err != nil {
		t.Fatalf("create admin: %v\n%s", err, b)
	}
	jar, _ := cookiejar.New(nil)
	w := &web{t: t, base: base, c: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
	var session struct {
		ID   string `json:"id"`
		CSRF string `json:"csrfToken"`
	}
	w.do("POST", "/api/auth/login", map[string]string{"email": email, "password": password}, &session)
	w.csrf = session.CSRF

	var dest struct {
		ID string `json:"id"`
	}
	w.do("POST", "/api/destinations", map[string]any{"name": "test s3", "kind": "s3", "endpoint": s3cfg.Endpoint,
		"region": s3cfg.Region, "bucket": s3cfg.Bucket, "pathStyle": true,
		"accessKeyId": s3cfg.AccessKey, "secretAccessKey": s3cfg.SecretKey}, &dest)
	s3dest, err := storage.NewS3(s3cfg)
	if err != nil {
		t.Fatal(err)
	}

	// Two agents, enrolled and running.
	type enrolled struct {
		id, key, dir string
		p            *proc
	}
	agents := map[string]*enrolled{}
	for _, name := range []string{"A", "B"} {
		var created struct {
			ID     string `json:"id"`
			APIKey string `json:"apiKey"`
		}
		w.do("POST", "/api/agents", map[string]string{"name": "agent " + name}, &created)
		e := &enrolled{id: created.ID, key: created.APIKey, dir: t.TempDir()}
		cmd := exec.Command(agentBin, "enroll", "--config-dir", e.dir, "--server", base, "--key", e.key)
		cmd.Env = cleanEnv()
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("enroll %s: %v\n%s", name, err, b)
		}
		e.p = start(t, "agent "+name, cleanEnv(), agentBin, "run", "--config-dir", e.dir)
		agents[name] = e
	}
	a, b := agents["A"], agents["B"]

	// A tree on A, a config for A, and "run now".
	src := t.TempDir()
	files := map[string][]byte{"docs/report.txt": []byte("quarterly numbers\n"), "docs/ünïcødé name.md": []byte("# hi\n"),
		"empty": nil, "bin/blob": make([]byte, 3<<20)}
	rand.Read(files["bin/blob"])
	for name, content := range files {
		p := filepath.Join(src, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, content, 0o640); err != nil {
			t.Fatal(err)
		}
	}
	var cfg struct {
		ID string `json:"id"`
	}
	w.do("POST", "/api/configs", map[string]any{"name": "home", "enabled": true, "executionMode": "agent", "agentId": a.id,
		"sources": []map[string]any{{"path": src}}, "destination": map[string]string{"destinationId": dest.ID},
		"options": map[string]any{"type": "full", "compression": "zstd", "encryption": false}}, &cfg)
	var queued backupLog
	w.do("POST", "/api/backups/execute/"+cfg.ID, nil, &queued)
	var run backupLog
	waitUntil(t, "the run to complete", 2*time.Minute, func() bool {
		w.do("GET", "/api/backups/"+queued.ID, nil, &run)
		if run.Status == "failed" || run.Status == "cancelled" {
			t.Fatalf("run %s: %s: %v", run.ID, run.Status, run.Error)
		}
		return run.Status == "completed"
	})

	// The object at the seed's key.
	var user struct {
		ID string `json:"id"`
	}
	w.do("GET", "/api/profile", nil, &user)
	keyRE := regexp.MustCompile(`^users/` + regexp.QuoteMeta(user.ID) + `/agents/` + regexp.QuoteMeta(a.id) +
		`/configs/` + regexp.QuoteMeta(cfg.ID) + `/backup-\d{4}-\d{2}-\d{2}-\d{6}\.tar\.zst$`)
	if !keyRE.MatchString(run.ObjectKey) {
		t.Errorf("object key %q does not follow the seed's pattern", run.ObjectKey)
	}
	ctx := context.Background()
	if o, err := s3dest.Stat(ctx, run.ObjectKey); err != nil || o.Size == 0 {
		t.Errorf("archive %s in S3: %+v, %v", run.ObjectKey, o, err)
	}

	// Agent B gets no URL for A's config or run.
	cb, err := agent.NewClient(agent.ClientOptions{Server: base, Key: b.key, Attempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	forbidden := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, agent.ErrForbidden) && !errors.Is(err, agent.ErrNotFound) {
			t.Errorf("agent B, %s: got %v, want 403 or 404", what, err)
		}
	}
	t.Run("B cannot download A's run unless a restore of it is assigned to B", func(t *testing.T) {
		_, err := cb.Download(ctx, run.ID, nil)
		forbidden("download of A's run", err)
	})
	_, err = cb.BackupStart(ctx, agentproto.BackupStartRequest{ConfigID: cfg.ID})
	forbidden("backup/start of A's config", err)
	_, err = cb.BackupParts(ctx, agentproto.PartsRequest{RunID: run.ID, Object: agentproto.ObjectArchive, PartNumbers: []int{1}})
	forbidden("part URLs of A's run", err)
	_, err = cb.BackupComplete(ctx, agentproto.BackupCompleteRequest{RunID: run.ID, Status: agentproto.StatusFailed})
	forbidden("completing A's run", err)

	// Restoring A's run on B (asked by the user) reproduces the tree byte for byte.
	dst := t.TempDir()
	var rs struct {
		ID     string `json:"id"`
		Status string `json:"status"`
		Error  string `json:"error"`
	}
	w.do("POST", "/api/restores", map[string]any{"runId": run.ID, "agentId": b.id, "targetDir": dst}, &rs)
	waitUntil(t, "the restore on B", 2*time.Minute, func() bool {
		w.do("GET", "/api/restores/"+rs.ID, nil, &rs)
		if rs.Status == "failed" || rs.Status == "cancelled" {
			t.Fatalf("restore %s: %s: %s", rs.ID, rs.Status, rs.Error)
		}
		return rs.Status == "completed"
	})
	got := readTree(t, filepath.Join(dst, strings.TrimPrefix(src, "/")))
	if len(got) != len(files) {
		t.Errorf("restored %d files, want %d", len(got), len(files))
	}
	for name, want := range files {
		if !bytes.Equal(got[name], want) {
			t.Errorf("restored %s differs (%d bytes, want %d)", name, len(got[name]), len(want))
		}
	}

	t.Run("SIGKILL mid-upload", func(t *testing.T) {
		// A slow run: 24 MiB of random data at 512 KB/s.
		big := t.TempDir()
		blob := make([]byte, 24<<20)
		rand.Read(blob)
		os.WriteFile(filepath.Join(big, "big.bin"), blob, 0o644)
		var cfg2 struct {
			ID string `json:"id"`
		}
		w.do("POST", "/api/configs", map[string]any{"name": "big", "enabled": true, "executionMode": "agent", "agentId": a.id,
			"sources": []map[string]any{{"path": big}}, "destination": map[string]string{"destinationId": dest.ID},
			"options": map[string]any{"type": "full", "compression": "none", "bandwidth": 512}}, &cfg2)
		var q backupLog
		w.do("POST", "/api/backups/execute/"+cfg2.ID, nil, &q)
		var r backupLog
		waitUntil(t, "bytes uploaded", 2*time.Minute, func() bool {
			w.do("GET", "/api/backups/"+q.ID, nil, &r)
			return r.Status == "running" && r.BytesTransferred > 0
		})
		a.p.kill()
		w.do("GET", "/api/backups/"+q.ID, nil, &r)
		if r.Status == "completed" {
			t.Fatalf("a run whose agent was killed is completed")
		}
		ups, err := s3dest.ListUploads(ctx, "")
		if err != nil || len(ups) == 0 {
			t.Errorf("no incomplete multipart upload while the killed run is open: %v, %v", ups, err)
		}
		// The server's reaper fails the silent run and aborts its uploads once it has
		// been silent for --run-stale-after (15 s here).
		waitUntil(t, "the reaper to fail the run", 3*time.Minute, func() bool {
			w.do("GET", "/api/backups/"+q.ID, nil, &r)
			return r.Status == "failed"
		})
		waitUntil(t, "the upload aborted", time.Minute, func() bool {
			ups, err := s3dest.ListUploads(ctx, "")
			return err == nil && len(ups) == 0
		})
		a.p = start(t, "agent A again", cleanEnv(), agentBin, "run", "--config-dir", a.dir)
		var q2 backupLog
		w.do("POST", "/api/backups/execute/"+cfg2.ID, nil, &q2)
		waitUntil(t, "the next run to complete", 3*time.Minute, func() bool {
			w.do("GET", "/api/backups/"+q2.ID, nil, &r)
			return r.Status == "completed"
		})
	})
}
