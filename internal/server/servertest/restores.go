package servertest

import (
	"bytes"
	"context"
	"crypto/rand"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/backapp/backapp/internal/agent"
	"github.com/backapp/backapp/internal/agentproto"
	"github.com/backapp/backapp/internal/config"
	"github.com/backapp/backapp/internal/storage/s3test"
	"github.com/backapp/backapp/internal/testenv"
	"github.com/backapp/backapp/internal/testenv/treetest"
)

// RestoreEnv is a server, a user with two agents (A backs up, B restores) and a
// source tree that agent A backed up twice (a full backup, then an incremental).
type RestoreEnv struct {
	*Env
	Alice          *Client
	AgentA, AgentB string
	KeyA, KeyB     string
	Src            string
	ConfigID       string
	DestID         string // "" is the built-in local destination
	Run1, Run2     string
	Want           map[string][]byte // relative path under Src → content at Run2
}

// AgentRunner is a real agent of e's server with key, its state in a temporary
// directory.
func AgentRunner(t *testing.T, e *Env, key string) *agent.Runner {
	t.Helper()
	return runnerAt(t, e.Srv.URL, key)
}

// runnerAt is a real agent with key of the server at base.
func runnerAt(t *testing.T, base, key string) *agent.Runner {
	t.Helper()
	c, err := agent.NewClient(agent.ClientOptions{Server: base, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	st, err := agent.OpenState(filepath.Join(t.TempDir(), "state"), nil) // new: made 0700, nothing to log
	if err != nil {
		t.Fatal(err)
	}
	// Passphrase backups at scrypt cost 2^10, not age's 2^18: every restore opens
	// two or three of their files, which at 2^18 costs a minute under -race.
	return &agent.Runner{Client: c, State: st, ScryptWorkFactor: 10}
}

// Random is n random bytes.
func Random(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// Backup backs configID up with r and returns the completed run's id.
func Backup(t *testing.T, r *agent.Runner, configID string) string {
	t.Helper()
	res, err := r.Backup(context.Background(), agent.BackupRequest{ConfigID: configID})
	if err != nil || res.Status != agentproto.StatusCompleted {
		t.Fatalf("backup of config %s: status %q, err %v", configID, res.Status, err)
	}
	return res.RunID
}

// StartRestoreEnv starts a RestoreEnv on db ("" for SQLite with the built-in local
// destination, else PostgreSQL with the real S3 server); tweak changes the server's
// configuration as Start's does.
func StartRestoreEnv(t *testing.T, db string, tweak ...func(*config.Config)) *RestoreEnv {
	t.Helper()
	e := &RestoreEnv{Env: Start(t, db, tweak...)}
	e.Alice = e.Client()
	e.Alice.Register("alice@example.com")
	e.AgentA, e.KeyA, _ = e.Alice.CreateAgent("alpha")
	e.AgentB, e.KeyB, _ = e.Alice.CreateAgent("bravo")
	e.Src = t.TempDir()
	e.Want = map[string][]byte{
		"docs/a.txt":         []byte("first version of a\n"),
		"docs/b.bin":         Random(300 << 10),
		"docs/sub/c.txt":     []byte("c in a subdirectory\n"),
		"docs/sub/deep/d.md": []byte("# deep\n"),
		"photos/p1.jpg":      Random(1 << 20),
		"photos/p2.jpg":      Random(70 << 10),
		"notes.txt":          []byte("unselected\n"),
	}
	treetest.Write(t, e.Src, e.Want)
	// SQLite with the built-in local destination; PostgreSQL with the real S3 server.
	destID := ""
	if db != "" {
		s3cfg := s3test.NewConfig(t)
		r := e.Alice.JSON("POST", "/api/destinations", map[string]any{"name": "S3", "endpoint": s3cfg.Endpoint,
			"region": s3cfg.Region, "bucket": s3cfg.Bucket, "pathStyle": true,
			"accessKeyId": s3cfg.AccessKey, "secretAccessKey": s3cfg.SecretKey})
		Want(t, r, http.StatusCreated)
		destID = r.Body["id"].(string)
	}
	e.DestID = destID
	body := With(GoodConfig(e.AgentA), "sources", []map[string]any{{"path": e.Src}}, "destination", map[string]any{"destinationId": destID})
	r := e.Alice.JSON("POST", "/api/configs", body)
	Want(t, r, http.StatusCreated)
	e.ConfigID = r.Body["id"].(string)

	runner := AgentRunner(t, e.Env, e.KeyA)
	e.Run1 = Backup(t, runner, e.ConfigID)
	// The incremental changes one file and adds one: b.bin and the photos stay in
	// the full backup's archive, so a restore of run2 needs the whole chain.
	later := map[string][]byte{"docs/a.txt": []byte("second version of a, longer\n"), "new.txt": []byte("added later\n")}
	treetest.Write(t, e.Src, later)
	for k, v := range later {
		e.Want[k] = v
	}
	e.Run2 = Backup(t, runner, e.ConfigID)
	return e
}

// Abs is the absolute path on the backed-up machine of rel under the source.
func (e *RestoreEnv) Abs(rel string) string { return filepath.ToSlash(filepath.Join(e.Src, rel)) }

// RunDaemon runs agent key's daemon (the real heartbeat loop) until the test ends.
func (e *RestoreEnv) RunDaemon(t *testing.T, key string) { RunDaemonAt(t, e.Srv.URL, key) }

// RunDaemonAt runs agent key's daemon with the server at base (another replica, or a
// proxy in front of it) until the test ends.
func RunDaemonAt(t *testing.T, base, key string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	d := &agent.Daemon{Runner: runnerAt(t, base, key), Heartbeat: 200 * time.Millisecond}
	done := make(chan struct{})
	go func() { defer close(done); _ = d.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// WaitRestore polls restore id as c until it completes, failing on failed or
// cancelled; it returns the restore.
func (e *RestoreEnv) WaitRestore(t *testing.T, c *Client, id string) map[string]any {
	t.Helper()
	var last map[string]any
	testenv.EventuallyWithin(t, 30*time.Second, "restore "+id+" to complete", func() bool {
		r := c.JSON("GET", "/api/restores/"+id, nil)
		Want(t, r, http.StatusOK)
		last = r.Body
		switch last["status"] {
		case "failed", "cancelled":
			t.Fatalf("restore %s: %v", id, last)
		}
		return last["status"] == "completed"
	})
	return last
}

// CheckTree fails unless dir holds exactly the files wanted (relative to the
// source, restored below dir with their full path), byte for byte.
func (e *RestoreEnv) CheckTree(t *testing.T, dir string, wanted ...string) {
	t.Helper()
	got := map[string][]byte{}
	base := filepath.Join(dir, e.Src)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(base, p)
		if err != nil || strings.HasPrefix(rel, "..") {
			t.Errorf("restored outside the source's path: %s", p)
			return nil
		}
		b, err := os.ReadFile(p)
		got[filepath.ToSlash(rel)] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range wanted {
		b, ok := got[w]
		switch {
		case !ok:
			t.Errorf("%s: not restored", w)
		case !bytes.Equal(b, e.Want[w]):
			t.Errorf("%s: %d bytes restored differ from the %d backed up", w, len(b), len(e.Want[w]))
		}
		delete(got, w)
	}
	for p := range got {
		t.Errorf("%s restored but not selected", p)
	}
}
