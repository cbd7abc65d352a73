package seal

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os/exec"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// testStream is n bytes that compress somewhat: random words from a small vocabulary
// with stretches of random bytes.
func testStream(n int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	words := []string{"backup ", "restore ", "archive ", "manifest ", "zstd ", "\n", "0123456789 "}
	var b bytes.Buffer
	for b.Len() < n {
		if r.IntN(50) == 0 {
			junk := make([]byte, r.IntN(64<<10))
			for i := range junk {
				junk[i] = byte(r.Uint32())
			}
			b.Write(junk)
			continue
		}
		b.WriteString(words[r.IntN(len(words))])
	}
	return b.Bytes()[:n]
}

// sealAll writes data through a zstd writer of the given concurrency in writes of
// chunk bytes.
func sealAll(t *testing.T, data []byte, concurrency, chunk int) []byte {
	t.Helper()
	o, err := Options{Codec: Zstd, Level: 1, Concurrency: concurrency}.Normalize()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	w, err := NewWriter(&out, o)
	if err != nil {
		t.Fatal(err)
	}
	for p := data; len(p) > 0; {
		k := min(chunk, len(p))
		if n, err := w.Write(p[:k]); err != nil || n != k {
			t.Fatalf("write: %d, %v", n, err)
		}
		p = p[k:]
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func openAll(t *testing.T, sealed []byte) []byte {
	t.Helper()
	r, info, err := NewReader(bytes.NewReader(sealed), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if info.Codec != Zstd {
		t.Fatalf("codec %q, want zstd", info.Codec)
	}
	got, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// countFrames counts the zstd frames in b by decoding them one at a time.
func countFrames(t *testing.T, b []byte) int {
	t.Helper()
	n := 0
	for len(b) > 0 {
		var h zstd.Header
		if err := h.Decode(b); err != nil {
			t.Fatalf("frame %d: %v", n, err)
		}
		if !h.HasFCS {
			t.Fatalf("frame %d has no content size", n)
		}
		next := frameEnd(b, int(h.FrameContentSize))
		if next <= 0 {
			t.Fatalf("frame %d: cannot find its end", n)
		}
		b = b[next:]
		n++
	}
	return n
}

// frameEnd returns the length of the first frame of b, whose content is size bytes.
func frameEnd(b []byte, size int) int {
	magic := []byte{0x28, 0xb5, 0x2f, 0xfd}
	dec, _ := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))
	defer dec.Close()
	for i := 4; i <= len(b); i++ {
		if i < len(b) && !bytes.HasPrefix(b[i:], magic) {
			continue
		}
		if out, err := dec.DecodeAll(b[:i], nil); err == nil && len(out) == size {
			return i
		}
	}
	return -1
}

func TestFramesRoundTrip(t *testing.T) {
	data := testStream(3*FrameSize + 12345)
	for _, tc := range []struct {
		name               string
		concurrency, chunk int
		frames             int
	}{
		{"stream", 1, 1 << 16, 1},
		{"two workers, small writes", 2, 1000, 4},
		{"four workers, huge writes", 4, 10 << 20, 4},
		{"exact frame writes", 3, FrameSize, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sealed := sealAll(t, data, tc.concurrency, tc.chunk)
			if got := openAll(t, sealed); !bytes.Equal(got, data) {
				t.Fatalf("round trip: %d bytes back, want %d identical", len(got), len(data))
			}
			if tc.concurrency > 1 {
				if n := countFrames(t, sealed); n != tc.frames {
					t.Errorf("%d frames, want %d", n, tc.frames)
				}
			}
		})
	}
}

func TestFramesEmptyAndExact(t *testing.T) {
	for _, n := range []int{0, 1, FrameSize, 2 * FrameSize} {
		data := testStream(n)
		sealed := sealAll(t, data, 2, 4096)
		if len(sealed) == 0 {
			t.Fatalf("%d bytes: nothing written, want at least one frame", n)
		}
		if got := openAll(t, sealed); !bytes.Equal(got, data) {
			t.Fatalf("%d bytes: got %d back", n, len(got))
		}
	}
}

// TestFramesZstdTool: the zstd command reads the multi-frame stream as one.
func TestFramesZstdTool(t *testing.T) {
	if _, err := exec.LookPath("zstd"); err != nil {
		t.Skip("zstd command not installed")
	}
	data := testStream(2*FrameSize + 99)
	cmd := exec.Command("zstd", "-d", "-c")
	cmd.Stdin = bytes.NewReader(sealAll(t, data, 2, 1<<16))
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, data) {
		t.Fatalf("zstd -d gave %d bytes, want %d identical", len(out), len(data))
	}
}

type failAfter struct {
	n   int
	err error
}

func (f *failAfter) Write(p []byte) (int, error) {
	if len(p) > f.n {
		return 0, f.err
	}
	f.n -= len(p)
	return len(p), nil
}

// TestFramesWriteError: an error from the destination reaches Write or Close, and
// neither hangs.
func TestFramesWriteError(t *testing.T) {
	boom := errors.New("destination gone")
	o, _ := Options{Codec: Zstd, Level: 1, Concurrency: 2}.Normalize()
	w, err := NewWriter(&failAfter{n: 1 << 20, err: boom}, o)
	if err != nil {
		t.Fatal(err)
	}
	data := testStream(8 * FrameSize)
	var werr error
	for p := data; len(p) > 0 && werr == nil; {
		k := min(1<<20, len(p))
		_, werr = w.Write(p[:k])
		p = p[k:]
	}
	cerr := w.Close()
	if !errors.Is(werr, boom) && !errors.Is(cerr, boom) {
		t.Fatalf("write error %v, close error %v; want %v from one of them", werr, cerr, boom)
	}
	if !errors.Is(cerr, boom) {
		t.Errorf("close error %v, want %v", cerr, boom)
	}
	if _, err := w.Write([]byte("x")); err == nil {
		t.Error("write after close succeeded")
	}
	if err := w.Close(); !errors.Is(err, boom) {
		t.Errorf("second close: %v, want %v", err, boom)
	}
}
