package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/kardianos/service"
	"github.com/spf13/cobra"

	"github.com/backapp/backapp/internal/agent"
)

func newRunCmd(g *globals) *cobra.Command {
	var concurrent int
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the agent: heartbeat, take commands from the server, run backups and restores",
		Long: `Run is the daemon (what the system service runs). It heartbeats every few seconds,
runs the backups and restores the server asks for, reports their progress and ships its
log lines to the server. It carries on through server restarts and network loss.
SIGINT or SIGTERM stop it: running backups are cancelled, their uploads aborted and
reported cancelled before it exits.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			env, err := g.load(cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			daemon := func(ctx context.Context) error {
				_, level, _ := g.logger(cmd.ErrOrStderr())
				ship := agent.NewLogShipper(env.client)
				log := slog.New(ship.Handler(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}), slog.LevelInfo))
				env.runner.Log = log
				d := &agent.Daemon{Runner: env.runner, Host: host(), Log: log.With("agent", env.settings.AgentID), MaxConcurrent: concurrent}
				return agent.RunDaemon(ctx, d, ship)
			}
			if service.Interactive() {
				ctx, stop := signal.NotifyContext(ctxOf(cmd), os.Interrupt, syscall.SIGTERM)
				defer stop()
				return daemon(ctx)
			}
			// Started by the service manager (Windows service control, launchd, systemd).
			p := &program{run: daemon}
			s, err := service.New(p, serviceConfig(env.dir))
			if err != nil {
				return err
			}
			return s.Run()
		},
	}
	cmd.Flags().IntVar(&concurrent, "concurrent", 2, "most backups run at once (one per configuration at most)")
	return cmd
}

// program adapts the daemon to kardianos/service's Start/Stop.
type program struct {
	run    func(context.Context) error
	cancel context.CancelFunc
	done   chan error
}

func (p *program) Start(service.Service) error {
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel, p.done = cancel, make(chan error, 1)
	go func() { p.done <- p.run(ctx) }()
	return nil
}

func (p *program) Stop(service.Service) error {
	p.cancel()
	select {
	case err := <-p.done:
		return err
	case <-time.After(2 * time.Minute):
		return fmt.Errorf("agent did not stop within 2 minutes")
	}
}

// serviceConfig describes the system service that runs `backapp-agent run`.
func serviceConfig(configDir string) *service.Config {
	return &service.Config{
		Name:        "backapp-agent",
		DisplayName: "backapp agent",
		Description: "Backs this machine up to the storage a backapp server manages.",
		Arguments:   []string{"run", "--config-dir", configDir},
		Option: service.KeyValue{
			"Restart":   "always", // systemd
			"KeepAlive": true,     // launchd
			"RunAtLoad": true,
			"LogOutput": true,
			"OnFailure": "restart", // Windows
		},
	}
}
