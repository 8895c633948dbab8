package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"golang.org/x/text/unicode/norm"

	"github.com/keyward/keyward/core/domain"
	"github.com/keyward/keyward/core/store"
)

// txn is one command in flight: the store transaction, the time it runs at, and what
// it has touched, so that finish can re-evaluate policies and replan keys once.
type txn struct {
	e     *Engine
	ctx   context.Context
	tx    store.Tx
	now   time.Time
	actor Actor

	identities map[string]bool // re-evaluate policies and replan their keys
	keys       map[string]bool // replan
	policies   []*domain.Policy
	policiesOK bool
	ents       map[string]*domain.Entitlement
	ops        int
}

func (e *Engine) begin(ctx context.Context, tx store.Tx, actor Actor) *txn {
	if actor.Name == "" {
		actor.Name = "keyward"
	}
	if actor.Source.Kind == "" {
		actor.Source = domain.Source{Kind: domain.SourceManual, Name: actor.Name}
	}
	return &txn{
		e: e, ctx: ctx, tx: tx, now: e.Now(), actor: actor,
		identities: map[string]bool{}, keys: map[string]bool{}, ents: map[string]*domain.Entitlement{},
	}
}

// StepError says which step of a batch failed; it unwraps to the cause, so
// errors.Is on the domain sentinels still works.
type StepError struct {
	Index int
	Err   error
}

func (e *StepError) Error() string { return fmt.Sprintf("step %d: %v", e.Index+1, e.Err) }
func (e *StepError) Unwrap() error { return e.Err }

func stepError(i int, err error) error { return &StepError{Index: i, Err: err} }

func newID() string { return uuid.NewString() }

func (t *txn) apply(s Step) (string, error) {
	switch s := s.(type) {
	case UpsertIdentity:
		return t.upsertIdentity(s)
	case DeactivateIdentity:
		return s.ID, t.setActive(s.ID, false)
	case ReactivateIdentity:
		return s.ID, t.setActive(s.ID, true)
	case DeleteIdentity:
		return s.ID, t.deleteIdentity(s)
	case DefineEntitlement:
		return t.defineEntitlement(s)
	case BindEntitlement:
		return s.EntitlementID, t.bind(s.EntitlementID, s.Binding, false)
	case UnbindEntitlement:
		return s.EntitlementID, t.bind(s.EntitlementID, domain.Binding{LockSystemID: s.LockSystemID}, true)
	case DeleteEntitlement:
		return s.ID, t.deleteEntitlement(s)
	case Grant:
		return t.grant(s, "")
	case Revoke:
		return t.revoke(s)
	case ApproveGrant:
		return s.GrantID, t.decide(s.GrantID, true, s.By, s.Reference)
	case RejectGrant:
		return s.GrantID, t.decide(s.GrantID, false, s.By, s.Reason)
	case AssignKey:
		return s.KeyID, t.assignKey(s)
	case ReturnKey:
		return s.KeyID, t.setCustody(s.KeyID, domain.CustodyReturned, "key.returned")
	case ReportKeyLost:
		return s.KeyID, t.setCustody(s.KeyID, domain.CustodyLost, "key.lost")
	case PutResource:
		return t.putResource(s)
	case DeleteResource:
		return s.ID, t.deleteResource(s)
	case nil:
		return "", domain.Invalid("step", "empty step")
	}
	return "", domain.Invalid("step", "unknown step %T", s)
}

// event records an audit event; data is encoded as JSON.
func (t *txn) event(action string, kind domain.Kind, id string, data any, mod func(*domain.AuditEvent)) error {
	ev := &domain.AuditEvent{At: t.now, Actor: t.actor.Name, Action: action, SubjectKind: kind, SubjectID: id}
	if data != nil {
		b, err := json.Marshal(data)
		if err != nil {
			return fmt.Errorf("audit %s: %w", action, err)
		}
		ev.Data = b
	}
	if mod != nil {
		mod(ev)
	}
	return t.e.chain.Append(t.ctx, t.tx, ev)
}

func (t *txn) finish() (int, error) {
	if err := t.evaluatePolicies(); err != nil {
		return 0, err
	}
	if err := t.replan(); err != nil {
		return 0, err
	}
	return t.ops, nil
}

// ---- identities

