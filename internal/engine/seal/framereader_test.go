package seal

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"runtime"
	"testing"

	"github.com/backapp/backapp/internal/testenv"
	"github.com/klauspost/compress/zstd"
)

// frames encodes each chunk as its own frame, as frameWriter does (content size and
// checksum in every frame).
func frames(t *testing.T, chunks ...[]byte) []byte {
	t.Helper()
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderCRC(true))
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	var out []byte
	for _, c := range chunks {
		out = enc.EncodeAll(c, out)
	}
	return out
}

// streamFrame encodes data with the streaming encoder: one frame that does not state
// its content size, as archives written by one goroutine (and zstd(1) reading a pipe)
// have.
func streamFrame(t *testing.T, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := zstd.NewWriter(&b, zstd.WithEncoderCRC(true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	var h zstd.Header
	if err := h.Decode(b.Bytes()); err != nil || h.HasFCS {
		t.Fatalf("streaming frame: content size stated %v (%v), want none", h.HasFCS, err)
	}
	return b.Bytes()
}

// skippable is a skippable frame holding n bytes.
func skippable(n int) []byte {
	b := []byte{0x50, 0x2a, 0x4d, 0x18, byte(n), byte(n >> 8), byte(n >> 16), byte(n >> 24)}
	return append(b, bytes.Repeat([]byte{0xee}, n)...)
}

func readFrames(stream []byte) ([]byte, error) {
	b, _, err := readFramesHow(stream)
	return b, err
}

// readFramesHow also says whether the streaming decoder took over.
func readFramesHow(stream []byte) ([]byte, bool, error) {
	r, err := newFrameReader(bufio.NewReader(bytes.NewReader(stream)))
	if err != nil {
		return nil, false, err
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	return b, r.stream != nil, err
}

func TestFrameReader(t *testing.T) {
	data := testStream(3*FrameSize + 777)
	a, b, c := data[:FrameSize], data[FrameSize:2*FrameSize], data[2*FrameSize:]
	zeros := make([]byte, 300<<10) // RLE blocks
	for _, tc := range []struct {
		name     string
		stream   []byte
		want     []byte
		streamed bool // the streaming decoder takes over
	}{
		{"whole frames", frames(t, a, b, c), data, false},
		{"one small frame", frames(t, data[:1000]), data[:1000], false},
		// Under 256 bytes zstd frames need not state their content size: the
		// streaming decoder reads them.
		{"a tiny last frame", frames(t, a, []byte("x")), append(bytes.Clone(a), 'x'), true},
		{"empty frames between", frames(t, a, nil, nil, b), data[:2*FrameSize], false},
		{"zeros", frames(t, zeros, zeros), append(append([]byte{}, zeros...), zeros...), false},
		{"skippable frames", append(append(frames(t, a), skippable(1000)...), append(skippable(0), frames(t, b)...)...), data[:2*FrameSize], false},
		{"one streaming frame", streamFrame(t, data), data, true},
		{"whole frames, then streaming", append(frames(t, a), streamFrame(t, data[FrameSize:])...), data, true},
		{"streaming, then whole frames", append(streamFrame(t, a), frames(t, b, c)...), data, true},
		{"a frame larger than decoded whole", frames(t, testStream(maxWholeFrame+1)), testStream(maxWholeFrame + 1), true},
		{"the frame writer's", sealAll(t, data, 3, 1<<20), data, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, streamed, err := readFramesHow(tc.stream)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tc.want) {
				t.Fatalf("got %d bytes, want %d identical", len(got), len(tc.want))
			}
			if streamed != tc.streamed {
				t.Errorf("streaming decoder used: %v, want %v", streamed, tc.streamed)
			}
		})
	}
}

// TestFrameReaderTruncated: a stream cut inside a frame is an error, never a short
// read that looks complete; cut between frames it is the frames before the cut (the
// archive's digest and tar's end blocks catch that).
func TestFrameReaderTruncated(t *testing.T) {
	chunks := [][]byte{testStream(5000), make([]byte, 200<<10), testStream(150 << 10)}
	stream := frames(t, chunks...)
	var ends []int // frame boundaries
	for i := range chunks {
		ends = append(ends, len(frames(t, chunks[:i+1]...)))
	}
	want := bytes.Join(chunks, nil)
	for cut := 0; cut < len(stream); cut += 1 + cut/50 {
		got, err := readFrames(stream[:cut])
		boundary := -1
		for i, e := range append([]int{0}, ends...) {
			if e == cut {
				boundary = i
			}
		}
		if boundary >= 0 {
			if n := len(bytes.Join(chunks[:boundary], nil)); err != nil || !bytes.Equal(got, want[:n]) {
				t.Fatalf("cut at frame boundary %d: %d bytes, %v; want the first %d bytes", cut, len(got), err, n)
			}
			continue
		}
		if err == nil {
			t.Fatalf("cut at %d of %d: no error (%d bytes read)", cut, len(stream), len(got))
		}
	}
}

// TestFrameReaderCorrupted: a changed byte anywhere is an error, or (in a spot zstd
// does not use) changes nothing; it never yields other content without an error.
func TestFrameReaderCorrupted(t *testing.T) {
	chunks := [][]byte{testStream(70 << 10), testStream(200 << 10)[100:]}
	stream := frames(t, chunks...)
	want := bytes.Join(chunks, nil)
	failed := 0
	for i := 0; i < len(stream); i += 1 + i/40 {
		bad := bytes.Clone(stream)
		bad[i] ^= 0x5a
		got, err := readFrames(bad)
		if err != nil {
			failed++
			continue
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("byte %d changed: other content (%d bytes) and no error", i, len(got))
		}
	}
	if failed == 0 {
		t.Fatal("no corruption was detected")
	}
}

type failingReader struct {
	r   io.Reader
	n   int
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, f.err
	}
	p = p[:min(len(p), f.n)]
	n, err := f.r.Read(p)
	f.n -= n
	return n, err
}

