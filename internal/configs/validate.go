package configs

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"filippo.io/age"

	"github.com/backapp/backapp/internal/apperr"
	"github.com/backapp/backapp/internal/engine/scan"
	"github.com/backapp/backapp/internal/scheduler"
	"github.com/backapp/backapp/internal/store"
)

// Form fields that Validate's errors name: the JSON paths of the configuration, which
// the pages use as input names too. Per-source fields are SourceField(i, …).
const (
	FieldName             = "name"
	FieldExecutionMode    = "executionMode"
	FieldAgentID          = "agentId"
	FieldSources          = "sources"
	FieldDestination      = "destination.destinationId"
	FieldCron             = "schedule.cronExpression"
	FieldTimezone         = "schedule.timezone"
	FieldType             = "options.type"
	FieldFullEvery        = "options.fullEvery"
	FieldFullEveryDays    = "options.fullEveryDays"
	FieldCompression      = "options.compression"
	FieldCompressionLevel = "options.compressionLevel"
	FieldEncryptionMode   = "options.encryptionMode"
	FieldRecipients       = "options.recipients"
	FieldPassphrase       = "options.passphrase"
	FieldOnError          = "options.onError"
	FieldBandwidth        = "options.bandwidth"
	FieldRetentionDays    = "options.retentionDays"
	FieldKeepLast         = "options.keepLast"
	FieldKeepDaily        = "options.keepDaily"
	FieldKeepWeekly       = "options.keepWeekly"
	FieldKeepMonthly      = "options.keepMonthly"
	FieldAlertAfter       = "options.alertAfterHours"
	FieldHookPre          = "options.hooks.pre"
	FieldHookPost         = "options.hooks.post"
	FieldHookTimeout      = "options.hooks.timeoutSeconds"
)

// SourceField is the field name of part ("path", "includePatterns",
// "excludePatterns") of source i: "sources[0].path".
func SourceField(i int, part string) string { return fmt.Sprintf("sources[%d].%s", i, part) }

// Limits.
const (
	MaxNameLen      = 100
	MaxSources      = 100
	MaxPathLen      = 4096
	MaxPatterns     = 1000
	MaxPatternLen   = 1024
	MaxFullEvery    = 1000
	MaxFullDays     = 3650
	MaxRetention    = 36500    // days: 100 years
	MaxKeepLast     = 100000   // runs
	MaxKeepDaily    = 36500    // days
	MaxKeepWeekly   = 5200     // weeks
	MaxKeepMonthly  = 1200     // months
	MaxAlertAfter   = 24 * 366 // hours: a year
	MaxBandwidth    = 10 << 20 // KB/s: 10 GiB/s
	MaxHookLen      = 4096
	MaxHookTimeout  = 24 * 60 * 60
	DefaultHookTime = 60 * 60
	MinPassphrase   = 12
	MaxPassphrase   = 1024
	MaxRecipients   = 100
)

// SettingServerDirs is the setting that lists, one absolute path a line, the
// directories of the server that server-mode configurations may back up. Empty or
// unset allows none.
const SettingServerDirs = "server_mode_allowed_dirs"

var windowsAbs = regexp.MustCompile(`^[A-Za-z]:[\\/]`)

// isAbs reports whether p is absolute on POSIX or Windows (drive or UNC path):
// agents run on either, and the server cannot know which from the path alone.
func isAbs(p string) bool {
	return strings.HasPrefix(p, "/") || windowsAbs.MatchString(p) || strings.HasPrefix(p, `\\`)
}

// checkCtx is what a configuration is checked against.
type checkCtx struct {
	actor store.User
	owner string  // the configuration's owner: actor for a new one
	prev  *Config // the saved configuration when updating
}

