package host_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/core/domain"
	"github.com/keyward/keyward/core/engine"
	"github.com/keyward/keyward/core/store"
	"github.com/keyward/keyward/lockdrivers/host"
	"github.com/keyward/keyward/lockdrivers/simctl"
)

func TestInventorySyncOnStart(t *testing.T) {
	w := newWorld(t)
	w.startSim("padlock", nil)
	w.startHost(host.Options{ObserveInterval: -1}, w.decl("padlock", padlockBin, padlockSum))
	w.waitFor("inventory sync at start", 10*time.Second, func() bool {
		return len(all[domain.Key](w, store.Eqf("lockSystemId", "padlock"))) == 5
	})

	locks := map[string]*domain.Lock{}
	for _, l := range all[domain.Lock](w, store.Eqf("lockSystemId", "padlock")) {
		locks[l.VendorID] = l
	}
	require.Len(t, locks, 6)
	assert.Equal(t, []string{"grp-north"}, locks["pl-1"].AccessObjects, "a lock carries the access objects that open it")
	assert.Equal(t, []string{"grp-depot"}, locks["pl-6"].AccessObjects)
	assert.True(t, locks["pl-1"].Online)

	keys := map[string]*domain.Key{}
	for _, k := range all[domain.Key](w, store.Eqf("lockSystemId", "padlock")) {
		keys[k.VendorID] = k
	}
	for i, id := range w.ident {
		k := keys[[]string{"cr-1", "cr-2", "cr-3", "cr-4"}[i]]
		require.NotNil(t, k)
		assert.Equal(t, id, k.HolderID, "key %s is correlated by external person id to identity %d", k.VendorID, i)
		assert.Equal(t, domain.CustodyHandedOut, k.Custody)
	}
	assert.Equal(t, domain.KeyPhone, keys["cr-2"].Type)
	assert.Equal(t, domain.KeyFob, keys["cr-1"].Type)
	assert.Empty(t, keys["cr-5"].HolderID, "the unassigned credential has no holder")
}

func TestObserverFollowsChangesFromPersistedCursor(t *testing.T) {
	w := newWorld(t)
	srv := w.startSim("padlock", nil)
	opts := host.Options{ObserveInterval: -1}
	h := w.startHost(opts, w.decl("padlock", padlockBin, padlockSum))
	_, err := h.SyncInventory(w.ctx, "padlock")
	require.NoError(t, err)

	// A grant reaches the phone key through the outbox: queued.
	_, err = w.eng.Execute(w.ctx, engine.Actor{Name: "iga"}, engine.Grant{IdentityID: w.ident[1], EntitlementID: "north"})
	require.NoError(t, err)
	_, err = w.eng.DispatchDue(w.ctx, "padlock", h, engine.DispatchOptions{})
	require.NoError(t, err)
	keyState := func() *domain.KeyState { return w.keyState("padlock:cr-2") }
	require.Equal(t, domain.DeliveryQueued, keyState().Delivery.State)

	// The phone syncs and opens a gate; the observer learns both.
	require.NoError(t, srv.DeliverKey(w.ctx, "cr-2", simctl.ViaPhoneSync))
	use, err := srv.UseKey(w.ctx, "cr-2", "pl-1")
	require.NoError(t, err)
	require.True(t, use.Opened)
	n, err := h.Observe(w.ctx, "padlock")
	require.NoError(t, err)
	assert.Positive(t, n)
	assert.Equal(t, domain.DeliveryApplied, keyState().Delivery.State, "the order's applied event moved the delivery on")
	require.NotNil(t, keyState().LastUsed, "the lock event updated the key's last use")
	evs := all[domain.LockEvent](w, nil)
	require.Len(t, evs, 1)
	assert.Equal(t, use.EventID, evs[0].VendorEventID)
	assert.Equal(t, w.ident[1], evs[0].IdentityID)

	// A new host (keyward restarted) resumes after the persisted cursor:
	// nothing is taken twice, and new events arrive.
	h.Close()
	h2 := w.startHost(opts, w.decl("padlock", padlockBin, padlockSum))
	n, err = h2.Observe(w.ctx, "padlock")
	require.NoError(t, err)
	assert.Zero(t, n, "caught up: the cursor was persisted")
	_, err = srv.UseKey(w.ctx, "cr-2", "pl-3")
	require.NoError(t, err)
	n, err = h2.Observe(w.ctx, "padlock")
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	assert.Len(t, all[domain.LockEvent](w, nil), 2)
}

func TestInventoryCarriesProgrammedAccessForDrift(t *testing.T) {
	w := newWorld(t)
	srv := w.startSim("padlock", nil)
	h := w.startHost(host.Options{ObserveInterval: -1}, w.decl("padlock", padlockBin, padlockSum))
	_, err := w.setAccess("padlock", "cr-2", "drift-1", "grp-south")
	require.NoError(t, err)
	require.NoError(t, srv.DeliverKey(w.ctx, "cr-2", simctl.ViaPhoneSync))
	_, err = h.SyncInventory(w.ctx, "padlock")
	require.NoError(t, err)
	// keyward planned nothing for cr-2, but the lock system says it carries
	// grp-south: that is drift, and the inventory brought it in.
	ks := w.keyState("padlock:cr-2")
	require.NotNil(t, ks.Reported, "the key's reported access is stored")
	assert.Equal(t, []string{"grp-south"}, ks.Reported.AccessObjects)
}
