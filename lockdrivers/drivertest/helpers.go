package drivertest

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/lockdrivers/driver"
	"github.com/keyward/keyward/lockdrivers/simctl"
)

// listFunc is one of the driver's inventory lists.
type listFunc[T any] func(context.Context, driver.ListRequest, func(driver.Page[T]) error) error

// collect reads a whole list with the given page size, checking the page
// contract (size bound, Next set on all but the last page).
func collect[T any](e *env, name string, list listFunc[T], pageSize int, id func(T) string) []string {
	e.t.Helper()
	var ids []string
	var pages []driver.Page[T]
	err := list(e.ctx, driver.ListRequest{PageSize: pageSize}, func(p driver.Page[T]) error {
		pages = append(pages, p)
		for _, it := range p.Items {
			ids = append(ids, id(it))
		}
		return nil
	})
	require.NoError(e.t, err, "%s page size %d", name, pageSize)
	require.NotEmpty(e.t, pages, "%s page size %d: no page at all", name, pageSize)
	for i, p := range pages {
		if pageSize > 0 {
			assert.LessOrEqual(e.t, len(p.Items), pageSize, "%s page %d exceeds page size", name, i)
		}
		if i < len(pages)-1 {
			assert.NotEmpty(e.t, p.Next, "%s page %d of %d has no Next cursor", name, i, len(pages))
		} else {
			assert.Empty(e.t, p.Next, "%s last page has a Next cursor", name)
		}
	}
	return ids
}

// firstPageCursor returns the Next cursor of the first page of a list.
func firstPageCursor[T any](e *env, list listFunc[T], pageSize int) (string, int) {
	e.t.Helper()
	var next string
	n := 0
	stop := fmt.Errorf("stop")
	err := list(e.ctx, driver.ListRequest{PageSize: pageSize}, func(p driver.Page[T]) error {
		next, n = p.Next, len(p.Items)
		return stop
	})
	require.ErrorIs(e.t, err, stop, "a yield error must end the list and come back unchanged")
	return next, n
}

// resumeFrom reads a list from a cursor on.
func resumeFrom[T any](e *env, list listFunc[T], cursor string, pageSize int, id func(T) string) []string {
	e.t.Helper()
	var ids []string
	err := list(e.ctx, driver.ListRequest{Cursor: cursor, PageSize: pageSize}, func(p driver.Page[T]) error {
		for _, it := range p.Items {
			ids = append(ids, id(it))
		}
		return nil
	})
	require.NoError(e.t, err)
	return ids
}

func keys(e *env) map[string]driver.Key {
	e.t.Helper()
	out := map[string]driver.Key{}
	err := e.d.ListKeys(e.ctx, driver.ListRequest{}, func(p driver.Page[driver.Key]) error {
		for _, k := range p.Items {
			assert.NoError(e.t, k.Validate())
			out[k.ID] = k
		}
		return nil
	})
	require.NoError(e.t, err, "ListKeys")
	return out
}

// exclusiveLock returns a lock opened by access object ao and by none of the
// fixture's other access objects.
func exclusiveLock(e *env, ao string) string {
	e.t.Helper()
	opens := map[string][]string{}
	err := e.d.ListAccessObjects(e.ctx, driver.ListRequest{}, func(p driver.Page[driver.AccessObject]) error {
		for _, a := range p.Items {
			opens[a.ID] = a.LockIDs
		}
		return nil
	})
	require.NoError(e.t, err, "ListAccessObjects")
	for _, l := range opens[ao] {
		shared := false
		for _, other := range e.sim.Fixture.AccessObjectIDs {
			if other != ao && slices.Contains(opens[other], l) {
				shared = true
			}
		}
		if !shared {
			return l
		}
	}
	e.t.Fatalf("fixture: access object %s opens no lock of its own (opens %v)", ao, opens[ao])
	return ""
}

// lastSeq returns the newest request sequence number of the simulator.
func lastSeq(e *env) int64 {
	e.t.Helper()
	reqs, err := e.sim.Control.Requests(e.ctx, 0)
	require.NoError(e.t, err, "simctl Requests")
	if len(reqs) == 0 {
		return 0
	}
	return reqs[len(reqs)-1].Seq
}

