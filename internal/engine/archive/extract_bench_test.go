package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkExtractSmallFiles extracts 20,000 files of 0–16 KiB in 400 directories from
// an in-memory tar: the file-creation path of a restore, without download or
// decompression. It reports files/s.
func BenchmarkExtractSmallFiles(b *testing.B) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	const dirs, perDir = 400, 50
	body := bytes.Repeat([]byte("backapp "), 2<<10)
	mtime := time.Unix(1.6e9, 0)
	for d := range dirs {
		dir := fmt.Sprintf("d%02d/sub%03d/", d%20, d)
		if d < 20 {
			if err := tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("d%02d/", d), Typeflag: tar.TypeDir, Mode: 0o755, ModTime: mtime}); err != nil {
				b.Fatal(err)
			}
		}
		if err := tw.WriteHeader(&tar.Header{Name: dir, Typeflag: tar.TypeDir, Mode: 0o755, ModTime: mtime}); err != nil {
			b.Fatal(err)
		}
		for f := range perDir {
			n := (d*perDir + f) * 331 % len(body)
			if err := tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("%sfile%03d.txt", dir, f), Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(n), ModTime: mtime}); err != nil {
				b.Fatal(err)
			}
			if _, err := tw.Write(body[:n]); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		b.Fatal(err)
	}
	base := b.TempDir()
	b.ResetTimer()
	for i := range b.N {
		x, err := NewExtractor(filepath.Join(base, fmt.Sprint(i)), ExtractOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if err := x.Extract(context.Background(), bytes.NewReader(buf.Bytes())); err != nil {
			b.Fatal(err)
		}
		if err := x.Finish(); err != nil {
			b.Fatal(err)
		}
		x.Close()
	}
	b.ReportMetric(float64(dirs*perDir*b.N)/b.Elapsed().Seconds(), "files/s")
}
