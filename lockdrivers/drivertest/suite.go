package drivertest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/lockdrivers/driver"
)

func testInfo(e *env) {
	assert.NoError(e.t, e.info.Validate())
	assert.NotEmpty(e.t, e.info.Vendor, "Info.Vendor")
	assert.NotEmpty(e.t, e.info.DriverVersion, "Info.DriverVersion")
	assert.Contains(e.t, e.info.ContractVersions, driver.ContractVersion, "Info.ContractVersions")
	require.NotEmpty(e.t, e.info.ConfigSchema, "Info.ConfigSchema")
	var schema map[string]any
	assert.NoError(e.t, json.Unmarshal(e.info.ConfigSchema, &schema), "ConfigSchema is a JSON object")
	h, err := e.d.Health(e.ctx)
	require.NoError(e.t, err, "Health")
	assert.Equal(e.t, driver.HealthServing, h.Status, "Health against a running simulator: %s", h.Message)
}

func testConfigureInvalid(e *env) {
	cases := []struct {
		name     string
		settings string
	}{
		{"empty object", `{}`},
		{"not json", `{"url": `},
		{"wrong shape", `[1, 2]`},
	}
	for _, c := range cases {
		e.t.Run(c.name, func(t *testing.T) {
			err := e.d.Configure(e.ctx, driver.Config{LockSystem: "conformance", Settings: json.RawMessage(c.settings)})
			require.Error(t, err)
			assert.Equal(t, driver.KindInvalid, driver.KindOf(err), "Configure(%s): %v", c.settings, err)
			var de *driver.Error
			if assert.ErrorAs(t, err, &de) {
				assert.NotEmpty(t, de.Problems, "Configure(%s) names its problems", c.settings)
			}
		})
	}
	// The driver still works with its good configuration.
	require.NoError(e.t, e.d.Configure(e.ctx, e.sim.Config))
	_, err := e.d.Health(e.ctx)
	require.NoError(e.t, err)
}

func testInventoryPaging(e *env) {
	fx := e.sim.Fixture
	lockID := func(l driver.Lock) string { return l.ID }
	keyID := func(k driver.Key) string { return k.ID }
	personID := func(p driver.Person) string { return p.ID }
	aoID := func(a driver.AccessObject) string { return a.ID }
	e.t.Run("locks", func(t *testing.T) { checkList(e, t, "ListLocks", e.d.ListLocks, lockID, fx.Locks) })
	e.t.Run("keys", func(t *testing.T) { checkList(e, t, "ListKeys", e.d.ListKeys, keyID, fx.Keys) })
	e.t.Run("persons", func(t *testing.T) { checkList(e, t, "ListPersons", e.d.ListPersons, personID, fx.Persons) })
	e.t.Run("access-objects", func(t *testing.T) {
		checkList(e, t, "ListAccessObjects", e.d.ListAccessObjects, aoID, fx.AccessObjects)
	})
	// Keys carry holders that exist among the persons.
	persons := map[string]bool{}
	require.NoError(e.t, e.d.ListPersons(e.ctx, driver.ListRequest{}, func(p driver.Page[driver.Person]) error {
		for _, it := range p.Items {
			persons[it.ID] = true
		}
		return nil
	}))
	ks := keys(e)
	for _, id := range fx.KeyIDs {
		k, ok := ks[id]
		if assert.True(e.t, ok, "fixture key %s in inventory", id) {
			assert.True(e.t, persons[k.HolderID], "key %s holder %q is a listed person", id, k.HolderID)
		}
	}
}

func checkList[T any](e *env, t *testing.T, name string, list listFunc[T], id func(T) string, want int) {
	sub := e.with(t)
	all := collect(sub, name, list, 0, id)
	assert.Len(t, all, want, "%s: seeded count", name)
	for _, size := range []int{1, 2} {
		got := collect(sub, name, list, size, id)
		assert.ElementsMatch(t, all, got, "%s with page size %d", name, size)
		assert.Len(t, got, len(uniq(got)), "%s with page size %d has duplicates", name, size)
	}
	next, n := firstPageCursor(sub, list, 2)
	require.NotEmpty(t, next, "%s: first page of 2 of %d items has no cursor", name, want)
	rest := resumeFrom(sub, list, next, 2, id)
	assert.Len(t, rest, want-n, "%s resumed from the first page's cursor", name)
	assert.Subset(t, all, rest)
}

