package engine

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/keyward/keyward/core/domain"
	"github.com/keyward/keyward/core/store"
)

// ---- policies

func (t *txn) loadPolicies() ([]*domain.Policy, error) {
	if t.policiesOK {
		return t.policies, nil
	}
	ps, err := store.All[domain.Policy](t.ctx, t.tx, nil)
	if err != nil {
		return nil, err
	}
	t.policies, t.policiesOK = ps, true
	return ps, nil
}

// Matches tells whether a policy's conditions all hold for an identity.
func Matches(p *domain.Policy, in *domain.Identity) bool {
	for _, c := range p.Match {
		vals := AttributeValues(in, c.Attribute)
		hit := false
		for _, v := range vals {
			for _, w := range c.Values {
				if strings.EqualFold(v, w) {
					hit = true
				}
			}
		}
		if !hit {
			return false
		}
	}
	return true
}

// PolicyAttributes are the identity attributes policies can match on.
var PolicyAttributes = []string{"department", "function", "title", "location", "contractStatus", "projects", "organization", "division", "costCenter", "userType", "risk"}

// AttributeValues returns an identity's values of a policy attribute.
func AttributeValues(in *domain.Identity, attr string) []string {
	switch attr {
	case "department":
		return []string{in.Department}
	case "function":
		return []string{in.Function}
	case "title":
		return []string{in.Title}
	case "location":
		return []string{in.Location}
	case "contractStatus":
		return []string{in.ContractStatus}
	case "projects":
		return in.Projects
	case "organization":
		return []string{in.Organization}
	case "division":
		return []string{in.Division}
	case "costCenter":
		return []string{in.CostCenter}
	case "userType":
		return []string{in.UserType}
	case "risk":
		return []string{in.Risk}
	}
	return nil
}

