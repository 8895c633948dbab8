// Package report answers an auditor's questions from keyward's history: why did
// this person have access to this asset at that moment, who approved it, when was it
// revoked and when did that become effective.
package report

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/keyward/keyward/core/audit"
	"github.com/keyward/keyward/core/domain"
	"github.com/keyward/keyward/core/store"
)

// WhyQuery asks about one identity and one entitlement or asset at one moment.
type WhyQuery struct {
	IdentityID    string    `json:"identity"`
	EntitlementID string    `json:"entitlement,omitempty"`
	AssetID       string    `json:"asset,omitempty"`
	At            time.Time `json:"at"`
}

// Step is one dated fact in a grant's history.
type Step struct {
	At     time.Time `json:"at"`
	Event  string    `json:"event"`
	Actor  string    `json:"actor"`
	Detail string    `json:"detail,omitempty"`
	KeyID  string    `json:"keyId,omitempty"`
	Seq    int64     `json:"auditSeq"`
}

// GrantHistory is the chain of one grant.
type GrantHistory struct {
	GrantID       string           `json:"grantId"`
	EntitlementID string           `json:"entitlementId"`
	Entitlement   string           `json:"entitlement,omitempty"`
	Source        string           `json:"source"`
	PolicyID      string           `json:"policyId,omitempty"`
	Approval      *domain.Approval `json:"approval,omitempty"`
	Justification string           `json:"justification,omitempty"`
	ValidFrom     *time.Time       `json:"validFrom,omitempty"`
	ValidUntil    *time.Time       `json:"validUntil,omitempty"`
	// StateAt is the grant's state at the asked moment ("" if it did not exist yet).
	StateAt     domain.GrantState `json:"stateAt,omitempty"`
	InForceAt   bool              `json:"inForceAt"`
	ReachedKey  *time.Time        `json:"reachedKey,omitempty"`
	RevokedAt   *time.Time        `json:"revokedAt,omitempty"`
	RevokedBy   string            `json:"revokedBy,omitempty"`
	EndReason   string            `json:"endReason,omitempty"`
	EffectiveAt *time.Time        `json:"revocationEffectiveAt,omitempty"`
	// ExposedAt: revoked before the moment but not yet effective on the key.
	ExposedAt bool   `json:"exposedAt"`
	Steps     []Step `json:"steps"`

	onKey bool // it was planned on a key at some point
}

// Answer is the whole answer to a WhyQuery.
type Answer struct {
	Query          WhyQuery       `json:"query"`
	IdentityName   string         `json:"identity,omitempty"`
	IdentityActive bool           `json:"identityActiveAt"`
	HadAccess      bool           `json:"hadAccess"`
	Entitlements   []string       `json:"entitlements"`
	Grants         []GrantHistory `json:"grants"`
}

// Why answers from the audit history, which outlives deleted grants and identities.
func Why(ctx context.Context, st store.Store, q WhyQuery) (*Answer, error) {
	if q.IdentityID == "" {
		return nil, domain.Invalid("identity", "required")
	}
	if (q.EntitlementID == "") == (q.AssetID == "") {
		return nil, domain.Invalid("entitlement", "name exactly one of an entitlement or an asset")
	}
	if q.At.IsZero() {
		return nil, domain.Invalid("at", "required")
	}
	ans := &Answer{Query: q}
	err := st.View(ctx, func(tx store.Tx) error {
		ents, err := candidates(ctx, tx, q)
		if err != nil {
			return err
		}
		ans.Entitlements = ents
		rows, err := tx.FindAudit(ctx, store.AuditFilter{IdentityID: q.IdentityID})
		if err != nil {
			return err
		}
		if len(rows) == 0 {
			if ok, err := store.Exists(ctx, tx, domain.KindIdentity, q.IdentityID); err != nil {
				return err
			} else if !ok {
				return &domain.Error{Kind: domain.ErrNotFound, Resource: domain.KindIdentity, ID: q.IdentityID, Message: "is not in keyward's history (give its id or current userName)"}
			}
		}
		if q.EntitlementID != "" {
			if err := knownEntitlement(ctx, tx, q.EntitlementID, rows); err != nil {
				return err
			}
		}
		return build(ans, rows, ents, q.At)
	})
	if err != nil {
		return nil, err
	}
	return ans, nil
}

