package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"testing"

	"github.com/backapp/backapp/internal/testenv"
)

// pgCluster is a throwaway PostgreSQL server of a test's own (initdb + pg_ctl from
// the machine's binaries, as scripts/services/postgres.sh starts one), so a test can
// stop and start it: a database outage.
type pgCluster struct {
	t     *testing.T
	bin   string // directory of initdb and pg_ctl
	dir   string // data directory
	port  int
	owner string // the unprivileged user the server runs as when the test runs as root
}

// startPGCluster initializes and starts a cluster on a free port, stopped and removed
// when the test ends. Without PostgreSQL's binaries the test skips (fails in CI).
func startPGCluster(t *testing.T) *pgCluster {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	if len(bins) == 0 {
		if p, err := exec.LookPath("pg_ctl"); err == nil {
			bins = []string{p}
		}
	}
	if len(bins) == 0 {
		testenv.Require(t, false, "no PostgreSQL binaries (initdb, pg_ctl): make tools installs them")
	}
	sort.Strings(bins)
	c := &pgCluster{t: t, bin: filepath.Dir(bins[len(bins)-1])}
	root, err := os.MkdirTemp("", "backapp-pgcluster-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	if os.Getuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			testenv.Require(t, false, "running as root without a postgres user to run the cluster as")
		}
		c.owner = u.Username
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(root, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	c.dir = filepath.Join(root, "data")
	c.run("initdb", "-D", c.dir, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--no-locale", "--no-sync")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c.port = l.Addr().(*net.TCPAddr).Port
	l.Close()
	c.Start()
	t.Cleanup(func() { c.pgctl("-m", "immediate", "stop") })
	return c
}

// URL is the connection URL of the cluster's postgres database.
func (c *pgCluster) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.port)
}

// Start starts the server and waits until it accepts connections.
func (c *pgCluster) Start() {
	c.t.Helper()
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off",
		c.port, filepath.Dir(c.dir))
	if err := c.pgctl("-l", filepath.Join(filepath.Dir(c.dir), "server.log"), "-w", "-t", "60", "-o", opts, "start"); err != nil {
		c.t.Fatal(err)
	}
}

// Stop stops the server the way an administrator's restart does (fast shutdown:
// open connections are terminated).
func (c *pgCluster) Stop() {
	c.t.Helper()
	if err := c.pgctl("-m", "fast", "-w", "stop"); err != nil {
		c.t.Fatal(err)
	}
}

func (c *pgCluster) pgctl(args ...string) error {
	args = append([]string{"-D", c.dir}, args...)
	if b, err := c.command("pg_ctl", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("pg_ctl %v: %v\n%s", args, err, b)
	}
	return nil
}

func (c *pgCluster) run(name string, args ...string) {
	c.t.Helper()
	if b, err := c.command(name, args...).CombinedOutput(); err != nil {
		c.t.Fatalf("%s: %v\n%s", name, err, b)
	}
}

func (c *pgCluster) command(name string, args ...string) *exec.Cmd {
	bin := filepath.Join(c.bin, name)
	if c.owner != "" {
		return exec.Command("runuser", append([]string{"-u", c.owner, "--", bin}, args...)...)
	}
	return exec.Command(bin, args...)
}
