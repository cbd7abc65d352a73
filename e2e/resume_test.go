package e2e

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/backapp/backapp/internal/testenv"
)

// partCounter is a reverse proxy in front of the S3 server that counts, per upload
// and part number, the part PUTs the server accepted: what "uploaded twice" means.
type partCounter struct {
	srv *httptest.Server
	mu  sync.Mutex
	ok  map[string]int
}

func startPartCounter(t *testing.T, endpoint string) *partCounter {
	t.Helper()
	u, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	pc := &partCounter{ok: map[string]int{}}
	rp := httputil.NewSingleHostReverseProxy(u) // keeps the Host header the URLs were signed for
	rp.ErrorLog = log.New(io.Discard, "", 0)    // the kills cut uploads short: expected
	rp.ModifyResponse = func(resp *http.Response) error {
		q := resp.Request.URL.Query()
		if resp.Request.Method == http.MethodPut && resp.StatusCode == http.StatusOK && q.Get("partNumber") != "" {
			pc.mu.Lock()
			pc.ok[q.Get("uploadId")+"#"+q.Get("partNumber")]++
			pc.mu.Unlock()
		}
		return nil
	}
	pc.srv = httptest.NewServer(rp)
	t.Cleanup(pc.srv.Close)
	return pc
}

// stored returns the parts stored and how many of those were stored more than once.
func (pc *partCounter) stored() (parts, again int) {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	for _, n := range pc.ok {
		parts += n
		again += n - 1
	}
	return parts, again
}

// resumeSize is the size of TestResumeAfterKills' tree: 256 MiB by default, so that
// make test stays quick; BACKAPP_TEST_RESUME_MB=2048 runs the 2 GB case.
func resumeSize(t *testing.T) int64 {
	mb := int64(256)
	if s := os.Getenv("BACKAPP_TEST_RESUME_MB"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 32 {
			t.Fatalf("BACKAPP_TEST_RESUME_MB=%q: want a number of MiB, at least 32", s)
		}
		mb = n
	}
	return mb << 20
}

// TestResumeAfterKills: the real server and a real agent daemon back up a tree of
// incompressible files to S3 (through a proxy that counts stored parts). The agent is
// killed with SIGKILL at 10 random points of the backup, each after at least one more
// part was stored, and started again each time. The backup resumes every time and
// ends completed in the same run, at the same key; it restores identically (through
// the agent, and with plain tar), and no more parts were stored twice than there
// were kills. The tree is 256 MiB unless BACKAPP_TEST_RESUME_MB says otherwise.
func TestResumeAfterKills(t *testing.T) {
	resumeAfterKills(t, resumeCase{size: resumeSize(t), kills: 10, minKills: 3,
		options: map[string]any{"compression": "zstd", "encryption": false}, tarFlag: "--zstd"})
}

// TestResumeAfterKillsEncrypted is the smaller variant for gzip (a member per frame)
// encrypted with age to an X25519 recipient (our STREAM state in the checkpoint):
// 64 MiB, 3 kills. The agent restores with the identity file it was enrolled with; the
// archive also opens with plain `age -d -i key | tar -xz`.
func TestResumeAfterKillsEncrypted(t *testing.T) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	resumeAfterKills(t, resumeCase{size: 64 << 20, kills: 3, minKills: 2, identity: id,
		options: map[string]any{"compression": "gzip", "compressionLevel": 1, "encryption": true,
			"recipients": []string{id.Recipient().String()}}, tarFlag: "-z"})
}

type resumeCase struct {
	size            int64
	kills, minKills int
	options         map[string]any // the config's options besides type and bandwidth
	identity        *age.X25519Identity
	tarFlag         string
}