// evaluatePolicies gives every touched active identity the grants its attributes
// justify and revokes policy grants no rule justifies any more.
func (t *txn) evaluatePolicies() error {
	if len(t.identities) == 0 {
		return nil
	}
	policies, err := t.loadPolicies()
	if err != nil {
		return err
	}
	for _, id := range sortedKeys(t.identities) {
		in, err := store.Get[domain.Identity](t.ctx, t.tx, id)
		if errors.Is(err, domain.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if !in.Active || (in.ContractEnd != nil && !t.now.Before(*in.ContractEnd)) {
			continue // deactivation keeps grants, planning gives them no effect; a contract that ended justifies nothing new
		}
		want := map[string]*domain.Policy{} // policyID/entitlementID
		for _, p := range policies {
			if Matches(p, in) {
				for _, en := range p.Entitlements {
					want[p.ID+"/"+en] = p
				}
			}
		}
		current, err := store.All[domain.Grant](t.ctx, t.tx, store.And{
			store.Eqf("identityId", id), store.Present{Attr: "policyId"},
			store.Or{store.Eqf("state", string(domain.GrantActive)), store.Eqf("state", string(domain.GrantRequested))},
		})
		if err != nil {
			return err
		}
		have := map[string]bool{}
		for _, g := range current {
			k := g.PolicyID + "/" + g.EntitlementID
			if want[k] == nil {
				if err := t.endGrant(g, domain.GrantRevoked, "no policy justifies it any more"); err != nil {
					return err
				}
				continue
			}
			have[k] = true
		}
		for _, k := range sortedPolicyKeys(want) {
			if have[k] {
				continue
			}
			p := want[k]
			enID := k[len(p.ID)+1:]
			if ok, err := store.Exists(t.ctx, t.tx, domain.KindEntitlement, enID); err != nil {
				return err
			} else if !ok {
				continue
			}
			s := Grant{IdentityID: id, EntitlementID: enID, RequireApproval: p.RequiresApproval,
				Source: &domain.Source{Kind: domain.SourcePolicy, Name: p.Name}, Justification: "policy " + p.Name}
			if p.DefaultValidity > 0 {
				until := t.now.Add(time.Duration(p.DefaultValidity))
				s.ValidUntil = &until
			}
			if _, err := t.grant(s, p.ID); err != nil {
				return fmt.Errorf("policy %s: %w", p.Name, err)
			}
		}
	}
	return nil
}

func sortedPolicyKeys(m map[string]*domain.Policy) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// ---- planning

// holderFacts is what planning needs of one identity.
type holderFacts struct {
	identity *domain.Identity // nil: deleted
	grants   []*domain.Grant  // live grants only
}

func (t *txn) facts(id string) (*holderFacts, error) {
	in, err := store.Get[domain.Identity](t.ctx, t.tx, id)
	if errors.Is(err, domain.ErrNotFound) {
		return &holderFacts{}, nil
	}
	if err != nil {
		return nil, err
	}
	f := &holderFacts{identity: in}
	if !in.Active || (in.ContractEnd != nil && !t.now.Before(*in.ContractEnd)) {
		return f, nil
	}
	grants, err := store.All[domain.Grant](t.ctx, t.tx, store.And{store.Eqf("identityId", id), store.Eqf("state", string(domain.GrantActive))})
	if err != nil {
		return nil, err
	}
	for _, g := range grants {
		if g.Live(t.now) {
			f.grants = append(f.grants, g)
		}
	}
	return f, nil
}

// replan recomputes the desired access of every key touched by the command, from
// facts, and writes an operation for each key whose desired access changed.
func (t *txn) replan() error {
	keys := map[string]bool{}
	for id := range t.keys {
		keys[id] = true
	}
	facts := map[string]*holderFacts{}
	for _, id := range sortedKeys(t.identities) {
		f, err := t.facts(id)
		if err != nil {
			return err
		}
		facts[id] = f
		held, err := store.All[domain.Key](t.ctx, t.tx, store.Eqf("holderId", id))
		if err != nil {
			return err
		}
		for _, k := range held {
			keys[k.ID] = true
		}
		states, err := store.All[domain.KeyState](t.ctx, t.tx, store.Eqf("holderId", id))
		if err != nil {
			return err
		}
		for _, s := range states {
			keys[s.ID] = true
		}
		if err := t.awaitKeys(f, held); err != nil {
			return err
		}
	}
	for _, id := range sortedKeys(keys) {
		if err := t.planKey(id, facts); err != nil {
			return err
		}
	}
	return nil
}

// awaitKeys raises a hand-out-key task for each lock system where a live grant
// lands but the identity holds no active key, and closes the ones no longer needed.
func (t *txn) awaitKeys(f *holderFacts, held []*domain.Key) error {
	if f.identity == nil {
		return nil
	}
	id := f.identity.ID
	hasKey := map[string]bool{}
	for _, k := range held {
		if k.Active() {
			hasKey[k.LockSystemID] = true
		}
	}
	need := map[string]string{} // lock system → an entitlement that needs it
	for _, g := range f.grants {
		en, err := t.entitlement(g.EntitlementID)
		if errors.Is(err, domain.ErrNotFound) {
			continue
		} else if err != nil {
			return err
		}
		for _, b := range en.Bindings {
			if !hasKey[b.LockSystemID] && len(b.AccessObjects) > 0 {
				if _, ok := need[b.LockSystemID]; !ok {
					need[b.LockSystemID] = en.ID
				}
			}
		}
	}
	open, err := store.All[domain.Task](t.ctx, t.tx, store.And{store.Eqf("identityId", id), store.Eqf("kind", TaskHandOutKey), store.Eqf("state", string(domain.TaskOpen))})
	if err != nil {
		return err
	}
	for _, task := range open {
		if _, ok := need[task.LockSystemID]; ok {
			delete(need, task.LockSystemID)
			continue
		}
		task.State = domain.TaskDone
		if err := store.Put(t.ctx, t.tx, task, task.Version); err != nil {
			return err
		}
		if err := t.event("task.done", domain.KindTask, task.ID, task, func(ev *domain.AuditEvent) { ev.IdentityID = id }); err != nil {
			return err
		}
	}
	for _, ls := range sortedKeysS(need) {
		task := &domain.Task{Meta: domain.Meta{ID: newID()}, TaskKind: TaskHandOutKey, State: domain.TaskOpen, IdentityID: id,
			LockSystemID: ls, EntitlementID: need[ls], Action: "hand out a key",
			Reason: fmt.Sprintf("%s holds no key in lock system %s; grants there are awaiting a key", f.identity.UserName, ls)}
		if err := t.raiseTask(task); err != nil {
			return err
		}
	}
	return nil
}

// Task kinds.
const (
	TaskHandOutKey     = "hand-out-key"
	TaskPhysicalAction = "physical-action"
	TaskEscalation     = "escalation"
)

func (t *txn) raiseTask(task *domain.Task) error {
	if err := store.Put(t.ctx, t.tx, task, 0); err != nil {
		return err
	}
	return t.event("task.raised", domain.KindTask, task.ID, task, func(ev *domain.AuditEvent) {
		ev.IdentityID, ev.KeyID, ev.EntitlementID = task.IdentityID, task.KeyID, task.EntitlementID
	})
}

func sortedKeysS(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Desired computes the whole desired access of one key from its holder's live
// grants. It is a pure function of the facts.
func Desired(key *domain.Key, holder *domain.Identity, grants []*domain.Grant, ents func(string) *domain.Entitlement) (domain.KeyAccess, map[string][]string) {
	var acc domain.KeyAccess
	byObj := map[string][]string{}
	if !key.Active() || holder == nil || !holder.Active {
		return acc, byObj
	}
	var until *time.Time
	unbounded := false
	var schedules []*domain.Schedule
	allScheduled := true
	for _, g := range grants {
		en := ents(g.EntitlementID)
		if en == nil {
			continue
		}
		landed := false
		for _, b := range en.Bindings {
			if b.LockSystemID != key.LockSystemID {
				continue
			}
			for _, o := range b.AccessObjects {
				byObj[o] = append(byObj[o], g.ID)
				landed = true
			}
		}
		if !landed {
			continue
		}
		end := g.ValidUntil
		if holder.ContractEnd != nil && (end == nil || holder.ContractEnd.Before(*end)) {
			end = holder.ContractEnd
		}
		if end == nil {
			unbounded = true
		} else if until == nil || end.After(*until) {
			e := *end
			until = &e
		}
		if en.Schedule == nil {
			allScheduled = false
		} else {
			schedules = append(schedules, en.Schedule)
		}
	}
	for o := range byObj {
		acc.AccessObjects = append(acc.AccessObjects, o)
		slices.Sort(byObj[o])
	}
	slices.Sort(acc.AccessObjects)
	if len(acc.AccessObjects) == 0 {
		return domain.KeyAccess{}, byObj
	}
	if !unbounded {
		acc.ValidUntil = until
	}
	if allScheduled && len(schedules) > 0 {
		acc.Schedule = mergeSchedules(schedules)
	}
	return acc, byObj
}

// mergeSchedules unites weekly schedules: a key may open when any grant allows.
// TODO: schedules in different time zones are merged under the first one's zone;
// an estate mixing zones on one key gets windows shifted by the zone difference.
func mergeSchedules(ss []*domain.Schedule) *domain.Schedule {
	out := &domain.Schedule{TimeZone: ss[0].TimeZone}
	seen := map[string]bool{}
	for _, s := range ss {
		for _, w := range s.Windows {
			k := fmt.Sprint(w.Days, w.From, w.To)
			if !seen[k] {
				seen[k] = true
				out.Windows = append(out.Windows, w)
			}
		}
	}
	return out
}

func (t *txn) planKey(keyID string, facts map[string]*holderFacts) error {
	key, err := store.Get[domain.Key](t.ctx, t.tx, keyID)
	keyGone := errors.Is(err, domain.ErrNotFound)
	if err != nil && !keyGone {
		return err
	}
	ks, err := store.Get[domain.KeyState](t.ctx, t.tx, keyID)
	isNew := errors.Is(err, domain.ErrNotFound)
	if err != nil && !isNew {
		return err
	}
	if keyGone {
		return nil // nothing to instruct: the lock system no longer knows the key
	}
	if isNew {
		ks = &domain.KeyState{Meta: domain.Meta{ID: keyID}, LockSystemID: key.LockSystemID}
	}
	var holder *domain.Identity
	var grants []*domain.Grant
	if key.HolderID != "" {
		f, ok := facts[key.HolderID]
		if !ok {
			if f, err = t.facts(key.HolderID); err != nil {
				return err
			}
			facts[key.HolderID] = f
		}
		holder, grants = f.identity, f.grants
	}
	desired, byObj := Desired(key, holder, grants, func(id string) *domain.Entitlement {
		en, err := t.entitlement(id)
		if err != nil {
			return nil
		}
		return en
	})
	block := key.Custody == domain.CustodyLost || key.Custody == domain.CustodyBlocked
	if isNew && desired.Empty() && !block {
		return nil // never planned, nothing to plan
	}
	changed := desired.Fingerprint() != ks.Planned.Fingerprint() || isNew
	ks.HolderID = key.HolderID
	if !changed && block == ks.Blocked {
		if !isNew {
			// keep the grant attribution current (a grant replaced by an equal one)
			ks.Grants = byObj
			return store.Put(t.ctx, t.tx, ks, ks.Version)
		}
		return nil
	}
	var removed []string
	for _, o := range ks.Planned.AccessObjects {
		if !slices.Contains(desired.AccessObjects, o) {
			removed = append(removed, o)
			ks.Exposures = append(ks.Exposures, domain.Exposure{AccessObject: o, GrantIDs: ks.Grants[o], RevokedAt: t.now})
		}
	}
	// Access given back drops a matching exposure: it is wanted again.
	ks.Exposures = slices.DeleteFunc(ks.Exposures, func(x domain.Exposure) bool { return slices.Contains(desired.AccessObjects, x.AccessObject) })
	if err := t.supersede(keyID); err != nil {
		return err
	}
	if changed {
		op, err := t.enqueue(key, domain.OpSetKeyAccess, desired, removed, "desired access changed")
		if err != nil {
			return err
		}
		ks.OperationID = op.ID
	}
	if block && !ks.Blocked {
		op, err := t.enqueue(key, domain.OpBlockKey, domain.KeyAccess{}, nil, "key "+string(key.Custody))
		if err != nil {
			return err
		}
		ks.OperationID = op.ID
		if holder != nil {
			t.e.log.Info("key block planned", "key", key.ID, "identity", holder.ID)
		}
	}
	ks.Planned, ks.Grants, ks.Blocked = desired, byObj, block
	ks.Delivery = domain.Delivery{State: domain.DeliveryPlanned, At: t.now}
	if err := store.Put(t.ctx, t.tx, ks, storeExpect(ks.Version, isNew)); err != nil {
		return err
	}
	return t.event("key.planned", domain.KindKey, key.ID, map[string]any{"access": desired, "removed": removed, "blocked": block, "grants": byObj, "operation": ks.OperationID},
		func(ev *domain.AuditEvent) { ev.KeyID, ev.IdentityID = key.ID, key.HolderID })
}

func storeExpect(v int64, isNew bool) int64 {
	if isNew {
		return 0
	}
	return v
}

// supersede marks the key's pending set-key-access operations as replaced: only the
// newest desired state is worth sending.
func (t *txn) supersede(keyID string) error {
	ops, err := store.All[domain.Operation](t.ctx, t.tx, store.And{store.Eqf("keyId", keyID), store.Eqf("state", string(domain.OpPending)), store.Eqf("kind", string(domain.OpSetKeyAccess))})
	if err != nil {
		return err
	}
	for _, op := range ops {
		op.State = domain.OpSuperseded
		if err := store.Put(t.ctx, t.tx, op, op.Version); err != nil {
			return err
		}
	}
	return nil
}

func (t *txn) enqueue(key *domain.Key, kind domain.OperationKind, acc domain.KeyAccess, removed []string, reason string) (*domain.Operation, error) {
	seq, err := t.tx.NextSequence(t.ctx, "operation")
	if err != nil {
		return nil, err
	}
	op := &domain.Operation{
		Meta: domain.Meta{ID: domain.OperationID(seq)}, Seq: seq, LockSystemID: key.LockSystemID, KeyID: key.ID,
		KeyVendorID: key.VendorID, HolderRef: key.HolderRef, OpKind: kind, Access: acc, Removed: removed,
		State: domain.OpPending, NextAttempt: t.now, Reason: reason,
	}
	op.IdempotencyKey = fmt.Sprintf("keyward/%s/%s", key.LockSystemID, op.ID)
	if err := store.Put(t.ctx, t.tx, op, 0); err != nil {
		return nil, err
	}
	t.ops++
	return op, nil
}
