package main

import (
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward/core/domain"
	"github.com/keyward/keyward/scim"
)

// The client command is added through extraCommands, the hook main.go keeps for
// commands that live in their own file.
func (a *app) clientCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "client",
		Short: "Manage the SCIM clients (IGA platforms) and their tokens",
	}
	c.AddCommand(a.clientAddCmd(), a.clientListCmd(), a.clientRemoveCmd())
	return c
}

func (a *app) clientAddCmd() *cobra.Command {
	var name, profile, scope string
	c := &cobra.Command{
		Use:   "add --name NAME --profile PROFILE --scope read|write",
		Short: "Add a SCIM client and print its bearer token (shown once, stored hashed)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if name == "" {
				return badInput(errors.New("client add: --name is required"))
			}
			st, err := a.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			token, err := scim.NewClients(a.engine(st, nil)).Add(cmd.Context(), name, profile, scim.Scope(scope))
			if errors.Is(err, domain.ErrInvalid) || errors.Is(err, domain.ErrConflict) {
				return badInput(fmt.Errorf("client add: %w", err))
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(a.out, "client %q (%s, %s) added.\nBearer token (shown once, keyward keeps only its hash):\n\n  %s\n\n", name, profile, scope, token)
			fmt.Fprintf(a.out, "HTTP Basic, where the platform needs it: user %q, password the token.\n", name)
			return nil
		},
	}
	c.Flags().StringVar(&name, "name", "", "the client's name (letters, digits, . _ -)")
	c.Flags().StringVar(&profile, "profile", "generic", "the IGA platform: "+strings.Join(scim.Profiles, "|"))
	c.Flags().StringVar(&scope, "scope", "write", "read or write")
	return c
}

func (a *app) clientListCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the SCIM clients (never their tokens)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := a.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			list, err := scim.NewClients(a.engine(st, nil)).List(cmd.Context())
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(a.out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tPROFILE\tSCOPE\tCREATED")
			for _, c := range list {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.Name, c.Profile, c.Scope, c.Created.Format("2006-01-02 15:04"))
			}
			return tw.Flush()
		},
	}
}

func (a *app) clientRemoveCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "remove NAME",
		Short: "Remove a SCIM client; its token stops working at once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := a.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			if err := scim.NewClients(a.engine(st, nil)).Remove(cmd.Context(), args[0]); err != nil {
				if errors.Is(err, domain.ErrNotFound) {
					return badInput(fmt.Errorf("client remove: no client %q", args[0]))
				}
				return err
			}
			fmt.Fprintf(a.out, "client %q removed\n", args[0])
			return nil
		},
	}
}