// TestFrameReaderSourceError: an error from the source (a download that failed its
// checksum, say) reaches Read, also when it comes where a frame would begin.
func TestFrameReaderSourceError(t *testing.T) {
	boom := errors.New("download failed")
	a := testStream(FrameSize)
	stream := frames(t, a, a)
	for _, n := range []int{0, 10, len(stream) / 2, len(frames(t, a)), len(stream)} {
		r, err := newFrameReader(bufio.NewReaderSize(&failingReader{r: bytes.NewReader(stream), n: n, err: boom}, 1024))
		if err != nil {
			t.Fatal(err)
		}
		_, err = io.ReadAll(r)
		r.Close()
		if !errors.Is(err, boom) {
			t.Errorf("source failing after %d bytes: %v, want %v", n, err, boom)
		}
	}
}

// TestFrameReaderClose: closing before the end stops the goroutines.
func TestFrameReaderClose(t *testing.T) {
	data := testStream(8 * FrameSize)
	var chunks [][]byte
	for p := data; len(p) > 0; p = p[min(FrameSize, len(p)):] {
		chunks = append(chunks, p[:min(FrameSize, len(p))])
	}
	stream := frames(t, chunks...)
	before := runtime.NumGoroutine()
	for _, n := range []int{0, 1, FrameSize + 5, 5 * FrameSize} {
		r, err := newFrameReader(bufio.NewReader(bytes.NewReader(append(bytes.Clone(stream), streamFrame(t, []byte("tail"))...))))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.CopyN(io.Discard, r, int64(n)); err != nil {
			t.Fatal(err)
		}
		r.Close()
		r.Close()
	}
	testenv.Eventually(t, fmt.Sprintf("the readers' goroutines to end (%d before)", before), func() bool {
		return runtime.NumGoroutine() <= before
	})
}
