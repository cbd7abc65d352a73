package main

import (
	"bytes"
	"encoding/json"
	"encoding/pem"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/backapp/backapp/internal/agent"
	"github.com/backapp/backapp/internal/agentproto"
	"github.com/backapp/backapp/internal/version"
)

// run executes the agent's command line in-process.
func run(t *testing.T, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := newRootCmd()
	var o, e bytes.Buffer
	cmd.SetOut(&o)
	cmd.SetErr(&e)
	cmd.SetIn(strings.NewReader(stdin))
	cmd.SetArgs(args)
	err = cmd.Execute()
	return o.String(), e.String(), err
}

func TestVersion(t *testing.T) {
	out, _, err := run(t, "", "--version")
	if err != nil {
		t.Fatal(err)
	}
	want := "backapp-agent " + version.Version + " (" + version.Commit + ")\n"
	if out != want {
		t.Errorf("--version printed %q, want %q", out, want)
	}
}

// fakeRegister answers /api/agent/register for key bak_good.
func fakeRegister(t *testing.T) *httptest.Server {
	return fakeRegisterOn(t, httptest.NewServer)
}

func fakeRegisterOn(t *testing.T, start func(http.Handler) *httptest.Server) *httptest.Server {
	srv := start(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path != agentproto.PathRegister || r.Header.Get("Authorization") != "Bearer bak_good" ||
			r.Header.Get(agentproto.HeaderProtocol) != "1" {
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"error":{"code":"unauthorized","message":"invalid agent key"}}`))
			return
		}
		var req agentproto.RegisterRequest
		json.NewDecoder(r.Body).Decode(&req)
		if req.Platform != runtime.GOOS || req.Arch != runtime.GOARCH || req.Hostname == "" {
			t.Errorf("register request host = %+v", req.Host)
		}
		json.NewEncoder(w).Encode(agentproto.RegisterResponse{AgentID: "a-1", Name: "laptop", UserID: "u-1"})
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestEnrollWritesPrivateSettings(t *testing.T) {
	srv := fakeRegister(t)
	dir := filepath.Join(t.TempDir(), "conf")
	out, _, err := run(t, "", "enroll", "--config-dir", dir, "--server", srv.URL, "--key", "bak_good")
	if err != nil {
		t.Fatalf("enroll: %v", err)
	}
	if !strings.Contains(out, `enrolled as agent "laptop" (a-1)`) {
		t.Errorf("enroll printed %q", out)
	}
	p := filepath.Join(dir, agent.SettingsFile)
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v, want 0600", p, fi.Mode().Perm())
	}
	s, err := agent.LoadSettings(dir)
	if err != nil {
		t.Fatal(err)
	}
	if s.Server != srv.URL || s.Key != "bak_good" || s.AgentID != "a-1" || s.UserID != "u-1" || s.StateDir == "" {
		t.Errorf("settings = %+v", s)
	}

	// The key from standard input.
	dir2 := t.TempDir()
	if _, _, err := run(t, "bak_good\n", "enroll", "--config-dir", dir2, "--server", srv.URL, "--key", "-"); err != nil {
		t.Errorf("enroll --key -: %v", err)
	}
}

func TestEnrollRefusals(t *testing.T) {
	srv := fakeRegister(t)
	for _, tc := range []struct {
		name   string
		args   []string
		errHas string
	}{
		{"plain http to another host", []string{"--server", "http://backup.example.com", "--key", "bak_good"}, "refusing plain http"},
		{"bad key", []string{"--server", srv.URL, "--key", "bak_bad"}, "enroll again"},
		{"not a key", []string{"--server", srv.URL, "--key", "hunter2"}, "does not look like an agent key"},
		{"no scheme", []string{"--server", "backup.example.com", "--key", "bak_good"}, "no scheme"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			_, _, err := run(t, "", append([]string{"enroll", "--config-dir", dir}, tc.args...)...)
			if err == nil || !strings.Contains(err.Error(), tc.errHas) {
				t.Fatalf("got %v, want an error with %q", err, tc.errHas)
			}
			if _, err := os.Stat(filepath.Join(dir, agent.SettingsFile)); !os.IsNotExist(err) {
				t.Errorf("settings written after a refusal (%v)", err)
			}
		})
	}
	// --insecure allows plain http to another host (checked before any request: the
	// host does not exist, so the error is about resolving it, not about http).
	_, _, err := run(t, "", "enroll", "--config-dir", t.TempDir(), "--server", "http://backapp-test.invalid", "--key", "bak_good", "--insecure")
	if err == nil || strings.Contains(err.Error(), "refusing plain http") {
		t.Errorf("--insecure: got %v", err)
	}
}

func TestCommandsNeedEnrollment(t *testing.T) {
	for _, args := range [][]string{{"status"}, {"run"}, {"backup", "--config", "c"}, {"restore", "--run", "r", "--target", "t"}} {
		_, _, err := run(t, "", append(args, "--config-dir", t.TempDir())...)
		if err == nil || !strings.Contains(err.Error(), "not enrolled") {
			t.Errorf("%v: got %v, want not enrolled", args, err)
		}
	}
}

// TestEnrollWithPrivateCA: a server under a private CA is refused until --ca-cert names
// that CA; the settings keep the file's absolute path, and a command that loads the
// settings says so when the file is gone.
func TestEnrollWithPrivateCA(t *testing.T) {
	srv := fakeRegisterOn(t, httptest.NewTLSServer)
	dir := filepath.Join(t.TempDir(), "conf")
	if _, _, err := run(t, "", "enroll", "--config-dir", dir, "--server", srv.URL, "--key", "bak_good"); err == nil || !strings.Contains(err.Error(), "not trusted") {
		t.Fatalf("enroll without the CA: got %v, want 'not trusted'", err)
	}
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir()) // on ca's drive: Windows has no relative path from one drive to another
	rel, err := filepath.Rel(mustGetwd(t), ca)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := run(t, "", "enroll", "--config-dir", dir, "--server", srv.URL, "--key", "bak_good", "--ca-cert", rel); err != nil {
		t.Fatalf("enroll with --ca-cert: %v", err)
	}
	s, err := agent.LoadSettings(dir)
	if err != nil {
		t.Fatal(err)
	}
	if s.CACert != ca {
		t.Errorf("settings caCert = %q, want the absolute %q", s.CACert, ca)
	}
	if err := os.Remove(ca); err != nil {
		t.Fatal(err)
	}
	if _, _, err := run(t, "", "backup", "--config", "c", "--config-dir", dir); err == nil || !strings.Contains(err.Error(), "CA certificate") {
		t.Errorf("backup with the CA file gone: got %v, want a CA certificate error", err)
	}
	if _, _, err := run(t, "", "enroll", "--config-dir", dir, "--server", srv.URL, "--key", "bak_good", "--ca-cert", ca); err == nil || !strings.Contains(err.Error(), "CA certificate") {
		t.Errorf("enroll with a missing CA file: got %v", err)
	}
}

func mustGetwd(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return wd
}

// TestHelpShowsValueTypes: pflag takes a back-quoted word in a flag's usage as its
// value's name, so "see `enroll --help`" printed "--config-dir enroll --help"; the
// help must show "--config-dir string".
func TestHelpShowsValueTypes(t *testing.T) {
	out, _, err := run(t, "", "--help")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "--config-dir string") || strings.Contains(out, "--config-dir enroll") {
		t.Errorf("help:\n%s", out)
	}
}

// TestMemoryLimit: the agent's soft memory limit defaults to 100 MiB on two cores and
// grows with more (engine.DefaultMemoryLimit), follows GOMEMLIMIT when set, and
// --memory-limit takes sizes or off, whatever the cores.
func TestMemoryLimit(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	t.Setenv("GOMEMLIMIT", "")
	os.Unsetenv("GOMEMLIMIT")
	for _, procs := range []int{2, 8} {
		runtime.GOMAXPROCS(procs)
		if err := applyMemoryLimit(""); err != nil {
			t.Fatal(err)
		}
		if got, want := debug.SetMemoryLimit(-1), map[int]int64{2: 100 << 20, 8: 340 << 20}[procs]; got != want {
			t.Errorf("default on %d cores: limit %d MiB, want %d MiB", procs, got>>20, want>>20)
		}
	}
	runtime.GOMAXPROCS(8)
	for _, tc := range []struct {
		flag string
		want int64
	}{{"256MiB", 256 << 20}, {"1GiB", 1 << 30}, {"200MB", 200e6}, {"1048576", 1 << 20}, {"off", math.MaxInt64}} {
		if err := applyMemoryLimit(tc.flag); err != nil {
			t.Fatalf("%q: %v", tc.flag, err)
		}
		if got := debug.SetMemoryLimit(-1); got != tc.want {
			t.Errorf("--memory-limit %q: limit %d, want %d", tc.flag, got, tc.want)
		}
	}
	for _, bad := range []string{"lots", "-5MiB", "0"} {
		if err := applyMemoryLimit(bad); err == nil {
			t.Errorf("--memory-limit %q: no error", bad)
		}
	}
	debug.SetMemoryLimit(1 << 30)
	t.Setenv("GOMEMLIMIT", "1GiB")
	if err := applyMemoryLimit(""); err != nil || debug.SetMemoryLimit(-1) != 1<<30 {
		t.Errorf("with GOMEMLIMIT set, the default changed the limit")
	}
}