func (t *txn) upsertIdentity(s UpsertIdentity) (string, error) {
	in := s.Identity
	if in == nil {
		return "", domain.Invalid("identity", "missing")
	}
	// NFC, so that two spellings of the same name are one userName.
	in.UserName = norm.NFC.String(strings.TrimSpace(in.UserName))
	var p domain.Problems
	if in.UserName == "" {
		p.Addf("userName: required")
	}
	checkText(&p, "userName", in.UserName, 256)
	checkText(&p, "externalId", in.ExternalID, 256)
	checkText(&p, "displayName", in.DisplayName, 1024)
	checkText(&p, "employeeNumber", in.EmployeeNumber, 256)
	checkText(&p, "name.formatted", in.Name.Formatted, 1024)
	checkText(&p, "name.givenName", in.Name.GivenName, 256)
	checkText(&p, "name.familyName", in.Name.FamilyName, 256)
	for _, f := range []struct{ name, v string }{{"title", in.Title}, {"department", in.Department}, {"function", in.Function},
		{"location", in.Location}, {"organization", in.Organization}, {"costCenter", in.CostCenter}, {"contractStatus", in.ContractStatus}} {
		checkText(&p, f.name, f.v, 1024)
	}
	for _, e := range in.Emails {
		checkText(&p, "emails", e.Value, 320)
	}
	for _, pr := range in.Projects {
		checkText(&p, "projects", pr, 256)
	}
	for _, e := range in.Emails {
		if e.Value == "" {
			p.Addf("emails: a value is required")
		}
	}
	if err := p.Err(); err != nil {
		return "", err
	}
	var old *domain.Identity
	if in.ID == "" {
		if s.Expect > 0 {
			return "", domain.Invalid("id", "an expected version needs an id")
		}
		in.ID = newID()
	} else {
		cur, err := store.Get[domain.Identity](t.ctx, t.tx, in.ID)
		switch {
		case err == nil:
			old = cur
		case !errors.Is(err, domain.ErrNotFound):
			return "", err
		}
	}
	if err := t.unique(domain.KindIdentity, in.ID, "userName", in.UserName); err != nil {
		return "", err
	}
	in.CorrelationKey = correlationKey(in)
	expect := s.Expect
	if expect == 0 && old != nil && s.Expect == 0 {
		// A create for an id that exists is a conflict; callers replacing pass
		// the version or AnyVersion.
		return "", domain.Conflict(domain.KindIdentity, in.ID, "already exists")
	}
	if err := store.Put(t.ctx, t.tx, in, expect); err != nil {
		return "", err
	}
	action := "identity.created"
	if old != nil {
		action = "identity.updated"
		if old.Active && !in.Active {
			action = "identity.deactivated"
		} else if !old.Active && in.Active {
			action = "identity.reactivated"
		}
	}
	if err := t.event(action, domain.KindIdentity, in.ID, in, func(ev *domain.AuditEvent) { ev.IdentityID = in.ID }); err != nil {
		return "", err
	}
	if err := t.linkKeys(in); err != nil {
		return "", err
	}
	t.identities[in.ID] = true
	return in.ID, nil
}

// correlationKey is the value written as the external person id in lock systems.
func correlationKey(i *domain.Identity) string {
	switch {
	case i.EmployeeNumber != "":
		return i.EmployeeNumber
	case i.ExternalID != "":
		return i.ExternalID
	}
	return i.UserName
}

// linkKeys gives an identity the keys inventory found for its correlation key
// before the identity arrived.
func (t *txn) linkKeys(in *domain.Identity) error {
	keys, err := store.All[domain.Key](t.ctx, t.tx, store.And{store.Eqf("holderRef", in.CorrelationKey), store.Not{X: store.Present{Attr: "holderId"}}})
	if err != nil {
		return err
	}
	for _, k := range keys {
		k.HolderID = in.ID
		if err := store.Put(t.ctx, t.tx, k, k.Version); err != nil {
			return err
		}
		if err := t.event("key.linked", domain.KindKey, k.ID, map[string]string{"holderRef": k.HolderRef}, func(ev *domain.AuditEvent) {
			ev.IdentityID, ev.KeyID = in.ID, k.ID
		}); err != nil {
			return err
		}
		t.keys[k.ID] = true
	}
	return nil
}