func uniq(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return slices.Compact(out)
}

func testSetKeyAccessIdempotent(e *env) {
	fx := e.sim.Fixture
	key, ao := fx.KeyIDs[0], fx.AccessObjectIDs[0]
	before := lastSeq(e)
	d1 := setAccess(e, key, "idem-1", ao)
	assert.Contains(e.t, pendingStates, d1.State, "first answer")
	assert.NotEmpty(e.t, d1.ChangeID, "a change has a vendor change id")
	first := changedCount(e, before, key)
	assert.Positive(e.t, first, "the simulator saw no change for key %s", key)

	d2 := setAccess(e, key, "idem-1", ao)
	assert.Equal(e.t, d1.ChangeID, d2.ChangeID, "same idempotency key, same change")
	assert.Equal(e.t, first, changedCount(e, before, key), "the repeated call changed the simulator again")
	assert.Empty(e.t, changedTwice(e, before), "changes applied twice")

	// The same desired access under a new idempotency key is no new change
	// either: SetKeyAccess is declarative.
	setAccess(e, key, "idem-2", ao)
	assert.Empty(e.t, changedTwice(e, before), "same access under a new key applied twice")
}

func testPlan(e *env) {
	fx := e.sim.Fixture
	key, a, b := fx.KeyIDs[0], fx.AccessObjectIDs[0], fx.AccessObjectIDs[1]
	setAccess(e, key, "plan-base", a)
	deliver(e, key)
	before := lastSeq(e)
	p, err := e.d.Plan(e.ctx, driver.SetKeyAccessRequest{
		IdempotencyKey: "plan-1", KeyID: key, Access: driver.KeyAccess{AccessObjectIDs: []string{b}},
	})
	require.NoError(e.t, err)
	assert.False(e.t, p.NoChange)
	assert.Equal(e.t, []string{b}, p.Added)
	assert.Equal(e.t, []string{a}, p.Removed)
	assert.Contains(e.t, pendingStates, p.Expected)
	assert.Zero(e.t, changedCount(e, before, key), "Plan changed the simulator")
	planNoChange(e, key, a)
}

func testDeliveryProgression(e *env) {
	fx := e.sim.Fixture
	key, a := fx.KeyIDs[0], fx.AccessObjectIDs[0]
	lock := exclusiveLock(e, a)
	cursor := lastCursor(e)
	d := setAccess(e, key, "deliver-1", a)
	require.Contains(e.t, pendingStates, d.State)
	if d.State == driver.DeliveryNeedsAction {
		require.NotNil(e.t, d.NeedsAction, "needs-action without NeedsAction")
		assert.NotEmpty(e.t, d.NeedsAction.Reason, "needs-action has a human reason")
		assert.NotEqual(e.t, driver.ActionNone, d.NeedsAction.Action, "needs-action names the action")
	}
	deliver(e, key)

	var states []driver.DeliveryState
	for _, c := range changes(e, cursor) {
		if c.Delivery != nil && c.Delivery.KeyID == key && c.Delivery.Delivery.ChangeID == d.ChangeID {
			states = append(states, c.Delivery.Delivery.State)
		}
	}
	require.NotEmpty(e.t, states, "no delivery change for change %s after the key was delivered", d.ChangeID)
	assert.Equal(e.t, driver.DeliveryApplied, states[len(states)-1], "delivery states %v", states)
	for i := 1; i < len(states); i++ {
		assert.Less(e.t, progress[states[i-1]], progress[states[i]], "delivery states go forward: %v", states)
	}
	k := keys(e)[key]
	if k.Programmed != nil {
		assert.Equal(e.t, []string{a}, k.Programmed.AccessObjectIDs, "programmed access after delivery")
	}
	assert.True(e.t, use(e, key, lock).Opened, "key %s at lock %s after delivery", key, lock)
	planNoChange(e, key, a)
}

