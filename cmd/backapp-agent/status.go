package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/backapp/backapp/internal/agent"
)

func newStatusCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show whether this machine is enrolled, as which agent, and whether the server answers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			env, err := g.load(cmd.ErrOrStderr())
			if err != nil {
				if errors.Is(err, agent.ErrNotEnrolled) {
					fmt.Fprintln(out, "enrolled: no")
				}
				return err
			}
			s := env.settings
			fmt.Fprintf(out, "enrolled:  yes, as agent %q (%s) since %s\n", s.Name, s.AgentID, s.EnrolledAt.Format(time.RFC3339))
			fmt.Fprintf(out, "server:    %s\n", s.Server)
			fmt.Fprintf(out, "settings:  %s\nstate:     %s\n", env.dir, s.StateDir)
			if st, ok := env.state.LoadStatus(); ok {
				if st.LastHeartbeat.IsZero() {
					fmt.Fprintln(out, "heartbeat: none answered yet")
				} else {
					fmt.Fprintf(out, "heartbeat: last answered %s (%s ago)\n", st.LastHeartbeat.Format(time.RFC3339), time.Since(st.LastHeartbeat).Round(time.Second))
				}
				if st.LastError != "" && st.LastAttempt.After(st.LastHeartbeat) {
					fmt.Fprintf(out, "           last attempt %s failed: %s\n", st.LastAttempt.Format(time.RFC3339), st.LastError)
				}
				if len(st.Running) > 0 {
					fmt.Fprintf(out, "running:   %v\n", st.Running)
				}
			} else {
				fmt.Fprintln(out, "heartbeat: the daemon has not run (`backapp-agent run` or `install`)")
			}
			cfgs, err := env.client.Configs(ctxOf(cmd))
			if err != nil {
				fmt.Fprintf(out, "reachable: no\n")
				return err
			}
			fmt.Fprintf(out, "reachable: yes, %s assigned\n", plural(int64(len(cfgs)), "configuration"))
			for _, c := range cfgs {
				state := "enabled"
				if !c.Enabled {
					state = "disabled"
				}
				fmt.Fprintf(out, "  %s  %s (%s)\n", c.ID, c.Name, state)
			}
			return nil
		},
	}
}
