package main

import (
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/backapp/backapp/internal/server"
)

func newServeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the server (web UI, API, agent API)",
		Long: `Run the backapp server.

With no settings it listens on :8080, keeps its SQLite database, master key and
local storage in ./data, and needs nothing else. Every flag can also be given as the
environment variable shown in brackets; a flag on the command line wins.`,
		Args: cobra.NoArgs,
	}
	load := withConfig(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		cfg, err := load()
		if err != nil {
			return err
		}
		log := newLogger(cfg, os.Stderr)
		ctx, stop := signal.NotifyContext(ctxOf(cmd), os.Interrupt, syscall.SIGTERM)
		defer stop()
		app, err := server.Open(ctx, cfg, log, server.Options{})
		if err != nil {
			return err
		}
		defer app.Close()
		ln, err := net.Listen("tcp", cfg.Listen)
		if err != nil {
			return fmt.Errorf("--listen %s: %w", cfg.Listen, err)
		}
		return app.Serve(ctx, ln)
	}
	return cmd
}
