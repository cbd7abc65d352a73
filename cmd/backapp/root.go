package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/backapp/backapp/internal/config"
	"github.com/backapp/backapp/internal/version"
)

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "backapp",
		Short:         "Self-hosted backups for every machine you own",
		Version:       version.String(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newServeCmd(), newMigrateCmd(), newAdminCmd())
	return root
}

// withConfig registers the server settings on cmd and returns a function that loads
// them (flags, then BACKAPP_* environment) and validates them.
func withConfig(cmd *cobra.Command) func() (*config.Config, error) {
	cfg := config.Register(cmd.Flags())
	return func() (*config.Config, error) {
		if err := config.ApplyEnv(cmd.Flags(), os.Environ()); err != nil {
			return nil, err
		}
		if err := cfg.Validate(); err != nil {
			return nil, fmt.Errorf("invalid settings:\n%w", err)
		}
		return cfg, nil
	}
}

func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	level, _ := cfg.Level()
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// ctxOf returns the command's context (never nil).
func ctxOf(cmd *cobra.Command) context.Context {
	if ctx := cmd.Context(); ctx != nil {
		return ctx
	}
	return context.Background()
}
