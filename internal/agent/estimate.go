package agent

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/backapp/backapp/internal/agentproto"
	"github.com/backapp/backapp/internal/engine/manifest"
	"github.com/backapp/backapp/internal/engine/scan"
)

// maxEstimateErrors is how many unreadable files an estimate names (it counts all).
const maxEstimateErrors = 20

// Estimate scans a config's sources as a backup would — the same source list, each
// source's own include and exclude patterns, symbolic links followed or not — without
// opening any file, and returns what a full backup would read now. It honours
// CheckBackup, so the built-in agent refuses what it would refuse to back up. The
// error is set (and the status failed) when the scan could not run at all; files the
// scan cannot read are counted in Issues, as a backup would skip them.
func (r *Runner) Estimate(ctx context.Context, cfg agentproto.Config) (agentproto.EstimateCompleteRequest, error) {
	out := agentproto.EstimateCompleteRequest{Status: agentproto.EstimateDone}
	err := r.estimate(ctx, cfg, &out)
	if err != nil {
		out = agentproto.EstimateCompleteRequest{Status: agentproto.EstimateFailed, Error: err.Error()}
	}
	return out, err
}

func (r *Runner) estimate(ctx context.Context, cfg agentproto.Config, out *agentproto.EstimateCompleteRequest) error {
	if r.CheckBackup != nil {
		if err := r.CheckBackup(ctx, cfg); err != nil {
			return err
		}
	}
	var paths []string
	matchers := map[string]*scan.Matcher{}
	for _, s := range cfg.Sources {
		paths = append(paths, s.Path)
		if len(s.IncludePatterns)+len(s.ExcludePatterns) == 0 {
			continue
		}
		// Keyed as scan.Sources returns the path, as the engine's backup keys them.
		abs, err := filepath.Abs(s.Path)
		if err != nil {
			return fmt.Errorf("source %q: %w", s.Path, err)
		}
		m, err := scan.NewMatcher(s.IncludePatterns, s.ExcludePatterns)
		if err != nil {
			return fmt.Errorf("source %q: %w", s.Path, err)
		}
		matchers[abs] = m
	}
	if len(paths) == 0 {
		return errors.New("the configuration has no sources")
	}
	sources, err := scan.Sources(paths)
	if err != nil {
		return err
	}
	seen := map[[2]uint64]bool{} // hard-linked contents are stored once
	opts := scan.Options{SourceMatchers: matchers, FollowSymlinks: cfg.Options.FollowSymlinks,
		OnIssue: func(i scan.Issue) error {
			out.Issues++
			if len(out.Errors) < maxEstimateErrors {
				out.Errors = append(out.Errors, agentproto.FileError{Path: i.Path, Message: i.Op + ": " + errString(i.Err)})
			}
			return nil
		}}
	return scan.Walk(ctx, sources, opts, func(n scan.Node) error {
		switch n.Type {
		case manifest.TypeDir:
			out.Dirs++
		case manifest.TypeFile:
			out.Files++
			if n.Stat.Nlink > 1 {
				key := [2]uint64{n.Stat.Dev, n.Stat.Ino}
				if seen[key] {
					return nil
				}
				seen[key] = true
			}
			out.Bytes += n.Info.Size()
		}
		return nil
	})
}

// estimateCommand runs an estimate the server asked for and reports its outcome. A
// cancelled estimate (replaced by a newer one, or the agent stopping) is not reported:
// the server no longer wants it, or reaps it.
func (r *Runner) estimateCommand(ctx context.Context, spec agentproto.EstimateSpec) error {
	log := r.log().With("estimate", spec.EstimateID, "config", spec.Config.ID)
	start := r.now()
	rep, err := r.Estimate(ctx, spec.Config)
	if ctx.Err() != nil {
		log.Info("estimate stopped", "cause", context.Cause(ctx))
		return nil
	}
	rep.EstimateID = spec.EstimateID
	if err != nil {
		log.Warn("estimate failed", "err", err)
	} else {
		log.Info("estimate done", "files", rep.Files, "bytes", rep.Bytes, "issues", rep.Issues,
			"duration", r.now().Sub(start).Round(time.Millisecond))
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.Client.Patience()+time.Minute)
	defer cancel()
	if rerr := r.Client.EstimateComplete(cctx, rep); rerr != nil {
		return fmt.Errorf("report estimate %s: %w", spec.EstimateID, rerr)
	}
	return nil
}