// knownEntitlement refuses an entitlement that neither exists nor appears in the
// identity's history, so that a typo is an error rather than "no access".
func knownEntitlement(ctx context.Context, tx store.Tx, id string, rows []store.AuditRow) error {
	if ok, err := store.Exists(ctx, tx, domain.KindEntitlement, id); err != nil || ok {
		return err
	}
	for _, r := range rows {
		if r.EntitlementID == id {
			return nil
		}
	}
	return domain.NotFound(domain.KindEntitlement, id)
}

// candidates lists the entitlements that open the asked entitlement or asset: for an
// asset, those declared on it or on any asset above it.
func candidates(ctx context.Context, tx store.Tx, q WhyQuery) ([]string, error) {
	if q.EntitlementID != "" {
		return []string{q.EntitlementID}, nil
	}
	chain := []string{}
	id := q.AssetID
	for i := 0; id != "" && i < 64; i++ {
		a, err := store.Get[domain.Asset](ctx, tx, id)
		if err != nil {
			if i == 0 {
				return nil, err
			}
			break
		}
		chain = append(chain, a.ID)
		id = a.ParentID
	}
	var out []string
	for _, a := range chain {
		ents, err := store.All[domain.Entitlement](ctx, tx, store.Eqf("assetIds", a))
		if err != nil {
			return nil, err
		}
		for _, e := range ents {
			if !slices.Contains(out, e.ID) {
				out = append(out, e.ID)
			}
		}
	}
	return out, nil
}

