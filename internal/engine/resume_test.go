package engine_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/backapp/backapp/internal/engine"
	"github.com/backapp/backapp/internal/engine/scan"
	"github.com/backapp/backapp/internal/engine/seal"
	"github.com/backapp/backapp/internal/engine/upload"
	"github.com/backapp/backapp/internal/storage"
	"github.com/backapp/backapp/internal/storage/s3test"
	"github.com/backapp/backapp/internal/testenv/presigned"
)

// killable is an upload session that survives its backup being "killed": Abort does
// nothing (a killed process aborts nothing), so the same multipart upload can be
// resumed.
type killable struct{ upload.Session }

func (killable) Abort(context.Context) error { return nil }

// partPuts counts the part PUTs the S3 server accepted, by part number.
type partPuts struct {
	mu sync.Mutex
	n  map[string]int
	rt http.RoundTripper
}

func (p *partPuts) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := p.rt.RoundTrip(r)
	if err == nil && r.Method == http.MethodPut && resp.StatusCode == 200 && r.URL.Query().Get("partNumber") != "" {
		p.mu.Lock()
		p.n[r.URL.Query().Get("uploadId")+"/"+r.URL.Query().Get("partNumber")]++
		p.mu.Unlock()
	}
	return resp, err
}

func (p *partPuts) twice() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, c := range p.n {
		n += c - 1
	}
	return n
}