func testRevocationEffectiveBy(e *env) {
	fx := e.sim.Fixture
	key, a, b := fx.KeyIDs[0], fx.AccessObjectIDs[0], fx.AccessObjectIDs[1]
	lockB := exclusiveLock(e, b)
	setAccess(e, key, "revoke-1", a, b)
	deliver(e, key)
	require.True(e.t, use(e, key, lockB).Opened, "key %s opens %s before the revocation", key, lockB)

	now := simNow(e)
	d := setAccess(e, key, "revoke-2", a)
	require.NotNil(e.t, d.Removal, "a removal answers an effective-by")
	assert.Equal(e.t, []string{b}, d.Removal.AccessObjectIDs)
	if d.Removal.Unbounded {
		assert.True(e.t, d.Removal.EffectiveBy.IsZero(), "unbounded removal with an effective-by time")
		deliver(e, key)
	} else {
		require.False(e.t, d.Removal.EffectiveBy.IsZero(), "bounded removal without effective-by")
		assert.False(e.t, d.Removal.EffectiveBy.Before(now), "effective-by %s lies before the change (%s)", d.Removal.EffectiveBy, now)
		// Without delivering the key, the revocation holds once effective-by
		// has passed.
		require.NoError(e.t, e.sim.Control.SetTime(e.ctx, d.Removal.EffectiveBy.Add(time.Minute)))
	}
	r := use(e, key, lockB)
	assert.False(e.t, r.Opened, "key %s still opens %s after effective-by", key, lockB)
}

func testBlock(e *env) {
	fx := e.sim.Fixture
	key, a := fx.KeyIDs[0], fx.AccessObjectIDs[0]
	lock := exclusiveLock(e, a)
	setAccess(e, key, "block-access", a)
	deliver(e, key)
	require.True(e.t, use(e, key, lock).Opened)
	cursor := lastCursor(e)

	before := lastSeq(e)
	res, err := e.d.BlockKey(e.ctx, driver.BlockKeyRequest{IdempotencyKey: "block-1", KeyID: key, Reason: "conformance"})
	if !e.info.Capabilities.LockBlocklist {
		if err != nil {
			assert.Contains(e.t, []driver.Kind{driver.KindInvalid, driver.KindNeedsAction}, driver.KindOf(err))
		}
		e.t.Skip("driver has no LockBlocklist capability")
	}
	require.NoError(e.t, err, "BlockKey")
	assert.NoError(e.t, res.Validate())
	again, err := e.d.BlockKey(e.ctx, driver.BlockKeyRequest{IdempotencyKey: "block-1", KeyID: key})
	require.NoError(e.t, err, "BlockKey again")
	assert.Equal(e.t, res.Delivery.ChangeID, again.Delivery.ChangeID)
	assert.Empty(e.t, changedTwice(e, before), "block applied twice")
	for _, lp := range res.Locks {
		if lp.State == driver.PropagationPending {
			require.NoError(e.t, e.sim.Control.VisitLock(e.ctx, lp.LockID))
		}
	}
	assert.False(e.t, use(e, key, lock).Opened, "blocked key %s opens %s", key, lock)
	blocks := 0
	for _, c := range changes(e, cursor) {
		if c.Block != nil && c.Block.KeyID == key && c.Block.Blocked {
			blocks++
		}
	}
	if len(res.Locks) > 0 {
		assert.Positive(e.t, blocks, "no block propagation change for key %s", key)
	}
	assert.Equal(e.t, driver.KeyBlocked, keys(e)[key].State)

	un, err := e.d.UnblockKey(e.ctx, driver.BlockKeyRequest{IdempotencyKey: "unblock-1", KeyID: key})
	require.NoError(e.t, err, "UnblockKey")
	assert.NoError(e.t, un.Validate())
	for _, lp := range un.Locks {
		if lp.State == driver.PropagationPending {
			require.NoError(e.t, e.sim.Control.VisitLock(e.ctx, lp.LockID))
		}
	}
	assert.True(e.t, use(e, key, lock).Opened, "unblocked key %s at %s", key, lock)
}

