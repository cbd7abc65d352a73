package main

import (
	"bufio"
	"crypto/x509"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/backapp/backapp/internal/agent"
	"github.com/backapp/backapp/internal/agentproto"
)

func newEnrollCmd(g *globals) *cobra.Command {
	var server, key, stateDir, caCert string
	var insecure bool
	var identities []string
	cmd := &cobra.Command{
		Use:   "enroll --server URL --key KEY",
		Short: "Enroll this machine with a backapp server using the key from its Agents page",
		Long: `Enroll checks the key with the server and stores the settings, readable only by
their owner (0600), in agent.json in:

  Linux    /etc/backapp-agent (root), else $XDG_CONFIG_HOME/backapp-agent (~/.config/backapp-agent)
  macOS    /Library/Application Support/backapp-agent (root), else ~/Library/Application Support/backapp-agent
  Windows  %ProgramData%\backapp-agent

(--config-dir chooses another place). The key may be given as "-" to read it from
standard input, so it stays out of the shell history.

The server URL must be https://, or http:// to this machine (localhost); --insecure
allows plain http to another host, which exposes the key on the network. When the
server's certificate (or the S3 endpoint's) comes from a private certificate authority,
--ca-cert names a PEM file of that CA; it is trusted besides the system's, from then on.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if key == "-" {
				line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
				if err != nil && line == "" {
					return fmt.Errorf("read the key from standard input: %w", err)
				}
				key = strings.TrimSpace(line)
			}
			if key == "" {
				return errors.New("--key is required: copy it from the server's Agents page")
			}
			if !strings.HasPrefix(key, agentproto.KeyPrefix) {
				return fmt.Errorf("--key does not look like an agent key (they start with %q)", agentproto.KeyPrefix)
			}
			dir, err := g.dir()
			if err != nil {
				return err
			}
			log, _, err := g.logger(cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			var roots *x509.CertPool
			if caCert != "" {
				if caCert, err = filepath.Abs(caCert); err != nil {
					return err
				}
				if roots, err = agent.LoadCACert(caCert); err != nil {
					return err
				}
			}
			c, err := agent.NewClient(agent.ClientOptions{Server: server, Key: key, Insecure: insecure, RootCAs: roots, Timeout: 30 * time.Second})
			if err != nil {
				return err
			}
			reg, err := c.Register(ctxOf(cmd), host())
			if err != nil {
				return fmt.Errorf("enroll with %s: %w", c.Server(), err)
			}
			s := agent.Settings{Server: c.Server(), Key: key, Insecure: insecure, CACert: caCert, AgentID: reg.AgentID, Name: reg.Name,
				UserID: reg.UserID, StateDir: stateDir, IdentityFiles: identities, EnrolledAt: time.Now().UTC()}
			if s.StateDir == "" {
				s.StateDir = agent.DefaultStateDir(dir)
			}
			path, err := agent.SaveSettings(dir, s)
			if err != nil {
				return err
			}
			if _, err := agent.OpenState(s.StateDir, log); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "enrolled as agent %q (%s) with %s\nsettings: %s\nstate:    %s\nnext: `backapp-agent install` to run it as a service, or `backapp-agent run`\n",
				reg.Name, reg.AgentID, c.Server(), path, s.StateDir)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&server, "server", "", "the server's URL, as in the browser (https://backup.example.com)")
	f.StringVar(&key, "key", "", `the agent key from the server's Agents page ("-": read from standard input)`)
	f.BoolVar(&insecure, "insecure", false, "allow plain http to a host other than localhost")
	f.StringVar(&caCert, "ca-cert", "", "PEM file of a private certificate authority to trust besides the system's (server or S3 endpoint)")
	f.StringVar(&stateDir, "state-dir", "", "where to keep local state (default: /var/lib/backapp-agent for root on Linux, else beside the settings)")
	f.StringSliceVar(&identities, "identity", nil, "age identity file used for restores the server asks for (repeatable)")
	_ = cmd.MarkFlagRequired("server")
	return cmd
}