// TestResumeAfterInterruption: a resumable backup interrupted after a few stored parts
// resumes from its last checkpoint in the same multipart upload, uploads at most one
// part again, and the archive restores identically and with plain tar (and age): for
// zstd and gzip, unencrypted, encrypted to a recipient and with a passphrase. A file
// changed in the middle of the entry the checkpoint stopped in makes the resume fail
// with ErrCheckpointStale instead of storing an archive that does not match its
// manifest.
func TestResumeAfterInterruption(t *testing.T) {
	dest := s3test.New(t)
	src := filepath.Join(t.TempDir(), "src")
	genTree(t, src, treeOpts{smallFiles: 500})
	if err := os.MkdirAll(filepath.Join(src, "big"), 0o755); err != nil {
		t.Fatal(err)
	}
	for i, n := range []int{24 << 20, 6 << 20, 20 << 20} {
		b := make([]byte, n)
		rand.Read(b)
		if err := os.WriteFile(filepath.Join(src, "big", string(rune('a'+i))+".bin"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want := describe(t, src)

	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "key.txt")
	if err := os.WriteFile(keyFile, []byte(id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const pass = "correct horse battery staple"
	passID, _ := seal.PassphraseIdentity(pass)
	for i, tc := range []struct {
		name    string
		seal    seal.Options
		ids     []age.Identity
		tarFlag string
		ageArgs []string // to decrypt with the age CLI; nil: not encrypted, or a passphrase (age asks on a terminal)
		stale   bool     // also check that a changed source is refused
	}{
		{"zstd", seal.Options{}, nil, "--zstd", nil, true},
		{"zstd+age", seal.Options{Recipients: []age.Recipient{id.Recipient()}}, []age.Identity{id}, "--zstd", []string{"-d", "-i", keyFile}, false},
		{"gzip", seal.Options{Codec: seal.Gzip, Level: 1}, nil, "-z", nil, false},
		{"gzip+passphrase", seal.Options{Codec: seal.Gzip, Level: 1, Passphrase: pass, ScryptWorkFactor: 10}, []age.Identity{passID}, "-z", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := key(20+i, tc.seal)
			s := interruptAndResume(t, dest, src, k, tc.seal, tc.stale)
			target := t.TempDir()
			if _, err := engine.Restore(context.Background(), engine.RestoreOptions{Target: target, Chain: []engine.ArchiveRef{ref(dest, s)}, Identities: tc.ids}); err != nil {
				t.Fatalf("restore: %v", err)
			}
			compareTrees(t, want, describe(t, filepath.Join(target, filepath.FromSlash(scan.ArchiveName(src)))))

			if runtime.GOOS == "windows" {
				return // GNU tar and the age CLI are host tools: TestStandardTools checks them where they run
			}
			file := fetch(t, dest, k)
			switch {
			case tc.ageArgs != nil:
				run(t, "age", nil, append(tc.ageArgs, "-o", file+".plain", file)...)
				file += ".plain"
			case tc.ids != nil:
				file = decryptFile(t, file, tc.ids)
			}
			plain := t.TempDir()
			run(t, "tar", nil, tc.tarFlag, "-xf", file, "-C", plain)
			compareTrees(t, want, describe(t, filepath.Join(plain, filepath.FromSlash(scan.ArchiveName(src)))))
		})
	}
}

// decryptFile decrypts an age file with the age library (for a passphrase, which the
// age CLI reads from a terminal only).
func decryptFile(t *testing.T, file string, ids []age.Identity) string {
	t.Helper()
	in, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	r, err := age.Decrypt(in, ids...)
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(file + ".plain")
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if _, err := io.Copy(out, r); err != nil {
		t.Fatal(err)
	}
	return out.Name()
}

// interruptAndResume runs a resumable backup of src to k, interrupts it once a
// checkpoint is saved, resumes it from the checkpoint (through JSON, as the agent
// stores it) and returns the completed archive.
func interruptAndResume(t *testing.T, dest storage.Destination, src, k string, so seal.Options, stale bool) stored {
	t.Helper()
	ctx := context.Background()
	as, err := presigned.NewSession(ctx, dest, k)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := presigned.NewSession(ctx, dest, storage.ManifestKey(k))
	if err != nil {
		t.Fatal(err)
	}
	spool, err := os.Create(filepath.Join(t.TempDir(), "manifest.zst"))
	if err != nil {
		t.Fatal(err)
	}
	defer spool.Close()
	puts := &partPuts{n: map[string]int{}, rt: http.DefaultTransport}
	opts := func(ctx context.Context, resume *engine.Checkpoint, save func(engine.Checkpoint) error) engine.BackupOptions {
		return engine.BackupOptions{Name: k, Sources: []string{src}, Archive: killable{as}, Manifest: killable{ms}, Seal: so,
			Upload:     upload.Options{Client: &http.Client{Transport: puts}},
			Checkpoint: &engine.CheckpointOptions{Spool: spool, Save: save, Resume: resume}}
	}

	// The first attempt is interrupted once a checkpoint is saved.
	var mu sync.Mutex
	var saved []byte
	saves := 0
	ictx, interrupt := context.WithCancel(ctx)
	_, err = engine.Backup(ictx, opts(ictx, nil, func(cp engine.Checkpoint) error {
		b, err := json.Marshal(cp)
		mu.Lock()
		defer mu.Unlock()
		saved, saves = b, saves+1
		if saves == 1 {
			interrupt()
		}
		return err
	}))
	if err == nil {
		t.Fatal("the interrupted backup completed")
	}
	var cp engine.Checkpoint
	if err := json.Unmarshal(saved, &cp); err != nil {
		t.Fatal(err)
	}
	if cp.Next < 2 || cp.TarOffset%seal.FrameSize != 0 {
		t.Fatalf("checkpoint at part %d, tar offset %d: want after a stored part, at a frame boundary", cp.Next, cp.TarOffset)
	}
	if (cp.Age != nil) != so.Encrypted() {
		t.Fatalf("checkpoint has encryption state %v, want it when encrypted (%v)", cp.Age != nil, so.Encrypted())
	}
	t.Logf("interrupted: checkpoint before part %d at tar offset %d in %s; %d parts stored", cp.Next, cp.TarOffset, cp.Entry, len(cp.Parts))

	// A source that changed in the checkpoint's entry cannot be continued exactly.
	if stale && strings.HasSuffix(cp.Entry, ".bin") {
		p := filepath.Join(src, filepath.FromSlash(strings.TrimPrefix(cp.Entry, scan.ArchiveName(src)+"/")))
		orig, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		mt := mtimeOf(t, p)
		changed := append([]byte{}, orig...)
		changed[0] ^= 0xff
		if err := os.WriteFile(p, changed, 0o644); err != nil {
			t.Fatal(err)
		}
		resumed := cp
		_, err = engine.Backup(ctx, opts(ctx, &resumed, func(engine.Checkpoint) error { return nil }))
		if !errors.Is(err, engine.ErrCheckpointStale) {
			t.Errorf("resume after %s changed: %v, want ErrCheckpointStale", cp.Entry, err)
		}
		if err := os.WriteFile(p, orig, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mt, mt); err != nil {
			t.Fatal(err)
		}
	}

	before := puts.twice()
	res, err := engine.Backup(ctx, opts(ctx, &cp, func(engine.Checkpoint) error { return nil }))
	if err != nil {
		t.Fatalf("resumed backup: %v", err)
	}
	if d := puts.twice() - before; d > 1 {
		t.Errorf("the resumed backup uploaded %d parts again, want at most 1", d)
	}
	t.Logf("resumed: %d parts, %d bytes; parts uploaded twice: %d", len(res.Archive.Parts), res.Archive.Size, puts.twice())
	return stored{key: k, res: res}
}

func mtimeOf(t *testing.T, p string) (mt time.Time) {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.ModTime()
}
