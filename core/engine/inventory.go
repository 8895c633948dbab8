package engine

import (
	"context"
	"errors"
	"strings"

	"github.com/keyward/keyward/core/domain"
	"github.com/keyward/keyward/core/store"
)

// Inventory is what a lock system reports it holds.
type Inventory struct {
	Locks []InventoryLock
	Keys  []InventoryKey
	// Complete says the lists are the whole inventory, so keys missing from it
	// are gone from the lock system.
	Complete bool
}

// InventoryLock is a lock as the lock system reports it.
type InventoryLock struct {
	VendorID      string
	Name          string
	AccessObjects []string
	Online        bool
}

// InventoryKey is a key as the lock system reports it, with its holder's external
// person id (the correlation key) if handed out.
type InventoryKey struct {
	VendorID  string
	Type      domain.KeyType
	Custody   domain.Custody
	HolderRef string
	Remote    bool
	Label     string
	// Access, when the lock system reports it, is what the key really carries:
	// the drift report compares it with the planned access.
	Access *domain.KeyAccess
}

// SyncInventory brings the lock system's locks and keys into the store: new ones
// are added, changed ones updated, holders correlated with identities by the lock
// system's correlation attribute. A lock's asset, set by the estate, is kept.
// It returns how many records changed.
func (e *Engine) SyncInventory(ctx context.Context, lockSystemID string, inv Inventory) (int, error) {
	n := 0
	err := e.observe(ctx, lockSystemID, func(t *txn) error {
		n = 0
		ls, err := store.Get[domain.LockSystem](ctx, t.tx, lockSystemID)
		if err != nil {
			return err
		}
		for _, l := range inv.Locks {
			id := KeyID(lockSystemID, l.VendorID)
			cur, err := store.Get[domain.Lock](ctx, t.tx, id)
			if err != nil && !isNotFound(err) {
				return err
			}
			next := &domain.Lock{Meta: domain.Meta{ID: id}, LockSystemID: lockSystemID, VendorID: l.VendorID, Name: l.Name, VendorName: l.Name, AccessObjects: l.AccessObjects, Online: l.Online}
			expect := int64(0)
			if cur != nil {
				next.AssetID, expect = cur.AssetID, cur.Version
				if cur.Name != "" {
					next.Name = cur.Name // the estate's name stands
				}
				if cur.VendorName == next.VendorName && cur.Name == next.Name && strings.Join(cur.AccessObjects, ",") == strings.Join(next.AccessObjects, ",") && cur.Online == next.Online {
					continue
				}
			}
			if err := store.Put(ctx, t.tx, next, expect); err != nil {
				return err
			}
			n++
		}
		seen := map[string]bool{}
		for _, k := range inv.Keys {
			id := KeyID(lockSystemID, k.VendorID)
			seen[id] = true
			if k.Access != nil {
				if err := t.recordReported(id, lockSystemID, *k.Access); err != nil {
					return err
				}
			}
			cur, err := store.Get[domain.Key](ctx, t.tx, id)
			if err != nil && !isNotFound(err) {
				return err
			}
			next := &domain.Key{Meta: domain.Meta{ID: id}, LockSystemID: lockSystemID, VendorID: k.VendorID, Type: k.Type, Custody: k.Custody, HolderRef: k.HolderRef, Remote: k.Remote, Label: k.Label}
			if next.Custody == "" {
				next.Custody = domain.CustodyPlanning
				if k.HolderRef != "" {
					next.Custody = domain.CustodyHandedOut
				}
			}
			if k.HolderRef != "" {
				in, err := t.identityByCorrelation(ls, k.HolderRef)
				if err != nil {
					return err
				}
				if in != nil {
					next.HolderID = in.ID
				}
			}
			expect := int64(0)
			if cur != nil {
				expect = cur.Version
				if cur.Custody == domain.CustodyLost || cur.Custody == domain.CustodyBlocked {
					next.Custody = cur.Custody // keyward's own decision stands until unblocked
				}
				if cur.Type == next.Type && cur.Custody == next.Custody && cur.HolderRef == next.HolderRef && cur.HolderID == next.HolderID && cur.Remote == next.Remote && cur.Label == next.Label {
					continue
				}
				if cur.HolderID != "" {
					t.identities[cur.HolderID] = true
				}
			}
			if err := store.Put(ctx, t.tx, next, expect); err != nil {
				return err
			}
			if err := t.event("key.synced", domain.KindKey, id, next, func(ev *domain.AuditEvent) { ev.KeyID, ev.IdentityID = id, next.HolderID }); err != nil {
				return err
			}
			t.keys[id] = true
			if next.HolderID != "" {
				t.identities[next.HolderID] = true
			}
			n++
		}
		if inv.Complete {
			// TODO: keys that vanished from a complete inventory are only logged,
			// not retired; their key states keep showing the last planned access.
			gone, err := store.All[domain.Key](ctx, t.tx, store.Eqf("lockSystemId", lockSystemID))
			if err != nil {
				return err
			}
			for _, k := range gone {
				if !seen[k.ID] {
					e.log.Warn("key missing from inventory", "lock_system", lockSystemID, "key", k.ID)
				}
			}
		}
		return nil
	})
	return n, err
}

func isNotFound(err error) bool { return errors.Is(err, domain.ErrNotFound) }

// identityByCorrelation finds the identity a vendor person reference belongs to.
func (t *txn) identityByCorrelation(ls *domain.LockSystem, ref string) (*domain.Identity, error) {
	attr := "correlationKey"
	switch ls.CorrelateBy {
	case "externalId":
		attr = "externalId"
	case "userName":
		attr = "userName"
	case "email":
		attr = "emails.value"
	}
	ids, _, err := store.List[domain.Identity](t.ctx, t.tx, store.Query{Filter: store.Compare{Attr: attr, Op: store.Eq, Value: ref, CaseExact: attr == "correlationKey"}, Limit: 2})
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	return ids[0], nil
}

// recordReported keeps what a lock system says a key really carries.
func (t *txn) recordReported(keyID, lockSystemID string, acc domain.KeyAccess) error {
	ks, err := store.Get[domain.KeyState](t.ctx, t.tx, keyID)
	expect := int64(0)
	switch {
	case errors.Is(err, domain.ErrNotFound):
		ks = &domain.KeyState{Meta: domain.Meta{ID: keyID}, LockSystemID: lockSystemID}
	case err != nil:
		return err
	default:
		expect = ks.Version
		if ks.Reported != nil && ks.Reported.Fingerprint() == acc.Fingerprint() {
			return nil
		}
	}
	ks.Reported = &acc
	return store.Put(t.ctx, t.tx, ks, expect)
}
