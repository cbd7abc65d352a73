package storage

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/backapp/backapp/internal/winname"
)

// The local destination stores each key as a path under its directory, so a key must
// also be a portable file name: one that every file system the directory may live on
// (ext4, XFS, but also NTFS or exFAT on a mounted disk or share, and a copy of the
// directory on Windows or macOS) stores under exactly that name. S3 keys have no such
// limits; ValidateKey is the rule both destinations share, and validateLocalKey adds
// the file-system rules on top. Every key the product generates (archives, manifests,
// catalogs, test probes) passes both.

// maxNameLength is the longest file name (one path segment) in bytes that ext4, XFS,
// btrfs and (in UTF-16 units, which are never more than UTF-8 bytes) NTFS accept.
const maxNameLength = 255

// windowsForbidden are the printable characters Windows refuses in file names
// (backslash and control characters are refused for every destination).
const windowsForbidden = `<>:"|?*`

// validateLocalKey checks that key is a valid object key (ValidateKey) that can also be
// stored as a file under the local destination's directory on any file system: no
// character Windows refuses (< > : " | ? *), no control character at all (C1 ones
// included), no segment that is a Windows device name (CON, NUL, COM1, … with or
// without an extension), ends in a dot or a space (Windows strips them, so "a." and
// "a" would be one file) or is longer than 255 bytes. The error names the key and the
// offending character or segment.
func validateLocalKey(key string) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	for _, seg := range strings.Split(key, "/") {
		if err := checkLocalName(seg, true); err != nil {
			return fmt.Errorf("invalid object key %q for a local destination: %w", key, err)
		}
	}
	return nil
}

// validateLocalPrefix checks a listing prefix as validateLocalKey checks a key. Its
// last segment may be the start of a name ("backup-2026." or "CON" can begin a valid
// name), so only its characters are checked.
func validateLocalPrefix(prefix string) error {
	if err := validatePrefix(prefix); err != nil {
		return err
	}
	segs := strings.Split(prefix, "/")
	for i, seg := range segs {
		if err := checkLocalName(seg, i < len(segs)-1); err != nil {
			return fmt.Errorf("invalid prefix %q for a local destination: %w", prefix, err)
		}
	}
	return nil
}

// checkLocalName checks one path segment; whole is false for the start of a name,
// which is checked only for characters.
func checkLocalName(name string, whole bool) error {
	for _, r := range name {
		switch {
		case strings.ContainsRune(windowsForbidden, r):
			return fmt.Errorf("contains %q, which Windows and other file systems (NTFS, exFAT, SMB shares) do not allow in file names", r)
		case unicode.IsControl(r):
			return fmt.Errorf("contains control character %U", r)
		}
	}
	if !whole {
		return nil
	}
	if len(name) > maxNameLength {
		return fmt.Errorf("segment %.40q… is %d bytes, longer than the %d bytes a file name may have", name, len(name), maxNameLength)
	}
	switch name[len(name)-1] {
	case '.':
		return fmt.Errorf("segment %q ends in a dot, which Windows strips from file names", name)
	case ' ':
		return fmt.Errorf("segment %q ends in a space, which Windows strips from file names", name)
	}
	// "NUL .tar.gz" opens NUL too.
	if d := winname.Device(name); d != "" {
		return fmt.Errorf("segment %q is the Windows device name %s", name, d)
	}
	return nil
}
