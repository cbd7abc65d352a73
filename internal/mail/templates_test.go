package mail

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden with the rendered mails")

// golden compares got with testdata/name.golden, or rewrites the file under -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	file := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("rendered mail differs from %s (rerun with -update if the change is intended)\n--- got\n%s\n--- want\n%s", file, got, want)
	}
}

// show lays a Message out the way a golden file holds it.
func show(m Message) string {
	return "To: " + m.To + "\nSubject: " + m.Subject + "\n\n" + m.Text
}

func TestPasswordResetGolden(t *testing.T) {
	const link = "https://backup.example.com/reset?token=3q2-7wAAAAD_SZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZ"
	tests := []struct {
		golden string
		name   string
		ttl    time.Duration
	}{
		{"password_reset", "Ada Lovelace", 30 * time.Minute},
		{"password_reset_no_name", "", 20 * time.Second}, // rounds up to the minimum of 1 minute
		{"password_reset_control_chars", "Eve\n\nClick http://evil.example/", time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			m := PasswordReset("ada@example.com", tt.name, link, tt.ttl)
			if err := m.Validate(); err != nil {
				t.Errorf("rendered mail is not valid: %v", err)
			}
			golden(t, tt.golden, show(m))
		})
	}
}

func TestPasswordResetContents(t *testing.T) {
	m := PasswordReset("ada@example.com", "Ada", "https://x.example/reset?t=abc", 90*time.Minute)
	if m.Subject != "Reset your backapp password" {
		t.Errorf("Subject = %q", m.Subject)
	}
	for _, want := range []string{"https://x.example/reset?t=abc\n", "expires in 90 minutes", "If you did not ask for this, ignore this mail"} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("Text lacks %q:\n%s", want, m.Text)
		}
	}
	if m.HTML != "" {
		t.Errorf("HTML = %q, want none", m.HTML)
	}
}

func TestTemplatesEachHaveASubject(t *testing.T) {
	if len(templates) == 0 {
		t.Fatal("no templates embedded")
	}
	for name, tmpl := range templates {
		if tmpl.Lookup("subject") == nil {
			t.Errorf("%s defines no subject template", name)
		}
	}
}