func build(ans *Answer, rows []store.AuditRow, ents []string, at time.Time) error {
	hist := map[string]*GrantHistory{}
	var order []string
	var idSteps []Step
	activeAt := false
	for _, row := range rows {
		ev, err := audit.Decode(row)
		if err != nil {
			return err
		}
		switch {
		case ev.SubjectKind == domain.KindIdentity:
			switch ev.Action {
			case "identity.deactivated", "identity.reactivated", "identity.deleted":
				idSteps = append(idSteps, Step{At: ev.At, Event: ev.Action, Actor: ev.Actor, Seq: ev.Seq})
			}
			var in domain.Identity
			if json.Unmarshal(ev.Data, &in) == nil && in.UserName != "" {
				ans.IdentityName = in.UserName
			}
			if !ev.At.After(at) {
				switch ev.Action {
				case "identity.created", "identity.updated", "identity.reactivated", "identity.deactivated":
					if len(ev.Data) > 0 {
						activeAt = in.Active
					} else {
						activeAt = ev.Action != "identity.deactivated"
					}
				case "identity.deleted":
					activeAt = false
				}
			}
		case ev.SubjectKind == domain.KindGrant:
			var g domain.Grant
			if err := json.Unmarshal(ev.Data, &g); err != nil || !slices.Contains(ents, g.EntitlementID) {
				continue
			}
			h := hist[g.ID]
			if h == nil {
				h = &GrantHistory{GrantID: g.ID, EntitlementID: g.EntitlementID}
				hist[g.ID] = h
				order = append(order, g.ID)
			}
			h.Source, h.PolicyID, h.Approval, h.Justification, h.ValidFrom, h.ValidUntil = g.Source.String(), g.PolicyID, g.Approval, g.Justification, g.ValidFrom, g.ValidUntil
			if !ev.At.After(at) {
				h.StateAt = g.State
				h.InForceAt = g.Live(at)
			}
			if g.State == domain.GrantRevoked || g.State == domain.GrantExpired {
				h.RevokedAt, h.RevokedBy, h.EndReason = g.RevokedAt, g.RevokedBy, g.EndReason
			}
			h.Steps = append(h.Steps, Step{At: ev.At, Event: ev.Action, Actor: ev.Actor, Detail: grantDetail(ev.Action, &g, ev.Reason), Seq: ev.Seq})
		case ev.Action == "revocation.escalated":
			// Escalation is recorded on the key: it belongs to every grant whose
			// history already names that key.
			var d struct {
				Why   string `json:"why"`
				Block bool   `json:"block"`
			}
			_ = json.Unmarshal(ev.Data, &d)
			event := "revocation escalated"
			if d.Block {
				event += ": key blocked"
			}
			for _, id := range order {
				h := hist[id]
				if slices.ContainsFunc(h.Steps, func(s Step) bool { return s.KeyID != "" && s.KeyID == ev.KeyID }) {
					h.Steps = append(h.Steps, Step{At: ev.At, Event: event, Actor: ev.Actor, KeyID: ev.KeyID, Detail: d.Why, Seq: ev.Seq})
				}
			}
		case ev.Action == "key.delivery" || ev.Action == "revocation.effective" || ev.Action == "key.planned":
			var d struct {
				Grants   map[string][]string `json:"grants"`
				Delivery domain.Delivery     `json:"delivery"`
			}
			var ids []string
			if ev.Action == "revocation.effective" {
				var r struct {
					Grants []string `json:"grants"`
				}
				_ = json.Unmarshal(ev.Data, &r)
				ids = r.Grants
			} else {
				_ = json.Unmarshal(ev.Data, &d)
				for _, gs := range d.Grants {
					ids = append(ids, gs...)
				}
			}
			for _, id := range uniq(ids) {
				h := hist[id]
				if h == nil {
					continue
				}
				switch ev.Action {
				case "key.planned":
					h.onKey = true
					h.Steps = append(h.Steps, Step{At: ev.At, Event: "planned on key", Actor: ev.Actor, KeyID: ev.KeyID, Seq: ev.Seq})
				case "key.delivery":
					h.Steps = append(h.Steps, Step{At: ev.At, Event: "delivery " + string(d.Delivery.State), Actor: ev.Actor, KeyID: ev.KeyID, Detail: d.Delivery.Reason, Seq: ev.Seq})
					if d.Delivery.State == domain.DeliveryApplied && h.ReachedKey == nil {
						t := ev.At
						h.ReachedKey = &t
					}
				case "revocation.effective":
					t := ev.At
					h.EffectiveAt = &t
					h.Steps = append(h.Steps, Step{At: ev.At, Event: "revocation effective", Actor: ev.Actor, KeyID: ev.KeyID, Seq: ev.Seq})
				}
			}
		}
	}
	ans.IdentityActive = activeAt
	for _, id := range order {
		h := hist[id]
		if !activeAt {
			h.InForceAt = false
		}
		if h.onKey && h.RevokedAt != nil && !h.RevokedAt.After(at) && (h.EffectiveAt == nil || h.EffectiveAt.After(at)) {
			h.ExposedAt = true
		}
		if len(h.Steps) > 0 && h.ValidFrom == nil {
			from := h.Steps[0].At
			h.ValidFrom = &from // in force from when it was made
		}
		h.Steps = append(h.Steps, idSteps...)
		slices.SortStableFunc(h.Steps, func(a, b Step) int { return int(a.Seq - b.Seq) })
		if h.InForceAt {
			ans.HadAccess = true
		}
		ans.Grants = append(ans.Grants, *h)
	}
	return nil
}

func uniq(s []string) []string {
	slices.Sort(s)
	return slices.Compact(s)
}