func testChangesResume(e *env) {
	fx := e.sim.Fixture
	key, a := fx.KeyIDs[0], fx.AccessObjectIDs[0]
	lock := exclusiveLock(e, a)
	setAccess(e, key, "changes-1", a)
	deliver(e, key)
	for range 3 {
		use(e, key, lock)
		use(e, fx.KeyIDs[1], lock)
	}
	all := changes(e, "")
	require.GreaterOrEqual(e.t, len(all), 4, "changes after a delivery and six key uses")
	ids := make([]string, len(all))
	for i, c := range all {
		ids[i] = c.ID
		assert.NotEmpty(e.t, c.ID, "change %d has no vendor id", i)
		assert.NotEmpty(e.t, c.Cursor, "change %s has no cursor", c.ID)
		assert.NotEmpty(e.t, c.Kind, "change %s has no kind", c.ID)
	}
	assert.Len(e.t, uniq(ids), len(ids), "duplicate change ids in %v", ids)
	events := 0
	for _, c := range all {
		if c.LockEvent != nil {
			events++
		}
	}
	assert.GreaterOrEqual(e.t, events, 6, "lock events for six key uses")

	for _, mid := range []int{0, len(all) / 2, len(all) - 1} {
		rest := changes(e, all[mid].Cursor)
		restIDs := make([]string, len(rest))
		for i, c := range rest {
			restIDs[i] = c.ID
		}
		assert.Equal(e.t, ids[mid+1:], restIDs, "resume after change %d", mid)
	}
	// A limit caps one call; the cursor continues.
	var limited []driver.Change
	require.NoError(e.t, e.d.Changes(e.ctx, driver.ChangesRequest{Limit: 2}, func(c driver.Change) error {
		limited = append(limited, c)
		return nil
	}))
	assert.LessOrEqual(e.t, len(limited), 2)
	// New events after the last cursor, and only they, come next.
	use(e, key, lock)
	newer := changes(e, all[len(all)-1].Cursor)
	require.NotEmpty(e.t, newer)
	for _, c := range newer {
		assert.NotContains(e.t, ids, c.ID, "change %s handed out twice", c.ID)
	}
}

func testWebhook(e *env) {
	fx := e.sim.Fixture
	key, a := fx.KeyIDs[0], fx.AccessObjectIDs[0]
	if !e.info.Capabilities.Webhooks {
		_, err := e.d.HandleWebhook(e.ctx, driver.Webhook{Body: []byte(`{}`)})
		require.Error(e.t, err, "HandleWebhook without the Webhooks capability")
		assert.Equal(e.t, driver.KindInvalid, driver.KindOf(err))
		e.t.Skip("driver has no Webhooks capability")
	}
	lock := exclusiveLock(e, a)
	setAccess(e, key, "hook-1", a)
	deliver(e, key)
	use(e, key, lock)
	hooks, err := e.sim.Control.Webhooks(e.ctx, 0)
	require.NoError(e.t, err)
	require.NotEmpty(e.t, hooks, "the simulator emitted no webhook")
	var got []driver.Change
	for _, h := range hooks {
		cs, err := e.d.HandleWebhook(e.ctx, driver.Webhook{Header: h.Header, Body: h.Body})
		require.NoError(e.t, err, "HandleWebhook %d", h.Seq)
		for _, c := range cs {
			assert.NoError(e.t, c.Validate())
		}
		got = append(got, cs...)
	}
	opened := false
	for _, c := range got {
		if c.LockEvent != nil && c.LockEvent.KeyID == key && c.LockEvent.LockID == lock && c.LockEvent.Opened {
			opened = true
		}
	}
	assert.True(e.t, opened, "webhooks carry the lock event of key %s at %s", key, lock)

	last := hooks[len(hooks)-1]
	cases := []struct {
		name string
		hook driver.Webhook
	}{
		{"tampered body", driver.Webhook{Header: last.Header, Body: append(bytes.Clone(last.Body), ' ', 'x')}},
		{"no signature", driver.Webhook{Body: last.Body}},
	}
	for _, c := range cases {
		e.t.Run(c.name, func(t *testing.T) {
			_, err := e.d.HandleWebhook(e.ctx, c.hook)
			require.Error(t, err)
			assert.Equal(t, driver.KindUnauthenticated, driver.KindOf(err), "%v", err)
		})
	}
}

