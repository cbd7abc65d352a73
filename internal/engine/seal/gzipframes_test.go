package seal

import (
	"bytes"
	"io"
	"os/exec"
	"testing"

	"github.com/klauspost/compress/gzip"
)

// TestGzipFrames: with Frames, gzip writes one member per FrameSize of input, each in
// one Write of at most MaxFrame bytes; the members read back as one stream with our
// reader and with gzip(1), also when empty or a whole number of frames.
func TestGzipFrames(t *testing.T) {
	for _, n := range []int{0, 1, FrameSize, 2*FrameSize + 99} {
		data := testStream(n)
		var out writeSizes
		w, err := NewWriter(&out, Options{Codec: Gzip, Level: 1, Concurrency: 2, Frames: true})
		if err != nil {
			t.Fatal(err)
		}
		for p := data; len(p) > 0; {
			k := min(100_000, len(p))
			w.Write(p[:k])
			p = p[k:]
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		wantMembers := max(1, (n+FrameSize-1)/FrameSize)
		if len(out.writes) != wantMembers {
			t.Errorf("%d bytes: %d Writes, want one per member (%d)", n, len(out.writes), wantMembers)
		}
		var joined, all []byte
		for i, m := range out.writes {
			if len(m) > MaxFrame {
				t.Errorf("%d bytes: member %d is %d bytes, more than MaxFrame", n, i, len(m))
			}
			zr, err := gzip.NewReader(bytes.NewReader(m))
			if err != nil {
				t.Fatalf("%d bytes: Write %d is not a gzip member: %v", n, i, err)
			}
			zr.Multistream(false)
			plain, err := io.ReadAll(zr)
			if err != nil {
				t.Fatalf("%d bytes: member %d: %v", n, i, err)
			}
			joined = append(joined, plain...)
			all = append(all, m...)
		}
		if !bytes.Equal(joined, data) {
			t.Fatalf("%d bytes: the members hold %d bytes, want the same %d", n, len(joined), n)
		}
		r, info, err := NewReader(bytes.NewReader(all), nil)
		if err != nil || info.Codec != Gzip {
			t.Fatalf("%d bytes: open: %v, %+v", n, err, info)
		}
		if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%d bytes: read back %d bytes (%v), want the same %d", n, len(got), err, n)
		}
		if _, err := exec.LookPath("gzip"); err == nil {
			cmd := exec.Command("gzip", "-d", "-c")
			cmd.Stdin = bytes.NewReader(all)
			got, err := cmd.Output()
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("%d bytes: gzip -d gave %d bytes (%v), want the same %d", n, len(got), err, n)
			}
		}
	}
}

// writeSizes keeps each Write apart.
type writeSizes struct{ writes [][]byte }

func (w *writeSizes) Write(p []byte) (int, error) {
	w.writes = append(w.writes, bytes.Clone(p))
	return len(p), nil
}
