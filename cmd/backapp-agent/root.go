package main

import (
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strings"

	"github.com/spf13/cobra"

	"github.com/backapp/backapp/internal/agent"
	"github.com/backapp/backapp/internal/agentproto"
	"github.com/backapp/backapp/internal/version"
)

// globals are the flags every command has.
type globals struct {
	configDir   string
	logLevel    string
	memoryLimit string
}

func newRootCmd() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:           "backapp-agent",
		Short:         "The backapp agent: backs this machine up to the storage a backapp server manages",
		Version:       version.String(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetVersionTemplate("backapp-agent {{.Version}}\n")
	root.PersistentFlags().StringVar(&g.configDir, "config-dir", "", "directory of agent.json (default: the OS's place, see 'enroll --help')")
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", "info", "debug, info, warn or error")
	root.PersistentFlags().StringVar(&g.memoryLimit, "memory-limit", "", "soft memory limit of the agent (e.g. 512MiB, or off; default: GOMEMLIMIT if set, else 100MiB plus 40MiB per core beyond two, at most 340MiB)")
	root.PersistentPreRunE = func(*cobra.Command, []string) error { return applyMemoryLimit(g.memoryLimit) }
	root.AddCommand(newEnrollCmd(g), newRunCmd(g), newBackupCmd(g), newRestoreCmd(g), newStatusCmd(g),
		newInstallCmd(g), newUninstallCmd(g))
	return root
}

func (g *globals) dir() (string, error) {
	if g.configDir != "" {
		return g.configDir, nil
	}
	return agent.DefaultConfigDir()
}

func (g *globals) logger(w io.Writer) (*slog.Logger, slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(g.logLevel)); err != nil {
		return nil, 0, fmt.Errorf("--log-level %q: want debug, info, warn or error", g.logLevel)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), l, nil
}

// agentEnv is an enrolled agent's settings and the pieces built on them.
type agentEnv struct {
	dir      string
	settings agent.Settings
	client   *agent.Client
	state    *agent.State
	runner   *agent.Runner
	log      *slog.Logger
}

// load reads the settings and builds the client, state and runner.
func (g *globals) load(stderr io.Writer) (*agentEnv, error) {
	log, _, err := g.logger(stderr)
	if err != nil {
		return nil, err
	}
	dir, err := g.dir()
	if err != nil {
		return nil, err
	}
	s, err := agent.LoadSettings(dir)
	if err != nil {
		return nil, err
	}
	var roots *x509.CertPool
	if s.CACert != "" {
		if roots, err = agent.LoadCACert(s.CACert); err != nil {
			return nil, fmt.Errorf("settings in %s: %w", dir, err)
		}
	}
	c, err := agent.NewClient(agent.ClientOptions{Server: s.Server, Key: s.Key, Insecure: s.Insecure, RootCAs: roots, Log: log})
	if err != nil {
		return nil, fmt.Errorf("settings in %s: %w", dir, err)
	}
	st, err := agent.OpenState(s.StateDir, log)
	if err != nil {
		return nil, err
	}
	ids, err := agent.LoadIdentities(s.IdentityFiles...)
	if err != nil {
		return nil, err
	}
	runner := &agent.Runner{Client: c, State: st, Log: log, Identities: ids}
	if roots != nil { // the pre-signed URLs may point at an S3 endpoint under the same CA
		runner.Upload.Client = agent.NewHTTPClient(roots)
	}
	return &agentEnv{dir: dir, settings: s, client: c, state: st, log: log,
		runner: runner}, nil
}

func host() agentproto.Host {
	h, _ := os.Hostname()
	return agentproto.Host{Hostname: h, Platform: runtime.GOOS, Arch: runtime.GOARCH, Version: version.Version}
}

func ctxOf(cmd *cobra.Command) context.Context {
	if ctx := cmd.Context(); ctx != nil {
		return ctx
	}
	return context.Background()
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

func plural(n int64, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, strings.TrimSuffix(word, "s"))
}
