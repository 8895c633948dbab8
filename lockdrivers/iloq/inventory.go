package iloq

import (
	"context"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/keyward/keyward/lockdrivers/driver"
	"github.com/keyward/keyward/lockdrivers/iloq/iloqapi"
)

// defaultPage is the page size when the host leaves it to the driver.
const defaultPage = 500

// The iLOQ lists have no paging: each is read whole, sorted by id, and cut
// into pages. A cursor is the last id of the page before, so resuming works
// even when items were added or removed in between.

// pages cuts items sorted by id into pages from cursor on and yields them.
func pages[T any](items []T, id func(T) string, req driver.ListRequest, yield func(driver.Page[T]) error) error {
	sort.Slice(items, func(i, j int) bool { return id(items[i]) < id(items[j]) })
	start := sort.Search(len(items), func(i int) bool { return id(items[i]) > req.Cursor })
	size := req.PageSize
	if size <= 0 {
		size = defaultPage
	}
	if start >= len(items) {
		return yield(driver.Page[T]{Items: []T{}})
	}
	for i := start; i < len(items); i += size {
		end := min(i+size, len(items))
		p := driver.Page[T]{Items: items[i:end]}
		if end < len(items) {
			p.Next = id(items[end-1])
		}
		if err := yield(p); err != nil {
			return err
		}
	}
	return nil
}

// ListLocks lists the locking system's locks.
func (d *Driver) ListLocks(ctx context.Context, req driver.ListRequest, yield func(driver.Page[driver.Lock]) error) error {
	c, err := d.client("iloq: list locks")
	if err != nil {
		return err
	}
	locks, err := c.ListLocks(ctx)
	if err != nil {
		return err
	}
	out := make([]driver.Lock, 0, len(locks))
	for _, l := range locks {
		out = append(out, toLock(l))
	}
	return pages(out, func(l driver.Lock) string { return l.ID }, req, yield)
}

var lockKinds = map[int]string{0: "s10", 1: "s10-network", 2: "s50", 3: "c5-cylinder", 4: "s5-online", 5: "d5-door"}

func toLock(l iloqapi.Lock) driver.Lock {
	name := l.Description
	if name == "" {
		name = l.LocationCode
	}
	kind := lockKinds[l.LockType]
	if kind == "" {
		kind = "lock-type-" + strconv.Itoa(l.LockType)
	}
	attrs := map[string]string{}
	for k, v := range map[string]string{"location_code": l.LocationCode, "locking_object": l.LockingObject,
		"zone_id": l.ZoneID, "real_estate_id": l.RealEstateID, "lock_code": l.LockCode} {
		if v != "" {
			attrs[k] = v
		}
	}
	return driver.Lock{ID: strings.ToLower(l.FLockID), Name: name, Kind: kind,
		Online: l.LockType == 1 || l.LockType == 4, Attributes: attrs}
}

// ListPersons lists the locking system's persons.
func (d *Driver) ListPersons(ctx context.Context, req driver.ListRequest, yield func(driver.Page[driver.Person]) error) error {
	c, err := d.client("iloq: list persons")
	if err != nil {
		return err
	}
	ps, err := c.ListPersons(ctx)
	if err != nil {
		return err
	}
	out := make([]driver.Person, 0, len(ps))
	for _, p := range ps {
		out = append(out, toPerson(p))
	}
	return pages(out, func(p driver.Person) string { return p.ID }, req, yield)
}

func toPerson(p iloqapi.Person) driver.Person {
	return driver.Person{ID: strings.ToLower(p.PersonID), ExternalID: p.ExternalPersonID,
		Name: strings.TrimSpace(p.FirstName + " " + p.LastName), Email: p.EMail}
}

// ListAccessObjects lists the access rights with the locks each opens. API
// access rights have kind "security-access"; standard ones, which only iLOQ
// Manager can put on keys, "security-access-standard".
func (d *Driver) ListAccessObjects(ctx context.Context, req driver.ListRequest,
	yield func(driver.Page[driver.AccessObject]) error) error {
	c, err := d.client("iloq: list access objects")
	if err != nil {
		return err
	}
	rights, err := d.accessRights(ctx, c, true)
	if err != nil {
		return err
	}
	lockMap, err := d.lockAccessMap(ctx, c, req.Cursor == "")
	if err != nil {
		return err
	}
	opens := map[string][]string{}
	for lock, accs := range lockMap {
		for _, a := range accs {
			opens[a] = append(opens[a], strings.ToLower(lock))
		}
	}
	out := make([]driver.AccessObject, 0, len(rights))
	for id, a := range rights {
		if a.Status != iloqapi.AccessActive || (a.Type != iloqapi.AccessTypeAPI && a.Type != iloqapi.AccessTypeStandard) {
			continue
		}
		kind := "security-access"
		if a.Type != iloqapi.AccessTypeAPI {
			kind = "security-access-standard"
		}
		locks := opens[id]
		sort.Strings(locks)
		if locks == nil {
			locks = []string{}
		}
		out = append(out, driver.AccessObject{ID: id, Name: a.Name, Kind: kind, LockIDs: locks})
	}
	return pages(out, func(a driver.AccessObject) string { return a.ID }, req, yield)
}

