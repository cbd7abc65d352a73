package manifest

import (
	"encoding/base64"
	"strconv"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// decodeEntryLine decodes an entry line exactly as Writer writes it: one flat JSON
// object, no spaces, known keys, integers and strings. It reports false for anything
// else (the header and the trailer, another writer's spacing, an unknown key, a null,
// a float, invalid UTF-8), which the reader then hands to encoding/json; where it
// reports true the result is what encoding/json gives (FuzzEntryLine checks it).
// encoding/json's reflection was a sixth of a restore's main work and most of an
// unchanged incremental's.
func decodeEntryLine(b []byte, l *line, e *Entry) bool {
	*e = Entry{}
	l.Entry, l.PathRaw, l.LinkRaw = e, nil, nil
	if len(b) < 2 || b[0] != '{' || b[len(b)-1] != '}' {
		return false
	}
	i := 1
	if b[i] == '}' {
		return false // no fields: let encoding/json say what it is
	}
	for {
		key, n, ok := plainString(b, i)
		if !ok || n >= len(b) || b[n] != ':' {
			return false
		}
		i = n + 1
		switch key {
		case "path", "type", "link", "sha256", "mtime", "ctime", "pathRaw", "linkRaw":
			s, n, ok := jsonString(b, i)
			if !ok {
				return false
			}
			i = n
			switch key {
			case "path":
				e.Path = s
			case "type":
				e.Type = s
			case "link":
				e.Link = s
			case "sha256":
				e.SHA = s
			case "mtime", "ctime":
				t, err := time.Parse(time.RFC3339, s)
				var canon [64]byte
				if err != nil || s != string(t.AppendFormat(canon[:0], time.RFC3339Nano)) {
					return false // not as Writer writes times: encoding/json decides
				}
				if key == "mtime" {
					e.MTime = t
				} else {
					e.CTime = t
				}
			case "pathRaw", "linkRaw":
				raw, err := base64.StdEncoding.DecodeString(s)
				if err != nil {
					return false
				}
				if key == "pathRaw" {
					l.PathRaw = raw
				} else {
					l.LinkRaw = raw
				}
			}
		case "size", "uid", "gid", "in":
			v, n, ok := jsonInt(b, i)
			if !ok || int64(int(v)) != v {
				return false
			}
			i = n
			switch key {
			case "size":
				e.Size = v
			case "uid":
				e.UID = int(v)
			case "gid":
				e.GID = int(v)
			case "in":
				e.In = int(v)
			}
		case "mode":
			v, n, ok := jsonInt(b, i)
			if !ok || v < 0 || v > 1<<32-1 {
				return false
			}
			i, e.Mode = n, uint32(v)
		case "inode":
			v, n, ok := jsonUint(b, i)
			if !ok {
				return false
			}
			i, e.Inode = n, v
		default:
			return false
		}
		if i >= len(b) {
			return false
		}
		switch b[i] {
		case ',':
			i++
		case '}':
			return i == len(b)-1
		default:
			return false
		}
	}
}

// plainString reads a JSON string without escapes starting at b[i] (the quote) and
// returns it and the index after it.
func plainString(b []byte, i int) (string, int, bool) {
	if i >= len(b) || b[i] != '"' {
		return "", 0, false
	}
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			return string(b[i+1 : j]), j + 1, true
		case c == '\\' || c < 0x20 || c >= 0x80:
			return "", 0, false
		}
	}
	return "", 0, false
}

// jsonString reads a JSON string starting at b[i] (the quote), unescaping it. It
// refuses invalid UTF-8 and lone surrogates, which encoding/json replaces.
func jsonString(b []byte, i int) (string, int, bool) {
	if s, n, ok := plainString(b, i); ok {
		return s, n, true
	}
	if i >= len(b) || b[i] != '"' {
		return "", 0, false
	}
	out := make([]byte, 0, 64)
	for j := i + 1; j < len(b); {
		c := b[j]
		switch {
		case c == '"':
			if !utf8.Valid(out) {
				return "", 0, false
			}
			return string(out), j + 1, true
		case c < 0x20:
			return "", 0, false
		case c != '\\':
			out = append(out, c)
			j++
			continue
		}
		if j+1 >= len(b) {
			return "", 0, false
		}
		switch b[j+1] {
		case '"', '\\', '/':
			out = append(out, b[j+1])
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := hex4(b, j+2)
			if !ok {
				return "", 0, false
			}
			j += 6
			if utf16.IsSurrogate(r) {
				if j+1 >= len(b) || b[j] != '\\' || b[j+1] != 'u' {
					return "", 0, false
				}
				r2, ok := hex4(b, j+2)
				if !ok {
					return "", 0, false
				}
				if r = utf16.DecodeRune(r, r2); r == utf8.RuneError {
					return "", 0, false
				}
				j += 6
			}
			out = utf8.AppendRune(out, r)
			continue
		default:
			return "", 0, false
		}
		j += 2
	}
	return "", 0, false
}

