package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"golang.org/x/crypto/bcrypt"

	"github.com/backapp/backapp/internal/config"
	"github.com/backapp/backapp/internal/server"
)

// reportChildEnv names the format TestReportChild makes a report in; unset, the
// test skips (it is BenchmarkMonitoring's child process, not a test of its own).
const reportChildEnv = "BACKAPP_REPORT_CHILD"

// reportRSS makes one report of period 90d in format, in a child process (this
// test binary running TestReportChild) opening the server on cfg's database as
// email, and returns the child's line: wall time, bytes out, and its peak
// resident memory growth while it made the report. A child of its own, so the
// peak is the report's alone, not the parent's seeding or earlier reports.
func reportRSS(b *testing.B, cfg *config.Config, email, format string) string {
	cmd := exec.Command(os.Args[0], "-test.run=^TestReportChild$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), reportChildEnv+"="+format, "BACKAPP_REPORT_DATA_DIR="+cfg.DataDir,
		"BACKAPP_REPORT_DATABASE_URL="+cfg.DatabaseURL, "BACKAPP_REPORT_EMAIL="+email)
	out, err := cmd.CombinedOutput()
	if err != nil {
		b.Fatalf("report child (%s): %v\n%s", format, err, out)
	}
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "report ") {
			return l
		}
	}
	b.Fatalf("report child (%s) said nothing:\n%s", format, out)
	return ""
}

// TestReportChild is reportRSS's child: it signs in, then serves GET
// /api/reports through the server's handler into a writer that counts and drops
// the bytes (as a network connection would hold none of them), after resetting
// the kernel's peak resident set (VmHWM, /proc/self/clear_refs); it prints the
// time, the bytes and VmHWM after minus VmRSS before.
func TestReportChild(t *testing.T) {
	format := os.Getenv(reportChildEnv)
	if format == "" {
		t.Skip("BenchmarkMonitoring's child process")
	}
	ctx := context.Background()
	fs := pflag.NewFlagSet("child", pflag.ContinueOnError)
	cfg := config.Register(fs)
	cfg.DataDir, cfg.DatabaseURL = os.Getenv("BACKAPP_REPORT_DATA_DIR"), os.Getenv("BACKAPP_REPORT_DATABASE_URL")
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	app, err := server.Open(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), server.Options{PasswordCost: bcrypt.MinCost})
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	h := app.Handler()
	body, _ := json.Marshal(map[string]string{"email": os.Getenv("BACKAPP_REPORT_EMAIL"), "password": pw})
	req := httptest.NewRequest("POST", "/api/auth/login", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("sign in: %d %s", rec.Code, rec.Body)
	}
	var cookie string
	for _, c := range rec.Result().Cookies() {
		if c.Value != "" {
			cookie = c.Name + "=" + c.Value
		}
	}
	req = httptest.NewRequest("GET", "/api/reports?period=90d&format="+format, nil)
	req.Header.Set("Cookie", cookie)
	w := &countingWriter{h: http.Header{}}
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		t.Fatalf("reset the peak resident set: %v", err)
	}
	before := procStatus(t, "VmRSS")
	start := time.Now()
	h.ServeHTTP(w, req)
	took := time.Since(start)
	peak := procStatus(t, "VmHWM")
	if w.code != 0 && w.code != http.StatusOK {
		t.Fatalf("report: %d", w.code)
	}
	fmt.Printf("report %-4s %7.0f ms, %6.1f MB out, RSS %6.1f MB before, peak growth %+6.1f MB\n", format,
		float64(took)/float64(time.Millisecond), float64(w.n)/1e6, float64(before)/1024, float64(peak-before)/1024)
}

// countingWriter is a ResponseWriter that keeps no body.
type countingWriter struct {
	h    http.Header
	code int
	n    int64
}

func (w *countingWriter) Header() http.Header { return w.h }
func (w *countingWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}
func (w *countingWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	return len(p), nil
}

// procStatus reads a kB field of /proc/self/status.
func procStatus(t *testing.T, field string) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("no %s in /proc/self/status", field)
	return 0
}
