package configs

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/backapp/backapp/internal/apperr"
	"github.com/backapp/backapp/internal/auth"
	"github.com/backapp/backapp/internal/store"
)

// FieldAllowedDirs is the form field of the server-mode directories.
const FieldAllowedDirs = "allowedDirs"

// ServerDirs returns the directories of the server that server-mode configurations
// may back up (administrators only).
func (s *Service) ServerDirs(ctx context.Context, actor store.User) ([]string, error) {
	if !actor.IsAdmin() {
		return nil, apperr.New(apperr.Forbidden, "only administrators can see the directories allowed for server-mode backups")
	}
	return s.serverDirs(ctx)
}

// SetServerDirs replaces the directories server-mode configurations may back up.
// Each must be an existing absolute directory on the server, and not the root: a
// backup of / would include the server's database and master key. Existing
// configurations are checked again when they are next saved.
func (s *Service) SetServerDirs(ctx context.Context, actor store.User, dirs []string, m auth.Meta) ([]string, error) {
	if !actor.IsAdmin() {
		return nil, apperr.New(apperr.Forbidden, "only administrators can change the directories allowed for server-mode backups")
	}
	var out []string
	seen := map[string]bool{}
	for i, d := range cleanLines(dirs) {
		switch {
		case strings.ContainsRune(d, 0):
			return nil, apperr.Invalidf(FieldAllowedDirs, "line %d contains a NUL character", i+1)
		case !filepath.IsAbs(d):
			return nil, apperr.Invalidf(FieldAllowedDirs, "line %d: %q is not an absolute path on this server", i+1, d)
		}
		d = filepath.Clean(d)
		if resolve(d) == string(filepath.Separator) || d == string(filepath.Separator) {
			return nil, apperr.Invalidf(FieldAllowedDirs, "line %d: allowing / would let backups read the whole server, including backapp's database and master key; list the directories to back up instead", i+1)
		}
		fi, err := os.Stat(d)
		if err != nil || !fi.IsDir() {
			return nil, apperr.Invalidf(FieldAllowedDirs, "line %d: %s is not a directory on this server", i+1, d)
		}
		if !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	if err := s.st.SetSetting(ctx, SettingServerDirs, strings.Join(out, "\n")); err != nil {
		return nil, fmt.Errorf("save setting %s: %w", SettingServerDirs, err)
	}
	s.audit(ctx, actor.ID, "settings.server_mode_dirs", SettingServerDirs, m, strings.Join(out, ", "))
	return out, nil
}
