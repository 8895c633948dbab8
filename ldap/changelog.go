package ldap

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/keyward/keyward/core/domain"
)

// The optional cn=changelog (draft-good-ldap-changelog) lets delete-aware delta
// syncs (NetIQ, ConnId/midPoint, SailPoint "Change Log") follow the view. Each
// audit event that changes an entry becomes one changeLogEntry whose changeNumber
// is the event's sequence number: monotonic and stable across restarts, with gaps
// where events change nothing the view shows.

const changelogDN = "cn=changelog"

// changelogEntry builds the entry for one audit event, or nil when the event
// changes nothing in the view. The caller holds v.mu and the dit lock, after the
// batch's entries were rebuilt, so current membership decides add or delete.
func (v *view) changelogEntry(ev *domain.AuditEvent) *entry {
	var target, kind, uuidKind, changes string
	var id string
	switch ev.SubjectKind {
	case domain.KindGrant:
		g := v.grants[ev.SubjectID]
		if g == nil || v.ents[g.EntitlementID] == nil || v.identities[g.IdentityID] == nil {
			return nil
		}
		memberNow := false
		for gid := range v.byEnt[g.EntitlementID] {
			if x := v.grants[gid]; x != nil && x.IdentityID == g.IdentityID && member(x) {
				memberNow = true
			}
		}
		attr := "member"
		if v.cfg.GroupStyle == GroupOfUniqueNames {
			attr = "uniqueMember"
		}
		op := ""
		switch ev.Action {
		case "grant.created", "grant.requested":
			if memberNow {
				op = "add"
			}
		case "grant.revoked", "grant.expired", "grant.rejected":
			if !memberNow {
				op = "delete"
			}
		}
		if op == "" {
			return nil
		}
		target, kind, uuidKind, id = v.groupDN[g.EntitlementID], "modify", string(domain.KindEntitlement), g.EntitlementID
		changes = fmt.Sprintf("%s: %s\n%s: %s\n-\n", op, attr, attr, v.personDN[g.IdentityID])
	case domain.KindIdentity:
		id, uuidKind = ev.SubjectID, string(domain.KindIdentity)
		switch ev.Action {
		case "identity.deleted":
			var in domain.Identity
			if json.Unmarshal(ev.Data, &in) != nil || in.UserName == "" {
				return nil
			}
			target, kind = v.personDNFor(&in), "delete"
		case "identity.created":
			target, kind = v.personDN[id], "add"
			changes = v.ldifOf(target, false)
		default:
			// TODO: a modify records every user attribute with its current value,
			// not the difference the event made, so a consumer re-reads more than
			// changed; after a restart older entries show the values of that time.
			target, kind = v.personDN[id], "modify"
			changes = v.ldifOf(target, true)
		}
	case domain.KindEntitlement:
		id, uuidKind = ev.SubjectID, string(domain.KindEntitlement)
		switch ev.Action {
		case "entitlement.deleted":
			var en domain.Entitlement
			if json.Unmarshal(ev.Data, &en) != nil || en.Name == "" {
				return nil
			}
			target, kind = v.groupDNFor(&en), "delete"
		case "entitlement.defined":
			target, kind = v.groupDN[id], "add"
			changes = v.ldifOf(target, false)
		default:
			target, kind = v.groupDN[id], "modify"
			changes = v.ldifOf(target, true)
		}
	default:
		return nil
	}
	if target == "" {
		return nil
	}
	n := strconv.FormatInt(ev.Seq, 10)
	b := newEntry("changeNumber=" + n + "," + changelogDN)
	b.add("objectClass", "top", "changeLogEntry", "keywardChange")
	b.add("changeNumber", n)
	b.add("targetDN", target)
	b.add("changeType", kind)
	b.add("changes", changes)
	b.add("changeTime", generalizedTime(ev.At))
	b.add("targetEntryUUID", uuidFor(domain.Kind(uuidKind), id))
	return b.done()
}

// ldifOf renders an entry's user attributes as the changes of an add (attr: value
// lines) or of a modify (a replace per attribute). The values are the entry's as
// of the refresh that recorded the change.
func (v *view) ldifOf(dn string, replace bool) string {
	e := v.dit.entries[normDN(dn)]
	if e == nil {
		return ""
	}
	var b strings.Builder
	for _, a := range e.user {
		n := a.typ.name()
		if replace {
			fmt.Fprintf(&b, "replace: %s\n", n)
		}
		for _, val := range a.values {
			fmt.Fprintf(&b, "%s: %s\n", n, val)
		}
		if replace {
			b.WriteString("-\n")
		}
	}
	return b.String()
}

// recordChanges adds the changelog entries for a batch of events and trims the
// changelog to its size. The caller holds v.mu and the dit write lock.
func (v *view) recordChanges(events []*domain.AuditEvent) {
	if !v.cfg.Changelog {
		return
	}
	for _, ev := range events {
		if e := v.changelogEntry(ev); e != nil {
			v.dit.put(e)
			v.changes = append(v.changes, ev.Seq)
		}
	}
	for len(v.changes) > v.cfg.ChangelogSize {
		v.dit.remove(normDN("changeNumber=" + strconv.FormatInt(v.changes[0], 10) + "," + changelogDN))
		v.changes = v.changes[1:]
	}
	first, last := "0", "0"
	if len(v.changes) > 0 {
		first, last = strconv.FormatInt(v.changes[0], 10), strconv.FormatInt(v.changes[len(v.changes)-1], 10)
	}
	v.onChangelog(first, last)
}

func (v *view) changelogContainer() *entry {
	b := newEntry(changelogDN)
	b.add("objectClass", "top", "extensibleObject")
	b.add("cn", "changelog")
	v.operational(b, changelogDN, "extensibleObject", uuidFor("changelog", "changelog"), v.started, v.started, true)
	return b.done()
}
