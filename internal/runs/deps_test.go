package runs_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoHTTPAdapterImported keeps the domain below its adapters: runs (and restores,
// which reads the runs' catalogs) never import the HTTP packages that call them.
func TestNoHTTPAdapterImported(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".", "../restores").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	const mod = "github.com/backapp/backapp/internal/"
	forbidden := []string{mod + "agentapi", mod + "api", mod + "web", mod + "httpx", mod + "server"}
	pkgs := strings.Fields(string(out))
	if len(pkgs) < 10 {
		t.Fatalf("go list printed only %d packages:\n%s", len(pkgs), out)
	}
	for _, pkg := range pkgs {
		for _, f := range forbidden {
			if pkg == f || strings.HasPrefix(pkg, f+"/") {
				t.Errorf("runs or restores imports %s", pkg)
			}
		}
	}
}