// normalize trims and defaults in without judging it.
func normalize(in Config) Config {
	in.Name = strings.TrimSpace(in.Name)
	in.ExecutionMode = strings.ToLower(strings.TrimSpace(in.ExecutionMode))
	if in.ExecutionMode == "" {
		in.ExecutionMode = ModeAgent
	}
	if in.AgentID != nil {
		id := strings.TrimSpace(*in.AgentID)
		in.AgentID = &id
		if id == "" {
			in.AgentID = nil
		}
	}
	for i := range in.Sources {
		s := &in.Sources[i]
		s.Path = strings.TrimSpace(s.Path)
		s.IncludePatterns = cleanLines(s.IncludePatterns)
		s.ExcludePatterns = cleanLines(s.ExcludePatterns)
	}
	in.Destination.DestinationID = strings.TrimSpace(in.Destination.DestinationID)
	if in.Schedule != nil {
		in.Schedule.CronExpression = strings.TrimSpace(in.Schedule.CronExpression)
		if in.Schedule.CronExpression == "" {
			in.Schedule = nil
		} else if strings.TrimSpace(in.Schedule.Timezone) == "" {
			in.Schedule.Timezone = "UTC"
		}
	}
	o := &in.Options
	o.Type = strings.ToLower(strings.TrimSpace(o.Type))
	if o.Type == "" {
		o.Type = TypeIncremental
	}
	o.Compression = Codec(strings.ToLower(strings.TrimSpace(string(o.Compression))))
	if o.Compression == "" {
		o.Compression = CompressionZstd
	}
	o.EncryptionMode = strings.ToLower(strings.TrimSpace(o.EncryptionMode))
	o.Recipients = cleanLines(o.Recipients)
	if o.EncryptionMode == "" {
		switch {
		case !o.Encryption:
			o.EncryptionMode = EncryptNone
		case len(o.Recipients) > 0:
			o.EncryptionMode = EncryptAge
		case o.Passphrase != "" || o.PassphraseSet:
			o.EncryptionMode = EncryptPassphrase
		default:
			o.EncryptionMode = EncryptAge // reported: encryption on with nothing to encrypt to
		}
	}
	o.OnError = strings.ToLower(strings.TrimSpace(o.OnError))
	if o.OnError == "" {
		o.OnError = "skip"
	}
	if h := o.Hooks; h != nil {
		h.Pre, h.Post = strings.TrimSpace(h.Pre), strings.TrimSpace(h.Post)
		if h.Pre == "" && h.Post == "" && h.TimeoutSeconds == 0 {
			o.Hooks = nil
		} else if h.TimeoutSeconds == 0 {
			h.TimeoutSeconds = DefaultHookTime
		}
	}
	return in
}

// cleanLines splits multi-line entries, trims each line and drops blank ones.
func cleanLines(in []string) []string {
	var out []string
	for _, s := range in {
		for _, l := range strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n") {
			if l = strings.TrimSpace(l); l != "" {
				out = append(out, l)
			}
		}
	}
	return out
}

// check validates in (already normalised) and returns it ready to save, or an
// Invalid error with every problem at once. Errors that are not the input's fault
// (the database) are returned as they are.
func (s *Service) check(ctx context.Context, cc checkCtx, in Config) (Config, error) {
	f := apperr.Fields{}
	checkName(f, in.Name)

	switch in.ExecutionMode {
	case ModeAgent:
		if err := s.checkAgent(ctx, f, cc, in.Agent()); err != nil {
			return in, err
		}
	case ModeServer:
		in.AgentID = nil
		if !cc.actor.IsAdmin() {
			f.Add(FieldExecutionMode, "only administrators can create or change server-mode configurations, which read the server's own files; choose agent mode and one of your agents")
		}
	default:
		f.Add(FieldExecutionMode, "execution mode %q is not one of agent or server", in.ExecutionMode)
	}

	allowed, err := s.serverDirs(ctx)
	if err != nil {
		return in, err
	}
	checkSources(f, in, allowed)

	if err := s.checkDestination(ctx, f, cc, in.Destination.DestinationID); err != nil {
		return in, err
	}
	if in.Schedule != nil {
		if _, err := scheduler.Parse(in.Schedule.CronExpression, in.Schedule.Timezone); err != nil {
			e := apperr.From(err)
			if e.Kind != apperr.Invalid {
				return in, err
			}
			for k, m := range e.Fields {
				f.Add("schedule."+k, "%s", m)
			}
		}
	}
	checkOptions(f, &in.Options, cc.prev)
	return in, f.Err()
}

func checkName(f apperr.Fields, name string) {
	switch {
	case name == "":
		f.Add(FieldName, "enter a name for the configuration, such as \"Home directories\"")
	case !utf8.ValidString(name):
		f.Add(FieldName, "the name must be valid UTF-8 text")
	case utf8.RuneCountInString(name) > MaxNameLen:
		f.Add(FieldName, "the name is %d characters long; use at most %d", utf8.RuneCountInString(name), MaxNameLen)
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		f.Add(FieldName, "the name must not contain control characters such as tabs or line breaks")
	}
}

