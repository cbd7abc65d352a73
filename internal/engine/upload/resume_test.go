package upload

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"sync"
	"testing"
)

// Aligned writes are never split across parts, parts are cut between them (never
// under S3's 5 MiB but the last), and an upload resumed at a cut continues the same
// object, skipping parts stored before with the same bytes.
func TestAlignedWritesAndResume(t *testing.T) {
	const unit = 1 << 20
	data := make([]byte, 30*unit)
	rand.Read(data)
	f := newFake(t)
	o := fastOpts()
	o.FirstPart, o.AlignWrites = 8<<20, 2*unit
	var cuts []Cut
	var stored []Part
	var mu sync.Mutex // OnPart is called from the upload's workers, at the same time
	o.OnCut = func(c Cut) { cuts = append(cuts, c) }
	o.OnPart = func(p Part) { mu.Lock(); defer mu.Unlock(); stored = append(stored, p) }
	w := NewWriter(context.Background(), f, o)
	for i := 0; i < len(data); i += unit {
		if _, err := w.Write(data[i : i+unit]); err != nil {
			t.Fatal(err)
		}
	}
	res, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(f.object(), data) {
		t.Fatal("stored object differs from what was written")
	}
	for i, p := range res.Parts {
		if p.Size%unit != 0 || (i < len(res.Parts)-1 && p.Size < minS3Part) {
			t.Errorf("part %d: %d bytes; want whole writes, at least 5 MiB but the last", p.Number, p.Size)
		}
	}
	if len(cuts) != len(res.Parts)-1 || len(stored) != len(res.Parts) || stored[0].SHA256 == "" {
		t.Fatalf("%d cuts and %d stored parts (%+v) for %d parts", len(cuts), len(stored), stored, len(res.Parts))
	}

	// Resume after the first cut, as if parts 2 and 3 had been stored before the
	// interruption: part 2 is not sent again (the store would refuse it), part 3's
	// record does not match (another size) and is sent.
	c := cuts[0]
	done := []Part{res.Parts[0], res.Parts[1], {Number: 3, ETag: "stale", Size: 1, SHA256: res.Parts[2].SHA256}}
	for i := range stored {
		if stored[i].Number == 2 {
			done[1] = stored[i]
		}
	}
	f.fail[2] = []int{400}
	o.OnCut, o.OnPart = nil, func(Part) {}
	o.Resume = &Resume{Next: c.Part + 1, Size: c.Size, Sum: c.Sum, Done: done}
	w = NewWriter(context.Background(), f, o)
	for i := int(c.Size); i < len(data); i += unit {
		if _, err := w.Write(data[i : i+unit]); err != nil {
			t.Fatal(err)
		}
	}
	res2, err := w.Close()
	if err != nil {
		t.Fatalf("resumed upload: %v", err)
	}
	sum := sha256.Sum256(data)
	if res2.SHA256 != hex.EncodeToString(sum[:]) || res2.Size != int64(len(data)) || !bytes.Equal(f.object(), data) {
		t.Errorf("resumed upload: %s/%d, want %x/%d and the same object", res2.SHA256, res2.Size, sum, len(data))
	}
	if res2.Parts[2].ETag == "stale" {
		t.Error("part 3 was taken from a record of other bytes")
	}
}