func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	v, err := strconv.ParseUint(string(b[i:i+4]), 16, 32)
	return rune(v), err == nil
}

// jsonInt reads a JSON integer (no fraction or exponent) starting at b[i].
func jsonInt(b []byte, i int) (int64, int, bool) {
	j := i
	if j < len(b) && b[j] == '-' {
		j++
	}
	j = digits(b, j)
	if j < 0 {
		return 0, 0, false
	}
	v, err := strconv.ParseInt(string(b[i:j]), 10, 64)
	return v, j, err == nil
}

// jsonUint reads a JSON integer that is not negative starting at b[i].
func jsonUint(b []byte, i int) (uint64, int, bool) {
	j := digits(b, i)
	if j < 0 {
		return 0, 0, false
	}
	v, err := strconv.ParseUint(string(b[i:j]), 10, 64)
	return v, j, err == nil
}

// digits returns the index after the digits at b[i], or -1 when there are none, the
// number has a leading zero, or a fraction or exponent follows.
func digits(b []byte, i int) int {
	j := i
	for j < len(b) && b[j] >= '0' && b[j] <= '9' {
		j++
	}
	if j == i || (b[i] == '0' && j > i+1) {
		return -1
	}
	if j < len(b) && (b[j] == '.' || b[j] == 'e' || b[j] == 'E') {
		return -1
	}
	return j
}

// appendEntryLine appends the line for e as encoding/json (HTML escaping off) writes
// line{Entry: e, PathRaw, LinkRaw}, newline included; false when a time is outside
// what JSON time allows, for encoding/json to report. TestEntryLineEncoding checks it
// byte for byte.
func appendEntryLine(dst []byte, l *line) ([]byte, bool) {
	e := l.Entry
	dst = append(dst, `{"path":`...)
	dst = appendJSONString(dst, e.Path)
	dst = append(dst, `,"type":`...)
	dst = appendJSONString(dst, e.Type)
	if e.Size != 0 {
		dst = strconv.AppendInt(append(dst, `,"size":`...), e.Size, 10)
	}
	if e.Mode != 0 {
		dst = strconv.AppendUint(append(dst, `,"mode":`...), uint64(e.Mode), 10)
	}
	for _, t := range []struct {
		key string
		t   time.Time
	}{{`,"mtime":"`, e.MTime}, {`,"ctime":"`, e.CTime}} {
		if t.t.IsZero() {
			continue
		}
		if y := t.t.Year(); y < 0 || y > 9999 {
			return dst, false
		}
		dst = append(t.t.AppendFormat(append(dst, t.key...), time.RFC3339Nano), '"')
	}
	if e.Inode != 0 {
		dst = strconv.AppendUint(append(dst, `,"inode":`...), e.Inode, 10)
	}
	if e.UID != 0 {
		dst = strconv.AppendInt(append(dst, `,"uid":`...), int64(e.UID), 10)
	}
	if e.GID != 0 {
		dst = strconv.AppendInt(append(dst, `,"gid":`...), int64(e.GID), 10)
	}
	if e.Link != "" {
		dst = appendJSONString(append(dst, `,"link":`...), e.Link)
	}
	if e.SHA != "" {
		dst = appendJSONString(append(dst, `,"sha256":`...), e.SHA)
	}
	dst = strconv.AppendInt(append(dst, `,"in":`...), int64(e.In), 10)
	if len(l.PathRaw) > 0 {
		dst = append(base64.StdEncoding.AppendEncode(append(dst, `,"pathRaw":"`...), l.PathRaw), '"')
	}
	if len(l.LinkRaw) > 0 {
		dst = append(base64.StdEncoding.AppendEncode(append(dst, `,"linkRaw":"`...), l.LinkRaw), '"')
	}
	return append(dst, "}\n"...), true
}

// appendJSONString appends s as encoding/json writes a string with HTML escaping off:
// control characters escaped, each byte of invalid UTF-8 as \ufffd, U+2028 and U+2029
// escaped.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			dst = append(append(dst, s[start:i]...), `\ufffd`...)
			i += n
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(append(dst, s[start:i]...), '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += n
			start = i
			continue
		}
		i += n
	}
	return append(append(dst, s[start:]...), '"')
}