// unique refuses a second resource of a kind with the same value of attr,
// compared case-insensitively.
func (t *txn) unique(kind domain.Kind, id, attr, value string) error {
	page, err := t.tx.List(t.ctx, kind, store.Query{Filter: store.And{
		store.Compare{Attr: attr, Op: store.Eq, Value: value},
		store.Compare{Attr: "id", Op: store.Ne, Value: id, CaseExact: true},
	}, Limit: 1})
	if err != nil {
		return err
	}
	if len(page.Records) > 0 {
		return &domain.Error{Kind: domain.ErrConflict, Resource: kind, Field: attr,
			Message: fmt.Sprintf("%q is already taken by %s %q", value, kind, page.Records[0].ID)}
	}
	return nil
}

func (t *txn) setActive(id string, active bool) error {
	in, err := store.Get[domain.Identity](t.ctx, t.tx, id)
	if err != nil {
		return err
	}
	if in.Active == active {
		return nil
	}
	in.Active = active
	if err := store.Put(t.ctx, t.tx, in, in.Version); err != nil {
		return err
	}
	action := "identity.deactivated"
	if active {
		action = "identity.reactivated"
	}
	t.identities[id] = true
	return t.event(action, domain.KindIdentity, id, nil, func(ev *domain.AuditEvent) { ev.IdentityID = id })
}

func (t *txn) deleteIdentity(s DeleteIdentity) error {
	in, err := store.Get[domain.Identity](t.ctx, t.tx, s.ID)
	if err != nil {
		return err
	}
	if s.Expect > 0 && in.Version != s.Expect {
		return domain.Conflict(domain.KindIdentity, s.ID, "version %d is not the current version %d", s.Expect, in.Version)
	}
	grants, err := store.All[domain.Grant](t.ctx, t.tx, store.Eqf("identityId", s.ID))
	if err != nil {
		return err
	}
	for _, g := range grants {
		if err := t.endGrant(g, domain.GrantRevoked, "identity deleted"); err != nil {
			return err
		}
		if err := t.tx.Delete(t.ctx, domain.KindGrant, g.ID, store.AnyVersion); err != nil {
			return err
		}
	}
	keys, err := store.All[domain.Key](t.ctx, t.tx, store.Eqf("holderId", s.ID))
	if err != nil {
		return err
	}
	for _, k := range keys {
		k.HolderID = ""
		if err := store.Put(t.ctx, t.tx, k, k.Version); err != nil {
			return err
		}
		t.keys[k.ID] = true
	}
	if err := t.tx.Delete(t.ctx, domain.KindIdentity, s.ID, store.AnyVersion); err != nil {
		return err
	}
	delete(t.identities, s.ID)
	t.identities[s.ID] = true // replan its key states (they fall to empty)
	return t.event("identity.deleted", domain.KindIdentity, s.ID, in, func(ev *domain.AuditEvent) { ev.IdentityID = s.ID })
}

// ---- entitlements

func (t *txn) defineEntitlement(s DefineEntitlement) (string, error) {
	en := s.Entitlement
	if en == nil {
		return "", domain.Invalid("entitlement", "missing")
	}
	en.Name = norm.NFC.String(strings.TrimSpace(en.Name))
	if en.Criticality == "" {
		en.Criticality = domain.CriticalityMedium
	}
	if err := t.validateEntitlement(en); err != nil {
		return "", err
	}
	var old *domain.Entitlement
	if en.ID == "" {
		en.ID = newID()
	} else if cur, err := store.Get[domain.Entitlement](t.ctx, t.tx, en.ID); err == nil {
		old = cur
	} else if !errors.Is(err, domain.ErrNotFound) {
		return "", err
	}
	if old != nil && s.Expect == 0 {
		return "", domain.Conflict(domain.KindEntitlement, en.ID, "already exists")
	}
	if err := t.unique(domain.KindEntitlement, en.ID, "name", en.Name); err != nil {
		return "", err
	}
	if err := store.Put(t.ctx, t.tx, en, s.Expect); err != nil {
		return "", err
	}
	t.ents[en.ID] = en
	action := "entitlement.defined"
	if old != nil {
		action = "entitlement.updated"
	}
	if err := t.event(action, domain.KindEntitlement, en.ID, en, func(ev *domain.AuditEvent) { ev.EntitlementID = en.ID }); err != nil {
		return "", err
	}
	if old != nil && accessChanged(old, en) {
		return en.ID, t.touchHolders(en.ID)
	}
	return en.ID, nil
}