func testErrorKinds(e *env) {
	fx := e.sim.Fixture
	key, a := fx.KeyIDs[0], fx.AccessObjectIDs[0]
	cases := []struct {
		name  string
		kinds []driver.Kind
		call  func() error
	}{
		{"unknown key", []driver.Kind{driver.KindNotFound}, func() error {
			_, err := e.d.SetKeyAccess(e.ctx, driver.SetKeyAccessRequest{
				IdempotencyKey: "err-1", KeyID: "no-such-key-4711", Access: driver.KeyAccess{AccessObjectIDs: []string{a}},
			})
			return err
		}},
		{"unknown access object", []driver.Kind{driver.KindNotFound, driver.KindInvalid}, func() error {
			_, err := e.d.SetKeyAccess(e.ctx, driver.SetKeyAccessRequest{
				IdempotencyKey: "err-2", KeyID: key, Access: driver.KeyAccess{AccessObjectIDs: []string{"no-such-access-4711"}},
			})
			return err
		}},
		{"missing idempotency key", []driver.Kind{driver.KindInvalid}, func() error {
			_, err := e.d.SetKeyAccess(e.ctx, driver.SetKeyAccessRequest{
				KeyID: key, Access: driver.KeyAccess{AccessObjectIDs: []string{a}},
			})
			return err
		}},
		{"unknown key to block", []driver.Kind{driver.KindNotFound, driver.KindInvalid}, func() error {
			_, err := e.d.BlockKey(e.ctx, driver.BlockKeyRequest{IdempotencyKey: "err-3", KeyID: "no-such-key-4711"})
			return err
		}},
	}
	for _, c := range cases {
		e.t.Run(c.name, func(t *testing.T) {
			err := c.call()
			require.Error(t, err)
			assert.Contains(t, c.kinds, driver.KindOf(err), "%v", err)
		})
	}
	e.t.Run("simulator crashed", func(t *testing.T) {
		e := e.with(t)
		require.NoError(t, e.sim.Control.Crash(e.ctx))
		_, err := e.d.SetKeyAccess(e.ctx, driver.SetKeyAccessRequest{
			IdempotencyKey: "err-crash", KeyID: key, Access: driver.KeyAccess{AccessObjectIDs: []string{a}},
		})
		require.Error(t, err)
		assert.Equal(t, driver.KindTransient, driver.KindOf(err), "%v", err)
		h, err := e.d.Health(e.ctx)
		if err == nil {
			assert.NotEqual(t, driver.HealthServing, h.Status, "Health while the vendor is down")
		} else {
			assert.Equal(t, driver.KindTransient, driver.KindOf(err))
		}
		require.NoError(t, e.sim.Control.Restart(e.ctx))
		setAccess(e, key, "err-crash", a)
		h, err = e.d.Health(e.ctx)
		require.NoError(t, err)
		assert.Equal(t, driver.HealthServing, h.Status)
	})
}

// batchOp is one SetKeyAccess of a batch.
type batchOp struct {
	key, idem string
	aos       []string
}

// batch gives every fixture key a new desired access, rounds times over, so
// each op differs from the one before it on the same key.
func batch(e *env, rounds int) []batchOp {
	fx := e.sim.Fixture
	var ops []batchOp
	for r := range rounds {
		for i, k := range fx.KeyIDs {
			ao := fx.AccessObjectIDs[(i+r)%len(fx.AccessObjectIDs)]
			ops = append(ops, batchOp{key: k, idem: fmt.Sprintf("batch-%d-%s", r, k), aos: []string{ao}})
		}
	}
	return ops
}

