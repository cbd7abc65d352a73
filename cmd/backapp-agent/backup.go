package main

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/backapp/backapp/internal/agent"
	"github.com/backapp/backapp/internal/agentproto"
)

func newBackupCmd(g *globals) *cobra.Command {
	var configID string
	cmd := &cobra.Command{
		Use:   "backup --config ID",
		Short: "Run one backup of a configuration now, showing its progress",
		Long: `Backup runs one backup of a configuration assigned to this agent now, in the
foreground, and records it on the server like any other run. Ctrl-C cancels it (the
upload is aborted and the run recorded cancelled). ` + "`backapp-agent status`" + ` lists the
configuration ids.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			env, err := g.load(cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(ctxOf(cmd), os.Interrupt, syscall.SIGTERM)
			defer stop()
			out := cmd.OutOrStdout()
			bar := newProgressPrinter(out)
			res, err := env.runner.Backup(ctx, agent.BackupRequest{
				ConfigID: configID,
				Started: func(st agentproto.BackupStartResponse) {
					kind := "incremental"
					if st.Full || st.Previous == nil {
						kind = "full"
					}
					fmt.Fprintf(out, "backing up %q (%s) as run %s to %s\n", st.Config.Name, kind, st.RunID, st.ArchiveKey)
				},
				OnProgress: func(p agentproto.Progress) {
					bar.update(p.BytesRead, p.BytesScanned, fmt.Sprintf("%d files, %s read, %s uploaded",
						p.FilesScanned, humanBytes(p.BytesRead), humanBytes(p.BytesUploaded)))
				},
			})
			bar.finish()
			for _, is := range res.Issues {
				fmt.Fprintf(cmd.ErrOrStderr(), "skipped %s: %s: %v\n", is.Path, is.Op, is.Err)
			}
			if err != nil {
				if errors.Is(err, agent.ErrNotFound) {
					return fmt.Errorf("%w (is config %s assigned to this agent? `backapp-agent status` lists them)", err, configID)
				}
				return err
			}
			status := res.Status
			if status == "completed" && (res.Progress.FilesSkipped > 0 || len(res.Issues) > 0) {
				status = "completed with warnings" // something was left out: never plain "completed"
			}
			fmt.Fprintf(out, "%s: %s, %s skipped, %s stored in %s\n%s\n", status,
				plural(res.Progress.FilesDone, "file"), plural(res.Progress.FilesSkipped, "file"),
				storedText(res.Stored), res.Duration.Round(1e7), objectText(res))
			return nil
		},
	}
	cmd.Flags().StringVar(&configID, "config", "", "the configuration's id")
	_ = cmd.MarkFlagRequired("config")
	return cmd
}

// storedText is everything a run added to its destination, with its parts:
// "1.2 MiB (archive 1.1 MiB, manifest 20 KiB, catalog 20 KiB)".
func storedText(b agent.StoredBytes) string {
	archive := "archive " + humanBytes(b.Archive)
	if b.NoArchive {
		archive = "no archive: nothing changed"
	}
	s := humanBytes(b.Total()) + " (" + archive + ", manifest " + humanBytes(b.Manifest)
	if b.Catalog > 0 {
		s += ", catalog " + humanBytes(b.Catalog)
	}
	return s + ")"
}

// objectText names what the run stored: its archive, or its manifest when it has none.
func objectText(res agent.BackupResult) string {
	if res.Stored.NoArchive {
		return res.ManifestKey
	}
	return res.S3Path
}