func accessChanged(a, b *domain.Entitlement) bool {
	x, _ := json.Marshal([]any{a.Bindings, a.Schedule})
	y, _ := json.Marshal([]any{b.Bindings, b.Schedule})
	return string(x) != string(y)
}

func (t *txn) validateEntitlement(en *domain.Entitlement) error {
	var p domain.Problems
	if en.Name == "" {
		p.Addf("name: required")
	}
	checkText(&p, "name", en.Name, 256)
	checkText(&p, "description", en.Description, 4096)
	checkText(&p, "owner", en.Owner, 256)
	if !en.Criticality.Valid() {
		p.Addf("criticality: %q is not one of low, medium, high, critical", en.Criticality)
	}
	seen := map[string]bool{}
	for i, b := range en.Bindings {
		if seen[b.LockSystemID] {
			p.Addf("bindings[%d]: lock system %q bound twice", i, b.LockSystemID)
		}
		seen[b.LockSystemID] = true
		ok, err := store.Exists(t.ctx, t.tx, domain.KindLockSystem, b.LockSystemID)
		if err != nil {
			return err
		}
		if !ok {
			p.Addf("bindings[%d]: unknown lock system %q", i, b.LockSystemID)
		}
	}
	if en.Schedule != nil {
		if err := ValidateSchedule(en.Schedule); err != nil {
			p.Addf("schedule: %v", err)
		}
	}
	return p.Err()
}

// ValidateSchedule checks a weekly schedule.
func ValidateSchedule(s *domain.Schedule) error {
	if s.TimeZone != "" {
		if _, err := time.LoadLocation(s.TimeZone); err != nil {
			return fmt.Errorf("unknown time zone %q", s.TimeZone)
		}
	}
	if len(s.Windows) == 0 {
		return errors.New("a schedule needs at least one window")
	}
	for i, w := range s.Windows {
		from, err1 := time.Parse("15:04", w.From)
		to, err2 := time.Parse("15:04", w.To)
		if err1 != nil || err2 != nil {
			return fmt.Errorf("window %d: times must be HH:MM", i)
		}
		if w.To != "24:00" && !to.After(from) {
			return fmt.Errorf("window %d: %s is not after %s", i, w.To, w.From)
		}
		if len(w.Days) == 0 {
			return fmt.Errorf("window %d: no days", i)
		}
	}
	return nil
}

func (t *txn) bind(entID string, b domain.Binding, remove bool) error {
	en, err := store.Get[domain.Entitlement](t.ctx, t.tx, entID)
	if err != nil {
		return err
	}
	kept := en.Bindings[:0:0]
	for _, x := range en.Bindings {
		if x.LockSystemID != b.LockSystemID {
			kept = append(kept, x)
		}
	}
	if !remove {
		kept = append(kept, b)
	}
	en.Bindings = kept
	if err := t.validateEntitlement(en); err != nil {
		return err
	}
	if err := store.Put(t.ctx, t.tx, en, en.Version); err != nil {
		return err
	}
	t.ents[en.ID] = en
	action := "entitlement.bound"
	if remove {
		action = "entitlement.unbound"
	}
	if err := t.event(action, domain.KindEntitlement, en.ID, b, func(ev *domain.AuditEvent) { ev.EntitlementID = en.ID }); err != nil {
		return err
	}
	return t.touchHolders(en.ID)
}

// touchHolders marks every identity with a current grant of the entitlement.
func (t *txn) touchHolders(entID string) error {
	grants, err := store.All[domain.Grant](t.ctx, t.tx, store.And{store.Eqf("entitlementId", entID), store.Eqf("state", string(domain.GrantActive))})
	if err != nil {
		return err
	}
	for _, g := range grants {
		t.identities[g.IdentityID] = true
	}
	return nil
}

