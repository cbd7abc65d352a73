package upload

import (
	"bytes"
	"context"
	"math"
	"testing"
)

// TestForMemoryBounded: whatever the soft memory limit, a Writer's parts in memory
// ((Concurrency+1) × part) stay within a quarter of it, or three parts when that is
// less than three, and a Download's chunks (Concurrency × chunk) within a tenth, with
// chunks of 2–8 MiB; without a limit, or with values given, nothing changes.
func TestForMemoryBounded(t *testing.T) {
	for _, limit := range []int64{32 << 20, 64 << 20, 96 << 20, 112 << 20, 128 << 20, 160 << 20, 256 << 20, 1 << 30, 16 << 30} {
		o := Options{}.UploadForMemory(limit)
		parts := int64(o.Concurrency+1) * MinPartSize
		if o.Concurrency < 2 || o.Concurrency > 3 || parts > max(limit/4, 3*MinPartSize) {
			t.Errorf("limit %d MiB: Concurrency %d, %d MiB of parts", limit>>20, o.Concurrency, parts>>20)
		}
		d := Options{}.DownloadForMemory(limit).withDefaults()
		if d.DownloadChunk < 2<<20 || d.DownloadChunk > 8<<20 || int64(d.Concurrency)*d.DownloadChunk > max(limit/10, int64(d.Concurrency)*2<<20) {
			t.Errorf("limit %d MiB: %d chunks of %d bytes", limit>>20, d.Concurrency, d.DownloadChunk)
		}
	}
	if o := (Options{}).UploadForMemory(112 << 20); o.Concurrency != 2 {
		t.Errorf("112 MiB: Concurrency %d, want 2", o.Concurrency)
	}
	if o := (Options{}).UploadForMemory(256 << 20); o.Concurrency != 3 {
		t.Errorf("256 MiB: Concurrency %d, want 3 (the default)", o.Concurrency)
	}
	for _, limit := range []int64{0, -1, math.MaxInt64} {
		if o := (Options{}).UploadForMemory(limit).DownloadForMemory(limit); o.Concurrency != 0 || o.DownloadChunk != 0 {
			t.Errorf("limit %d: Concurrency %d, DownloadChunk %d, want the defaults", limit, o.Concurrency, o.DownloadChunk)
		}
	}
	given := Options{Concurrency: 8, DownloadChunk: 16 << 20}
	if o := given.UploadForMemory(64 << 20).DownloadForMemory(64 << 20); o.Concurrency != 8 || o.DownloadChunk != 16<<20 {
		t.Errorf("given values changed: %+v", o)
	}
}

// TestPartBufferGrows: a part's buffer starts small and grows to the part's size, so
// a small object holds a small buffer; parts still have their full size, whatever the
// sizes of the Writes.
func TestPartBufferGrows(t *testing.T) {
	const part = 3*firstBuffer + 12345
	f := newFake(t)
	o := fastOpts()
	o.FirstPart = part
	w := NewWriter(context.Background(), f, o)
	if _, err := w.Write([]byte("small")); err != nil {
		t.Fatal(err)
	}
	if c := cap(w.cur); c > firstBuffer {
		t.Errorf("a 5-byte object holds a buffer of %d bytes, want at most %d", c, firstBuffer)
	}
	data := randomData(2*part + 777)
	for i := 0; i < len(data); {
		n := min(7001+i%5000, len(data)-i)
		if _, err := w.Write(data[i : i+n]); err != nil {
			t.Fatal(err)
		}
		i += n
	}
	res, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	want := append([]byte("small"), data...)
	if !bytes.Equal(f.object(), want) {
		t.Fatal("stored object differs from what was written")
	}
	if len(res.Parts) != 3 || res.Parts[0].Size != part || res.Parts[1].Size != part || res.Parts[2].Size != int64(len(want))-2*part {
		t.Errorf("parts %+v, want two of %d bytes and the rest", res.Parts, part)
	}
}
