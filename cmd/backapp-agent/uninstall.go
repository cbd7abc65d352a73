package main

import (
	"fmt"

	"github.com/kardianos/service"
	"github.com/spf13/cobra"
)

func newUninstallCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "uninstall",
		Short: "Stop the agent's system service and remove it (settings and state stay)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, err := g.dir()
			if err != nil {
				return err
			}
			s, err := service.New(&program{}, serviceConfig(dir))
			if err != nil {
				return err
			}
			_ = s.Stop() // may not be running
			if err := s.Uninstall(); err != nil {
				return fmt.Errorf("remove the service (as root/administrator?): %w", err)
			}
			fmt.Fprintln(cmd.OutOrStdout(), "service backapp-agent removed; settings in", dir, "kept")
			return nil
		},
	}
}
