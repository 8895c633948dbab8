package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward/core/report"
	"github.com/keyward/keyward/core/store"
)

func (a *app) reportCmd() *cobra.Command {
	var format string
	c := &cobra.Command{Use: "report", Short: "Reports for reviewers, auditors and key managers"}
	c.PersistentFlags().StringVar(&format, "format", "csv", "csv, json or html")
	table := func(use, short string, build func(cmd *cobra.Command, st store.Store) (*report.Table, error)) *cobra.Command {
		return &cobra.Command{
			Use: use, Short: short, Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				st, err := a.openStore(cmd.Context())
				if err != nil {
					return err
				}
				defer st.Close()
				t, err := build(cmd, st)
				if err != nil {
					return err
				}
				return t.Write(a.out, format)
			},
		}
	}
	var entitlement string
	review := table("review --entitlement ID", "Holders of one entitlement: source, approval, last use, hardware state", func(cmd *cobra.Command, st store.Store) (*report.Table, error) {
		return report.Review(cmd.Context(), st, entitlement, time.Now().UTC())
	})
	review.Flags().StringVar(&entitlement, "entitlement", "", "the entitlement under review")
	_ = review.MarkFlagRequired("entitlement")
	c.AddCommand(
		table("access", "Who can open what, why, since when, until when; pending or applied; exposure", func(cmd *cobra.Command, st store.Store) (*report.Table, error) {
			return report.Access(cmd.Context(), st, time.Now().UTC())
		}),
		review,
		table("tasks", "Every open needs-action and awaiting-key item: what a person must do, where", func(cmd *cobra.Command, st store.Store) (*report.Table, error) {
			return report.Tasks(cmd.Context(), st)
		}),
		table("drift", "Rights on keys no grant explains, and granted rights missing from keys", func(cmd *cobra.Command, st store.Store) (*report.Table, error) {
			return report.Drift(cmd.Context(), st)
		}),
	)
	return c
}