func (t *txn) deleteEntitlement(s DeleteEntitlement) error {
	en, err := store.Get[domain.Entitlement](t.ctx, t.tx, s.ID)
	if err != nil {
		return err
	}
	if s.Expect > 0 && en.Version != s.Expect {
		return domain.Conflict(domain.KindEntitlement, s.ID, "version %d is not the current version %d", s.Expect, en.Version)
	}
	grants, err := store.All[domain.Grant](t.ctx, t.tx, store.Eqf("entitlementId", s.ID))
	if err != nil {
		return err
	}
	for _, g := range grants {
		if err := t.endGrant(g, domain.GrantRevoked, "entitlement deleted"); err != nil {
			return err
		}
	}
	if err := t.tx.Delete(t.ctx, domain.KindEntitlement, s.ID, store.AnyVersion); err != nil {
		return err
	}
	delete(t.ents, s.ID)
	return t.event("entitlement.deleted", domain.KindEntitlement, s.ID, en, func(ev *domain.AuditEvent) { ev.EntitlementID = s.ID })
}

func (t *txn) entitlement(id string) (*domain.Entitlement, error) {
	if en, ok := t.ents[id]; ok {
		return en, nil
	}
	en, err := store.Get[domain.Entitlement](t.ctx, t.tx, id)
	if err != nil {
		return nil, err
	}
	t.ents[id] = en
	return en, nil
}

// ---- grants

func (t *txn) grant(s Grant, policyID string) (string, error) {
	in, err := store.Get[domain.Identity](t.ctx, t.tx, s.IdentityID)
	if err != nil {
		return "", err
	}
	if !in.Active {
		return "", domain.Precondition(domain.KindIdentity, in.ID, "is inactive: no grant can be made")
	}
	if in.ContractEnd != nil && !t.now.Before(*in.ContractEnd) {
		return "", domain.Precondition(domain.KindIdentity, in.ID, "contract ended %s: no grant can be made", in.ContractEnd.Format(time.RFC3339))
	}
	en, err := t.entitlement(s.EntitlementID)
	if err != nil {
		return "", err
	}
	if s.ValidFrom != nil && s.ValidUntil != nil && !s.ValidUntil.After(*s.ValidFrom) {
		return "", domain.Invalid("validUntil", "the window ends (%s) before it starts (%s)", s.ValidUntil.Format(time.RFC3339), s.ValidFrom.Format(time.RFC3339))
	}
	if s.ValidUntil != nil && !s.ValidUntil.After(t.now) {
		return "", domain.Invalid("validUntil", "the window ended already (%s)", s.ValidUntil.Format(time.RFC3339))
	}
	src := t.actor.Source
	if s.Source != nil {
		src = *s.Source
	}
	until := s.ValidUntil
	if en.MaxDuration > 0 {
		start := t.now
		if s.ValidFrom != nil && s.ValidFrom.After(start) {
			start = *s.ValidFrom
		}
		limit := start.Add(time.Duration(en.MaxDuration))
		if until == nil || until.After(limit) {
			until = &limit
		}
	}
	// One current grant per identity, entitlement and source: a repeat updates it.
	existing, err := store.All[domain.Grant](t.ctx, t.tx, store.And{
		store.Eqf("identityId", in.ID), store.Eqf("entitlementId", en.ID), store.Eqf("source", src.String()),
		store.Or{store.Eqf("state", string(domain.GrantActive)), store.Eqf("state", string(domain.GrantRequested))},
	})
	if err != nil {
		return "", err
	}
	g := &domain.Grant{IdentityID: in.ID, EntitlementID: en.ID, Source: src, PolicyID: policyID, State: domain.GrantActive}
	action := "grant.created"
	expect := int64(0)
	if len(existing) > 0 {
		g = existing[0]
		expect = g.Version
		action = "grant.updated"
	} else {
		g.ID = newID()
	}
	g.ValidFrom, g.ValidUntil = s.ValidFrom, until
	g.Opened = g.ValidFrom == nil || !g.ValidFrom.After(t.now)
	if s.Justification != "" {
		g.Justification = s.Justification
	}
	if s.Approval != nil {
		a := *s.Approval
		if a.At.IsZero() {
			a.At = t.now
		}
		g.Approval = &a
	}
	if expect == 0 && s.RequireApproval && g.Approval == nil {
		g.State = domain.GrantRequested
		action = "grant.requested"
	}
	if err := store.Put(t.ctx, t.tx, g, expect); err != nil {
		return "", err
	}
	if err := t.grantEvent(action, g, ""); err != nil {
		return "", err
	}
	t.identities[in.ID] = true
	return g.ID, nil
}

func (t *txn) grantEvent(action string, g *domain.Grant, reason string) error {
	return t.event(action, domain.KindGrant, g.ID, g, func(ev *domain.AuditEvent) {
		ev.IdentityID, ev.EntitlementID, ev.Reason = g.IdentityID, g.EntitlementID, reason
	})
}

