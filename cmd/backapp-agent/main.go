// Command backapp-agent runs on each machine that backapp backs up: it enrolls with the
// server, then runs as a daemon (or a system service) that executes backups and
// restores, uploading straight to storage through pre-signed URLs. It links no
// database driver, template or server package (see deps_test.go).
package main

import (
	"fmt"
	"os"
)

func main() {
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "backapp-agent:", err)
		os.Exit(1)
	}
}
