package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/backapp/backapp/internal/agent"
	"github.com/backapp/backapp/internal/engine"
	"github.com/backapp/backapp/internal/engine/archive"
)

func newRestoreCmd(g *globals) *cobra.Command {
	var runID, pit, target, unportableFlag string
	var paths, identityFiles []string
	var overwrite, passStdin bool
	cmd := &cobra.Command{
		Use:   "restore --run ID --target DIR",
		Short: "Restore a backup run (or a point in time) into a directory",
		Long: `Restore downloads a run's archives (the full backup and the incrementals up to it)
through URLs the server signs, checks every file's SHA-256 and writes the tree under
--target. Nothing is written outside the target; existing files are kept unless
--overwrite. With --point-in-time, the newest run of the configuration of --run at or
before that time is restored. Encrypted backups need --identity (age identity file) or
--passphrase-stdin. Names the target's file system cannot hold (on Windows CON, a:b,
q?, a backslash, names differing only in case) are restored under escaped names and
listed, or skipped and listed with --unportable-names skip.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runID == "" {
				return errors.New("--run is required (with --point-in-time: any run of the configuration)")
			}
			unportable, err := archive.ParseUnportableNames(unportableFlag)
			if err != nil {
				return fmt.Errorf("--unportable-names: %w", err)
			}
			var at *time.Time
			if pit != "" {
				t, err := time.Parse(time.RFC3339, pit)
				if err != nil {
					return fmt.Errorf("--point-in-time %q: want RFC 3339, e.g. 2026-01-31T18:00:00Z", pit)
				}
				at = &t
			}
			env, err := g.load(cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			ids, err := agent.LoadIdentities(identityFiles...)
			if err != nil {
				return err
			}
			if passStdin {
				line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
				if err != nil && line == "" {
					return fmt.Errorf("read the passphrase from standard input: %w", err)
				}
				id, err := agent.PassphraseIdentity(strings.TrimRight(line, "\r\n"))
				if err != nil {
					return err
				}
				ids = append(ids, id)
			}
			if len(ids) == 0 {
				ids = env.runner.Identities
			}
			ctx, stop := signal.NotifyContext(ctxOf(cmd), os.Interrupt, syscall.SIGTERM)
			defer stop()
			out := cmd.OutOrStdout()
			bar := newProgressPrinter(out)
			res, err := env.runner.Restore(ctx, agent.RestoreRequest{RunID: runID, PointInTime: at, Target: target,
				Paths: paths, Overwrite: overwrite, Identities: ids, Unportable: unportable,
				OnProgress: func(p engine.RestoreProgress) {
					bar.update(0, 0, fmt.Sprintf("archive %d: %s downloaded, %d files written", p.Archive+1, humanBytes(p.BytesDownloaded), p.Files))
				}})
			bar.finish()
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "restored %s (%s) into %s\n", plural(res.Files, "file"), humanBytes(res.Bytes), target)
			for _, n := range res.Renamed {
				fmt.Fprintf(out, "renamed: %s as %s (this system cannot hold its name)\n", n.Path, n.RestoredAs)
			}
			for _, n := range res.Skipped {
				fmt.Fprintf(out, "skipped: %s: %s\n", n.Path, n.Reason)
			}
			if more := res.RenamedCount + res.SkippedCount - len(res.Renamed) - len(res.Skipped); more > 0 {
				fmt.Fprintf(out, "and %d more renamed or skipped (the log lists them)\n", more)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&runID, "run", "", "the run to restore (or, with --point-in-time, any run of its configuration)")
	f.StringVar(&pit, "point-in-time", "", "restore the newest run at or before this time (RFC 3339)")
	f.StringVar(&target, "target", "", "directory to restore into (created if missing)")
	f.StringArrayVar(&paths, "path", nil, "restore only this path or glob (repeatable; archive names have no leading /)")
	f.BoolVar(&overwrite, "overwrite", false, "replace existing files")
	f.StringArrayVar(&identityFiles, "identity", nil, "age identity file for encrypted backups (repeatable)")
	f.BoolVar(&passStdin, "passphrase-stdin", false, "read the encryption passphrase from standard input")
	f.StringVar(&unportableFlag, "unportable-names", "rename", "names this system cannot hold: rename (escaped, listed) or skip (listed)")
	_ = cmd.MarkFlagRequired("run")
	_ = cmd.MarkFlagRequired("target")
	return cmd
}
