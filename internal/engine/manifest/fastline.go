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
		n, ok := plainSpan(b, i)
		if !ok || n >= len(b) || b[n] != ':' {
			return false
		}
		key := b[i+1 : n-1]
		i = n + 1
		// A switch on string(key) compares without allocating the key.
		switch string(key) {
		case "type", "mtime", "ctime":
			if n, ok := plainSpan(b, i); ok && decodeFixed(string(key), b[i+1:n-1], e) {
				i = n
				break
			}
			fallthrough
		case "path", "link", "sha256", "pathRaw", "linkRaw":
			s, n, ok := jsonString(b, i)
			if !ok {
				return false
			}
			i = n
			switch string(key) {
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
				if string(key) == "mtime" {
					e.MTime = t
				} else {
					e.CTime = t
				}
			case "pathRaw", "linkRaw":
				raw, err := base64.StdEncoding.DecodeString(s)
				if err != nil {
					return false
				}
				if string(key) == "pathRaw" {
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
			switch string(key) {
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

// decodeFixed sets e's type, mtime or ctime (key) from v, a JSON string's content
// without escapes, when v is a known type or a time in the UTC form Writer writes
// (time.RFC3339Nano ending in Z); false leaves it to the general path. It allocates
// nothing: a type is one of the constants, and a time is read from the bytes.
func decodeFixed(key string, v []byte, e *Entry) bool {
	if key == "type" {
		switch string(v) {
		case TypeFile:
			e.Type = TypeFile
		case TypeDir:
			e.Type = TypeDir
		case TypeSymlink:
			e.Type = TypeSymlink
		case TypeHardlink:
			e.Type = TypeHardlink
		case TypeDeleted:
			e.Type = TypeDeleted
		default:
			return false
		}
		return true
	}
	t, ok := parseUTC(v)
	if !ok {
		return false
	}
	if key == "mtime" {
		e.MTime = t
	} else {
		e.CTime = t
	}
	return true
}

// parseUTC reads "2006-01-02T15:04:05.999999999Z" as time.RFC3339Nano writes a UTC
// time (no trailing zeros in the fraction, no fraction when it is zero); false for
// anything else.
func parseUTC(v []byte) (time.Time, bool) {
	if len(v) < 20 || v[4] != '-' || v[7] != '-' || v[10] != 'T' || v[13] != ':' || v[16] != ':' || v[len(v)-1] != 'Z' {
		return time.Time{}, false
	}
	num := func(s []byte) (int, bool) {
		n := 0
		for _, c := range s {
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	year, ok1 := num(v[0:4])
	month, ok2 := num(v[5:7])
	day, ok3 := num(v[8:10])
	hour, ok4 := num(v[11:13])
	minute, ok5 := num(v[14:16])
	sec, ok6 := num(v[17:19])
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || !ok6 || month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	nsec := 0
	switch frac := v[19 : len(v)-1]; {
	case len(frac) == 0:
	case len(frac) < 2 || len(frac) > 10 || frac[0] != '.' || frac[len(frac)-1] == '0':
		return time.Time{}, false
	default:
		n, ok := num(frac[1:])
		if !ok {
			return time.Time{}, false
		}
		for range 10 - len(frac) {
			n *= 10
		}
		nsec = n
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	if t.Day() != day { // February 30th and the like
		return time.Time{}, false
	}
	return t, true
}

// plainString reads a JSON string without escapes starting at b[i] (the quote) and
// returns it and the index after it.
func plainString(b []byte, i int) (string, int, bool) {
	n, ok := plainSpan(b, i)
	if !ok {
		return "", 0, false
	}
	return string(b[i+1 : n-1]), n, true
}

// plainSpan finds the end of a JSON string without escapes starting at b[i] (the
// quote) and returns the index after it.
func plainSpan(b []byte, i int) (int, bool) {
	if i >= len(b) || b[i] != '"' {
		return 0, false
	}
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			return j + 1, true
		case c == '\\' || c < 0x20 || c >= 0x80:
			return 0, false
		}
	}
	return 0, false
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
