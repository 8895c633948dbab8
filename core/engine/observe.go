package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/keyward/keyward/core/domain"
	"github.com/keyward/keyward/core/store"
)

var deliveryRank = map[domain.DeliveryState]int{
	domain.DeliveryPlanned: 0, domain.DeliveryRecorded: 1, domain.DeliveryQueued: 2, domain.DeliveryDelivered: 3,
	domain.DeliveryApplied: 4, domain.DeliveryNeedsAction: 1, domain.DeliveryFailed: 1,
}

// applyDelivery records a delivery state for a key's change, resolves or bounds its
// exposures, escalates what stays exposed too long, and raises tasks for
// needs-action. opID, if set, ties the delivery to one operation: a delivery for an
// operation that is no longer the key's latest only counts when applied.
func (t *txn) applyDelivery(keyID, opID string, d domain.Delivery) error {
	ks, err := store.Get[domain.KeyState](t.ctx, t.tx, keyID)
	if errors.Is(err, domain.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	latest := opID == "" || opID == ks.OperationID
	if !latest && d.State != domain.DeliveryApplied {
		return nil
	}
	if latest && ks.Delivery.State == domain.DeliveryApplied && d.State != domain.DeliveryApplied && opID == "" {
		return nil // a late event does not move an applied change back
	}
	if latest {
		if opID == "" && deliveryRank[d.State] < deliveryRank[ks.Delivery.State] && ks.Delivery.State != domain.DeliveryNeedsAction {
			return nil // out of order
		}
		ks.Delivery = d
	}
	var effective []domain.Exposure
	if d.State == domain.DeliveryApplied && latest {
		effective, ks.Exposures = ks.Exposures, nil
	} else {
		for i := range ks.Exposures {
			x := &ks.Exposures[i]
			if d.EffectiveBy != nil {
				eb := *d.EffectiveBy
				x.EffectiveBy, x.Unbounded = &eb, false
			} else if d.Unbounded {
				x.EffectiveBy, x.Unbounded = nil, true
			}
		}
	}
	if err := store.Put(t.ctx, t.tx, ks, ks.Version); err != nil {
		return err
	}
	if err := t.event("key.delivery", domain.KindKey, keyID, map[string]any{"operation": opID, "delivery": d, "access": ks.Planned, "grants": ks.Grants, "blocked": ks.Blocked},
		func(ev *domain.AuditEvent) { ev.KeyID, ev.IdentityID = keyID, ks.HolderID }); err != nil {
		return err
	}
	for _, x := range effective {
		if err := t.revocationEffective(ks, x, "the key was updated"); err != nil {
			return err
		}
	}
	if d.State == domain.DeliveryNeedsAction && latest {
		task := &domain.Task{Meta: domain.Meta{ID: newID()}, TaskKind: TaskPhysicalAction, State: domain.TaskOpen, IdentityID: ks.HolderID,
			KeyID: keyID, LockSystemID: ks.LockSystemID, Action: d.RequiredAction, Reason: d.Reason}
		if task.Action == "" {
			task.Action = "see the lock system"
		}
		if err := t.raiseTask(task); err != nil {
			return err
		}
	}
	return t.escalate(ks)
}

func (t *txn) revocationEffective(ks *domain.KeyState, x domain.Exposure, why string) error {
	return t.event("revocation.effective", domain.KindKey, ks.ID, map[string]any{"accessObject": x.AccessObject, "grants": x.GrantIDs, "revokedAt": x.RevokedAt, "why": why},
		func(ev *domain.AuditEvent) { ev.KeyID, ev.IdentityID = ks.ID, ks.HolderID })
}

// allowedExposure is how long a revoked right of this criticality may stay on a key.
func (t *txn) allowedExposure(c domain.Criticality) (time.Duration, bool) {
	rec, err := store.Get[domain.Setting](t.ctx, t.tx, SettingExposurePrefix+string(c))
	if err == nil {
		d, err := domain.ParseDuration(rec.Value)
		if err == nil {
			return time.Duration(d), true
		}
	}
	d, ok := t.e.defaultExposure[c]
	return d, ok
}

// SettingExposurePrefix names the settings that hold the allowed exposure per
// criticality (the estate's exposure section).
const SettingExposurePrefix = "exposure/"

// escalate blocks a key (or raises a task where the lock system cannot block) when
// one of its exposures lasts longer than its criticality allows, or has no bound.
func (t *txn) escalate(ks *domain.KeyState) error {
	var why string
	for i := range ks.Exposures {
		x := &ks.Exposures[i]
		if x.Escalated || (x.EffectiveBy == nil && !x.Unbounded) {
			continue // not escalated twice; no answer yet
		}
		crit := domain.CriticalityLow
		for _, gid := range x.GrantIDs {
			g, err := store.Get[domain.Grant](t.ctx, t.tx, gid)
			if err != nil {
				continue
			}
			if en, err := t.entitlement(g.EntitlementID); err == nil && critRank(en.Criticality) > critRank(crit) {
				crit = en.Criticality
			}
		}
		allowed, ok := t.allowedExposure(crit)
		if !ok {
			continue
		}
		switch {
		case x.Unbounded:
			why = fmt.Sprintf("revoked access to %s has no effective-by bound (criticality %s allows %s)", x.AccessObject, crit, domain.Duration(allowed))
		case x.EffectiveBy.Sub(x.RevokedAt) > allowed:
			why = fmt.Sprintf("revoked access to %s stays on the key until %s, beyond the %s allowed for %s", x.AccessObject, x.EffectiveBy.Format(time.RFC3339), domain.Duration(allowed), crit)
		default:
			continue
		}
		x.Escalated = true
	}
	if why == "" {
		return nil
	}
	if err := store.Put(t.ctx, t.tx, ks, ks.Version); err != nil {
		return err
	}
	ls, err := store.Get[domain.LockSystem](t.ctx, t.tx, ks.LockSystemID)
	if err != nil {
		return err
	}
	if err := t.event("revocation.escalated", domain.KindKey, ks.ID, map[string]any{"why": why, "block": ls.CanBlock}, func(ev *domain.AuditEvent) { ev.KeyID, ev.IdentityID = ks.ID, ks.HolderID }); err != nil {
		return err
	}
	if ls.CanBlock {
		key, err := store.Get[domain.Key](t.ctx, t.tx, ks.ID)
		if err != nil {
			return err
		}
		if key.Custody != domain.CustodyLost && key.Custody != domain.CustodyBlocked {
			key.Custody = domain.CustodyBlocked
			if err := store.Put(t.ctx, t.tx, key, key.Version); err != nil {
				return err
			}
		}
		t.keys[ks.ID] = true
		return nil
	}
	return t.raiseTask(&domain.Task{Meta: domain.Meta{ID: newID()}, TaskKind: TaskEscalation, State: domain.TaskOpen, IdentityID: ks.HolderID,
		KeyID: ks.ID, LockSystemID: ks.LockSystemID, Action: "retrieve the key or reprogram the locks it opens", Reason: why})
}

func critRank(c domain.Criticality) int {
	return slices.Index([]domain.Criticality{domain.CriticalityLow, domain.CriticalityMedium, domain.CriticalityHigh, domain.CriticalityCritical}, c)
}

// KeyID builds keyward's id for a vendor object of a lock system.
func KeyID(lockSystemID, vendorID string) string { return lockSystemID + ":" + vendorID }

// RecordDelivery takes a delivery transition the observer learned from a lock
// system (Changes stream, webhook) for a key by its vendor id.
func (e *Engine) RecordDelivery(ctx context.Context, lockSystemID, keyVendorID string, d domain.Delivery) error {
	return e.observe(ctx, lockSystemID, func(t *txn) error {
		if d.At.IsZero() {
			d.At = t.now
		}
		return t.applyDelivery(KeyID(lockSystemID, keyVendorID), "", d)
	})
}

// LockEventIn is a lock event as a driver reports it.
type LockEventIn struct {
	VendorEventID string
	KeyVendorID   string
	LockVendorID  string
	At            time.Time
	Opened        bool
	Reason        string
}

// RecordLockEvents stores lock events, ignoring the ones already seen (by vendor
// id), and updates each key's last use. It returns how many were new.
func (e *Engine) RecordLockEvents(ctx context.Context, lockSystemID string, evs []LockEventIn) (int, error) {
	n := 0
	err := e.observe(ctx, lockSystemID, func(t *txn) error {
		n = 0
		for _, in := range evs {
			id := lockSystemID + "/" + in.VendorEventID
			if ok, err := store.Exists(t.ctx, t.tx, domain.KindLockEvent, id); err != nil {
				return err
			} else if ok {
				continue
			}
			ev := &domain.LockEvent{Meta: domain.Meta{ID: id}, LockSystemID: lockSystemID, VendorEventID: in.VendorEventID, At: in.At.UTC(), Opened: in.Opened, Reason: in.Reason}
			if in.KeyVendorID != "" {
				ev.KeyID = KeyID(lockSystemID, in.KeyVendorID)
				if k, err := store.Get[domain.Key](t.ctx, t.tx, ev.KeyID); err == nil {
					ev.IdentityID = k.HolderID
				}
			}
			if in.LockVendorID != "" {
				ev.LockID = KeyID(lockSystemID, in.LockVendorID)
			}
			if err := store.Put(t.ctx, t.tx, ev, 0); err != nil {
				return err
			}
			n++
			if ev.Opened && ev.KeyID != "" {
				ks, err := store.Get[domain.KeyState](t.ctx, t.tx, ev.KeyID)
				if err == nil && (ks.LastUsed == nil || ev.At.After(*ks.LastUsed)) {
					at := ev.At
					ks.LastUsed = &at
					if err := store.Put(t.ctx, t.tx, ks, ks.Version); err != nil {
						return err
					}
				}
			}
		}
		return nil
	})
	return n, err
}

func (e *Engine) observe(ctx context.Context, lockSystemID string, fn func(*txn) error) error {
	err := e.st.Update(ctx, func(tx store.Tx) error {
		t := e.begin(ctx, tx, Actor{Name: "observer:" + lockSystemID, Source: domain.Source{Kind: domain.SourceManual, Name: "observer"}})
		if err := fn(t); err != nil {
			return err
		}
		_, err := t.finish()
		return err
	})
	if err == nil {
		e.wakeAll()
	}
	return err
}
