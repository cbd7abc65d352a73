// Package winname holds the rules of file names on Windows (NTFS, exFAT, SMB shares):
// the characters it refuses and the device names it resolves to devices. The local
// storage destination refuses object keys that break them; a restore onto Windows
// renames (or skips) archive entries that break them.
package winname

import "strings"

// Forbidden are the printable characters Windows refuses in file names; control
// characters (U+0001–U+001F) are refused too, and `/` separates.
const Forbidden = `<>:"|?*\`

// reserved are device names that Windows resolves to a device instead of a file,
// whatever the case and whatever extension follows ("nul.txt" is the NUL device).
var reserved = map[string]bool{
	"CON": true, "PRN": true, "AUX": true, "NUL": true, "CONIN$": true, "CONOUT$": true,
	"COM0": true, "COM1": true, "COM2": true, "COM3": true, "COM4": true, "COM5": true, "COM6": true, "COM7": true, "COM8": true, "COM9": true,
	"COM¹": true, "COM²": true, "COM³": true,
	"LPT0": true, "LPT1": true, "LPT2": true, "LPT3": true, "LPT4": true, "LPT5": true, "LPT6": true, "LPT7": true, "LPT8": true, "LPT9": true,
	"LPT¹": true, "LPT²": true, "LPT³": true,
}

// Device returns the device name that name opens on Windows ("nul.txt", "Con ",
// "NUL .tar.gz" → "NUL"), or "". Windows ignores what follows the first dot, and
// spaces before it, when it recognises a device name.
func Device(name string) string {
	base, _, _ := strings.Cut(name, ".")
	if d := strings.ToUpper(strings.TrimRight(base, " ")); reserved[d] {
		return d
	}
	return ""
}

// ForbiddenRune reports whether Windows refuses r in a file name.
func ForbiddenRune(r rune) bool { return r < 0x20 || strings.ContainsRune(Forbidden, r) }
