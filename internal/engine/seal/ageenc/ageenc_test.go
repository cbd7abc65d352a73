package ageenc_test

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"filippo.io/age"

	"github.com/backapp/backapp/internal/engine/seal/ageenc"
	"github.com/backapp/backapp/internal/testenv"
)

// countWrites counts the Writes it gets: one per Write of the age writer.
type countWrites struct {
	bytes.Buffer
	n int
}

func (c *countWrites) Write(p []byte) (int, error) { c.n++; return c.Buffer.Write(p) }

func decrypt(t *testing.T, file []byte, id age.Identity) []byte {
	t.Helper()
	r, err := age.Decrypt(bytes.NewReader(file), id)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// The sizes around chunk boundaries are where STREAM goes wrong: the empty payload
// (one empty last chunk), a payload of whole chunks (the last chunk full, not an
// empty one after it), one byte more or less.
var sizes = []int{0, 1, ageenc.ChunkSize - 1, ageenc.ChunkSize, ageenc.ChunkSize + 1, 3 * ageenc.ChunkSize, 3*ageenc.ChunkSize + 17}

func TestAgeDecryptsOurFiles(t *testing.T) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	id2, _ := age.GenerateX25519Identity()
	for _, size := range sizes {
		for _, step := range []int{size + 1, 1000, ageenc.ChunkSize} {
			plain := make([]byte, size)
			rand.Read(plain)
			var out countWrites
			w, err := ageenc.NewWriter(&out, id.Recipient(), id2.Recipient())
			if err != nil {
				t.Fatal(err)
			}
			writes := 0
			for p := plain; len(p) > 0; writes++ {
				k := min(step, len(p))
				if _, err := w.Write(p[:k]); err != nil {
					t.Fatal(err)
				}
				p = p[k:]
			}
			if out.n != writes {
				t.Fatalf("size %d: %d Writes made %d Writes below, want one each", size, writes, out.n)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			chunks := max(1, (size+ageenc.ChunkSize-1)/ageenc.ChunkSize)
			if hdr := out.Len() - size - chunks*ageenc.Overhead; hdr < 100 || hdr > 400 {
				t.Errorf("size %d: %d bytes of header and nonce, want the payload in %d chunks", size, hdr, chunks)
			}
			for _, i := range []age.Identity{id, id2} {
				if got := decrypt(t, out.Bytes(), i); !bytes.Equal(got, plain) {
					t.Fatalf("size %d step %d: decrypted %d bytes differ from the %d written", size, step, len(got), len(plain))
				}
			}
		}
	}
}

func TestPassphrase(t *testing.T) {
	r, err := age.NewScryptRecipient("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	r.SetWorkFactor(10)
	var out bytes.Buffer
	w, err := ageenc.NewWriter(&out, r)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("hello"))
	w.Close()
	id, _ := age.NewScryptIdentity("correct horse")
	if got := decrypt(t, out.Bytes(), id); string(got) != "hello" {
		t.Fatalf("got %q", got)
	}
	x, _ := age.GenerateX25519Identity()
	if _, err := ageenc.NewWriter(&out, r, x.Recipient()); err == nil {
		t.Error("a passphrase mixed with a recipient was accepted")
	}
}

// TestResume continues a file from a State, as after a restart (the State through
// JSON, as a checkpoint stores it), at every kind of point.
func TestResume(t *testing.T) {
	id, _ := age.GenerateX25519Identity()
	for _, cut := range []int{1, ageenc.ChunkSize - 1, ageenc.ChunkSize, ageenc.ChunkSize + 1, 2 * ageenc.ChunkSize} {
		plain := make([]byte, 5*ageenc.ChunkSize+3)
		rand.Read(plain)
		var out bytes.Buffer
		w, _ := ageenc.NewWriter(&out, id.Recipient())
		w.Write(plain[:cut])
		js, err := json.Marshal(w.State())
		if err != nil {
			t.Fatal(err)
		}
		w.Write(plain[cut : cut+100]) // lost with the process
		var st ageenc.State
		if err := json.Unmarshal(js, &st); err != nil {
			t.Fatal(err)
		}
		// The file as it was at the State: without what the lost Write sealed.
		var again bytes.Buffer
		again.Write(out.Bytes()[:out.Len()-sealedAfter(cut, cut+100)])
		r, err := ageenc.Resume(&again, st)
		if err != nil {
			t.Fatal(err)
		}
		r.Write(plain[cut:])
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
		if got := decrypt(t, again.Bytes(), id); !bytes.Equal(got, plain) {
			t.Fatalf("cut %d: resumed file decrypts to %d bytes that differ", cut, len(got))
		}
	}
	if _, err := ageenc.Resume(io.Discard, ageenc.State{Key: []byte("short")}); err == nil {
		t.Error("a bad key was accepted")
	}
}

// sealedAfter is how many bytes the writer emitted for plaintext between a and b
// (chunks completed by bytes in (a, b]).
func sealedAfter(a, b int) int {
	full := func(n int) int { // chunks sealed once n bytes were written (the last held)
		if n == 0 {
			return 0
		}
		return (n - 1) / ageenc.ChunkSize
	}
	return (full(b) - full(a)) * (ageenc.ChunkSize + ageenc.Overhead)
}

// TestAgeCLI decrypts a file with the age command, as a user without backapp would.
func TestAgeCLI(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the age command is a host tool, checked where the Linux tests run")
	}
	_, err := exec.LookPath("age")
	testenv.Require(t, err == nil, "age is not installed (make tools installs the Debian package age)")
	id, _ := age.GenerateX25519Identity()
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key.txt")
	if err := os.WriteFile(keyFile, []byte(id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, size := range sizes {
		plain := make([]byte, size)
		rand.Read(plain)
		var out bytes.Buffer
		w, _ := ageenc.NewWriter(&out, id.Recipient())
		w.Write(plain)
		w.Close()
		cmd := exec.Command("age", "-d", "-i", keyFile)
		cmd.Stdin = &out
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		got, err := cmd.Output()
		if err != nil {
			t.Fatalf("size %d: age -d: %v: %s", size, err, stderr.String())
		}
		if !bytes.Equal(got, plain) {
			t.Fatalf("size %d: age -d gave %d bytes that differ", size, len(got))
		}
	}
}

// BenchmarkEncrypt compares this writer with age.Encrypt on 4 MiB writes (a frame):
// it must not be slower.
func BenchmarkEncrypt(b *testing.B) {
	id, _ := age.GenerateX25519Identity()
	frame := make([]byte, 4<<20)
	rand.Read(frame)
	for _, bc := range []struct {
		name string
		open func(io.Writer) (io.WriteCloser, error)
	}{
		{"ageenc", func(w io.Writer) (io.WriteCloser, error) { return ageenc.NewWriter(w, id.Recipient()) }},
		{"age", func(w io.Writer) (io.WriteCloser, error) { return age.Encrypt(w, id.Recipient()) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			w, err := bc.open(io.Discard)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(frame)))
			for b.Loop() {
				if _, err := w.Write(frame); err != nil {
					b.Fatal(err)
				}
			}
			w.Close()
		})
	}
}