func (s *Service) checkAgent(ctx context.Context, f apperr.Fields, cc checkCtx, id string) error {
	if id == "" {
		f.Add(FieldAgentID, "choose the agent that runs this backup")
		return nil
	}
	a, err := s.st.GetAgent(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && a.UserID != cc.owner) {
		f.Add(FieldAgentID, "no agent %q among yours: choose one of your own agents", id)
		return nil
	}
	if err != nil {
		return fmt.Errorf("get agent %s: %w", id, err)
	}
	if a.Revoked {
		f.Add(FieldAgentID, "agent %q is revoked and cannot run backups; choose another agent or rotate its key", a.Name)
	}
	return nil
}

func (s *Service) checkDestination(ctx context.Context, f apperr.Fields, cc checkCtx, id string) error {
	if id == "" {
		return nil // the built-in local destination
	}
	d, err := s.st.GetDestination(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && d.UserID != "" && d.UserID != cc.owner) {
		f.Add(FieldDestination, "no destination %q among yours: choose one of your storage destinations or the built-in local one", id)
		return nil
	}
	if err != nil {
		return fmt.Errorf("get destination %s: %w", id, err)
	}
	return nil
}

// serverDirs reads the directories server-mode configurations may back up.
func (s *Service) serverDirs(ctx context.Context) ([]string, error) {
	v, err := s.st.GetSetting(ctx, SettingServerDirs)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read setting %s: %w", SettingServerDirs, err)
	}
	var dirs []string
	for _, l := range cleanLines([]string{v}) {
		if filepath.IsAbs(l) {
			dirs = append(dirs, filepath.Clean(l))
		}
	}
	return dirs, nil
}

// underAllowed reports whether p lies in one of dirs, after resolving symbolic
// links where they exist, so a link inside an allowed directory cannot lead out of it.
func underAllowed(p string, dirs []string) bool {
	p = filepath.Clean(p)
	real := resolve(p)
	for _, d := range dirs {
		if within(p, d) && within(real, resolve(d)) {
			return true
		}
	}
	return false
}

// resolve returns p with symbolic links resolved in its longest existing prefix
// (a source may not exist yet when it is configured).
func resolve(p string) string {
	rest := ""
	for cur := p; ; {
		if r, err := filepath.EvalSymlinks(cur); err == nil {
			return filepath.Join(r, rest)
		}
		parent := filepath.Dir(cur)
		if parent == cur {
			return p
		}
		rest = filepath.Join(filepath.Base(cur), rest)
		cur = parent
	}
}

func within(p, dir string) bool {
	if dir == "/" {
		return strings.HasPrefix(p, "/")
	}
	return p == dir || strings.HasPrefix(p, dir+string(filepath.Separator))
}

func checkSources(f apperr.Fields, in Config, allowed []string) {
	if len(in.Sources) == 0 {
		f.Add(FieldSources, "add at least one directory or file to back up")
		return
	}
	if len(in.Sources) > MaxSources {
		f.Add(FieldSources, "%d sources is too many; use at most %d (a directory includes everything under it)", len(in.Sources), MaxSources)
		return
	}
	seen := map[string]int{}
	for i, src := range in.Sources {
		field := SourceField(i, "path")
		p := src.Path
		switch {
		case p == "":
			f.Add(field, "enter the absolute path of a directory or file, such as /home or C:\\Users")
		case strings.ContainsRune(p, 0):
			f.Add(field, "the path contains a NUL character, which no file system allows")
		case !utf8.ValidString(p):
			f.Add(field, "the path must be valid UTF-8 text")
		case len(p) > MaxPathLen:
			f.Add(field, "the path is %d bytes long; use at most %d", len(p), MaxPathLen)
		case strings.IndexFunc(p, unicode.IsControl) >= 0:
			f.Add(field, "the path must not contain control characters such as tabs or line breaks")
		case !isAbs(p):
			f.Add(field, "%q is a relative path; give an absolute one, such as /home/%s or C:\\%s", p, strings.TrimLeft(p, "./"), strings.TrimLeft(p, "./"))
		case in.ExecutionMode == ModeServer && !strings.HasPrefix(p, "/") && !filepath.IsAbs(p):
			f.Add(field, "%q is not a path on this server", p)
		case in.ExecutionMode == ModeServer && len(allowed) == 0:
			f.Add(field, "no directory of the server is allowed for server-mode backups yet; an administrator lists them under Settings · Server (setting %s, one absolute path a line)", SettingServerDirs)
		case in.ExecutionMode == ModeServer && !underAllowed(p, allowed):
			f.Add(field, "%s is outside the directories allowed for server-mode backups (%s)", p, strings.Join(allowed, ", "))
		default:
			if j, dup := seen[p]; dup {
				f.Add(field, "%s is already source %d", p, j+1)
			}
			seen[p] = i
		}
		checkPatterns(f, SourceField(i, "includePatterns"), src.IncludePatterns)
		checkPatterns(f, SourceField(i, "excludePatterns"), src.ExcludePatterns)
	}
}

