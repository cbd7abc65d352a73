package builtin

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/backapp/backapp/internal/agentproto"
	"github.com/backapp/backapp/internal/configs"
	"github.com/backapp/backapp/internal/store"
)

// SettingAllowedDirs is the setting that lists, one absolute path a line, the
// directories server-mode backups may read and server-mode restores may write; the
// same name internal/configs validates configurations against.
const SettingAllowedDirs = configs.SettingServerDirs

// GuardStore is what the guard reads, at every run.
type GuardStore interface {
	GetSetting(ctx context.Context, key string) (string, error)
	GetConfig(ctx context.Context, id string) (store.BackupConfig, error)
	GetUser(ctx context.Context, id string) (store.User, error)
}

// Guard vets what the built-in agent is asked to do before it reads or writes
// anything. Every rule is checked again at each run, so a configuration saved under
// rules since tightened is refused with a message in the run.
type Guard struct {
	Store GuardStore
	// Protected are directories no server-mode backup may read (nor contain) and no
	// restore may write into, whatever the allowed directories say: the server's data
	// directory, with the database, the master key and the local storage.
	Protected []string
}

// ParseAllowedDirs reads the setting's value: absolute paths, one a line, cleaned;
// blank lines, relative paths and "/" are ignored (the settings page refuses them).
func ParseAllowedDirs(v string) []string {
	var out []string
	for _, l := range strings.Split(v, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || !filepath.IsAbs(l) {
			continue
		}
		l = filepath.Clean(l)
		if l == string(filepath.Separator) || filepath.Dir(l) == l {
			continue
		}
		out = append(out, l)
	}
	return out
}

// AllowedDirs reads the allowed directories from the setting (none when unset).
func AllowedDirs(ctx context.Context, st interface {
	GetSetting(ctx context.Context, key string) (string, error)
}) ([]string, error) {
	v, err := st.GetSetting(ctx, SettingAllowedDirs)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read setting %s: %w", SettingAllowedDirs, err)
	}
	return ParseAllowedDirs(v), nil
}

// errRefused starts every refusal, so a run's error says at once why it failed.
const errRefused = "server mode refused: "

// CheckBackup is the built-in agent's agent.Runner.CheckBackup: the configuration must
// be a server-mode one whose owner is still an enabled administrator, without hooks
// (a command on the server would reach past every directory rule) or symlink
// following, and every source, with symbolic links resolved, must lie in an allowed
// directory and away from the server's data.
func (g *Guard) CheckBackup(ctx context.Context, cfg agentproto.Config) error {
	c, err := g.Store.GetConfig(ctx, cfg.ID)
	if err != nil {
		return fmt.Errorf("server mode: load configuration %s: %w", cfg.ID, err)
	}
	if c.ExecutionMode != configs.ModeServer {
		return fmt.Errorf(errRefused+"configuration %q is in %s mode; the server's built-in agent runs only server-mode configurations", c.Name, c.ExecutionMode)
	}
	if err := g.checkOwner(ctx, c.UserID, fmt.Sprintf("configuration %q", c.Name)); err != nil {
		return err
	}
	if h := cfg.Hooks; h != nil && (strings.TrimSpace(h.Pre) != "" || strings.TrimSpace(h.Post) != "") {
		return fmt.Errorf(errRefused+"configuration %q has pre/post hook commands; they would run as the server's own process, so server-mode backups run without hooks (remove them, or use an agent on this machine)", c.Name)
	}
	if cfg.Options.FollowSymlinks {
		return fmt.Errorf(errRefused+"configuration %q follows symbolic links, which could lead out of the allowed directories; turn following off for server mode", c.Name)
	}
	if len(cfg.Sources) == 0 {
		return errors.New("the configuration has no sources")
	}
	allowed, err := g.allowed(ctx)
	if err != nil {
		return err
	}
	for _, s := range cfg.Sources {
		if err := g.check(ctx, "source", s.Path, allowed, true); err != nil {
			return err
		}
	}
	return nil
}

