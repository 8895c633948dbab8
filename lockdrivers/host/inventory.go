package host

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/keyward/keyward/core/domain"
	"github.com/keyward/keyward/core/engine"
	"github.com/keyward/keyward/lockdrivers/driver"
)

// maxInventory bounds one inventory list, so a runaway driver cannot exhaust
// the host's memory.
const maxInventory = 1_000_000

// runInventory syncs inventory whenever the driver (re)starts and every
// InventoryInterval.
func (s *system) runInventory(ctx context.Context) {
	t := time.NewTicker(s.h.opts.InventoryInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.syncNow:
		case <-t.C:
		}
		if s.current() == nil {
			continue
		}
		n, err := s.syncInventory(ctx)
		switch {
		case errors.Is(err, domain.ErrNotFound):
			s.log.Warn("inventory not synced: the lock system has a driver but is not declared in the estate (keyward apply -f)", "err", err)
		case err != nil && ctx.Err() == nil:
			s.log.Error("inventory sync failed", "err", err)
		case err == nil:
			s.log.Info("inventory synced", "changed", n)
		}
	}
}

// SyncInventory reads the lock system's whole inventory from its driver and
// brings it into the engine; it returns how many records changed. An
// inventory that violates the contract is rejected whole.
func (h *Host) SyncInventory(ctx context.Context, lockSystemID string) (int, error) {
	s, ok := h.systems[lockSystemID]
	if !ok {
		return 0, fmt.Errorf("lock system %s has no driver configured", lockSystemID)
	}
	return s.syncInventory(ctx)
}

func listAll[T any](ctx context.Context, s *system, call string,
	list func(driver.Driver, context.Context, driver.ListRequest, func(driver.Page[T]) error) error,
) ([]T, error) {
	var out []T
	var violation error
	err := s.call(ctx, call, false, func(ctx context.Context, d driver.Driver) error {
		out = out[:0]
		seen := map[string]bool{}
		return list(d, ctx, driver.ListRequest{}, func(p driver.Page[T]) error {
			if p.Next != "" && seen[p.Next] {
				violation = fmt.Errorf("page cursor %q repeats: the list does not end", p.Next)
				return violation
			}
			seen[p.Next] = true
			out = append(out, p.Items...)
			if len(out) > maxInventory {
				violation = fmt.Errorf("more than %d items", maxInventory)
				return violation
			}
			return nil
		})
	})
	if violation != nil {
		return nil, s.violation(call, violation)
	}
	if err != nil {
		return nil, s.portError(call, err)
	}
	return out, nil
}

func (s *system) syncInventory(ctx context.Context) (int, error) {
	locks, err := listAll(ctx, s, "ListLocks", driver.Driver.ListLocks)
	if err != nil {
		return 0, err
	}
	keys, err := listAll(ctx, s, "ListKeys", driver.Driver.ListKeys)
	if err != nil {
		return 0, err
	}
	persons, err := listAll(ctx, s, "ListPersons", driver.Driver.ListPersons)
	if err != nil {
		return 0, err
	}
	aos, err := listAll(ctx, s, "ListAccessObjects", driver.Driver.ListAccessObjects)
	if err != nil {
		return 0, err
	}
	s.mu.Lock()
	remote := s.info.Capabilities.RemoteKeyUpdate
	s.mu.Unlock()
	inv, call, err := buildInventory(locks, keys, persons, aos, remote)
	if err != nil {
		return 0, s.violation(call, err)
	}
	return s.h.eng.SyncInventory(ctx, s.id, inv)
}