func resumeAfterKills(t *testing.T, rc resumeCase) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	t.Parallel()
	size := rc.size
	app := startApp(t)
	w := app.w
	var counter *partCounter
	destID, s3 := app.s3DestinationVia("counted s3", func(endpoint string) string {
		counter = startPartCounter(t, endpoint)
		return counter.srv.URL
	})
	ag := app.enroll("agent")
	keyFile := ""
	if rc.identity != nil {
		// The agent restores with the identity file its settings name.
		keyFile = filepath.Join(t.TempDir(), "key.txt")
		if err := os.WriteFile(keyFile, []byte(rc.identity.String()+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		ag.p.kill()
		settings := filepath.Join(ag.dir, "agent.json")
		b, err := os.ReadFile(settings)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		m["identityFiles"] = []string{keyFile}
		if b, err = json.Marshal(m); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(settings, b, 0o600); err != nil {
			t.Fatal(err)
		}
		ag.p = start(t, "agent", cleanEnv(), app.agentBin, "run", "--config-dir", ag.dir)
	}

	// The tree is written as it is generated and compared by digests, so even the
	// 2 GiB case needs little memory.
	src := t.TempDir()
	files := map[string][]byte{} // name → SHA-256
	for i := 0; int64(i)*(24<<20) < size; i++ {
		name := fmt.Sprintf("d%d/f%03d.bin", i%3, i)
		files[name] = writeRandom(t, filepath.Join(src, name), min(24<<20, size-int64(i)*(24<<20)))
	}
	small := []byte("a small file among large ones\n")
	writeTree(t, src, map[string][]byte{"small/a.txt": small})
	sum := sha256.Sum256(small)
	files["small/a.txt"] = sum[:]
	var cfg struct {
		ID string `json:"id"`
	}
	// 12 MB/s: time for the kills between parts.
	options := map[string]any{"type": "full", "bandwidth": 12 << 10}
	for k, v := range rc.options {
		options[k] = v
	}
	w.do("POST", "/api/configs", map[string]any{"name": "big", "enabled": true, "executionMode": "agent", "agentId": ag.id,
		"sources": []map[string]any{{"path": src}}, "destination": map[string]string{"destinationId": destID},
		"options": options}, &cfg)
	var queued backupLog
	w.do("POST", "/api/backups/execute/"+cfg.ID, nil, &queued)

	status := func() backupLog {
		var r backupLog
		w.do("GET", "/api/backups/"+queued.ID, nil, &r)
		if r.Status == "failed" || r.Status == "cancelled" {
			t.Fatalf("run %s: %s: %v", r.ID, r.Status, r.Error)
		}
		return r
	}
	checkpoint := func() bool {
		m, _ := filepath.Glob(filepath.Join(ag.dir, "*", "runs", queued.ID, "checkpoint.json"))
		return len(m) > 0
	}
	kills := rc.kills
	killed := 0
	for ; killed < kills; killed++ {
		parts, _ := counter.stored()
		if status().Status == "completed" {
			break
		}
		// At least one more part stored (the first time: and checkpointed), then a
		// random moment.
		done := false
		testenv.EventuallyWithin(t, 2*time.Minute, "another stored part", func() bool {
			n, _ := counter.stored()
			done = status().Status == "completed"
			return done || (n > parts && checkpoint())
		})
		if done {
			break
		}
		time.Sleep(time.Duration(mrand.N(400)) * time.Millisecond) // a random point, not a wait for something
		ag.p.kill()
		ag.p = start(t, "agent", cleanEnv(), app.agentBin, "run", "--config-dir", ag.dir)
	}
	// 12 MB/s, with room for a slow machine.
	testenv.EventuallyWithin(t, 2*time.Minute+time.Duration(size/(6<<20))*time.Second, "the backup to complete", func() bool { return status().Status == "completed" })
	run := status()
	parts, again := counter.stored()
	t.Logf("%d MiB backed up in run %s with %d kills: %d parts stored, %d of them again", size>>20, run.ID, killed, parts, again)
	if killed < rc.minKills {
		t.Errorf("only %d kills landed before the backup completed; want most of %d", killed, kills)
	}
	if again > killed {
		t.Errorf("%d parts stored twice for %d kills; want at most one per kill", again, killed)
	}
	if run.ID != queued.ID {
		t.Errorf("completed run %s, want the queued run %s", run.ID, queued.ID)
	}

	// Identical through the agent's restore and with plain tar.
	dst := app.restore(run.ID, ag.id, 2*time.Minute+time.Duration(size/(4<<20))*time.Second)
	if d := sameTree(hashTree(t, filepath.Join(dst, strings.TrimPrefix(src, "/"))), files); d != "" {
		t.Errorf("restored: %s", d)
	}
	obj, err := s3.Get(context.Background(), run.ObjectKey)
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	plain := t.TempDir()
	cmd := "tar " + rc.tarFlag + " -xf - -C " + plain
	if keyFile != "" {
		cmd = "age -d -i " + keyFile + " | " + cmd
	}
	sh := exec.Command("bash", "-o", "pipefail", "-c", cmd)
	sh.Stdin = obj
	if out, err := sh.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, out)
	}
	if d := sameTree(hashTree(t, filepath.Join(plain, strings.TrimPrefix(src, "/"))), files); d != "" {
		t.Errorf("extracted with tar: %s", d)
	}
}

// writeRandom writes n random bytes to path (creating its directory) and returns
// their SHA-256.
func writeRandom(t *testing.T, path string, n int64) []byte {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.CopyN(io.MultiWriter(f, h), rand.Reader, n); err != nil {
		t.Fatal(err)
	}
	return h.Sum(nil)
}

// hashTree is readTree with each file's SHA-256 instead of its content.
func hashTree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out[rel] = h.Sum(nil)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
