package smtptest

import (
	"crypto/tls"
	"net/smtp"
	"strings"
	"testing"
	"time"
)

const plainMail = "From: Sender <sender@example.com>\r\n" +
	"To: rcpt@example.com\r\n" +
	"Subject: =?UTF-8?q?Gr=C3=BC=C3=9Fe?=\r\n" +
	"Content-Type: text/plain; charset=UTF-8\r\n" +
	"Content-Transfer-Encoding: quoted-printable\r\n" +
	"\r\n" +
	"Hello, a long line that quoted-printable wraps with a soft line br=\r\n" +
	"eak, and =C3=BC.\r\n"

func TestStartReceivesMail(t *testing.T) {
	srv := Start(t)
	if srv.Host() != "127.0.0.1" || srv.Port() == 0 {
		t.Fatalf("Host, Port = %q, %d; want 127.0.0.1 and a port", srv.Host(), srv.Port())
	}
	if err := smtp.SendMail(srv.Addr(), nil, "sender@example.com", []string{"rcpt@example.com"}, []byte(plainMail)); err != nil {
		t.Fatalf("SendMail: %v", err)
	}

	m := srv.WaitForMessage(t, "RCPT@example.com", 5*time.Second)
	if got, want := m.EnvelopeFrom, "sender@example.com"; got != want {
		t.Errorf("EnvelopeFrom = %q, want %q", got, want)
	}
	if got, want := strings.Join(m.EnvelopeTo, ","), "rcpt@example.com"; got != want {
		t.Errorf("EnvelopeTo = %q, want %q", got, want)
	}
	if got, want := m.Subject, "Grüße"; got != want {
		t.Errorf("Subject = %q, want %q", got, want)
	}
	if got, want := m.From, "Sender <sender@example.com>"; got != want {
		t.Errorf("From = %q, want %q", got, want)
	}
	if got, want := m.Text, "Hello, a long line that quoted-printable wraps with a soft line break, and ü.\n"; got != want {
		t.Errorf("Text = %q, want %q", got, want)
	}
	if m.AuthUser != "" {
		t.Errorf("AuthUser = %q without auth", m.AuthUser)
	}
}

func TestWaitForMessageReturnsEachMessageOnce(t *testing.T) {
	srv := Start(t)
	for _, subject := range []string{"one", "two"} {
		msg := "To: a@example.com\r\nSubject: " + subject + "\r\n\r\nbody\r\n"
		if err := smtp.SendMail(srv.Addr(), nil, "s@example.com", []string{"a@example.com"}, []byte(msg)); err != nil {
			t.Fatalf("SendMail: %v", err)
		}
	}
	var got []string
	for range 2 {
		got = append(got, srv.WaitForMessage(t, "a@example.com", 5*time.Second).Subject)
	}
	if strings.Join(got, ",") != "one,two" {
		t.Errorf("subjects = %q, want one then two", got)
	}
	if _, ok, err := srv.next("a@example.com"); ok || err != nil {
		t.Errorf("a third message was returned (ok=%v, err=%v), want none", ok, err)
	}
}

func TestAuthRequired(t *testing.T) {
	srv := Start(t, WithAuth("backapp", "s3cret"))
	if srv.Username() != "backapp" || srv.Password() != "s3cret" {
		t.Fatalf("Username, Password = %q, %q", srv.Username(), srv.Password())
	}
	msg := []byte("To: a@example.com\r\nSubject: x\r\n\r\nbody\r\n")

	err := smtp.SendMail(srv.Addr(), nil, "s@example.com", []string{"a@example.com"}, msg)
	if err == nil || !strings.Contains(err.Error(), "authenticate") {
		t.Errorf("send without auth: err = %v, want 'Please authenticate first'", err)
	}
	wrong := smtp.PlainAuth("", "backapp", "wrong", "127.0.0.1")
	if err := smtp.SendMail(srv.Addr(), wrong, "s@example.com", []string{"a@example.com"}, msg); err == nil || !strings.Contains(err.Error(), "535") {
		t.Errorf("send with a wrong password: err = %v, want 535", err)
	}

	auth := smtp.PlainAuth("", "backapp", "s3cret", "127.0.0.1")
	if err := smtp.SendMail(srv.Addr(), auth, "s@example.com", []string{"a@example.com"}, msg); err != nil {
		t.Fatalf("send with auth: %v", err)
	}
	if got := srv.WaitForMessage(t, "a@example.com", 5*time.Second).AuthUser; got != "backapp" {
		t.Errorf("AuthUser = %q, want backapp", got)
	}
}

func TestSTARTTLS(t *testing.T) {
	srv := Start(t, WithTLS(TLSStartTLS))
	c, err := smtp.Dial(srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if ok, _ := c.Extension("STARTTLS"); !ok {
		t.Fatal("server does not offer STARTTLS")
	}
	if err := c.StartTLS(&tls.Config{ServerName: srv.Host(), RootCAs: srv.CertPool()}); err != nil {
		t.Fatalf("StartTLS with the server's CertPool: %v", err)
	}
	if _, ok := c.TLSConnectionState(); !ok {
		t.Error("connection is not TLS after STARTTLS")
	}
}

func TestImplicitTLS(t *testing.T) {
	srv := Start(t, WithTLS(TLSImplicit))
	conn, err := tls.Dial("tcp", srv.Addr(), &tls.Config{RootCAs: srv.CertPool(), ServerName: "localhost"})
	if err != nil {
		t.Fatalf("TLS dial with the server's CertPool: %v", err)
	}
	defer conn.Close()
	c, err := smtp.NewClient(conn, "localhost")
	if err != nil {
		t.Fatalf("no SMTP greeting over TLS: %v", err)
	}
	defer c.Close()
	if err := c.Mail("s@example.com"); err != nil {
		t.Errorf("MAIL FROM over implicit TLS: %v", err)
	}
}

func TestParseFileMultipart(t *testing.T) {
	file := "Envelope-From: s@example.com\nEnvelope-To: a@example.com\nEnvelope-To: b@example.com\nAuth-User: u\n\n" +
		"To: a@example.com\r\n" +
		"Subject: multi\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: multipart/alternative; boundary=XYZ\r\n" +
		"\r\n" +
		"--XYZ\r\n" +
		"Content-Type: text/plain; charset=UTF-8\r\n" +
		"Content-Transfer-Encoding: base64\r\n" +
		"\r\n" +
		"cGxhaW4g\r\nw7w=\r\n" +
		"--XYZ\r\n" +
		"Content-Type: text/html; charset=UTF-8\r\n" +
		"Content-Transfer-Encoding: quoted-printable\r\n" +
		"\r\n" +
		"<p>a=3Db</p>\r\n" +
		"--XYZ--\r\n"
	m, err := parseFile([]byte(file))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(m.EnvelopeTo, ","), "a@example.com,b@example.com"; got != want {
		t.Errorf("EnvelopeTo = %q, want %q", got, want)
	}
	if m.AuthUser != "u" {
		t.Errorf("AuthUser = %q, want u", m.AuthUser)
	}
	if got, want := m.Text, "plain ü"; got != want {
		t.Errorf("Text = %q, want %q", got, want)
	}
	if got, want := m.HTML, "<p>a=b</p>"; got != want {
		t.Errorf("HTML = %q, want %q", got, want)
	}
}