func grantDetail(action string, g *domain.Grant, reason string) string {
	var parts []string
	switch action {
	case "grant.created", "grant.updated", "grant.requested":
		parts = append(parts, "source "+g.Source.String())
		if g.ValidFrom != nil || g.ValidUntil != nil {
			parts = append(parts, "window "+window(g.ValidFrom, g.ValidUntil))
		}
		if g.Approval != nil {
			parts = append(parts, "approved by "+g.Approval.Approver)
		}
		if g.Justification != "" {
			parts = append(parts, "justification: "+g.Justification)
		}
	case "grant.approved":
		if g.Approval != nil {
			parts = append(parts, "approved by "+g.Approval.Approver)
		}
	}
	if reason != "" {
		parts = append(parts, reason)
	}
	return strings.Join(parts, "; ")
}

func window(from, until *time.Time) string {
	f, u := "now", "open-ended"
	if from != nil {
		f = from.Format(time.RFC3339)
	}
	if until != nil {
		u = until.Format(time.RFC3339)
	}
	return f + " – " + u
}

// WriteText writes the answer for a person.
func (a *Answer) WriteText(w io.Writer) error {
	var b strings.Builder
	subject := "entitlement " + a.Query.EntitlementID
	if a.Query.AssetID != "" {
		subject = "asset " + a.Query.AssetID
	}
	name := a.Query.IdentityID
	if a.IdentityName != "" {
		name = a.IdentityName + " (" + a.Query.IdentityID + ")"
	}
	verdict := "had no access to"
	if a.HadAccess {
		verdict = "had access to"
	}
	fmt.Fprintf(&b, "%s %s %s at %s.\n", name, verdict, subject, a.Query.At.Format(time.RFC3339))
	if !a.IdentityActive {
		b.WriteString("The identity was not active at that moment.\n")
	}
	if len(a.Grants) == 0 {
		b.WriteString("No grant of a matching entitlement is recorded for this identity.\n")
	}
	for _, g := range a.Grants {
		fmt.Fprintf(&b, "\nGrant %s of entitlement %s\n", g.GrantID, g.EntitlementID)
		fmt.Fprintf(&b, "  source: %s\n", g.Source)
		if g.PolicyID != "" {
			fmt.Fprintf(&b, "  policy: %s\n", g.PolicyID)
		}
		if g.Approval != nil {
			fmt.Fprintf(&b, "  approved by %s at %s", g.Approval.Approver, g.Approval.At.Format(time.RFC3339))
			if g.Approval.Reference != "" {
				fmt.Fprintf(&b, " (reference %s)", g.Approval.Reference)
			}
			b.WriteString("\n")
		}
		if g.Justification != "" {
			fmt.Fprintf(&b, "  justification: %s\n", g.Justification)
		}
		fmt.Fprintf(&b, "  window: %s\n", window(g.ValidFrom, g.ValidUntil))
		state := string(g.StateAt)
		if state == "" {
			state = "not yet made"
		}
		fmt.Fprintf(&b, "  at that moment: %s, in force: %v\n", state, g.InForceAt)
		if g.ReachedKey != nil {
			fmt.Fprintf(&b, "  reached the key: %s\n", g.ReachedKey.Format(time.RFC3339))
		}
		if g.RevokedAt != nil {
			fmt.Fprintf(&b, "  ended: %s by %s (%s)\n", g.RevokedAt.Format(time.RFC3339), g.RevokedBy, g.EndReason)
			if g.EffectiveAt != nil {
				fmt.Fprintf(&b, "  revocation effective on the key: %s\n", g.EffectiveAt.Format(time.RFC3339))
			} else {
				b.WriteString("  revocation not yet effective on the key\n")
			}
		}
		if g.ExposedAt {
			b.WriteString("  at that moment the grant was revoked but not yet effective on the key (exposure)\n")
		}
		b.WriteString("  history:\n")
		for _, s := range g.Steps {
			fmt.Fprintf(&b, "    %s  #%d  %-22s by %s", s.At.Format(time.RFC3339), s.Seq, s.Event, s.Actor)
			if s.KeyID != "" {
				fmt.Fprintf(&b, "  key %s", s.KeyID)
			}
			if s.Detail != "" {
				fmt.Fprintf(&b, "  (%s)", s.Detail)
			}
			b.WriteString("\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
