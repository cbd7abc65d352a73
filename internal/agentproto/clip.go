package agentproto

import "unicode/utf8"

// Clip shortens text an agent sent (paths, messages, host names) to n bytes at a rune
// boundary, marking the cut with "…", before the server stores it.
func Clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
