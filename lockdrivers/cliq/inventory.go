package cliq

import (
	"context"
	"slices"
	"strconv"
	"time"

	"github.com/keyward/keyward/lockdrivers/cliq/cwm"
	"github.com/keyward/keyward/lockdrivers/driver"
)

const (
	defaultPageSize = 500
	// maxPageSize leaves room for the one extra row each page asks for to
	// see whether another page follows, within CWM's 1,000-row pages.
	maxPageSize = cwm.MaxAuditPage - 1
)

func pageParams(op string, req driver.ListRequest) (offset, size int, err error) {
	size = req.PageSize
	if size <= 0 {
		size = defaultPageSize
	}
	size = min(size, maxPageSize)
	if req.Cursor != "" {
		offset, err = strconv.Atoi(req.Cursor)
		if err != nil || offset < 0 {
			return 0, 0, driver.Invalid(op, driver.Problem{Field: "cursor", Message: "not a cursor this driver issued"})
		}
	}
	return offset, size, nil
}

// pageCWM pages a CWM list that takes firstResult/maxResults: it asks one
// row more than it yields to know whether another page follows.
func pageCWM[R, T any](ctx context.Context, op string, req driver.ListRequest,
	fetch func(context.Context, cwm.Pagination) ([]R, error), conv func(R) (T, bool),
	yield func(driver.Page[T]) error) error {
	offset, size, err := pageParams(op, req)
	if err != nil {
		return err
	}
	for {
		rows, err := fetch(ctx, cwm.Pagination{FirstResult: offset, MaxResults: size + 1})
		if err != nil {
			return mapErr(op, err)
		}
		more := len(rows) > size
		if more {
			rows = rows[:size]
		}
		page := driver.Page[T]{Items: make([]T, 0, len(rows))}
		for _, r := range rows {
			if t, ok := conv(r); ok {
				page.Items = append(page.Items, t)
			}
		}
		offset += len(rows)
		if more {
			page.Next = strconv.Itoa(offset)
		}
		if err := yield(page); err != nil {
			return err
		}
		if !more {
			return nil
		}
	}
}

// ListLocks implements driver.Driver: CWM cylinders (not deleted ones).
func (d *Driver) ListLocks(ctx context.Context, req driver.ListRequest, yield func(driver.Page[driver.Lock]) error) error {
	const op = "cliq: list locks"
	_, _, m, err := d.conn(op)
	if err != nil {
		return err
	}
	return pageCWM(ctx, op, req, m.GetCylinders, func(c cwm.Cylinder) (driver.Lock, bool) {
		attrs := map[string]string{"marking": c.Marking}
		for k, v := range map[string]string{"location": c.PlannedLocation, "domain": c.Domain, "model": c.Model} {
			if v != "" {
				attrs[k] = v
			}
		}
		return driver.Lock{ID: c.Identity, Name: c.Name, Kind: "cylinder", Attributes: attrs}, !c.Deleted
	}, yield)
}

// ListKeys implements driver.Driver: all keys with holders, planned and
// programmed access and pending delivery (not deleted ones).
func (d *Driver) ListKeys(ctx context.Context, req driver.ListRequest, yield func(driver.Page[driver.Key]) error) error {
	const op = "cliq: list keys"
	_, _, m, err := d.conn(op)
	if err != nil {
		return err
	}
	jobs, err := m.GetProgrammingJobs(ctx, cwm.JobQuery{PendingOnly: true})
	if err != nil {
		return mapErr(op, err)
	}
	byKey := map[string][]cwm.ProgrammingJob{}
	for _, j := range jobs {
		if j.State == cwm.JobPending {
			byKey[j.KeyIdentity] = append(byKey[j.KeyIdentity], j)
		}
	}
	now := time.Now().UTC()
	return pageCWM(ctx, op, req, func(ctx context.Context, p cwm.Pagination) ([]cwm.KeyState, error) {
		return m.GetKeys(ctx, cwm.KeyQuery{Pagination: p})
	}, func(st cwm.KeyState) (driver.Key, bool) {
		return toKey(st, byKey[st.Identity], now), !st.Deleted
	}, yield)
}

// ListPersons implements driver.Driver. The query API returns all persons
// in one response; the driver pages them itself.
func (d *Driver) ListPersons(ctx context.Context, req driver.ListRequest, yield func(driver.Page[driver.Person]) error) error {
	const op = "cliq: list persons"
	_, c, _, err := d.conn(op)
	if err != nil {
		return err
	}
	offset, size, err := pageParams(op, req)
	if err != nil {
		return err
	}
	// TODO: getPersons has no paging, so every page re-reads all persons;
	// resuming a large inventory from a cursor costs one full read per page.
	all, err := c.GetPersons(ctx)
	if err != nil {
		return mapErr(op, err)
	}
	live := slices.DeleteFunc(all, func(p cwm.Person) bool { return p.Deleted })
	for {
		end := min(offset+size, len(live))
		page := driver.Page[driver.Person]{Items: make([]driver.Person, 0, max(end-offset, 0))}
		for _, p := range live[min(offset, end):end] {
			page.Items = append(page.Items, toPerson(p))
		}
		if end < len(live) {
			page.Next = strconv.Itoa(end)
		}
		if err := yield(page); err != nil {
			return err
		}
		if end >= len(live) {
			return nil
		}
		offset = end
	}
}

// ListAccessObjects implements driver.Driver: access profiles, then
// cylinder groups, each with the cylinders it opens.
func (d *Driver) ListAccessObjects(ctx context.Context, req driver.ListRequest, yield func(driver.Page[driver.AccessObject]) error) error {
	const op = "cliq: list access objects"
	_, _, m, err := d.conn(op)
	if err != nil {
		return err
	}
	offset, size, err := pageParams(op, req)
	if err != nil {
		return err
	}
	groups, err := m.GetCylinderGroups(ctx)
	if err != nil {
		return mapErr(op, err)
	}
	profiles, err := m.GetAccessProfiles(ctx)
	if err != nil {
		return mapErr(op, err)
	}
	members := map[string][]string{}
	var all []driver.AccessObject
	for _, g := range groups {
		members[g.Identity] = g.Cylinders
	}
	for _, p := range profiles {
		if p.Deleted {
			continue
		}
		locks := slices.Clone(p.Cylinders)
		for _, g := range p.CylinderGroups {
			locks = append(locks, members[g]...)
		}
		slices.Sort(locks)
		all = append(all, driver.AccessObject{ID: prefixProfile + p.Identity, Name: p.Name, Kind: "access-profile",
			LockIDs: slices.Compact(locks)})
	}
	for _, g := range groups {
		if g.Deleted {
			continue
		}
		locks := slices.Clone(g.Cylinders)
		slices.Sort(locks)
		all = append(all, driver.AccessObject{ID: prefixGroup + g.Identity, Name: g.Name, Kind: "cylinder-group",
			LockIDs: locks})
	}
	for {
		end := min(offset+size, len(all))
		page := driver.Page[driver.AccessObject]{Items: all[min(offset, end):end]}
		if end < len(all) {
			page.Next = strconv.Itoa(end)
		}
		if err := yield(page); err != nil {
			return err
		}
		if end >= len(all) {
			return nil
		}
		offset = end
	}
}
