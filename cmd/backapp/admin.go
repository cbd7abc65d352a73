package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/backapp/backapp/internal/apperr"
	"github.com/backapp/backapp/internal/auth"
	"github.com/backapp/backapp/internal/config"
	"github.com/backapp/backapp/internal/server"
	"github.com/backapp/backapp/internal/store"
)

func newAdminCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "admin",
		Short: "Operator commands for when you cannot use the web UI",
	}
	cmd.AddCommand(newCreateUserCmd(), newResetPasswordCmd())
	return cmd
}

// openAuth opens the store and an account service for an operator command.
func openAuth(cmd *cobra.Command, cfg *config.Config) (*auth.Service, func(), error) {
	st, err := server.OpenStore(ctxOf(cmd), cfg)
	if err != nil {
		return nil, nil, err
	}
	svc, err := auth.NewService(auth.Config{Store: st, Logger: newLogger(cfg, io.Discard), BaseURL: cfg.BaseURL})
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return svc, func() { st.Close() }, nil
}

// readPassword takes the password from standard input (--password-stdin), never from
// a flag, which would leave it in the shell history and the process list.
func readPassword(cmd *cobra.Command, fromStdin bool) (string, error) {
	if fromStdin {
		line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("read password from stdin: %w", err)
		}
		return strings.TrimRight(line, "\r\n"), nil
	}
	return "", errors.New("give the password on standard input with --password-stdin, e.g. `printf '%s\\n' \"$PW\" | backapp admin …`")
}

func explain(err error) error {
	var e *apperr.Error
	if errors.As(err, &e) && e.Kind != apperr.Internal {
		return errors.New(e.Message)
	}
	return err
}

func newCreateUserCmd() *cobra.Command {
	var email, name, role string
	var stdin bool
	cmd := &cobra.Command{
		Use:   "create-user --email E --name N [--role admin|user] --password-stdin",
		Short: "Create an account (for example an admin when nobody can sign in)",
		Args:  cobra.NoArgs,
	}
	cmd.Flags().StringVar(&email, "email", "", "e-mail address of the new account")
	cmd.Flags().StringVar(&name, "name", "", "display name")
	cmd.Flags().StringVar(&role, "role", store.RoleAdmin, "admin or user")
	cmd.Flags().BoolVar(&stdin, "password-stdin", false, "read the password from standard input")
	load := withConfig(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		cfg, err := load()
		if err != nil {
			return err
		}
		pw, err := readPassword(cmd, stdin)
		if err != nil {
			return err
		}
		svc, done, err := openAuth(cmd, cfg)
		if err != nil {
			return err
		}
		defer done()
		u, err := svc.CreateUser(ctxOf(cmd), auth.RegisterInput{Email: email, Name: name, Password: pw}, role, "", auth.Meta{IP: "cli"})
		if err != nil {
			return explainFields(err)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "created %s %s (%s)\n", u.Role, u.Email, u.ID)
		return nil
	}
	return cmd
}

func newResetPasswordCmd() *cobra.Command {
	var email string
	var stdin bool
	cmd := &cobra.Command{
		Use:   "reset-password --email E --password-stdin",
		Short: "Set a user's password and sign them out everywhere",
		Args:  cobra.NoArgs,
	}
	cmd.Flags().StringVar(&email, "email", "", "e-mail address of the account")
	cmd.Flags().BoolVar(&stdin, "password-stdin", false, "read the new password from standard input")
	load := withConfig(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		cfg, err := load()
		if err != nil {
			return err
		}
		if email == "" {
			return errors.New("--email is required")
		}
		pw, err := readPassword(cmd, stdin)
		if err != nil {
			return err
		}
		svc, done, err := openAuth(cmd, cfg)
		if err != nil {
			return err
		}
		defer done()
		u, err := svc.AdminSetPassword(ctxOf(cmd), email, pw, auth.Meta{IP: "cli"})
		if err != nil {
			return explain(err)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "password of %s changed; all their sessions ended\n", u.Email)
		return nil
	}
	return cmd
}

// explainFields turns a validation error into one line per field.
func explainFields(err error) error {
	var e *apperr.Error
	if errors.As(err, &e) && len(e.Fields) > 0 {
		var b strings.Builder
		for f, m := range e.Fields {
			fmt.Fprintf(&b, "--%s: %s\n", flagFor(f), m)
		}
		return errors.New(strings.TrimSpace(b.String()))
	}
	return explain(err)
}

func flagFor(field string) string {
	if field == "password" {
		return "password-stdin"
	}
	return field
}
