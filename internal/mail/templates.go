package mail

import (
	"embed"
	"io/fs"
	"path"
	"strings"
	"text/template"
	"time"
	"unicode"
)

//go:embed templates/*.txt
var templateFS embed.FS

// templates holds one template set per file, so every file can define its own
// "subject" template; the file's body is the mail's text part.
var templates = func() map[string]*template.Template {
	files, err := fs.Glob(templateFS, "templates/*.txt")
	if err != nil {
		panic(err)
	}
	m := make(map[string]*template.Template, len(files))
	for _, f := range files {
		name := path.Base(f)
		m[name] = template.Must(template.New(name).Option("missingkey=error").ParseFS(templateFS, f))
	}
	return m
}()

// render executes the mail template file for to with data. The templates are fixed at
// build time and tested, so an error here is a bug: it panics.
func render(file, to string, data any) Message {
	t, ok := templates[file]
	if !ok {
		panic("mail: no template " + file)
	}
	var subject, body strings.Builder
	if err := t.ExecuteTemplate(&subject, "subject", data); err != nil {
		panic("mail: render " + file + " subject: " + err.Error())
	}
	if err := t.Execute(&body, data); err != nil {
		panic("mail: render " + file + ": " + err.Error())
	}
	return Message{To: to, Subject: strings.TrimSpace(subject.String()), Text: body.String()}
}

// PasswordReset is the mail that carries a password reset link. name may be empty;
// ttl is how long the link is valid, shown in whole minutes (at least one).
func PasswordReset(to, name, link string, ttl time.Duration) Message {
	minutes := int(ttl.Round(time.Minute) / time.Minute)
	if minutes < 1 {
		minutes = 1
	}
	return render("password_reset.txt", to, struct {
		To, Name, Link string
		Minutes        int
	}{to, oneLine(name), link, minutes})
}

// oneLine turns control characters into spaces, so that a name cannot add lines to a mail.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}

// Notification is what a notification mail says: Title is its subject; Config,
// Agent, Error, When and the links are shown when set.
type Notification struct {
	Channel, Title, Text       string
	Config, Agent, Error, When string
	RunLink, Link              string
}

// NotificationMail is the mail of a notification channel.
func NotificationMail(to string, n Notification) Message {
	for _, f := range []*string{&n.Channel, &n.Title, &n.Config, &n.Agent, &n.Error, &n.When, &n.RunLink, &n.Link} {
		*f = oneLine(*f)
	}
	return render("notification.txt", to, n)
}
