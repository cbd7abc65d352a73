package main

import (
	"context"
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
		v, ok := st.(interface {
			Version(context.Context) (current, latest int64, err error)
		})
		if !ok {
			fmt.Fprintf(cmd.OutOrStdout(), "%s database is up to date\n", st.Dialect())
			return nil
		}
		cur, latest, err := v.Version(ctxOf(cmd))
		if err != nil {
			return fmt.Errorf("read schema version: %w", err)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "%s database at schema version %d of %d\n", st.Dialect(), cur, latest)
		return nil
	}
	return cmd
}
