package builtin

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/backapp/backapp/internal/apperr"
	"github.com/backapp/backapp/internal/auth"
	"github.com/backapp/backapp/internal/store"
)

// FieldAllowedDirs is the form field of the allowed directories.
const FieldAllowedDirs = "allowed_dirs"

// SettingsStore is what reading and saving the server-mode settings needs.
type SettingsStore interface {
	GetSetting(ctx context.Context, key string) (string, error)
	SetSetting(ctx context.Context, key, value string) error
	AddAudit(ctx context.Context, e store.AuditEntry) error
}

// LoadAllowedDirs returns the allowed directories as saved, one a line.
func LoadAllowedDirs(ctx context.Context, st SettingsStore) (string, error) {
	v, err := st.GetSetting(ctx, SettingAllowedDirs)
	if errors.Is(err, store.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read setting %s: %w", SettingAllowedDirs, err)
	}
	return v, nil
}

// CheckAllowedDirs validates the text of the allowed-directories field: one absolute
// path a line, each an existing directory, never "/". Blank lines are dropped and
// duplicates merged. Every bad line is named at once, in an Invalid error on
// FieldAllowedDirs.
func CheckAllowedDirs(text string) ([]string, error) {
	var out, problems []string
	seen := map[string]bool{}
	for i, l := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n") {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		bad := func(format string, args ...any) {
			problems = append(problems, fmt.Sprintf("line %d: ", i+1)+fmt.Sprintf(format, args...))
		}
		if !filepath.IsAbs(l) {
			bad("%q is not an absolute path (start it with /)", l)
			continue
		}
		c := filepath.Clean(l)
		if filepath.Dir(c) == c {
			bad("%s is the whole file system; allow the directories that hold what to back up instead", c)
			continue
		}
		fi, err := os.Stat(c)
		switch {
		case errors.Is(err, os.ErrNotExist):
			bad("%s does not exist on the server", c)
			continue
		case err != nil:
			bad("%s cannot be read by the server: %v", c, err)
			continue
		case !fi.IsDir():
			bad("%s is a file, not a directory", c)
			continue
		}
		if !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	if len(problems) > 0 {
		return nil, apperr.Invalidf(FieldAllowedDirs, "%s", strings.Join(problems, "; "))
	}
	return out, nil
}

// SaveAllowedDirs checks text and saves it for actor, who must be an administrator,
// recording the change in the audit log. It returns the directories saved.
func SaveAllowedDirs(ctx context.Context, st SettingsStore, actor store.User, text string, m auth.Meta, now time.Time) ([]string, error) {
	if actor.Role != store.RoleAdmin {
		return nil, apperr.New(apperr.Forbidden, "only administrators can change the server's settings")
	}
	dirs, err := CheckAllowedDirs(text)
	if err != nil {
		return nil, err
	}
	if err := st.SetSetting(ctx, SettingAllowedDirs, strings.Join(dirs, "\n")); err != nil {
		return nil, fmt.Errorf("save setting %s: %w", SettingAllowedDirs, err)
	}
	e := store.AuditEntry{Time: now.UTC(), ActorID: actor.ID, Action: "settings.server_dirs", Target: SettingAllowedDirs,
		IP: m.IP, Detail: "allowed for server mode: " + strings.Join(dirs, ", ")}
	if id, err := uuid.NewV7(); err == nil {
		e.ID = id.String()
	}
	if err := st.AddAudit(context.WithoutCancel(ctx), e); err != nil {
		return dirs, fmt.Errorf("audit the change of %s: %w", SettingAllowedDirs, err)
	}
	return dirs, nil
}
