package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os/user"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward/core/audit"
	"github.com/keyward/keyward/core/domain"
	"github.com/keyward/keyward/core/engine"
	"github.com/keyward/keyward/core/estate"
	"github.com/keyward/keyward/core/report"
	"github.com/keyward/keyward/core/store"
)

// cliActor names the person at the terminal.
//
// TODO: CLI commands run on the wall clock even when serve runs on the test clock
// control, so an approval or key report made from the CLI during a test is stamped
// with the real time.
func cliActor(by string) engine.Actor {
	if by == "" {
		if u, err := user.Current(); err == nil {
			by = u.Username
		} else {
			by = "cli"
		}
	}
	return engine.Actor{Name: by, Source: domain.Source{Kind: domain.SourceManual, Name: by}}
}

func (a *app) applyCmd() *cobra.Command {
	var file, by string
	var dryRun bool
	c := &cobra.Command{
		Use:   "apply -f FILE",
		Short: "Apply an estate file: print the difference, then apply it (audited)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if file == "" {
				return badInput(errors.New("apply: -f FILE is required"))
			}
			es, err := estate.Load(file)
			if err != nil {
				return badInput(err)
			}
			st, err := a.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			changes, steps, err := estate.Diff(cmd.Context(), st, es)
			if err != nil {
				return err
			}
			if len(changes) == 0 {
				fmt.Fprintln(a.out, "no changes: the store matches", file)
				return nil
			}
			for _, ch := range changes {
				fmt.Fprintln(a.out, ch)
			}
			if dryRun {
				fmt.Fprintf(a.out, "%d change(s); dry run, nothing applied\n", len(changes))
				return nil
			}
			if err := estate.Apply(cmd.Context(), a.engine(st, nil), cliActor(by), steps); err != nil {
				return err
			}
			fmt.Fprintf(a.out, "%d change(s) applied\n", len(changes))
			return nil
		},
	}
	c.Flags().StringVarP(&file, "file", "f", "", "the estate file (YAML)")
	c.Flags().BoolVar(&dryRun, "dry-run", false, "print the difference only")
	c.Flags().StringVar(&by, "by", "", "who applies it (default: the system user)")
	return c
}

func (a *app) grantCmd() *cobra.Command {
	c := &cobra.Command{Use: "grant", Short: "Approve, reject or list grants"}
	decide := func(approve bool) *cobra.Command {
		var by, note string
		use, short := "approve ID --by NAME", "Approve a requested grant"
		if !approve {
			use, short = "reject ID --by NAME", "Reject a requested grant"
		}
		cc := &cobra.Command{
			Use: use, Short: short, Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				if by == "" {
					return badInput(errors.New("--by NAME is required: the approver is part of the evidence"))
				}
				st, err := a.openStore(cmd.Context())
				if err != nil {
					return err
				}
				defer st.Close()
				var step engine.Step = engine.ApproveGrant{GrantID: args[0], By: by, Reference: note}
				if !approve {
					step = engine.RejectGrant{GrantID: args[0], By: by, Reason: note}
				}
				if _, err := a.engine(st, nil).Execute(cmd.Context(), cliActor(by), step); err != nil {
					return err
				}
				verb := "approved"
				if !approve {
					verb = "rejected"
				}
				fmt.Fprintf(a.out, "grant %s %s by %s\n", args[0], verb, by)
				return nil
			},
		}
		cc.Flags().StringVar(&by, "by", "", "who decides")
		if approve {
			cc.Flags().StringVar(&note, "reference", "", "the approval's reference (ticket, request id)")
		} else {
			cc.Flags().StringVar(&note, "reason", "", "why it is rejected")
		}
		return cc
	}
	var state string
	list := &cobra.Command{
		Use: "list", Short: "List grants (default: those waiting for approval)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := a.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			return st.View(cmd.Context(), func(tx store.Tx) error {
				gs, err := store.All[domain.Grant](cmd.Context(), tx, store.Eqf("state", state))
				if err != nil {
					return err
				}
				w := tabwriter.NewWriter(a.out, 2, 4, 2, ' ', 0)
				fmt.Fprintln(w, "ID\tIDENTITY\tENTITLEMENT\tSOURCE\tSTATE\tUNTIL")
				for _, g := range gs {
					until := "-"
					if g.ValidUntil != nil {
						until = g.ValidUntil.Format(time.RFC3339)
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", g.ID, g.IdentityID, g.EntitlementID, g.Source, g.State, until)
				}
				return w.Flush()
			})
		},
	}
	list.Flags().StringVar(&state, "state", string(domain.GrantRequested), "requested, active, expired, revoked or rejected")
	c.AddCommand(decide(true), decide(false), list)
	return c
}