// runBatch runs ops from start on and returns the index of the first op that
// failed with a transient error (the driver was killed), or len(ops).
func runBatch(e *env, ops []batchOp, start int, killAt int) int {
	for i := start; i < len(ops); i++ {
		op := ops[i]
		if i == killAt {
			// Kill the driver while this op is in flight.
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				time.Sleep(time.Millisecond)
				e.conn.Kill()
			}()
			_, err := e.d.SetKeyAccess(e.ctx, driver.SetKeyAccessRequest{
				IdempotencyKey: op.idem, KeyID: op.key, Access: driver.KeyAccess{AccessObjectIDs: op.aos},
			})
			wg.Wait()
			// Requests the killed driver already put on the wire still land;
			// the host's restart backoff gives them this time too.
			time.Sleep(50 * time.Millisecond)
			if err != nil {
				assert.Equal(e.t, driver.KindTransient, driver.KindOf(err), "a killed driver's call: %v", err)
			}
			return i
		}
		_, err := e.d.SetKeyAccess(e.ctx, driver.SetKeyAccessRequest{
			IdempotencyKey: op.idem, KeyID: op.key, Access: driver.KeyAccess{AccessObjectIDs: op.aos},
		})
		require.NoError(e.t, err, "batch op %d", i)
	}
	return len(ops)
}

// checkBatch asserts the simulator holds the batch's final desired state and
// no change of the batch was applied twice.
func checkBatch(e *env, ops []batchOp, before int64) {
	final := map[string][]string{}
	for _, op := range ops {
		final[op.key] = op.aos
	}
	for k, aos := range final {
		planNoChange(e, k, aos...)
		assert.Equal(e.t, aos, keys(e)[k].Planned.AccessObjectIDs, "key %s planned access", k)
	}
	// Per key and vendor operation, each desired state of the batch may be
	// sent once. Rounds give each key len(ops)/len(keys) states.
	perKey := len(ops) / len(final)
	reqs, err := e.sim.Control.Requests(e.ctx, before+1)
	require.NoError(e.t, err)
	count := map[[2]string]int{}
	for _, r := range reqs {
		if r.Changed && final[r.Target] != nil {
			count[[2]string{r.Target, r.Op}]++
		}
	}
	for k, n := range count {
		assert.LessOrEqual(e.t, n, perKey, "key %s: %s applied %d times for %d desired states", k[0], k[1], n, perKey)
	}
}

func testRestartMidBatch(e *env) {
	before := lastSeq(e)
	ops := batch(e, 1)
	killAt := len(ops) / 2
	i := runBatch(e, ops, 0, killAt)
	require.Equal(e.t, killAt, i)
	e.reconnect()
	// The host retries the op in flight with the same idempotency key.
	require.Equal(e.t, len(ops), runBatch(e, ops, killAt, -1))
	checkBatch(e, ops, before)
}

func testBatchRepeatedKills(e *env) {
	before := lastSeq(e)
	rounds := max(1, 100/len(e.sim.Fixture.KeyIDs))
	ops := batch(e, rounds)
	kills := []int{len(ops) / 5, len(ops) / 2, len(ops) * 4 / 5}
	start := 0
	for _, k := range kills {
		start = runBatch(e, ops, start, k)
		e.reconnect()
	}
	require.Equal(e.t, len(ops), runBatch(e, ops, start, -1))
	checkBatch(e, ops, before)
}

func testBatchSimCrash(e *env) {
	before := lastSeq(e)
	ops := batch(e, 2)
	half := len(ops) / 2
	require.Equal(e.t, half, runBatch(e, ops[:half], 0, -1))
	require.NoError(e.t, e.sim.Control.Crash(e.ctx))
	_, err := e.d.SetKeyAccess(e.ctx, driver.SetKeyAccessRequest{
		IdempotencyKey: ops[half].idem, KeyID: ops[half].key, Access: driver.KeyAccess{AccessObjectIDs: ops[half].aos},
	})
	require.Error(e.t, err)
	assert.Equal(e.t, driver.KindTransient, driver.KindOf(err), "%v", err)
	require.NoError(e.t, e.sim.Control.Restart(e.ctx))
	require.Equal(e.t, len(ops), runBatch(e, ops, half, -1))
	checkBatch(e, ops, before)
}