// CheckRestore vets a restore into target by ownerID's built-in agent (its
// agent.Runner.CheckRestore): the owner must still be an enabled administrator, and
// the target, with symbolic links resolved as far as it exists, must lie in an allowed
// directory and outside the server's data.
func (g *Guard) CheckRestore(ctx context.Context, ownerID, target string) error {
	if err := g.checkOwner(ctx, ownerID, "this restore"); err != nil {
		return err
	}
	allowed, err := g.allowed(ctx)
	if err != nil {
		return err
	}
	return g.check(ctx, "restore target", target, allowed, false)
}

// checkOwner refuses work of a user who is not an enabled administrator.
func (g *Guard) checkOwner(ctx context.Context, userID, what string) error {
	owner, err := g.Store.GetUser(ctx, userID)
	if err != nil {
		return fmt.Errorf("server mode: load the owner of %s: %w", what, err)
	}
	if owner.Role != store.RoleAdmin || owner.Disabled {
		return fmt.Errorf(errRefused+"%s belongs to %s, who is not an enabled administrator; server mode reads and writes the server's own files, so it works only for administrators (switch the configuration to agent mode, or have an administrator recreate it)", what, owner.Email)
	}
	return nil
}

// allowed returns the allowed directories resolved (those that no longer exist drop
// out); none is an error that says where to set them.
func (g *Guard) allowed(ctx context.Context) ([]string, error) {
	dirs, err := AllowedDirs(ctx, g.Store)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, d := range dirs {
		if r, err := filepath.EvalSymlinks(d); err == nil {
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		return nil, errors.New(errRefused + "no directory of the server is allowed for server-mode backups and restores; an administrator lists them under Settings → Server")
	}
	return out, nil
}

func (g *Guard) check(_ context.Context, what, p string, allowed []string, mustExist bool) error {
	if !filepath.IsAbs(p) {
		return fmt.Errorf(errRefused+"%s %q is not an absolute path", what, p)
	}
	p = filepath.Clean(p)
	var real string
	var err error
	if mustExist {
		real, err = filepath.EvalSymlinks(p)
	} else {
		real, err = resolveExisting(p)
	}
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s %s does not exist on the server", what, p)
	}
	if err != nil {
		return fmt.Errorf("%s %s: %w", what, p, err)
	}
	shown := p
	if real != p {
		shown = fmt.Sprintf("%s (which resolves to %s)", p, real)
	}
	inside := false
	for _, a := range allowed {
		if within(real, a) {
			inside = true
			break
		}
	}
	if !inside {
		return fmt.Errorf(errRefused+"%s %s is outside the directories allowed for server mode (%s)", what, shown, strings.Join(allowed, ", "))
	}
	for _, d := range g.Protected {
		rd, err := resolveExisting(d)
		if err != nil {
			continue
		}
		if within(real, rd) || within(rd, real) {
			return fmt.Errorf(errRefused+"%s %s overlaps the server's own data directory %s (database, master key, stored archives)", what, shown, rd)
		}
	}
	return nil
}

// within reports whether p is dir or lies under it (both cleaned and absolute).
func within(p, dir string) bool {
	if p == dir {
		return true
	}
	if !strings.HasSuffix(dir, string(filepath.Separator)) {
		dir += string(filepath.Separator)
	}
	return strings.HasPrefix(p, dir)
}

// resolveExisting resolves symbolic links in the longest existing prefix of p (which
// is absolute and clean) and appends the rest, so a target still to be created is
// judged by where it would really be written.
func resolveExisting(p string) (string, error) {
	p, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	var rest []string
	for {
		r, err := filepath.EvalSymlinks(p)
		if err == nil {
			return filepath.Join(append([]string{r}, rest...)...), nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		if _, lerr := os.Lstat(p); lerr == nil {
			// It exists but does not resolve: a link to nowhere, which writing would follow.
			return "", fmt.Errorf("%s is a symbolic link to a place that does not exist", p)
		}
		parent := filepath.Dir(p)
		if parent == p {
			return "", err
		}
		rest = append([]string{filepath.Base(p)}, rest...)
		p = parent
	}
}
