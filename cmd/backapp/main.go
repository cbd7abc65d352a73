// Command backapp is the backapp server: the web UI, the JSON API, the agent API and
// the scheduler, plus the operator's commands (migrate, admin).
package main

import (
	"fmt"
	"os"
)

func main() {
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "backapp:", err)
		os.Exit(1)
	}
}