// changedTwice returns "target op ×n" for every (target, op) the simulator
// logged as Changed more than once after since.
func changedTwice(e *env, since int64) []string {
	e.t.Helper()
	reqs, err := e.sim.Control.Requests(e.ctx, since+1)
	require.NoError(e.t, err, "simctl Requests")
	count := map[[2]string]int{}
	for _, r := range reqs {
		if r.Seq > since && r.Changed {
			count[[2]string{r.Target, r.Op}]++
		}
	}
	var out []string
	for k, n := range count {
		if n > 1 {
			out = append(out, fmt.Sprintf("%s %s ×%d", k[0], k[1], n))
		}
	}
	sort.Strings(out)
	return out
}

// changedCount counts Changed requests after since for one target.
func changedCount(e *env, since int64, target string) int {
	e.t.Helper()
	reqs, err := e.sim.Control.Requests(e.ctx, since+1)
	require.NoError(e.t, err, "simctl Requests")
	n := 0
	for _, r := range reqs {
		if r.Seq > since && r.Changed && r.Target == target {
			n++
		}
	}
	return n
}

// changes reads the change stream from cursor until the driver catches up.
func changes(e *env, cursor string) []driver.Change {
	e.t.Helper()
	var out []driver.Change
	err := e.d.Changes(e.ctx, driver.ChangesRequest{Cursor: cursor}, func(c driver.Change) error {
		assert.NoError(e.t, c.Validate())
		out = append(out, c)
		return nil
	})
	require.NoError(e.t, err, "Changes from %q", cursor)
	return out
}

// lastCursor returns the cursor after the newest change ("" if none).
func lastCursor(e *env) string {
	cs := changes(e, "")
	if len(cs) == 0 {
		return ""
	}
	return cs[len(cs)-1].Cursor
}

func setAccess(e *env, key, idem string, aos ...string) driver.Delivery {
	e.t.Helper()
	d, err := e.d.SetKeyAccess(e.ctx, driver.SetKeyAccessRequest{
		IdempotencyKey: idem, KeyID: key, Access: driver.KeyAccess{AccessObjectIDs: aos},
	})
	require.NoError(e.t, err, "SetKeyAccess %s %v", key, aos)
	assert.NoError(e.t, d.Validate())
	return d
}

func deliver(e *env, key string) {
	e.t.Helper()
	require.NoError(e.t, e.sim.Control.DeliverKey(e.ctx, key, e.sim.Fixture.Via), "simctl DeliverKey %s", key)
}

func use(e *env, key, lock string) simctl.UseResult {
	e.t.Helper()
	r, err := e.sim.Control.UseKey(e.ctx, key, lock)
	require.NoError(e.t, err, "simctl UseKey %s at %s", key, lock)
	return r
}

func simNow(e *env) time.Time {
	e.t.Helper()
	now, err := e.sim.Control.Now(e.ctx)
	require.NoError(e.t, err, "simctl Now")
	return now
}

// pendingStates are the answers a fresh change may get.
var pendingStates = []driver.DeliveryState{
	driver.DeliveryRecorded, driver.DeliveryQueued, driver.DeliveryDelivered,
	driver.DeliveryApplied, driver.DeliveryNeedsAction,
}

var progress = map[driver.DeliveryState]int{
	driver.DeliveryRecorded:  1,
	driver.DeliveryQueued:    2,
	driver.DeliveryDelivered: 3,
	driver.DeliveryApplied:   4,
}

// planNoChange asserts that the key already carries exactly aos.
func planNoChange(e *env, key string, aos ...string) {
	e.t.Helper()
	p, err := e.d.Plan(e.ctx, driver.SetKeyAccessRequest{
		IdempotencyKey: "plan-" + key, KeyID: key, Access: driver.KeyAccess{AccessObjectIDs: aos},
	})
	require.NoError(e.t, err, "Plan %s", key)
	assert.True(e.t, p.NoChange, "key %s: Plan for %v says there is still a change: %+v", key, aos, p)
}
