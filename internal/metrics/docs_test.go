package metrics

import (
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// TestDocumentedRules: the example alerting rules in docs/monitoring.md are valid
// rule files in shape, and every metric their expressions name is one /metrics serves.
func TestDocumentedRules(t *testing.T) {
	b, err := os.ReadFile("../../docs/monitoring.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(string(b), -1)
	var rules string
	for _, m := range blocks {
		if strings.Contains(m[1], "groups:") {
			rules = m[1]
		}
	}
	if rules == "" {
		t.Fatal("docs/monitoring.md has no rules block")
	}
	var doc struct {
		Groups []struct {
			Name  string `yaml:"name"`
			Rules []struct {
				Alert       string            `yaml:"alert"`
				Expr        string            `yaml:"expr"`
				For         string            `yaml:"for"`
				Labels      map[string]string `yaml:"labels"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	dec := yaml.NewDecoder(strings.NewReader(rules))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("rules do not parse as a rule file: %v", err)
	}
	served := map[string]bool{"backapp_run_duration_seconds": true, "backapp_run_bytes": true}
	for _, d := range []string{descRuns.String(), descLast.String(), descAgents.String(), descAlerts.String()} {
		served[regexp.MustCompile(`fqName: "([a-z_]+)"`).FindStringSubmatch(d)[1]] = true
	}
	n := 0
	for _, g := range doc.Groups {
		for _, r := range g.Rules {
			n++
			if r.Alert == "" || r.Expr == "" || r.Annotations["summary"] == "" {
				t.Errorf("rule %+v lacks alert, expr or summary", r)
			}
			if _, err := time.ParseDuration(r.For); err != nil {
				t.Errorf("rule %s: for %q: %v", r.Alert, r.For, err)
			}
			for _, name := range regexp.MustCompile(`backapp_[a-z_]+`).FindAllString(r.Expr, -1) {
				if !served[name] {
					t.Errorf("rule %s names %s, which /metrics does not serve", r.Alert, name)
				}
			}
		}
	}
	if n < 2 {
		t.Errorf("%d example rules, want at least the no-backup and agent-offline ones", n)
	}
}
