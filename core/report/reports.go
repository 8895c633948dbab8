package report

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/keyward/keyward/core/domain"
	"github.com/keyward/keyward/core/engine"
	"github.com/keyward/keyward/core/store"
)

// Table is a report: a title, column names and rows of text, written as CSV, JSON
// or HTML.
type Table struct {
	Title   string     `json:"title"`
	Columns []string   `json:"columns"`
	Rows    [][]string `json:"rows"`
}

// Write writes the table in a format: csv, json or html.
func (t *Table) Write(w io.Writer, format string) error {
	switch format {
	case "csv":
		cw := csv.NewWriter(w)
		if err := cw.Write(t.Columns); err != nil {
			return err
		}
		if err := cw.WriteAll(t.Rows); err != nil {
			return err
		}
		cw.Flush()
		return cw.Error()
	case "json":
		out := make([]map[string]string, 0, len(t.Rows))
		for _, r := range t.Rows {
			m := map[string]string{}
			for i, c := range t.Columns {
				m[c] = r[i]
			}
			out = append(out, m)
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"title": t.Title, "rows": out})
	case "html":
		return htmlReport.Execute(w, t)
	}
	return domain.Invalid("format", "%q is not csv, json or html", format)
}

var htmlReport = template.Must(template.New("report").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}}</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left}th{background:#eee}</style>
</head><body><h1>{{.Title}}</h1><p>{{len .Rows}} row(s)</p>
<table><thead><tr>{{range .Columns}}<th>{{.}}</th>{{end}}</tr></thead><tbody>
{{range .Rows}}<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>
{{end}}</tbody></table></body></html>
`))

func ts(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func deliverySummary(v engine.GrantView) string {
	if len(v.Deliveries) == 0 {
		return ""
	}
	var parts []string
	for _, d := range v.Deliveries {
		s := d.LockSystemID + ":" + string(d.State)
		if d.RequiredAction != "" && d.State != domain.DeliveryApplied {
			s += " (" + d.RequiredAction + ")"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

func pending(v engine.GrantView) string {
	for _, d := range v.Deliveries {
		if d.State.Pending() {
			return "pending"
		}
	}
	if len(v.Deliveries) == 0 {
		return ""
	}
	return "applied"
}

// Access is "who can open what, why, since when, until when": every current grant,
// and every revoked one still exposed on a key.
func Access(ctx context.Context, st store.Store, now time.Time) (*Table, error) {
	t := &Table{Title: "Physical access at " + now.UTC().Format(time.RFC3339),
		Columns: []string{"identity", "userName", "entitlement", "criticality", "assets", "source", "approvedBy", "grantState", "inForce", "since", "until", "hardware", "delivery", "exposure", "effectiveBy", "lastUsed"}}
	err := st.View(ctx, func(tx store.Tx) error {
		ids, err := store.All[domain.Identity](ctx, tx, nil)
		if err != nil {
			return err
		}
		for _, in := range ids {
			views, err := engine.GrantViews(ctx, tx, in.ID, now)
			if err != nil {
				return err
			}
			for _, v := range views {
				g := v.Grant
				current := g.State == domain.GrantActive || g.State == domain.GrantRequested
				if !current && !v.Exposed {
					continue
				}
				row := []string{in.ID, in.UserName, g.EntitlementID, "", "", g.Source.String(), "", string(g.State), fmt.Sprint(v.Live),
					g.Created.UTC().Format(time.RFC3339), ts(g.ValidUntil), pending(v), deliverySummary(v), "", "", ts(v.LastUsed)}
				if v.Entitlement != nil {
					row[2], row[3], row[4] = v.Entitlement.Name, string(v.Entitlement.Criticality), strings.Join(v.Entitlement.AssetIDs, " ")
				}
				if g.Approval != nil {
					row[6] = g.Approval.Approver
				}
				if g.ValidFrom != nil {
					row[9] = ts(g.ValidFrom)
				}
				if in.ContractEnd != nil && (g.ValidUntil == nil || in.ContractEnd.Before(*g.ValidUntil)) {
					row[10] = ts(in.ContractEnd) + " (contract end)"
				}
				if v.Exposed {
					row[13] = "revoked, not yet effective"
					row[14] = ts(v.EffectiveBy)
					if v.Unbounded {
						row[14] = "unbounded"
					}
				}
				t.Rows = append(t.Rows, row)
			}
		}
		return nil
	})
	return t, err
}

// Review is what an access reviewer certifies for one entitlement: its holders,
// how they got it, who approved it, when they last used it, and where it stands on
// the hardware.
func Review(ctx context.Context, st store.Store, entitlementID string, now time.Time) (*Table, error) {
	t := &Table{Columns: []string{"identity", "userName", "displayName", "department", "source", "approvedBy", "approvedAt", "justification", "grantState", "since", "until", "lastUsed", "hardware", "delivery"}}
	err := st.View(ctx, func(tx store.Tx) error {
		en, err := store.Get[domain.Entitlement](ctx, tx, entitlementID)
		if err != nil {
			return err
		}
		bound := "bound"
		if !en.Bound() {
			bound = "unbound: opens nothing until a key manager binds it"
		}
		t.Title = fmt.Sprintf("Review of %q (%s): criticality %s, owner %s, opens %s; %s", en.Name, en.ID, en.Criticality, orNone(en.Owner), orNone(strings.Join(en.AssetIDs, ", ")), bound)
		grants, err := store.All[domain.Grant](ctx, tx, store.And{store.Eqf("entitlementId", entitlementID)})
		if err != nil {
			return err
		}
		holders := map[string]bool{}
		for _, g := range grants {
			if g.State == domain.GrantActive || g.State == domain.GrantRequested {
				holders[g.IdentityID] = true
			}
		}
		ids := make([]string, 0, len(holders))
		for id := range holders {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		for _, id := range ids {
			in, err := store.Get[domain.Identity](ctx, tx, id)
			if err != nil {
				return err
			}
			views, err := engine.GrantViews(ctx, tx, id, now)
			if err != nil {
				return err
			}
			for _, v := range views {
				g := v.Grant
				if g.EntitlementID != entitlementID || (g.State != domain.GrantActive && g.State != domain.GrantRequested) {
					continue
				}
				row := []string{in.ID, in.UserName, in.DisplayName, in.Department, g.Source.String(), "", "", g.Justification, string(g.State),
					g.Created.UTC().Format(time.RFC3339), ts(g.ValidUntil), ts(v.LastUsed), pending(v), deliverySummary(v)}
				if g.Approval != nil {
					row[5], row[6] = g.Approval.Approver, g.Approval.At.UTC().Format(time.RFC3339)
				}
				if row[11] == "" {
					row[11] = "never seen"
				}
				t.Rows = append(t.Rows, row)
			}
		}
		return nil
	})
	return t, err
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// Tasks lists every open item a person must act on: keys to hand out, physical
// actions the lock systems ask for, escalations.
func Tasks(ctx context.Context, st store.Store) (*Table, error) {
	t := &Table{Title: "Open tasks", Columns: []string{"task", "kind", "identity", "userName", "lockSystem", "key", "entitlement", "action", "reason", "since"}}
	err := st.View(ctx, func(tx store.Tx) error {
		tasks, err := store.All[domain.Task](ctx, tx, store.Eqf("state", string(domain.TaskOpen)))
		if err != nil {
			return err
		}
		names := map[string]string{}
		for _, task := range tasks {
			name, ok := names[task.IdentityID]
			if !ok && task.IdentityID != "" {
				if in, err := store.Get[domain.Identity](ctx, tx, task.IdentityID); err == nil {
					name = in.UserName
				}
				names[task.IdentityID] = name
			}
			t.Rows = append(t.Rows, []string{task.ID, task.TaskKind, task.IdentityID, name, task.LockSystemID, task.KeyID, task.EntitlementID, task.Action, task.Reason, task.Created.UTC().Format(time.RFC3339)})
		}
		return nil
	})
	return t, err
}

// Drift compares what lock systems report keys carry with what keyward planned:
// rights on keys that no grant explains, and planned rights missing from keys whose
// change the lock system says it applied.
func Drift(ctx context.Context, st store.Store) (*Table, error) {
	t := &Table{Title: "Drift between keys and grants", Columns: []string{"key", "lockSystem", "holder", "kind", "accessObject", "detail"}}
	err := st.View(ctx, func(tx store.Tx) error {
		states, err := store.All[domain.KeyState](ctx, tx, nil)
		if err != nil {
			return err
		}
		for _, ks := range states {
			if ks.Reported == nil {
				continue
			}
			for _, o := range ks.Reported.AccessObjects {
				if !slices.Contains(ks.Planned.AccessObjects, o) {
					detail := "no grant explains it"
					if slices.ContainsFunc(ks.Exposures, func(x domain.Exposure) bool { return x.AccessObject == o }) {
						detail = "revoked, removal not yet effective"
					}
					t.Rows = append(t.Rows, []string{ks.ID, ks.LockSystemID, ks.HolderID, "unexplained right", o, detail})
				}
			}
			if ks.Delivery.State != domain.DeliveryApplied {
				continue
			}
			for _, o := range ks.Planned.AccessObjects {
				if !slices.Contains(ks.Reported.AccessObjects, o) {
					t.Rows = append(t.Rows, []string{ks.ID, ks.LockSystemID, ks.HolderID, "missing right", o, "granted and reported applied, but not on the key"})
				}
			}
		}
		return nil
	})
	return t, err
}
