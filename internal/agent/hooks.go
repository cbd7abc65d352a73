package agent

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// runHook runs a pre/post command through the system shell, with a timeout (default
// 10 minutes), and reports its output when it fails.
func runHook(ctx context.Context, which, command string, timeoutSeconds int, log *slog.Logger) error {
	timeout := 10 * time.Minute
	if timeoutSeconds > 0 {
		timeout = time.Duration(timeoutSeconds) * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var cmd *exec.Cmd
	if runtime.GOOS == "windows" {
		cmd = exec.CommandContext(ctx, "cmd", "/C", command)
	} else {
		cmd = exec.CommandContext(ctx, "/bin/sh", "-c", command)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = 5 * time.Second
	killGroupOnCancel(cmd) // a timed-out hook's children (a dump it started) stop too
	log.Info("backup: running "+which+" hook", "command", command)
	err := cmd.Run()
	if ctx.Err() == context.DeadlineExceeded {
		return fmt.Errorf("%s hook timed out after %s", which, timeout)
	}
	if err != nil {
		o := strings.TrimSpace(out.String())
		if len(o) > 2000 {
			o = o[len(o)-2000:]
		}
		return fmt.Errorf("%s hook %q: %w: %s", which, command, err, o)
	}
	return nil
}
