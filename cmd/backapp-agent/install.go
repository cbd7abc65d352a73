package main

import (
	"fmt"
	"path/filepath"

	"github.com/kardianos/service"
	"github.com/spf13/cobra"

	"github.com/backapp/backapp/internal/agent"
)

func newInstallCmd(g *globals) *cobra.Command {
	var noStart bool
	cmd := &cobra.Command{
		Use:   "install",
		Short: "Install the agent as a system service (systemd, launchd or a Windows service) and start it",
		Long: `Install registers "backapp-agent run" with the system's service manager — a systemd
unit on Linux, a launchd daemon on macOS, a Windows service — so it starts at boot and
restarts when it stops. It needs root (administrator) rights and an enrolled agent.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, err := g.dir()
			if err != nil {
				return err
			}
			if dir, err = filepath.Abs(dir); err != nil {
				return err
			}
			if _, err := agent.LoadSettings(dir); err != nil {
				return err
			}
			s, err := service.New(&program{}, serviceConfig(dir))
			if err != nil {
				return err
			}
			if err := s.Install(); err != nil {
				return fmt.Errorf("install the service (as root/administrator?): %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "installed service backapp-agent (%s)\n", s.Platform())
			if noStart {
				return nil
			}
			if err := s.Start(); err != nil {
				return fmt.Errorf("start the service: %w", err)
			}
			fmt.Fprintln(cmd.OutOrStdout(), "started; `backapp-agent status` shows whether it reaches the server")
			return nil
		},
	}
	cmd.Flags().BoolVar(&noStart, "no-start", false, "install without starting")
	return cmd
}
