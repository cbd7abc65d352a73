package smtptest

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"strings"
)

// Message is one message as smtpsink received it, with its headers and bodies decoded.
type Message struct {
	EnvelopeFrom string   // MAIL FROM
	EnvelopeTo   []string // RCPT TO, in order
	AuthUser     string   // the user that authenticated, "" without AUTH

	Header  mail.Header // the raw header fields
	From    string      // the From header, RFC 2047 words decoded
	To      string      // the To header, RFC 2047 words decoded
	Subject string      // the Subject header, RFC 2047 words decoded
	Text    string      // the text/plain body, transfer encoding undone, CRLF turned into LF
	HTML    string      // the text/html body if there is one, decoded likewise

	Raw []byte // the message exactly as received after DATA
}

// parseFile splits a smtpsink file into its envelope and the message, and decodes it.
func parseFile(data []byte) (Message, error) {
	var m Message
	env, raw, ok := bytes.Cut(data, []byte("\n\n"))
	if !ok {
		return m, fmt.Errorf("no blank line after the envelope")
	}
	for _, line := range strings.Split(string(env), "\n") {
		k, v, _ := strings.Cut(line, ": ")
		switch k {
		case "Envelope-From":
			m.EnvelopeFrom = v
		case "Envelope-To":
			m.EnvelopeTo = append(m.EnvelopeTo, v)
		case "Auth-User":
			m.AuthUser = v
		}
	}
	m.Raw = raw

	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return m, fmt.Errorf("read message: %w", err)
	}
	m.Header = msg.Header
	dec := new(mime.WordDecoder)
	for _, h := range []struct {
		name string
		dst  *string
	}{{"From", &m.From}, {"To", &m.To}, {"Subject", &m.Subject}} {
		v := msg.Header.Get(h.name)
		if d, err := dec.DecodeHeader(v); err == nil {
			v = d
		}
		*h.dst = v
	}
	if err := m.readPart(msg.Header, msg.Body); err != nil {
		return m, err
	}
	return m, nil
}

// getter is what readPart needs of a header: mail.Header and a part's MIME header.
type getter interface{ Get(string) string }

// readPart fills Text and HTML from a part, descending into multipart parts.
func (m *Message) readPart(h getter, body io.Reader) error {
	ct := h.Get("Content-Type")
	if ct == "" {
		ct = "text/plain"
	}
	mediaType, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return fmt.Errorf("content type %q: %w", ct, err)
	}
	if strings.HasPrefix(mediaType, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart() // raw: we undo the transfer encoding ourselves
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return fmt.Errorf("multipart: %w", err)
			}
			if err := m.readPart(p.Header, p); err != nil {
				return err
			}
		}
	}

	var r io.Reader = body
	switch cte := strings.ToLower(strings.TrimSpace(h.Get("Content-Transfer-Encoding"))); cte {
	case "quoted-printable":
		r = quotedprintable.NewReader(body)
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, body) // it skips line breaks itself
	case "", "7bit", "8bit", "binary":
	default:
		return fmt.Errorf("unknown transfer encoding %q", cte)
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("decode %s body: %w", mediaType, err)
	}
	text := strings.ReplaceAll(string(data), "\r\n", "\n")
	switch {
	case mediaType == "text/plain" && m.Text == "":
		m.Text = text
	case mediaType == "text/html" && m.HTML == "":
		m.HTML = text
	}
	return nil
}