// checkPatterns applies the engine's own pattern rules (scan.NewMatcher), one line
// at a time so the message can say which line is wrong.
func checkPatterns(f apperr.Fields, field string, ps []string) {
	if len(ps) > MaxPatterns {
		f.Add(field, "%d patterns is too many; use at most %d", len(ps), MaxPatterns)
		return
	}
	for i, p := range ps {
		switch {
		case len(p) > MaxPatternLen:
			f.Add(field, "line %d: the pattern is %d bytes long; use at most %d", i+1, len(p), MaxPatternLen)
		case strings.ContainsRune(p, 0) || !utf8.ValidString(p):
			f.Add(field, "line %d: the pattern must be UTF-8 text without NUL characters", i+1)
		default:
			if _, err := scan.NewMatcher([]string{p}, nil); err != nil || strings.Trim(p, "/") == "" {
				f.Add(field, "line %d: %q is not a valid pattern (check brackets [] and braces {} are closed; use * ? ** [a-z] {a,b})", i+1, p)
			}
		}
		if _, bad := f[field]; bad {
			return
		}
	}
}

func checkRange(f apperr.Fields, field string, v, lo, hi int64, what, zero string) {
	switch {
	case v < 0:
		f.Add(field, "%s cannot be negative (%d); use 0 %s", what, v, zero)
	case v != 0 && v < lo:
		f.Add(field, "%s must be at least %d, not %d", what, lo, v)
	case v > hi:
		f.Add(field, "%s %d is too large; the most is %d", what, v, hi)
	}
}

func checkOptions(f apperr.Fields, o *Options, prev *Config) {
	switch o.Type {
	case TypeFull:
		o.FullEvery, o.FullEveryDays = 0, 0
	case TypeIncremental:
		checkRange(f, FieldFullEvery, int64(o.FullEvery), 1, MaxFullEvery, "a full backup every N runs", "(only the first run is full)")
		checkRange(f, FieldFullEveryDays, int64(o.FullEveryDays), 1, MaxFullDays, "a full backup every N days", "(off)")
	default:
		f.Add(FieldType, "backup type %q is not one of full or incremental", o.Type)
	}

	switch o.Compression {
	case CompressionZstd:
		checkLevel(f, o.CompressionLevel, 22, "zstd")
	case CompressionGzip:
		checkLevel(f, o.CompressionLevel, 9, "gzip")
	case CompressionNone:
		if o.CompressionLevel != 0 {
			f.Add(FieldCompressionLevel, "no compression takes no level; leave it empty")
		}
	default:
		f.Add(FieldCompression, "compression %q is not one of zstd, gzip or none", o.Compression)
	}

	checkEncryption(f, o, prev)

	switch o.OnError {
	case "skip", "fail":
	default:
		f.Add(FieldOnError, "on error %q is not one of skip (report the file and go on) or fail (stop the backup)", o.OnError)
	}
	checkRange(f, FieldBandwidth, o.Bandwidth, 1, MaxBandwidth, "the bandwidth limit in KB/s", "for unlimited")
	checkRange(f, FieldRetentionDays, int64(o.RetentionDays), 1, MaxRetention, "days to keep backups", "to keep them regardless of age")
	checkRange(f, FieldKeepLast, int64(o.KeepLast), 1, MaxKeepLast, "the number of last backups to keep", "(off)")
	checkRange(f, FieldKeepDaily, int64(o.KeepDaily), 1, MaxKeepDaily, "daily backups to keep", "(off)")
	checkRange(f, FieldKeepWeekly, int64(o.KeepWeekly), 1, MaxKeepWeekly, "weekly backups to keep", "(off)")
	checkRange(f, FieldKeepMonthly, int64(o.KeepMonthly), 1, MaxKeepMonthly, "monthly backups to keep", "(off)")
	checkRange(f, FieldAlertAfter, int64(o.AlertAfterHours), 1, MaxAlertAfter, "hours without a successful backup before an alert", "for twice the schedule's interval")

	if h := o.Hooks; h != nil {
		checkHook(f, FieldHookPre, h.Pre)
		checkHook(f, FieldHookPost, h.Post)
		switch {
		case h.TimeoutSeconds < 1:
			f.Add(FieldHookTimeout, "the hook timeout must be between 1 second and 24 hours (86400 s), not %d s", h.TimeoutSeconds)
		case h.TimeoutSeconds > MaxHookTimeout:
			f.Add(FieldHookTimeout, "the hook timeout %d s is longer than 24 hours; the most is %d s", h.TimeoutSeconds, MaxHookTimeout)
		}
		if h.Pre == "" && h.Post == "" {
			o.Hooks = nil
		}
	}
}

