package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/backapp/backapp/internal/server"
)

func newMigrateCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply database migrations and exit",
		Long:  "Apply every pending database migration (serve does this too at start-up) and report the schema version.",
		Args:  cobra.NoArgs,
	}
	load := withConfig(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		cfg, err := load()
		if err != nil {
			return err
		}
		st, err := server.OpenStore(ctxOf(cmd), cfg)
		if err != nil {
			return err
		}
		defer st.Close()
		fmt.Fprintf(cmd.OutOrStdout(), "%s database is up to date\n", st.Dialect())
		return nil
	}
	return cmd
}