// ListKeys lists the keys with their planned and programmed access and the
// pending delivery. It reads four views per key, in parallel
// (readConcurrency).
func (d *Driver) ListKeys(ctx context.Context, req driver.ListRequest, yield func(driver.Page[driver.Key]) error) error {
	c, err := d.client("iloq: list keys")
	if err != nil {
		return err
	}
	keys, err := c.ListKeys(ctx)
	if err != nil {
		return err
	}
	bl, err := c.Blocklist(ctx)
	if err != nil {
		return err
	}
	blocked := blockedSet(bl)
	ids := make([]driver.Key, 0, len(keys))
	byID := map[string]iloqapi.Key{}
	for _, k := range keys {
		if k.State == iloqapi.KeyStateDeleted {
			continue
		}
		id := strings.ToLower(k.FNKeyID)
		byID[id] = k
		ids = append(ids, driver.Key{ID: id})
	}
	s, _ := d.config()
	return pages(ids, func(k driver.Key) string { return k.ID }, req, func(p driver.Page[driver.Key]) error {
		var mu sync.Mutex
		err := parallel(ctx, s.ReadConcurrency, len(p.Items), func(i int) error {
			k, err := d.keyDetail(ctx, c, byID[p.Items[i].ID], blocked)
			if err != nil {
				return err
			}
			mu.Lock()
			p.Items[i] = k
			mu.Unlock()
			return nil
		})
		if err != nil {
			return err
		}
		return yield(p)
	})
}

func blockedSet(bl iloqapi.GetS40BlacklistResult) map[string]bool {
	m := map[string]bool{}
	for _, it := range bl.BlacklistItems {
		if it.ChangeType != iloqapi.BlocklistRemoved {
			m[strings.ToLower(it.FNKeyID)] = true
		}
	}
	return m
}

// keyDetail builds keyward's view of one key.
func (d *Driver) keyDetail(ctx context.Context, c *Client, k iloqapi.Key, blocked map[string]bool) (driver.Key, error) {
	loc := c.Location()
	id := k.FNKeyID
	pa, err := c.KeyAccesses(ctx, id, iloqapi.ModePlanned)
	if err != nil {
		return driver.Key{}, err
	}
	ptl, err := c.KeyTimeLimits(ctx, id, iloqapi.ModePlanned)
	if err != nil {
		return driver.Key{}, err
	}
	out := driver.Key{ID: strings.ToLower(id), Label: keyLabel(k), Type: keyType(k.KeyTypeMask),
		State: keyState(k, blocked[strings.ToLower(id)]), HolderID: strings.ToLower(k.PersonID),
		Planned: fromVendor(pa, ptl.KeyTimeLimitSlots, loc)}
	if out.State == driver.KeyReturned {
		out.HolderID = "" // the vendor keeps the last holder on a returned key
	}
	switch {
	case k.IsProgrammed && k.ProgrammingState == iloqapi.ProgProgrammed:
		// Assumption A3: ProgrammingState 3 means the plan is what the key
		// carries, so the last programmed view (mode=2) equals mode=1 and is
		// not read again: half the calls of an inventory sync.
		prog := out.Planned
		out.Programmed = &prog
	case k.IsProgrammed:
		ga, err := c.KeyAccesses(ctx, id, iloqapi.ModeProgrammed)
		if err != nil {
			return driver.Key{}, err
		}
		gtl, err := c.KeyTimeLimits(ctx, id, iloqapi.ModeProgrammed)
		if err != nil {
			return driver.Key{}, err
		}
		prog := fromVendor(ga, gtl.KeyTimeLimitSlots, loc)
		out.Programmed = &prog
	}
	if k.ProgrammingState != iloqapi.ProgProgrammed {
		del := d.progress(k, k.ProgrammingState)
		del.ChangeID = changeID(id, out.Planned)
		out.Pending = &del
	}
	return out, nil
}

func keyLabel(k iloqapi.Key) string {
	switch {
	case k.Description != "" && k.Stamp != "":
		return k.Description + " (" + k.Stamp + ")"
	case k.Description != "":
		return k.Description
	case k.Stamp != "":
		return k.Stamp
	}
	return k.FNKeyID
}