func checkLevel(f apperr.Fields, level, hi int, codec string) {
	if level < 0 || level > hi {
		f.Add(FieldCompressionLevel, "%s level %d is out of range: use 1 (fastest) to %d (smallest), or leave it empty for the default", codec, level, hi)
	}
}

func checkHook(f apperr.Fields, field, cmd string) {
	switch {
	case len(cmd) > MaxHookLen:
		f.Add(field, "the command is %d bytes long; use at most %d (put longer logic in a script)", len(cmd), MaxHookLen)
	case strings.ContainsRune(cmd, 0) || !utf8.ValidString(cmd):
		f.Add(field, "the command must be UTF-8 text without NUL characters")
	}
}

// checkEncryption validates and settles the encryption fields: exactly the ones the
// chosen mode uses are kept. A passphrase left empty on update keeps the saved one.
func checkEncryption(f apperr.Fields, o *Options, prev *Config) {
	switch o.EncryptionMode {
	case EncryptNone:
		o.Encryption, o.Recipients, o.Passphrase, o.PassphraseSealed = false, nil, "", ""
	case EncryptAge:
		o.Encryption, o.Passphrase, o.PassphraseSealed = true, "", ""
		if len(o.Recipients) == 0 {
			f.Add(FieldRecipients, "paste at least one age recipient (a public key starting with age1), one a line, or choose to generate a key pair")
			return
		}
		if len(o.Recipients) > MaxRecipients {
			f.Add(FieldRecipients, "%d recipients is too many; use at most %d", len(o.Recipients), MaxRecipients)
			return
		}
		for i, r := range o.Recipients {
			if strings.HasPrefix(strings.ToUpper(r), "AGE-SECRET-KEY-") {
				f.Add(FieldRecipients, "line %d is an age identity (a secret key), not a recipient: paste its public key (age1…) instead, and keep the identity away from the server", i+1)
				return
			}
			if _, err := age.ParseRecipients(strings.NewReader(r)); err != nil {
				f.Add(FieldRecipients, "line %d: %q is not an age recipient (a public key such as age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p)", i+1, abbreviate(r))
				return
			}
		}
	case EncryptPassphrase:
		o.Encryption, o.Recipients = true, nil
		o.PassphraseSealed = "" // only ever taken from the saved config, never from input
		if o.Passphrase == "" && prev != nil {
			if prev.Options.PassphraseSealed != "" {
				o.PassphraseSealed = prev.Options.PassphraseSealed // checked when it was saved
				break
			}
			o.Passphrase = prev.Options.Passphrase
		}
		n := utf8.RuneCountInString(o.Passphrase)
		switch {
		case o.Passphrase == "":
			f.Add(FieldPassphrase, "enter a passphrase of at least %d characters", MinPassphrase)
		case n < MinPassphrase:
			f.Add(FieldPassphrase, "the passphrase has %d characters; use at least %d", n, MinPassphrase)
		case n > MaxPassphrase:
			f.Add(FieldPassphrase, "the passphrase has %d characters; use at most %d", n, MaxPassphrase)
		}
	case EncryptGenerate:
		o.Encryption, o.Passphrase, o.PassphraseSealed = true, "", ""
		o.Recipients = nil // filled in at save time
	default:
		f.Add(FieldEncryptionMode, "encryption %q is not one of none, age, passphrase or generate", o.EncryptionMode)
	}
	o.PassphraseSet = false
}

func abbreviate(s string) string {
	if utf8.RuneCountInString(s) <= 40 {
		return s
	}
	return string([]rune(s)[:40]) + "…"
}