// buildInventory checks the driver's lists against each other and turns them
// into the engine's inventory: each lock with the access objects that open
// it, each key with its holder's external person id (the correlation key).
// It names the call whose data is at fault.
func buildInventory(locks []driver.Lock, keys []driver.Key, persons []driver.Person, aos []driver.AccessObject, remote bool) (engine.Inventory, string, error) {
	lockIdx := map[string]int{}
	for i, l := range locks {
		if l.ID == "" {
			return engine.Inventory{}, "ListLocks", fmt.Errorf("lock %d has no id", i)
		}
		if _, dup := lockIdx[l.ID]; dup {
			return engine.Inventory{}, "ListLocks", fmt.Errorf("lock %s listed twice", l.ID)
		}
		lockIdx[l.ID] = i
	}
	ext := map[string]string{}
	for i, p := range persons {
		if p.ID == "" {
			return engine.Inventory{}, "ListPersons", fmt.Errorf("person %d has no id", i)
		}
		if _, dup := ext[p.ID]; dup {
			return engine.Inventory{}, "ListPersons", fmt.Errorf("person %s listed twice", p.ID)
		}
		ext[p.ID] = p.ExternalID
	}
	opens := make([][]string, len(locks))
	seenAO := map[string]bool{}
	for i, a := range aos {
		if a.ID == "" {
			return engine.Inventory{}, "ListAccessObjects", fmt.Errorf("access object %d has no id", i)
		}
		if seenAO[a.ID] {
			return engine.Inventory{}, "ListAccessObjects", fmt.Errorf("access object %s listed twice", a.ID)
		}
		seenAO[a.ID] = true
		for _, lid := range a.LockIDs {
			li, ok := lockIdx[lid]
			if !ok {
				return engine.Inventory{}, "ListAccessObjects", fmt.Errorf("access object %s opens lock %q, which ListLocks does not list", a.ID, lid)
			}
			if !slices.Contains(opens[li], a.ID) {
				opens[li] = append(opens[li], a.ID)
			}
		}
	}
	inv := engine.Inventory{Complete: true}
	for i, l := range locks {
		objs := opens[i]
		slices.Sort(objs)
		inv.Locks = append(inv.Locks, engine.InventoryLock{VendorID: l.ID, Name: l.Name, AccessObjects: objs, Online: l.Online})
	}
	seenKey := map[string]bool{}
	for i, k := range keys {
		if k.ID == "" {
			return engine.Inventory{}, "ListKeys", fmt.Errorf("key %d has no id", i)
		}
		if seenKey[k.ID] {
			return engine.Inventory{}, "ListKeys", fmt.Errorf("key %s listed twice", k.ID)
		}
		seenKey[k.ID] = true
		typ, ok := keyTypes[k.Type]
		if !ok {
			return engine.Inventory{}, "ListKeys", fmt.Errorf("key %s: type %q is not a contract key type", k.ID, k.Type)
		}
		custody, ok := custodies[k.State]
		if !ok {
			return engine.Inventory{}, "ListKeys", fmt.Errorf("key %s: state %q is not a contract key state", k.ID, k.State)
		}
		ik := engine.InventoryKey{VendorID: k.ID, Type: typ, Custody: custody, Label: k.Label, Remote: remote && typ == domain.KeyPhone}
		if k.Programmed != nil {
			acc, err := accessToDomain(*k.Programmed)
			if err != nil {
				return engine.Inventory{}, "ListKeys", fmt.Errorf("key %s: programmed access: %v", k.ID, err)
			}
			ik.Access = &acc
		}
		if k.HolderID != "" {
			ref, ok := ext[k.HolderID]
			if !ok {
				return engine.Inventory{}, "ListKeys", fmt.Errorf("key %s is held by person %q, whom ListPersons does not list", k.ID, k.HolderID)
			}
			ik.HolderRef = ref
		}
		inv.Keys = append(inv.Keys, ik)
	}
	return inv, "", nil
}

var keyTypes = map[driver.KeyType]domain.KeyType{
	driver.KeyPhysical: domain.KeyPhysical, driver.KeyFob: domain.KeyFob, driver.KeyPhone: domain.KeyPhone,
	driver.KeyTag: domain.KeyTag, driver.KeyProgramming: domain.KeyProgramming,
}

var custodies = map[driver.KeyState]domain.Custody{
	"": "", driver.KeyPlanning: domain.CustodyPlanning, driver.KeyHandedOut: domain.CustodyHandedOut,
	driver.KeyReturned: domain.CustodyReturned, driver.KeyLost: domain.CustodyLost, driver.KeyBlocked: domain.CustodyBlocked,
}