func testChangesFollow(e *env) {
	fx := e.sim.Fixture
	key, a := fx.KeyIDs[0], fx.AccessObjectIDs[0]
	lock := exclusiveLock(e, a)
	setAccess(e, key, "follow-1", a)
	deliver(e, key)
	cursor := lastCursor(e)
	ctx, cancel := context.WithTimeout(e.ctx, 20*time.Second)
	defer cancel()
	got := make(chan driver.Change, 100)
	done := make(chan error, 1)
	go func() {
		done <- e.d.Changes(ctx, driver.ChangesRequest{Cursor: cursor, Follow: true, PollInterval: 20 * time.Millisecond},
			func(c driver.Change) error {
				got <- c
				return nil
			})
	}()
	use(e, key, lock)
	seen := map[string]bool{}
	for {
		select {
		case c := <-got:
			assert.False(e.t, seen[c.ID], "change %s handed out twice", c.ID)
			seen[c.ID] = true
			if c.LockEvent != nil && c.LockEvent.KeyID == key {
				cancel()
				assert.NoError(e.t, <-done, "Changes ends without error when the caller cancels")
				return
			}
		case err := <-done:
			e.t.Fatalf("follow stream ended early: %v", err)
		case <-ctx.Done():
			e.t.Fatal("no lock event arrived on the follow stream")
		}
	}
}

func testCustody(e *env) {
	fx := e.sim.Fixture
	key := fx.KeyIDs[len(fx.KeyIDs)-1]
	before := lastSeq(e)
	want := driver.Person{ExternalID: "drivertest-E9001", Name: "Conformance Person", Email: "conformance@example.com"}
	p, err := e.d.EnsurePerson(e.ctx, driver.EnsurePersonRequest{IdempotencyKey: "person-1", Person: want})
	if driver.KindOf(err) == driver.KindNeedsAction {
		e.t.Skipf("driver cannot create persons through the vendor API: %v", err)
	}
	require.NoError(e.t, err, "EnsurePerson")
	assert.NotEmpty(e.t, p.ID, "EnsurePerson returns the vendor id")
	assert.Equal(e.t, want.ExternalID, p.ExternalID, "the correlation key is written to the vendor")
	again, err := e.d.EnsurePerson(e.ctx, driver.EnsurePersonRequest{IdempotencyKey: "person-2", Person: want})
	require.NoError(e.t, err, "EnsurePerson again")
	assert.Equal(e.t, p.ID, again.ID, "EnsurePerson finds the person it created")
	assert.Empty(e.t, changedTwice(e, before), "person created twice")

	steps := []struct {
		name string
		call func(idem string) (driver.Key, error)
		// states are the acceptable custody states afterwards (a vendor
		// without a "returned" state shows a returned key back in stock).
		states []driver.KeyState
	}{
		{"assign", func(idem string) (driver.Key, error) {
			return e.d.AssignKey(e.ctx, driver.AssignKeyRequest{IdempotencyKey: idem, KeyID: key, PersonID: p.ID})
		}, []driver.KeyState{driver.KeyHandedOut}},
		{"return", func(idem string) (driver.Key, error) {
			return e.d.ReturnKey(e.ctx, driver.KeyRequest{IdempotencyKey: idem, KeyID: key})
		}, []driver.KeyState{driver.KeyReturned, driver.KeyPlanning}},
		{"lost", func(idem string) (driver.Key, error) {
			return e.d.ReportKeyLost(e.ctx, driver.KeyRequest{IdempotencyKey: idem, KeyID: key})
		}, []driver.KeyState{driver.KeyLost}},
	}
	for _, st := range steps {
		e.t.Run(st.name, func(t *testing.T) {
			e := e.with(t)
			if st.name == "return" && !e.info.Capabilities.KeyReturn {
				t.Skip("driver has no KeyReturn capability")
			}
			since := lastSeq(e)
			k, err := st.call(st.name + "-1")
			if driver.KindOf(err) == driver.KindNeedsAction {
				t.Skipf("a person must act: %v", err)
			}
			require.NoError(t, err)
			assert.NoError(t, k.Validate())
			assert.Contains(t, st.states, k.State)
			switch st.name {
			case "assign":
				assert.Equal(t, p.ID, k.HolderID)
			case "return":
				assert.Empty(t, k.HolderID, "a returned key has no holder")
			}
			_, err = st.call(st.name + "-1")
			require.NoError(t, err, "repeated with the same idempotency key")
			assert.Empty(t, changedTwice(e, since), "%s applied twice", st.name)
			assert.Contains(t, st.states, keys(e)[key].State, "inventory after %s", st.name)
		})
	}
}
