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
	held     []*domain.Key
	tasks    []*domain.Task // open hand-out-key tasks
}

// live keeps the grants in force now for the identity.
func (t *txn) live(in *domain.Identity, grants []*domain.Grant) []*domain.Grant {
	if in == nil || !in.Active || (in.ContractEnd != nil && !t.now.Before(*in.ContractEnd)) {
		return nil
	}
	var out []*domain.Grant
	for _, g := range grants {
		if g.Live(t.now) {
			out = append(out, g)
		}
	}
	return out
}

func (t *txn) facts(id string) (*holderFacts, error) {
	fs, _, err := t.prefetch([]string{id})
	if err != nil {
		return nil, err
	}
	return fs[id], nil
}

// byHolder lists the records of a kind whose attr is one of ids (sorted): one
// query per id for a few, one range query filtered in memory for many.
func byHolder[T any, P store.Resource[T]](t *txn, attr string, ids []string, extra ...store.Expr) ([]P, error) {
	if len(ids) <= 4 {
		var out []P
		for _, id := range ids {
			rs, err := store.All[T, P](t.ctx, t.tx, append(store.And{store.Eqf(attr, id)}, extra...))
			if err != nil {
				return nil, err
			}
			out = append(out, rs...)
		}
		return out, nil
	}
	f := append(store.And{store.Compare{Attr: attr, Op: store.Ge, Value: ids[0], CaseExact: true},
		store.Compare{Attr: attr, Op: store.Le, Value: ids[len(ids)-1], CaseExact: true}}, extra...)
	return store.All[T, P](t.ctx, t.tx, f)
}

// prefetch reads the facts of a batch of identities (sorted ids) and the key
// states they hold, with a handful of queries whatever the batch size.
func (t *txn) prefetch(ids []string) (map[string]*holderFacts, map[string]*domain.KeyState, error) {
	facts := make(map[string]*holderFacts, len(ids))
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want[id] = true
		facts[id] = &holderFacts{}
	}
	idents, err := byHolder[domain.Identity](t, "id", ids)
	if err != nil {
		return nil, nil, err
	}
	for _, in := range idents {
		if want[in.ID] {
			facts[in.ID].identity = in
		}
	}
	grants, err := byHolder[domain.Grant](t, "identityId", ids, store.Eqf("state", string(domain.GrantActive)))
	if err != nil {
		return nil, nil, err
	}
	byID := map[string][]*domain.Grant{}
	for _, g := range grants {
		if want[g.IdentityID] {
			byID[g.IdentityID] = append(byID[g.IdentityID], g)
		}
	}
	for id, f := range facts {
		f.grants = t.live(f.identity, byID[id])
	}
	if err := t.loadEntitlements(grants); err != nil {
		return nil, nil, err
	}
	keys, err := byHolder[domain.Key](t, "holderId", ids)
	if err != nil {
		return nil, nil, err
	}
	for _, k := range keys {
		if want[k.HolderID] {
			facts[k.HolderID].held = append(facts[k.HolderID].held, k)
		}
	}
	tasks, err := byHolder[domain.Task](t, "identityId", ids, store.Eqf("state", string(domain.TaskOpen)))
	if err != nil {
		return nil, nil, err
	}
	for _, task := range tasks {
		if want[task.IdentityID] && task.TaskKind == TaskHandOutKey {
			facts[task.IdentityID].tasks = append(facts[task.IdentityID].tasks, task)
		}
	}
	states, err := byHolder[domain.KeyState](t, "holderId", ids)
	if err != nil {
		return nil, nil, err
	}
	ks := map[string]*domain.KeyState{}
	for _, s := range states {
		if want[s.HolderID] {
			ks[s.ID] = s
		}
	}
	return facts, ks, nil
}

// loadEntitlements reads the entitlements of the grants that the transaction has
// not read yet, a hundred per query.
func (t *txn) loadEntitlements(grants []*domain.Grant) error {
	var missing store.Or
	seen := map[string]bool{}
	for _, g := range grants {
		if _, ok := t.ents[g.EntitlementID]; !ok && !seen[g.EntitlementID] {
			seen[g.EntitlementID] = true
			missing = append(missing, store.Eqf("id", g.EntitlementID))
		}
	}
	for len(missing) > 0 {
		n := min(len(missing), 100)
		ents, err := store.All[domain.Entitlement](t.ctx, t.tx, missing[:n])
		if err != nil {
			return err
		}
		for _, en := range ents {
			t.ents[en.ID] = en
		}
		missing = missing[n:]
	}
	return nil
}

// replan recomputes the desired access of every key touched by the command, from
// facts, and writes an operation for each key whose desired access changed.
func (t *txn) replan() error {
	ids := sortedKeys(t.identities)
	facts, states, err := t.prefetch(ids)
	if err != nil {
		return err
	}
	keys := map[string]*domain.Key{}
	for _, id := range ids {
		f := facts[id]
		for _, k := range f.held {
			keys[k.ID] = k
		}
		if err := t.awaitKeys(f); err != nil {
			return err
		}
	}
	plan := map[string]bool{}
	for id := range keys {
		plan[id] = true
	}
	for id := range states {
		plan[id] = true
	}
	for id := range t.keys {
		plan[id] = true
	}
	for _, id := range sortedKeys(plan) {
		if err := t.planKey(id, keys[id], states[id], facts); err != nil {
			return err
		}
	}
	return nil
}

// awaitKeys raises a hand-out-key task for each lock system where a live grant
// lands but the identity holds no active key, and closes the ones no longer needed.
func (t *txn) awaitKeys(f *holderFacts) error {
	if f.identity == nil {
		// A deleted identity needs no key any more.
		for _, task := range f.tasks {
			task.State = domain.TaskDone
			if err := store.Put(t.ctx, t.tx, task, task.Version); err != nil {
				return err
			}
			if err := t.event("task.done", domain.KindTask, task.ID, task, func(ev *domain.AuditEvent) { ev.IdentityID = task.IdentityID }); err != nil {
				return err
			}
		}
		return nil
	}
	id := f.identity.ID
	hasKey := map[string]bool{}
	for _, k := range f.held {
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
	for _, task := range f.tasks {
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

// planKey plans one key; key and ks may come prefetched (nil: read them).
func (t *txn) planKey(keyID string, key *domain.Key, ks *domain.KeyState, facts map[string]*holderFacts) error {
	var err error
	if key == nil {
		key, err = store.Get[domain.Key](t.ctx, t.tx, keyID)
		if errors.Is(err, domain.ErrNotFound) {
			return nil // nothing to instruct: the lock system no longer knows the key
		}
		if err != nil {
			return err
		}
	}
	if ks == nil {
		ks, err = store.Get[domain.KeyState](t.ctx, t.tx, keyID)
		if err != nil && !errors.Is(err, domain.ErrNotFound) {
			return err
		}
	}
	isNew := ks == nil
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
	if err := t.supersede(ks.OperationID); err != nil {
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

// supersede marks the key's last operation replaced if it has not run yet: only
// the newest desired state is worth sending. Each new operation supersedes the one
// before, so only the last can still be pending.
func (t *txn) supersede(opID string) error {
	if opID == "" {
		return nil
	}
	op, err := store.Get[domain.Operation](t.ctx, t.tx, opID)
	if errors.Is(err, domain.ErrNotFound) {
		return nil
	}
	if err != nil || op.State != domain.OpPending || op.OpKind != domain.OpSetKeyAccess {
		return err
	}
	op.State = domain.OpSuperseded
	return store.Put(t.ctx, t.tx, op, op.Version)
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
