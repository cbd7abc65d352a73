package builtin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/backapp/backapp/internal/agent"
	"github.com/backapp/backapp/internal/agentapi"
	"github.com/backapp/backapp/internal/agents"
	"github.com/backapp/backapp/internal/apperr"
	"github.com/backapp/backapp/internal/auth"
	"github.com/backapp/backapp/internal/builtin"
	"github.com/backapp/backapp/internal/configs"
	"github.com/backapp/backapp/internal/engine"
	"github.com/backapp/backapp/internal/engine/upload"
	"github.com/backapp/backapp/internal/restores"
	"github.com/backapp/backapp/internal/runs"
	"github.com/backapp/backapp/internal/secrets"
	"github.com/backapp/backapp/internal/storage"
	"github.com/backapp/backapp/internal/storage/s3test"
	"github.com/backapp/backapp/internal/store"
	"github.com/backapp/backapp/internal/store/pgtest"
	"github.com/backapp/backapp/internal/store/postgres"
	"github.com/backapp/backapp/internal/store/sqlite"
	"github.com/backapp/backapp/internal/testenv"
	"github.com/backapp/backapp/internal/testenv/presigned"
	"github.com/backapp/backapp/internal/testenv/treetest"
)

// resolver maps destination ids to destinations ("" is the local one).
type resolver map[string]storage.Destination

func (r resolver) Resolve(_ context.Context, _, id string) (storage.Destination, error) {
	d, ok := r[id]
	if !ok {
		return nil, fmt.Errorf("destination %q: %w", id, store.ErrNotFound)
	}
	return d, nil
}

// env is the server side without sockets: the agent API, the local destination served
// in-process, the runs service, and the supervisor of the built-in agents.
type env struct {
	t       *testing.T
	st      store.Store
	dest    storage.Destination
	local   *storage.Local
	destID  string
	sup     *builtin.Supervisor
	runs    *runs.Service
	restore *restores.Service
	allowed string // the allowed directory
	dataDir string
	admin   store.User
	api     *agentapi.API
	lead    *flipLeader // whether e.sup's replica leads
}

// flipLeader is a leadership a test hands over by hand.
type flipLeader struct {
	mu    sync.Mutex
	held  bool
	asked int // TryLead calls: the supervisor's ticks
}

func (l *flipLeader) set(held bool) { l.mu.Lock(); l.held = held; l.mu.Unlock() }

func (l *flipLeader) TryLead(context.Context) (bool, func(), error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.asked++
	return l.held, func() {}, nil
}

func (l *flipLeader) ticks() int { l.mu.Lock(); defer l.mu.Unlock(); return l.asked }

// supervisor returns the configuration of a supervisor of this env's server.
func (e *env) supervisor(leader builtin.Leader, stateDir string) builtin.Config {
	return builtin.Config{Store: e.st, AgentAPI: e.api, Notify: e.api.Notify,
		LocalPrefix: localBase, Local: e.local, StateDir: stateDir,
		Protected: []string{e.dataDir}, ClaimEvery: 50 * time.Millisecond, EnsureEvery: 200 * time.Millisecond,
		Tune: func(d *agent.Daemon) { d.Backoff = func(int) time.Duration { return 50 * time.Millisecond } }, Leader: leader}
}

// runSupervisor runs s until the test ends.
func runSupervisor(t *testing.T, s *builtin.Supervisor) {
	t.Helper()
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = s.Run(runCtx); close(done) }()
	t.Cleanup(func() {
		stop()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("the supervisor did not stop within 30 s of its context ending")
		}
	})
}

type backend struct {
	name   string
	open   func(t *testing.T) store.Store
	withS3 bool
}