func (a *app) keyCmd() *cobra.Command {
	c := &cobra.Command{Use: "key", Short: "Record key custody: assign, return, lost"}
	var by string
	run := func(use, short string, n int, step func([]string) engine.Step, done string) *cobra.Command {
		return &cobra.Command{
			Use: use, Short: short, Args: cobra.ExactArgs(n),
			RunE: func(cmd *cobra.Command, args []string) error {
				st, err := a.openStore(cmd.Context())
				if err != nil {
					return err
				}
				defer st.Close()
				if _, err := a.engine(st, nil).Execute(cmd.Context(), cliActor(by), step(args)); err != nil {
					return err
				}
				fmt.Fprintf(a.out, done+"\n", args[0])
				return nil
			},
		}
	}
	c.AddCommand(
		run("assign KEY IDENTITY", "Record that an identity holds a key", 2, func(a []string) engine.Step { return engine.AssignKey{KeyID: a[0], IdentityID: a[1]} }, "key %s assigned"),
		run("return KEY", "Record that a key came back; its access is removed", 1, func(a []string) engine.Step { return engine.ReturnKey{KeyID: a[0]} }, "key %s returned"),
		run("lost KEY", "Report a key lost: it is blocked where the lock system can", 1, func(a []string) engine.Step { return engine.ReportKeyLost{KeyID: a[0]} }, "key %s reported lost"),
	)
	c.PersistentFlags().StringVar(&by, "by", "", "who records it (default: the system user)")
	return c
}

func (a *app) auditCmd() *cobra.Command {
	c := &cobra.Command{Use: "audit", Short: "Work with the audit trail"}
	c.AddCommand(&cobra.Command{
		Use: "verify", Short: "Verify the audit hash chain; name the first altered, deleted or reordered event", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := a.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			rep, err := audit.Verify(cmd.Context(), st)
			if err != nil {
				return err
			}
			if rep.Problem != nil {
				return fmt.Errorf("audit chain broken after %d good events: %w", rep.Events, rep.Problem)
			}
			fmt.Fprintf(a.out, "audit chain intact: %d events, head %s\n", rep.Events, rep.LastHash)
			return nil
		},
	})
	return c
}

func (a *app) whyCmd() *cobra.Command {
	var q report.WhyQuery
	var at string
	var asJSON bool
	c := &cobra.Command{
		Use:   "why --identity ID (--entitlement ID | --asset ID) --at RFC3339",
		Short: "Explain from history why an identity had access at a moment",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if at == "" {
				q.At = time.Now().UTC()
			} else {
				t, err := time.Parse(time.RFC3339, at)
				if err != nil {
					return badInput(fmt.Errorf("--at: %q is not an RFC 3339 time such as 2026-12-03T10:00:00Z", at))
				}
				q.At = t
			}
			st, err := a.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			q.IdentityID, err = resolveIdentity(cmd, st, q.IdentityID)
			if err != nil {
				return err
			}
			ans, err := report.Why(cmd.Context(), st, q)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(a.out)
				enc.SetIndent("", "  ")
				return enc.Encode(ans)
			}
			return ans.WriteText(a.out)
		},
	}
	c.Flags().StringVar(&q.IdentityID, "identity", "", "identity id or userName")
	c.Flags().StringVar(&q.EntitlementID, "entitlement", "", "entitlement id")
	c.Flags().StringVar(&q.AssetID, "asset", "", "asset id")
	c.Flags().StringVar(&at, "at", "", "the moment (RFC 3339; default now)")
	c.Flags().BoolVar(&asJSON, "json", false, "answer as JSON")
	return c
}

// resolveIdentity accepts an id or a userName.
func resolveIdentity(cmd *cobra.Command, st store.Store, ref string) (string, error) {
	if ref == "" {
		return "", badInput(errors.New("--identity is required"))
	}
	id := ref
	err := st.View(cmd.Context(), func(tx store.Tx) error {
		if ok, err := store.Exists(cmd.Context(), tx, domain.KindIdentity, ref); err != nil || ok {
			return err
		}
		ids, _, err := store.List[domain.Identity](cmd.Context(), tx, store.Query{Filter: store.Compare{Attr: "userName", Op: store.Eq, Value: ref}, Limit: 1})
		if err != nil {
			return err
		}
		if len(ids) == 1 {
			id = ids[0].ID
		}
		return nil
	})
	return id, err
}
