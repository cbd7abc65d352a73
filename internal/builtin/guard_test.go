package builtin

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/backapp/backapp/internal/agentproto"
	"github.com/backapp/backapp/internal/store"
)

// fakeStore is the guard's view of the database.
type fakeStore struct {
	allowed string
	configs map[string]store.BackupConfig
	users   map[string]store.User
}

func (f *fakeStore) GetSetting(_ context.Context, key string) (string, error) {
	if key != SettingAllowedDirs {
		return "", store.ErrNotFound
	}
	return f.allowed, nil
}

func (f *fakeStore) GetConfig(_ context.Context, id string) (store.BackupConfig, error) {
	c, ok := f.configs[id]
	if !ok {
		return c, store.ErrNotFound
	}
	return c, nil
}

func (f *fakeStore) GetUser(_ context.Context, id string) (store.User, error) {
	u, ok := f.users[id]
	if !ok {
		return u, store.ErrNotFound
	}
	return u, nil
}

func TestParseAllowedDirs(t *testing.T) {
	got := ParseAllowedDirs(" /srv/data/ \n\nrelative/dir\n/\n/var//backups/../www\r\n")
	want := []string{"/srv/data", "/var/www"}
	if !slices.Equal(got, want) {
		t.Errorf("ParseAllowedDirs = %q, want %q", got, want)
	}
}

func TestWithin(t *testing.T) {
	for _, tc := range []struct {
		p, dir string
		want   bool
	}{
		{"/srv/a", "/srv/a", true},
		{"/srv/a/b", "/srv/a", true},
		{"/srv/ab", "/srv/a", false},
		{"/srv", "/srv/a", false},
	} {
		if got := within(tc.p, tc.dir); got != tc.want {
			t.Errorf("within(%q, %q) = %v, want %v", tc.p, tc.dir, got, tc.want)
		}
	}
}

// TestGuard checks backups and restores against the rules, symlinks resolved.
func TestGuard(t *testing.T) {
	root := t.TempDir()
	mk := func(p string) string {
		p = filepath.Join(root, p)
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	allowed, outside, data := mk("allowed"), mk("outside"), mk("allowed/backapp-data")
	mk("allowed/src")
	link := func(name, to string) string {
		p := filepath.Join(allowed, name)
		if err := os.Symlink(to, p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	out := link("out", outside)
	in := link("in", filepath.Join(allowed, "src"))
	dangling := link("dangling", filepath.Join(outside, "not-yet"))

	st := &fakeStore{allowed: allowed + "\n/\nrelative",
		users: map[string]store.User{
			"admin":    {ID: "admin", Email: "admin@example.com", Role: store.RoleAdmin},
			"user":     {ID: "user", Email: "user@example.com", Role: store.RoleUser},
			"disabled": {ID: "disabled", Email: "off@example.com", Role: store.RoleAdmin, Disabled: true},
		},
		configs: map[string]store.BackupConfig{
			"srv":   {ID: "srv", Name: "srv", UserID: "admin", ExecutionMode: "server"},
			"agent": {ID: "agent", Name: "agent", UserID: "admin", ExecutionMode: "agent"},
			"user":  {ID: "user", Name: "user's", UserID: "user", ExecutionMode: "server"},
			"off":   {ID: "off", Name: "off", UserID: "disabled", ExecutionMode: "server"},
		}}
	g := &Guard{Store: st, Protected: []string{data}}
	ctx := context.Background()

	backup := func(id string, opts agentproto.Options, hooks *agentproto.Hooks, paths ...string) error {
		c := agentproto.Config{ID: id, Options: opts, Hooks: hooks}
		for _, p := range paths {
			c.Sources = append(c.Sources, agentproto.Source{Path: p})
		}
		return g.CheckBackup(ctx, c)
	}
	for _, tc := range []struct {
		name string
		err  error
		want string // "" means allowed
	}{
		{"inside", backup("srv", agentproto.Options{}, nil, filepath.Join(allowed, "src")), ""},
		{"allowed dir itself", backup("srv", agentproto.Options{}, nil, allowed+"/"), "overlaps the server's own data directory"},
		{"symlink staying inside", backup("srv", agentproto.Options{}, nil, in), ""},
		{"outside", backup("srv", agentproto.Options{}, nil, filepath.Join(allowed, "src"), outside), "is outside the directories allowed"},
		{"dot-dot", backup("srv", agentproto.Options{}, nil, allowed+"/src/../../outside"), "is outside the directories allowed"},
		{"symlink out", backup("srv", agentproto.Options{}, nil, out), "which resolves to"},
		{"symlink out, below", backup("srv", agentproto.Options{}, nil, filepath.Join(out, ".")), "is outside"},
		{"relative", backup("srv", agentproto.Options{}, nil, "src"), "is not an absolute path"},
		{"missing", backup("srv", agentproto.Options{}, nil, filepath.Join(allowed, "nope")), "does not exist on the server"},
		{"data dir", backup("srv", agentproto.Options{}, nil, data), "overlaps the server's own data directory"},
		{"agent mode", backup("agent", agentproto.Options{}, nil, in), "is in agent mode"},
		{"user's", backup("user", agentproto.Options{}, nil, in), "user@example.com, who is not an enabled administrator"},
		{"disabled admin's", backup("off", agentproto.Options{}, nil, in), "who is not an enabled administrator"},
		{"hooks", backup("srv", agentproto.Options{}, &agentproto.Hooks{Post: "id"}, in), "hook commands"},
		{"follow symlinks", backup("srv", agentproto.Options{FollowSymlinks: true}, nil, in), "follows symbolic links"},
		{"restore inside, new dir", g.CheckRestore(ctx, "admin", filepath.Join(allowed, "src", "new", "deeper")), ""},
		{"restore outside", g.CheckRestore(ctx, "admin", filepath.Join(outside, "x")), "is outside"},
		{"restore through a link out", g.CheckRestore(ctx, "admin", filepath.Join(out, "x")), "which resolves to"},
		{"restore through a dangling link", g.CheckRestore(ctx, "admin", filepath.Join(dangling, "x")), "symbolic link to a place that does not exist"},
		{"restore into data", g.CheckRestore(ctx, "admin", filepath.Join(data, "x")), "overlaps the server's own data directory"},
		{"restore by a user", g.CheckRestore(ctx, "user", filepath.Join(allowed, "src")), "not an enabled administrator"},
	} {
		switch {
		case tc.want == "" && tc.err != nil:
			t.Errorf("%s: %v, want allowed", tc.name, tc.err)
		case tc.want != "" && (tc.err == nil || !strings.Contains(tc.err.Error(), tc.want)):
			t.Errorf("%s: %v, want an error with %q", tc.name, tc.err, tc.want)
		}
	}

	st.allowed = "/nonexistent/dir\n"
	if err := backup("srv", agentproto.Options{}, nil, in); err == nil || !strings.Contains(err.Error(), "Settings → Server") {
		t.Errorf("no existing allowed directory: %v, want a pointer to Settings → Server", err)
	}
}