var backends = []backend{
	{"SQLite+local", func(t *testing.T) store.Store {
		s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "backapp.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}, false},
	{"PostgreSQL+S3", func(t *testing.T) store.Store {
		s, err := postgres.Open(context.Background(), pgtest.New(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}, true},
}

func forBackends(t *testing.T, fn func(t *testing.T, e *env)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			fn(t, newEnv(t, b.open(t), b.withS3))
		})
	}
}

const localBase = "http://storage.invalid/storage/local/"

func newEnv(t *testing.T, st store.Store, withS3 bool) *env {
	t.Helper()
	ctx := context.Background()
	e := &env{t: t, st: st, dataDir: t.TempDir()}
	local, err := storage.NewLocal(filepath.Join(e.dataDir, "storage"), []byte("0123456789abcdef0123456789abcdef"), localBase)
	if err != nil {
		t.Fatal(err)
	}
	dests := resolver{"": local}
	e.local = local
	e.dest = local
	if withS3 {
		e.destID = "s3"
		e.dest = s3test.New(t)
		dests["s3"] = e.dest
	}
	keys, err := secrets.Load(t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	api, err := agentapi.New(agentapi.Config{Store: st, Destinations: dests, Keys: keys,
		HeartbeatEvery: time.Second, PollEvery: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	e.api = api
	e.runs, err = runs.New(runs.Config{Store: st, Destinations: dests, Notify: api.Notify})
	if err != nil {
		t.Fatal(err)
	}
	e.restore, err = restores.New(restores.Config{Store: st, Destinations: dests, Keys: keys, Notify: api.Notify})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	e.admin = store.User{Email: "admin@example.com", Name: "Admin", PasswordHash: "x", CreatedAt: now, UpdatedAt: now}
	if err := st.CreateUser(ctx, &e.admin, true); err != nil {
		t.Fatal(err)
	}
	if e.admin.Role != store.RoleAdmin {
		t.Fatalf("first user's role = %q, want admin", e.admin.Role)
	}
	e.allowed = filepath.Join(t.TempDir(), "allowed")
	if err := os.MkdirAll(e.allowed, 0o755); err != nil {
		t.Fatal(err)
	}
	e.setAllowed(e.allowed)

	e.lead = &flipLeader{held: true}
	e.sup, err = builtin.New(e.supervisor(e.lead, filepath.Join(e.dataDir, "builtin-agent")))
	if err != nil {
		t.Fatal(err)
	}
	runSupervisor(t, e.sup)
	return e
}

func (e *env) setAllowed(dirs ...string) {
	e.t.Helper()
	if err := e.st.SetSetting(context.Background(), builtin.SettingAllowedDirs, strings.Join(dirs, "\n")); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) user(email string, admin bool) store.User {
	e.t.Helper()
	now := time.Now().UTC()
	u := store.User{Email: email, Name: email, PasswordHash: "x", Role: store.RoleUser, CreatedAt: now, UpdatedAt: now}
	if admin {
		u.Role = store.RoleAdmin
	}
	if err := e.st.CreateUser(context.Background(), &u, false); err != nil {
		e.t.Fatal(err)
	}
	return u
}

// serverConfig stores a server-mode configuration of owner as the configs service
// does (no agent), gzip so plain `tar -z` reads it.
func (e *env) serverConfig(owner store.User, options string, sources ...string) store.BackupConfig {
	e.t.Helper()
	var src []map[string]any
	for _, s := range sources {
		src = append(src, map[string]any{"path": s})
	}
	b, _ := json.Marshal(src)
	now := time.Now().UTC()
	c := store.BackupConfig{UserID: owner.ID, Name: "server files " + filepath.Base(sources[0]), Enabled: true, ExecutionMode: "server",
		Sources: b, Destination: json.RawMessage(fmt.Sprintf(`{"destinationId":%q}`, e.destID)), Options: json.RawMessage(options),
		CreatedAt: now, UpdatedAt: now}
	if err := e.st.CreateConfig(context.Background(), &c); err != nil {
		e.t.Fatal(err)
	}
	return c
}

// runNow queues a run through the runs service, as "run now" does, and waits for it
// to end.
func (e *env) runNow(actor store.User, configID string) store.Run {
	e.t.Helper()
	q, err := e.runs.Queue(context.Background(), actor, configID, auth.Meta{})
	if err != nil {
		e.t.Fatalf("queue run: %v", err)
	}
	var r store.Run
	testenv.EventuallyWithin(e.t, time.Minute, "run "+q.Run.ID+" to end", func() bool {
		var err error
		if r, err = e.st.GetRun(context.Background(), q.Run.ID); err != nil {
			e.t.Fatal(err)
		}
		return r.Status != "queued" && r.Status != "running"
	})
	return r
}

func (e *env) builtinAgent(userID string) store.Agent {
	e.t.Helper()
	var id string
	testenv.Eventually(e.t, "a built-in agent for user "+userID, func() bool { id = e.sup.AgentID(userID); return id != "" })
	a, err := e.st.GetAgent(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

func runError(r store.Run) string { return string(r.Errors) }

func equalFiles(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d files %v, want %d", what, len(got), got, len(want))
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %s = %q, want %q", what, k, got[k], v)
		}
	}
}

// objects lists what the destination holds under prefix.
func (e *env) objects(prefix string) []string {
	e.t.Helper()
	os, err := e.dest.List(context.Background(), prefix)
	if err != nil {
		e.t.Fatal(err)
	}
	var keys []string
	for _, o := range os {
		keys = append(keys, o.Key)
	}
	return keys
}

// TestServerModeBackup: a server-mode configuration runs on the built-in agent in this
// process, lands at the seed's key under the built-in agent's prefix, and restores
// with the engine and with plain tar.
func TestServerModeBackup(t *testing.T) {
	forBackends(t, func(t *testing.T, e *env) {
		src := filepath.Join(e.allowed, "www")
		files := map[string]string{"index.html": "<h1>hello</h1>", "img/logo.svg": "<svg/>", "deep/a/b/c.txt": strings.Repeat("c", 100_000)}
		treetest.Write(t, src, files)
		c := e.serverConfig(e.admin, `{"type":"full","compression":"gzip"}`, src)

		r := e.runNow(e.admin, c.ID)
		if r.Status != "completed" {
			t.Fatalf("run status %s (%s), want completed", r.Status, runError(r))
		}
		ag := e.builtinAgent(e.admin.ID)
		if !ag.Builtin || ag.Name != builtin.Name || ag.UserID != e.admin.ID {
			t.Errorf("executing agent = %+v, want the admin's built-in agent named %q", ag, builtin.Name)
		}
		if r.AgentID != ag.ID {
			t.Errorf("run's agent = %q, want the built-in agent %q", r.AgentID, ag.ID)
		}
		re := regexp.MustCompile(`^users/` + e.admin.ID + `/agents/` + ag.ID + `/configs/` + c.ID + `/backup-\d{4}-\d{2}-\d{2}-\d{6}\.tar\.gz$`)
		if !re.MatchString(r.S3Path) {
			t.Errorf("archive key %q, want the seed's key under the built-in agent's prefix (%s)", r.S3Path, re)
		}
		if r.FilesProcessed < int64(len(files)) { // directories count too
			t.Errorf("files processed = %d, want at least %d", r.FilesProcessed, len(files))
		}
		keys := e.objects(storage.AgentPrefix(e.admin.ID, ag.ID))
		if want := []string{r.S3Path, storage.ManifestKey(r.S3Path)}; !equalSets(keys, want) {
			t.Errorf("objects under the agent's prefix = %v, want the archive and its manifest", keys)
		}

		// The engine restores it.
		target := t.TempDir()
		dl := upload.Options{Client: &http.Client{Transport: &builtin.Transport{Routes: []builtin.Route{{Prefix: localBase, Handler: e.local}}}}}
		if _, err := engine.Restore(context.Background(), engine.RestoreOptions{Target: target, Download: dl,
			Chain: []engine.ArchiveRef{{Archive: presigned.GetURL(e.dest, r.S3Path), Manifest: presigned.GetURL(e.dest, r.ManifestKey),
				SHA256: r.ArchiveSHA256, Size: r.ArchiveSize, ManifestSHA256: r.ManifestSHA256}}}); err != nil {
			t.Fatalf("engine restore: %v", err)
		}
		equalFiles(t, "engine restore", treetest.Read(t, filepath.Join(target, strings.TrimPrefix(src, "/"))), files)

		// And so does plain tar, from the object's bytes alone.
		_, errTar := exec.LookPath("tar")
		testenv.Require(t, errTar == nil, "tar is not installed")
		rc, err := e.dest.Get(context.Background(), r.S3Path)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(t.TempDir(), filepath.Base(r.S3Path))
		if err := os.WriteFile(file, body, 0o600); err != nil {
			t.Fatal(err)
		}
		out := t.TempDir()
		cmd := exec.Command("tar", "-x", "-z", "-p", "-f", file, "-C", out)
		var msg bytes.Buffer
		cmd.Stdout, cmd.Stderr = &msg, &msg
		if err := cmd.Run(); err != nil {
			t.Fatalf("tar -xzf: %v\n%s", err, msg.String())
		}
		equalFiles(t, "tar", treetest.Read(t, filepath.Join(out, strings.TrimPrefix(src, "/"))), files)

		// Its log lines reach the agent's log, as any agent's do.
		testenv.Eventually(t, "a \"backup completed\" line in the built-in agent's log", func() bool {
			logs, err := e.st.ListAgentLogs(context.Background(), store.AgentLogFilter{AgentID: ag.ID})
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range logs {
				if strings.Contains(l.Message, "backup completed") {
					return true
				}
			}
			return false
		})

		// The built-in agent's state lives under the data directory.
		if _, err := os.Stat(filepath.Join(e.dataDir, "builtin-agent", ag.ID)); err != nil {
			t.Errorf("built-in agent state directory: %v", err)
		}
	})
}

// TestServerModeRefusals: whatever was saved, the built-in agent refuses at run time,
// before reading anything and with the reason in the run, sources outside the allowed
// directories (a list that shrank, a symlink leading out, the server's data), owners
// no longer administrators, hooks and symlink following; nothing is uploaded.
func TestServerModeRefusals(t *testing.T) {
	forBackends(t, func(t *testing.T, e *env) {
		outside := t.TempDir()
		treetest.Write(t, outside, map[string]string{"secret.txt": "the server's own file"})
		inside := filepath.Join(e.allowed, "ok")
		treetest.Write(t, inside, map[string]string{"a.txt": "a"})
		link := filepath.Join(e.allowed, "escape")
		if err := os.Symlink(outside, link); err != nil {
			t.Fatal(err)
		}
		demoted := e.user("demoted@example.com", true)
		full := `{"type":"full","compression":"gzip"}`

		cases := []struct {
			name    string
			owner   store.User
			options string
			source  string
			before  func()
			want    string
		}{
			{"outside", e.admin, full, outside, nil, "is outside the directories allowed for server mode"},
			{"symlink out", e.admin, full, link, nil, "which resolves to " + mustEval(t, outside)},
			{"data directory", e.admin, full, e.dataDir, func() { e.setAllowed(e.allowed, e.dataDir) }, "overlaps the server's own data directory"},
			{"list shrank", e.admin, full, inside, func() { e.setAllowed(t.TempDir()) }, "is outside the directories allowed for server mode"},
			{"no list", e.admin, full, inside, func() { e.setAllowed() }, "no directory of the server is allowed"},
			{"owner demoted", demoted, full, inside, func() {
				if err := e.st.SetUserRole(context.Background(), demoted.ID, store.RoleUser, time.Now()); err != nil {
					t.Fatal(err)
				}
			}, "who is not an enabled administrator"},
			{"hooks", e.admin, `{"type":"full","hooks":{"pre":"cat /etc/passwd"}}`, inside, nil, "hook commands"},
			{"follow symlinks", e.admin, `{"type":"full","followSymlinks":true}`, inside, nil, "follows symbolic links"},
		}
		for _, tc := range cases {
			e.setAllowed(e.allowed)
			c := e.serverConfig(tc.owner, tc.options, tc.source)
			if tc.before != nil {
				tc.before()
			}
			r := e.runNow(e.admin, c.ID)
			if r.Status != "failed" || !strings.Contains(runError(r), tc.want) {
				t.Errorf("%s: run %s with %s, want failed with %q", tc.name, r.Status, runError(r), tc.want)
			}
			if !strings.Contains(runError(r), "server mode refused") {
				t.Errorf("%s: run error %s does not start with the refusal", tc.name, runError(r))
			}
			if r.FilesProcessed != 0 {
				t.Errorf("%s: %d files processed, want none", tc.name, r.FilesProcessed)
			}
			if keys := e.objects(storage.UserPrefix(tc.owner.ID)); len(keys) != 0 {
				t.Errorf("%s: objects stored %v, want none", tc.name, keys)
			}
		}
	})
}

func mustEval(t *testing.T, p string) string {
	t.Helper()
	r, err := filepath.EvalSymlinks(p)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestBuiltinAgentReadOnly: users never see a built-in agent; administrators see it
// but cannot rename, rotate, revoke or delete it; its key rotates at each start.
func TestBuiltinAgentReadOnly(t *testing.T) {
	forBackends(t, func(t *testing.T, e *env) {
		ag := e.builtinAgent(e.admin.ID)
		ctx := context.Background()
		svc, err := agents.New(agents.Config{Store: e.st})
		if err != nil {
			t.Fatal(err)
		}
		user := e.user("user@example.com", false)
		// A user who owns a server-mode configuration gets a built-in agent too (to fail
		// its runs clearly); the user never sees it.
		e.serverConfig(user, `{"type":"full"}`, e.allowed)
		uag := e.builtinAgent(user.ID)
		list, err := svc.List(ctx, user)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 0 {
			t.Errorf("user's agent list = %v, want empty", list)
		}
		if _, err := svc.Get(ctx, user, uag.ID); apperr.KindOf(err) != apperr.NotFound {
			t.Errorf("user gets own built-in agent: %v, want not found", err)
		}
		listed := func() bool {
			t.Helper()
			list, err := svc.List(ctx, e.admin)
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, a := range list {
				found = found || a.ID == ag.ID && a.Builtin
			}
			return found
		}
		// Listed only once something runs on the server for its owner.
		if listed() {
			t.Errorf("admin's agent list shows the built-in agent %s before the admin has a server-mode configuration", ag.ID)
		}
		e.serverConfig(e.admin, `{"type":"full"}`, e.allowed)
		if !listed() {
			t.Errorf("admin's agent list lacks the built-in agent %s", ag.ID)
		}
		if _, err := svc.RotateKey(ctx, e.admin, ag.ID, auth.Meta{}); apperr.KindOf(err) != apperr.Conflict {
			t.Errorf("rotate built-in agent: %v, want conflict", err)
		}
		if _, err := svc.Revoke(ctx, e.admin, ag.ID, auth.Meta{}); apperr.KindOf(err) != apperr.Conflict {
			t.Errorf("revoke built-in agent: %v, want conflict", err)
		}
		if _, err := svc.Rename(ctx, e.admin, ag.ID, "mine", auth.Meta{}); apperr.KindOf(err) != apperr.Conflict {
			t.Errorf("rename built-in agent: %v, want conflict", err)
		}
		if err := svc.Delete(ctx, e.admin, ag.ID, auth.Meta{}); apperr.KindOf(err) != apperr.Conflict {
			t.Errorf("delete built-in agent: %v, want conflict", err)
		}

		// A second start gives the same row a new key.
		again, err := e.st.EnsureBuiltinAgent(ctx, e.admin.ID, builtin.Name, strings.Repeat("ab", 32), "bak_test", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if again.ID != ag.ID || again.KeyHash == ag.KeyHash {
			t.Errorf("ensure again = id %s hash %s, want id %s with a new hash", again.ID, again.KeyHash, ag.ID)
		}
		bs, err := e.st.BuiltinAgents(ctx)
		if err != nil || len(bs) != 2 {
			t.Errorf("built-in agents = %v, %v; want two (admin, user)", bs, err)
		}
	})
}

// TestNonAdminCannotCreateServerMode goes through the configs service.
func TestNonAdminCannotCreateServerMode(t *testing.T) {
	forBackends(t, func(t *testing.T, e *env) {
		svc, err := configs.New(configs.ServiceConfig{Store: e.st})
		if err != nil {
			t.Fatal(err)
		}
		user := e.user("user@example.com", false)
		in := configs.Config{Name: "server files", Enabled: true, ExecutionMode: configs.ModeServer,
			Sources: []configs.Source{{Path: e.allowed}}, Destination: configs.Destination{DestinationID: ""},
			Options: configs.Options{Type: "full", Compression: "gzip"}}
		_, err = svc.Create(context.Background(), user, in, auth.Meta{})
		var ae *apperr.Error
		if !errors.As(err, &ae) || ae.Kind != apperr.Invalid || ae.Fields[configs.FieldExecutionMode] == "" {
			t.Fatalf("user creates a server-mode config: %v, want invalid on %s", err, configs.FieldExecutionMode)
		}
		saved, err := svc.Create(context.Background(), e.admin, in, auth.Meta{})
		if err != nil {
			t.Fatalf("admin creates a server-mode config: %v", err)
		}
		// And it runs on the admin's built-in agent.
		treetest.Write(t, e.allowed, map[string]string{"f.txt": "f"})
		if r := e.runNow(e.admin, saved.Config.ID); r.Status != "completed" {
			t.Errorf("run of the saved config: %s (%s), want completed", r.Status, runError(r))
		}
	})
}

func equalSets(got, want []string) bool {
	if len(got) != len(want) {
		return false
	}
	seen := map[string]bool{}
	for _, g := range got {
		seen[g] = true
	}
	for _, w := range want {
		if !seen[w] {
			return false
		}
	}
	return true
}

// TestEnsureBuiltinAgentRace: replicas starting together agree on one row per owner.
func TestEnsureBuiltinAgentRace(t *testing.T) {
	forBackends(t, func(t *testing.T, e *env) {
		u := e.user("racer@example.com", true)
		ids := make(chan string, 8)
		for i := range 8 {
			go func() {
				a, err := e.st.EnsureBuiltinAgent(context.Background(), u.ID, builtin.Name, fmt.Sprintf("%064x", i+1), "bak_race", time.Now())
				if err != nil {
					t.Error(err)
				}
				ids <- a.ID
			}()
		}
		first := <-ids
		for range 7 {
			if id := <-ids; id != first {
				t.Errorf("racing EnsureBuiltinAgent gave rows %s and %s, want one", first, id)
			}
		}
		bs, err := e.st.BuiltinAgents(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, b := range bs {
			if b.UserID == u.ID {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%d built-in agents for the user, want 1", n)
		}
	})
}

// TestServerModeRestore: the built-in agent restores a server-mode backup into an
// allowed directory, byte for byte, and refuses a target outside them, through a
// symlink leading out, or for an owner no longer administrator.
func TestServerModeRestore(t *testing.T) {
	forBackends(t, func(t *testing.T, e *env) {
		src := filepath.Join(e.allowed, "data")
		files := map[string]string{"a.txt": "alpha", "sub/b.txt": strings.Repeat("b", 70_000)}
		treetest.Write(t, src, files)
		c := e.serverConfig(e.admin, `{"type":"full","compression":"zstd"}`, src)
		r := e.runNow(e.admin, c.ID)
		if r.Status != "completed" {
			t.Fatalf("backup: %s (%s)", r.Status, runError(r))
		}
		ag := e.builtinAgent(e.admin.ID)
		outside := t.TempDir()
		if err := os.Symlink(outside, filepath.Join(e.allowed, "out")); err != nil {
			t.Fatal(err)
		}
		restore := func(target string) store.Restore {
			t.Helper()
			q, err := e.restore.Start(context.Background(), e.admin, restores.Input{RunID: r.ID, AgentID: ag.ID, TargetDir: target})
			if err != nil {
				t.Fatalf("start restore to %s: %v", target, err)
			}
			var got store.Restore
			testenv.EventuallyWithin(t, time.Minute, "the restore to "+target+" to end", func() bool {
				var err error
				if got, err = e.restore.Get(context.Background(), e.admin, q.ID); err != nil {
					t.Fatal(err)
				}
				return got.Finished()
			})
			return got
		}

		target := filepath.Join(e.allowed, "restored")
		if got := restore(target); got.Status != store.RestoreCompleted {
			t.Fatalf("restore into the allowed directory: %s (%s)", got.Status, got.Error)
		}
		equalFiles(t, "restore by the built-in agent", treetest.Read(t, filepath.Join(target, strings.TrimPrefix(src, "/"))), files)

		for _, tc := range []struct{ target, want string }{
			{filepath.Join(outside, "x"), "is outside the directories allowed"},
			{filepath.Join(e.allowed, "out", "x"), "which resolves to"},
		} {
			got := restore(tc.target)
			if got.Status != store.RestoreFailed || !strings.Contains(got.Error, "server mode refused") || !strings.Contains(got.Error, tc.want) {
				t.Errorf("restore to %s: %s (%s), want failed with %q", tc.target, got.Status, got.Error, tc.want)
			}
		}
		if entries, _ := os.ReadDir(outside); len(entries) != 0 {
			t.Errorf("files written outside the allowed directories: %v", entries)
		}

		if err := e.st.SetUserRole(context.Background(), e.admin.ID, store.RoleUser, time.Now()); err != nil {
			t.Fatal(err)
		}
		got := restore(filepath.Join(e.allowed, "again"))
		if got.Status != store.RestoreFailed || !strings.Contains(got.Error, "not an enabled administrator") {
			t.Errorf("restore for a demoted owner: %s (%s), want failed, not an administrator", got.Status, got.Error)
		}
	})
}

// TestBuiltinAgentFollowsLeader: of two replicas only the leader runs the built-in
// agents and so the server-mode backups; when the lead moves, the old leader stops its
// daemons and the new one takes over (with a new key) and runs the next backup.
func TestBuiltinAgentFollowsLeader(t *testing.T) {
	e := newEnv(t, backends[0].open(t), false)
	leadB := &flipLeader{}
	supB, err := builtin.New(e.supervisor(leadB, filepath.Join(t.TempDir(), "builtin-agent")))
	if err != nil {
		t.Fatal(err)
	}
	runSupervisor(t, supB)

	src := filepath.Join(e.allowed, "data")
	treetest.Write(t, src, map[string]string{"a.txt": "alpha"})
	c := e.serverConfig(e.admin, `{"type":"full","compression":"gzip"}`, src)
	if r := e.runNow(e.admin, c.ID); r.Status != "completed" {
		t.Fatalf("run on the leader: %s: %s", r.Status, runError(r))
	}
	ticks := leadB.ticks()
	testenv.Eventually(t, "a few of the follower's ticks", func() bool { return leadB.ticks() >= ticks+3 })
	if id := supB.AgentID(e.admin.ID); id != "" {
		t.Errorf("the follower runs built-in agent %s", id)
	}

	e.lead.set(false)
	leadB.set(true)
	testenv.Eventually(t, "the lead to move", func() bool { return e.sup.AgentID(e.admin.ID) == "" && supB.AgentID(e.admin.ID) != "" })
	if r := e.runNow(e.admin, c.ID); r.Status != "completed" {
		t.Fatalf("run after the lead moved: %s: %s", r.Status, runError(r))
	}
}