func (t *txn) revoke(s Revoke) (string, error) {
	reason := s.Reason
	if reason == "" {
		reason = "revoked by " + t.actor.Name
	}
	if s.GrantID != "" {
		g, err := store.Get[domain.Grant](t.ctx, t.tx, s.GrantID)
		if err != nil {
			return "", err
		}
		if g.State != domain.GrantActive && g.State != domain.GrantRequested {
			return g.ID, nil
		}
		return g.ID, t.endGrant(g, domain.GrantRevoked, reason)
	}
	if s.IdentityID == "" || s.EntitlementID == "" {
		return "", domain.Invalid("grant", "a revocation names a grant, or an identity and an entitlement")
	}
	f := store.And{store.Eqf("identityId", s.IdentityID), store.Eqf("entitlementId", s.EntitlementID),
		store.Or{store.Eqf("state", string(domain.GrantActive)), store.Eqf("state", string(domain.GrantRequested))}}
	if s.Source != nil {
		f = append(f, store.Eqf("source", s.Source.String()))
	}
	grants, err := store.All[domain.Grant](t.ctx, t.tx, f)
	if err != nil {
		return "", err
	}
	first := ""
	for _, g := range grants {
		if first == "" {
			first = g.ID
		}
		if err := t.endGrant(g, domain.GrantRevoked, reason); err != nil {
			return "", err
		}
	}
	return first, nil
}

// endGrant moves a grant to revoked or expired, audited, and marks its identity.
func (t *txn) endGrant(g *domain.Grant, state domain.GrantState, reason string) error {
	if g.State == domain.GrantRevoked || g.State == domain.GrantExpired || g.State == domain.GrantRejected {
		return nil
	}
	g.State = state
	now := t.now
	g.RevokedAt, g.RevokedBy, g.EndReason = &now, t.actor.Name, reason
	if err := store.Put(t.ctx, t.tx, g, g.Version); err != nil {
		return err
	}
	t.identities[g.IdentityID] = true
	return t.grantEvent("grant."+string(state), g, reason)
}

func (t *txn) decide(id string, approve bool, by, note string) error {
	g, err := store.Get[domain.Grant](t.ctx, t.tx, id)
	if err != nil {
		return err
	}
	if g.State != domain.GrantRequested {
		return domain.Precondition(domain.KindGrant, id, "is %s, not requested", g.State)
	}
	if by == "" {
		return domain.Invalid("by", "an approval or rejection names who decided")
	}
	if approve {
		g.State = domain.GrantActive
		g.Approval = &domain.Approval{Approver: by, Reference: note, At: t.now}
	} else {
		g.State = domain.GrantRejected
		g.RejectedBy, g.EndReason = by, note
	}
	if err := store.Put(t.ctx, t.tx, g, g.Version); err != nil {
		return err
	}
	t.identities[g.IdentityID] = true
	action := "grant.approved"
	if !approve {
		action = "grant.rejected"
	}
	return t.grantEvent(action, g, note)
}

// ---- keys

func (t *txn) assignKey(s AssignKey) error {
	k, err := store.Get[domain.Key](t.ctx, t.tx, s.KeyID)
	if err != nil {
		return err
	}
	in, err := store.Get[domain.Identity](t.ctx, t.tx, s.IdentityID)
	if err != nil {
		return err
	}
	if k.Custody == domain.CustodyLost || k.Custody == domain.CustodyBlocked {
		return domain.Precondition(domain.KindKey, k.ID, "is %s and cannot be handed out", k.Custody)
	}
	if k.HolderID != "" && k.HolderID != in.ID && k.Custody == domain.CustodyHandedOut {
		t.identities[k.HolderID] = true
	}
	k.HolderID, k.HolderRef, k.Custody = in.ID, in.CorrelationKey, domain.CustodyHandedOut
	if err := store.Put(t.ctx, t.tx, k, k.Version); err != nil {
		return err
	}
	t.keys[k.ID] = true
	t.identities[in.ID] = true
	return t.event("key.assigned", domain.KindKey, k.ID, k, func(ev *domain.AuditEvent) { ev.IdentityID, ev.KeyID = in.ID, k.ID })
}

