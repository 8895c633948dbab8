package ldap

import (
	"context"
	"errors"
	"sort"

	"github.com/keyward/keyward/core/domain"
	"github.com/keyward/keyward/core/engine"
)

// modify turns a modify request on an entitlement group into one engine command:
// added members become grants, removed members revocations, with the bind identity
// as actor and source. Everything else is refused with a result code that says why.
func (v *view) modify(ctx context.Context, bindDN string, req modifyRequest, permissive bool) error {
	ndn := normDN(req.dn)
	steps, err := v.memberSteps(ndn, bindDN, req, permissive)
	if err != nil || len(steps) == 0 {
		return err
	}
	actor := engine.Actor{Name: bindDN, Source: domain.Source{Kind: domain.SourceIGA, Name: bindDN}}
	if _, err := v.eng.Execute(ctx, actor, steps...); err != nil {
		return engineError(err)
	}
	// Read after write: the change shows in the very next search.
	if err := v.refresh(ctx); err != nil {
		v.log.Warn("ldap view refresh after a write failed", "err", err)
	}
	return nil
}

func (v *view) memberSteps(ndn, bindDN string, req modifyRequest, permissive bool) ([]engine.Step, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	entID, ok := v.entByNDN[ndn]
	if !ok {
		if v.dit.get(ndn) != nil {
			return nil, lerr(resultUnwillingToPerform, "only the members of entitlement groups under ou=entitlements can be changed")
		}
		v.dit.mu.RLock()
		matched := v.dit.matchedLocked(ndn)
		v.dit.mu.RUnlock()
		return nil, &ldapError{code: resultNoSuchObject, matched: matched, msg: "no such entry"}
	}
	memberAttr := "member"
	if v.cfg.GroupStyle == GroupOfUniqueNames {
		memberAttr = "uniqueMember"
	}
	current := map[string]bool{} // identity ids with a current grant
	for gid := range v.byEnt[entID] {
		if g := v.grants[gid]; g != nil && member(g) {
			current[g.IdentityID] = true
		}
	}
	add, del := map[string]bool{}, map[string]bool{}
	for _, m := range req.mods {
		t := lookupAttr(m.attr)
		if t == nil || lower(t.name()) != lower(memberAttr) {
			return nil, lerr(resultUnwillingToPerform, "only %s can be changed on an entitlement group; %s is managed by keyward", memberAttr, m.attr)
		}
		ids, err := v.identitiesOf(m.values)
		if err != nil {
			return nil, err
		}
		switch m.op {
		case 0: // add
			for _, id := range ids {
				if (current[id] || add[id]) && !del[id] {
					if permissive {
						continue
					}
					return nil, lerr(resultAttributeOrValueExists, "%s is already a member", v.personDN[id])
				}
				delete(del, id)
				add[id] = true
			}
		case 1: // delete
			if len(m.values) == 0 {
				return nil, lerr(resultUnwillingToPerform, "name the members to remove; removing every member at once is refused")
			}
			for _, id := range ids {
				if !(current[id] || add[id]) || del[id] {
					if permissive {
						continue
					}
					return nil, lerr(resultNoSuchAttribute, "%s is not a member", v.personDN[id])
				}
				delete(add, id)
				del[id] = true
			}
		case 2: // replace
			want := map[string]bool{}
			for _, id := range ids {
				want[id] = true
			}
			for id := range current {
				if !want[id] {
					del[id] = true
				}
			}
			for id := range want {
				if !current[id] {
					add[id] = true
				}
				delete(del, id)
			}
		default:
			return nil, lerr(resultUnwillingToPerform, "modify operation %d is not supported on %s", m.op, memberAttr)
		}
	}
	group := v.groupDN[entID]
	var steps []engine.Step
	for _, id := range sortedKeys(add) {
		if current[id] {
			continue
		}
		steps = append(steps, engine.Grant{IdentityID: id, EntitlementID: entID, Justification: "added to " + group + " by " + bindDN + " over LDAP"})
	}
	for _, id := range sortedKeys(del) {
		if !current[id] {
			continue
		}
		steps = append(steps, engine.Revoke{IdentityID: id, EntitlementID: entID, Reason: "removed from " + group + " by " + bindDN + " over LDAP"})
	}
	return steps, nil
}

// identitiesOf maps member DNs to identity ids; the empty-group placeholder maps to
// nothing.
func (v *view) identitiesOf(dns []string) ([]string, error) {
	var out []string
	for _, dn := range dns {
		n := normDN(dn)
		if n == v.placeholderNDN {
			continue
		}
		id, ok := v.idByNDN[n]
		if !ok {
			if len(n) > 0 && n[0] == 0 {
				return nil, lerr(resultInvalidAttributeSyntax, "%q is not a DN", dn)
			}
			return nil, lerr(resultConstraintViolation, "%s is not an identity under ou=people", dn)
		}
		out = append(out, id)
	}
	return out, nil
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// engineError maps core's errors to LDAP result codes (the one place that does).
func engineError(err error) error {
	msg := err.Error()
	switch {
	case errors.Is(err, domain.ErrNotFound):
		return lerr(resultNoSuchObject, "%s", msg)
	case errors.Is(err, domain.ErrConflict):
		return lerr(resultBusy, "%s (retry)", msg)
	case errors.Is(err, domain.ErrInvalid):
		return lerr(resultConstraintViolation, "%s", msg)
	case errors.Is(err, domain.ErrPrecondition):
		return lerr(resultUnwillingToPerform, "%s", msg)
	}
	return err
}
