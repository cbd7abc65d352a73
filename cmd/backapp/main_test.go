package main

import (
	"bytes"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/backapp/backapp/internal/testenv"
	"github.com/backapp/backapp/internal/testenv/testbin"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testbin.Cleanup()
	os.Exit(code)
}

// binary builds cmd/backapp once per test run: these tests run the real program.
func binary(t *testing.T) string {
	t.Helper()
	return testbin.Build(t, testbin.Module+"/cmd/backapp")
}

// backapp runs the binary with args and env (added to a clean environment).
func backapp(t *testing.T, stdin string, env []string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Env = append(append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, testbin.CoverEnv()...), env...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func TestServeStartsWithNoConfigAndStopsOnSIGTERM(t *testing.T) {
	dir := t.TempDir()
	addr := freePort(t)
	cmd := exec.Command(binary(t), "serve", "--listen", addr)
	cmd.Dir = dir // default --data-dir ./data lands here
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, testbin.CoverEnv()...)
	var logs bytes.Buffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var ready bool
	testenv.Eventually(t, "the server to answer /readyz", func() bool {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			ready = resp.StatusCode == 200
		}
		return err == nil
	})
	if !ready {
		t.Fatalf("server not ready; log:\n%s", logs.String())
	}
	for _, f := range []string{"data/backapp.db", "data/master.key"} {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if f == "data/master.key" && fi.Mode().Perm() != 0o600 {
			t.Errorf("master key mode %v, want 0600", fi.Mode().Perm())
		}
	}
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v; log:\n%s", err, logs.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("server did not stop within 15 s of SIGTERM")
	}
	for _, want := range []string{"backapp listening", "method=GET", "path=/readyz", "status=200", "request_id=", "duration=", "shut down cleanly"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
}

func TestInvalidSettingsStopStartup(t *testing.T) {
	cases := []struct {
		env  []string
		args []string
		want string
	}{
		{[]string{"BACKAPP_LISTEN=nonsense"}, nil, "--listen"},
		{[]string{"BACKAPP_LOG_LEVEL=chatty"}, nil, "--log-level"},
		{[]string{"BACKAPP_LISTN=:1"}, nil, "BACKAPP_LISTN"},
		{[]string{"DATABASE_URL=mysql://x"}, nil, "--database-url"},
		{nil, []string{"--no-such-flag"}, "no-such-flag"},
	}
	for _, c := range cases {
		out, err := backapp(t, "", append(c.env, "BACKAPP_DATA_DIR="+t.TempDir()), append([]string{"serve"}, c.args...)...)
		if err == nil {
			t.Errorf("%v %v: started; want a refusal", c.env, c.args)
			continue
		}
		if !strings.Contains(out, c.want) {
			t.Errorf("%v %v: output %q does not name %s", c.env, c.args, out, c.want)
		}
	}
}

func TestServeHelpDocumentsSettings(t *testing.T) {
	out, err := backapp(t, "", nil, "serve", "--help")
	if err != nil {
		t.Fatal(err, out)
	}
	for _, want := range []string{"--listen", "BACKAPP_LISTEN", "--data-dir", "DATABASE_URL", "--base-url", "--tls-cert", "--smtp-host", "--log-level", "--log-format"} {
		if !strings.Contains(out, want) {
			t.Errorf("serve --help lacks %s", want)
		}
	}
}

func TestAdminCommands(t *testing.T) {
	env := []string{"BACKAPP_DATA_DIR=" + t.TempDir()}
	out, err := backapp(t, "short\n", env, "admin", "create-user", "--email", "ops@example.com", "--name", "Ops", "--password-stdin")
	if err == nil || !strings.Contains(out, "at least 12 characters") {
		t.Fatalf("short password: err %v, output %q", err, out)
	}
	out, err = backapp(t, "correct horse battery\n", env, "admin", "create-user", "--email", "ops@example.com", "--name", "Ops", "--password-stdin")
	if err != nil || !strings.Contains(out, "created admin ops@example.com") {
		t.Fatalf("create-user: %v %q", err, out)
	}
	out, err = backapp(t, "another password 1\n", env, "admin", "reset-password", "--email", "nobody@example.com", "--password-stdin")
	if err == nil || !strings.Contains(out, "no account") {
		t.Fatalf("reset unknown: %v %q", err, out)
	}
	out, err = backapp(t, "another password 1\n", env, "admin", "reset-password", "--email", "ops@example.com", "--password-stdin")
	if err != nil || !strings.Contains(out, "password of ops@example.com changed") {
		t.Fatalf("reset-password: %v %q", err, out)
	}
	out, err = backapp(t, "", env, "migrate")
	if err != nil || !strings.Contains(out, "sqlite") {
		t.Fatalf("migrate: %v %q", err, out)
	}
}