func (t *txn) setCustody(keyID string, c domain.Custody, action string) error {
	k, err := store.Get[domain.Key](t.ctx, t.tx, keyID)
	if err != nil {
		return err
	}
	holder := k.HolderID
	k.Custody = c
	if c == domain.CustodyReturned {
		k.HolderID, k.HolderRef = "", ""
	}
	if err := store.Put(t.ctx, t.tx, k, k.Version); err != nil {
		return err
	}
	t.keys[k.ID] = true
	if holder != "" {
		t.identities[holder] = true
	}
	return t.event(action, domain.KindKey, k.ID, k, func(ev *domain.AuditEvent) { ev.IdentityID, ev.KeyID = holder, k.ID })
}

// ---- estate and inventory resources

func (t *txn) putResource(s PutResource) (string, error) {
	r := s.Resource
	if r == nil {
		return "", domain.Invalid("resource", "missing")
	}
	switch r.(type) {
	case *domain.Identity, *domain.Entitlement, *domain.Grant, *domain.Operation, *domain.KeyState:
		return "", domain.Invalid("resource", "%s has its own steps", r.Kind())
	}
	m := r.GetMeta()
	if m.ID == "" {
		m.ID = newID()
	}
	if k, ok := r.(*domain.Key); ok {
		if k.LockSystemID == "" {
			return "", domain.Invalid("lockSystemId", "a key belongs to a lock system")
		}
		if old, err := store.Get[domain.Key](t.ctx, t.tx, k.ID); err == nil && old.HolderID != "" && old.HolderID != k.HolderID {
			t.identities[old.HolderID] = true
		}
		t.keys[k.ID] = true
		if k.HolderID != "" {
			t.identities[k.HolderID] = true
		}
	}
	if err := store.Put(t.ctx, t.tx, r, s.Expect); err != nil {
		return "", err
	}
	if _, ok := r.(*domain.Policy); ok {
		t.policiesOK = false
		if err := t.touchAllIdentities(); err != nil {
			return "", err
		}
	}
	if r.Kind() == domain.KindLockEvent || r.Kind() == domain.KindSetting {
		return m.ID, nil // lock events are facts from the lock system, settings are internal
	}
	return m.ID, t.event(string(r.Kind())+".put", r.Kind(), m.ID, r, func(ev *domain.AuditEvent) {
		if k, ok := r.(*domain.Key); ok {
			ev.KeyID, ev.IdentityID = k.ID, k.HolderID
		}
	})
}

func (t *txn) deleteResource(s DeleteResource) error {
	switch s.Kind {
	case domain.KindIdentity, domain.KindEntitlement, domain.KindGrant, domain.KindOperation, domain.KindKeyState:
		return domain.Invalid("kind", "%s has its own steps", s.Kind)
	}
	if s.Kind == domain.KindKey {
		k, err := store.Get[domain.Key](t.ctx, t.tx, s.ID)
		if err != nil {
			return err
		}
		if k.HolderID != "" {
			t.identities[k.HolderID] = true
		}
	}
	if err := t.tx.Delete(t.ctx, s.Kind, s.ID, s.Expect); err != nil {
		return err
	}
	if s.Kind == domain.KindPolicy {
		t.policiesOK = false
		if err := t.touchAllIdentities(); err != nil {
			return err
		}
	}
	return t.event(string(s.Kind)+".deleted", s.Kind, s.ID, nil, nil)
}

func (t *txn) touchAllIdentities() error {
	ids, err := store.All[domain.Identity](t.ctx, t.tx, store.Eqf("active", "true"))
	if err != nil {
		return err
	}
	for _, in := range ids {
		t.identities[in.ID] = true
	}
	return nil
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// checkText refuses text that is not valid UTF-8, holds control characters (they
// break LDAP DNs, CSV reports and terminals) or is longer than max runes.
func checkText(p *domain.Problems, field, v string, maxRunes int) {
	if v == "" {
		return
	}
	if !utf8.ValidString(v) {
		p.Addf("%s: is not valid UTF-8", field)
		return
	}
	if n := utf8.RuneCountInString(v); n > maxRunes {
		p.Addf("%s: %d characters, at most %d are allowed", field, n, maxRunes)
	}
	if strings.IndexFunc(v, unicode.IsControl) >= 0 {
		p.Addf("%s: contains a control character", field)
	}
}
