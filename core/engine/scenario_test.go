package engine_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/core/audit"
	"github.com/keyward/keyward/core/domain"
	"github.com/keyward/keyward/core/driverport"
	"github.com/keyward/keyward/core/driverport/memlock"
	"github.com/keyward/keyward/core/engine"
	"github.com/keyward/keyward/core/estate"
	"github.com/keyward/keyward/core/store"
	"github.com/keyward/keyward/core/store/sqlite"
)

var t0 = time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)

const testEstate = `
exposure: {critical: 24h, high: 72h, medium: 7d, low: 30d}
lockSystems:
  - {id: alpha, name: Alpha (can block), vendor: memlock, canBlock: true}
  - {id: beta, name: Beta (no blocklist), vendor: memlock}
assets:
  - {id: north, name: North region, kind: region, criticality: high}
  - {id: south, name: South region, kind: region, criticality: high}
  - {id: sub-n1, name: Substation N1, kind: substation, parent: north, criticality: critical}
  - {id: dc-1, name: Data centre 1, kind: data-centre, criticality: critical}
entitlements:
  - id: north
    name: North substations
    criticality: medium
    assets: [north]
    bindings:
      - {lockSystem: alpha, accessObjects: [A-NORTH]}
      - {lockSystem: beta, accessObjects: [B-NORTH]}
  - id: south
    name: South substations
    criticality: medium
    assets: [south]
    bindings:
      - {lockSystem: alpha, accessObjects: [A-SOUTH]}
  - id: dc
    name: Data centre 1
    criticality: critical
    assets: [dc-1]
    maxDuration: 30d
    bindings:
      - {lockSystem: alpha, accessObjects: [A-DC]}
  - id: vault
    name: Vault room
    criticality: high
    bindings:
      - {lockSystem: alpha, accessObjects: [A-VAULT]}
policies:
  - id: fe-north
    name: Field engineers North
    match: [{attribute: function, values: [field engineer]}, {attribute: location, values: [north]}]
    entitlements: [north]
  - id: fe-south
    name: Field engineers South
    match: [{attribute: function, values: [field engineer]}, {attribute: location, values: [south]}]
    entitlements: [south]
  - id: vault-staff
    name: Vault staff
    match: [{attribute: department, values: [treasury]}]
    entitlements: [vault]
    requiresApproval: true
`

type world struct {
	t       *testing.T
	ctx     context.Context
	st      store.Store
	eng     *engine.Engine
	clock   *engine.ManualClock
	alpha   *memlock.System
	beta    *memlock.System
	drivers driverport.Map
	iga     engine.Actor
}

func newWorld(t *testing.T) *world {
	t.Helper()
	ctx := context.Background()
	clock := engine.NewManualClock(t0)
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "keyward.db"), sqlite.WithClock(clock.Now), sqlite.WithRelaxedSync())
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	w := &world{t: t, ctx: ctx, st: st, clock: clock, eng: engine.New(st, engine.Options{Clock: clock}),
		alpha: memlock.New("alpha"), beta: memlock.New("beta"),
		iga: engine.Actor{Name: "entra", Source: domain.Source{Kind: domain.SourceIGA, Name: "entra"}}}
	w.alpha.CanBlock = true
	w.drivers = driverport.Map{"alpha": w.alpha, "beta": w.beta}
	es, err := estate.Parse("test.yaml", []byte(testEstate))
	require.NoError(t, err)
	_, steps, err := estate.Diff(ctx, st, es)
	require.NoError(t, err)
	require.NoError(t, estate.Apply(ctx, w.eng, engine.Actor{Name: "key-manager"}, steps))
	// Inventory: keys already handed out to persons by employee number.
	_, err = w.eng.SyncInventory(ctx, "alpha", engine.Inventory{Keys: []engine.InventoryKey{
		{VendorID: "K-A1", Type: domain.KeyPhone, HolderRef: "E100", Remote: true},
		{VendorID: "K-A2", Type: domain.KeyPhysical, HolderRef: "E200"},
		{VendorID: "K-A3", Type: domain.KeyPhysical},
		{VendorID: "K-A4", Type: domain.KeyPhone, HolderRef: "E400", Remote: true},
	}})
	require.NoError(t, err)
	_, err = w.eng.SyncInventory(ctx, "beta", engine.Inventory{Keys: []engine.InventoryKey{
		{VendorID: "K-B1", Type: domain.KeyPhysical, HolderRef: "E100"},
	}})
	require.NoError(t, err)
	return w
}

func (w *world) exec(steps ...engine.Step) engine.Result {
	w.t.Helper()
	res, err := w.eng.Execute(w.ctx, w.iga, steps...)
	require.NoError(w.t, err)
	return res
}

func (w *world) joiner(user, emp, function, location string) string {
	w.t.Helper()
	res := w.exec(engine.UpsertIdentity{Identity: &domain.Identity{UserName: user, EmployeeNumber: emp, Active: true, Function: function, Location: location}})
	return res.IDs[0]
}

// dispatch runs every due operation of both lock systems.
func (w *world) dispatch() {
	w.t.Helper()
	for _, id := range []string{"alpha", "beta"} {
		_, err := w.eng.DispatchDue(w.ctx, id, w.drivers, engine.DispatchOptions{BaseBackoff: time.Millisecond, MaxBackoff: time.Millisecond})
		require.NoError(w.t, err)
	}
}

// sync delivers a key's pending change and reports it back as the observer would.
func (w *world) sync(ls *memlock.System, vendorID string) {
	w.t.Helper()
	if d, ok := ls.Sync(vendorID); ok {
		require.NoError(w.t, w.eng.RecordDelivery(w.ctx, ls.ID, vendorID, d))
	}
}

func (w *world) keyState(id string) *domain.KeyState {
	w.t.Helper()
	var ks *domain.KeyState
	require.NoError(w.t, w.st.View(w.ctx, func(tx store.Tx) error {
		var err error
		ks, err = store.Get[domain.KeyState](w.ctx, tx, id)
		return err
	}))
	return ks
}

func (w *world) pendingOps(ls string) []*domain.Operation {
	w.t.Helper()
	var ops []*domain.Operation
	require.NoError(w.t, w.st.View(w.ctx, func(tx store.Tx) error {
		var err error
		ops, err = store.All[domain.Operation](w.ctx, tx, store.And{store.Eqf("lockSystemId", ls), store.Eqf("state", "pending")})
		return err
	}))
	return ops
}

func (w *world) grants(identity string) []*domain.Grant {
	w.t.Helper()
	var gs []*domain.Grant
	require.NoError(w.t, w.st.View(w.ctx, func(tx store.Tx) error {
		var err error
		gs, err = store.All[domain.Grant](w.ctx, tx, store.Eqf("identityId", identity))
		return err
	}))
	return gs
}

func (w *world) tasks(identity string) []*domain.Task {
	w.t.Helper()
	var ts []*domain.Task
	require.NoError(w.t, w.st.View(w.ctx, func(tx store.Tx) error {
		var err error
		ts, err = store.All[domain.Task](w.ctx, tx, store.And{store.Eqf("identityId", identity), store.Eqf("state", "open")})
		return err
	}))
	return ts
}

func (w *world) verifyAudit() {
	w.t.Helper()
	rep, err := audit.Verify(w.ctx, w.st)
	require.NoError(w.t, err)
	require.Nil(w.t, rep.Problem)
	require.Positive(w.t, rep.Events)
}

func TestJoinerGetsBirthrightAccessOnEveryKey(t *testing.T) {
	w := newWorld(t)
	id := w.joiner("ada", "E100", "field engineer", "north")

	gs := w.grants(id)
	require.Len(t, gs, 1)
	assert.Equal(t, "north", gs[0].EntitlementID)
	assert.Equal(t, domain.SourcePolicy, gs[0].Source.Kind)
	assert.Equal(t, "fe-north", gs[0].PolicyID)

	opsA, opsB := w.pendingOps("alpha"), w.pendingOps("beta")
	require.Len(t, opsA, 1)
	require.Len(t, opsB, 1)
	assert.Equal(t, []string{"A-NORTH"}, opsA[0].Access.AccessObjects)
	assert.Equal(t, "alpha:K-A1", opsA[0].KeyID)
	assert.Equal(t, "E100", opsA[0].HolderRef)
	assert.Equal(t, []string{"B-NORTH"}, opsB[0].Access.AccessObjects)

	w.dispatch()
	assert.Equal(t, domain.DeliveryQueued, w.keyState("alpha:K-A1").Delivery.State)
	assert.Empty(t, w.pendingOps("alpha"))

	w.sync(w.alpha, "K-A1")
	w.sync(w.beta, "K-B1")
	assert.Equal(t, domain.DeliveryApplied, w.keyState("alpha:K-A1").Delivery.State)
	assert.Equal(t, []string{"A-NORTH"}, w.alpha.Carries("K-A1"))
	assert.Equal(t, []string{"B-NORTH"}, w.beta.Carries("K-B1"))

	// The same identity sent again changes nothing.
	var in *domain.Identity
	require.NoError(t, w.st.View(w.ctx, func(tx store.Tx) error {
		var err error
		in, err = store.Get[domain.Identity](w.ctx, tx, id)
		return err
	}))
	res := w.exec(engine.UpsertIdentity{Identity: in, Expect: in.Version})
	assert.Zero(t, res.Operations)
	w.verifyAudit()
}

func TestPersonWithoutKeyAwaitsKeyThenGetsAccess(t *testing.T) {
	w := newWorld(t)
	id := w.joiner("bob", "E300", "field engineer", "north")
	assert.Empty(t, w.pendingOps("alpha"))
	ts := w.tasks(id)
	require.Len(t, ts, 2, "one hand-out-key task per lock system")
	assert.Equal(t, engine.TaskHandOutKey, ts[0].TaskKind)

	var views []engine.GrantView
	require.NoError(t, w.st.View(w.ctx, func(tx store.Tx) error {
		var err error
		views, err = engine.GrantViews(w.ctx, tx, id, w.clock.Now())
		return err
	}))
	require.Len(t, views, 1)
	for _, d := range views[0].Deliveries {
		assert.Equal(t, domain.DeliveryAwaitingKey, d.State)
	}

	w.exec(engine.AssignKey{KeyID: "alpha:K-A3", IdentityID: id})
	ops := w.pendingOps("alpha")
	require.Len(t, ops, 1)
	assert.Equal(t, []string{"A-NORTH"}, ops[0].Access.AccessObjects)
	ts = w.tasks(id)
	require.Len(t, ts, 1, "alpha's task is done, beta's still open")
	assert.Equal(t, "beta", ts[0].LockSystemID)
}

func TestMoverLosesOldRegionGainsNew(t *testing.T) {
	w := newWorld(t)
	id := w.joiner("ada", "E100", "field engineer", "north")
	w.alpha.SetExpiry("K-A1", t0.Add(24*time.Hour))
	w.dispatch()
	w.sync(w.alpha, "K-A1")

	var in *domain.Identity
	require.NoError(t, w.st.View(w.ctx, func(tx store.Tx) error {
		var err error
		in, err = store.Get[domain.Identity](w.ctx, tx, id)
		return err
	}))
	in.Location = "south"
	w.exec(engine.UpsertIdentity{Identity: in, Expect: in.Version})

	states := map[string]domain.GrantState{}
	for _, g := range w.grants(id) {
		states[g.EntitlementID] = g.State
	}
	assert.Equal(t, map[string]domain.GrantState{"north": domain.GrantRevoked, "south": domain.GrantActive}, states)
	ops := w.pendingOps("alpha")
	require.Len(t, ops, 1)
	assert.Equal(t, []string{"A-SOUTH"}, ops[0].Access.AccessObjects)
	assert.Equal(t, []string{"A-NORTH"}, ops[0].Removed)
	opsB := w.pendingOps("beta")
	require.Len(t, opsB, 1)
	assert.Empty(t, opsB[0].Access.AccessObjects, "beta key loses everything")

	w.dispatch()
	w.sync(w.alpha, "K-A1")
	assert.Equal(t, []string{"A-SOUTH"}, w.alpha.Carries("K-A1"))
	assert.Empty(t, w.keyState("alpha:K-A1").Exposures)
}

func TestLeaverLosesEverythingThenReactivationRestoresIt(t *testing.T) {
	w := newWorld(t)
	id := w.joiner("ada", "E100", "field engineer", "north")
	w.dispatch()
	w.sync(w.alpha, "K-A1")
	w.sync(w.beta, "K-B1")
	expiry := t0.Add(12 * time.Hour)
	w.alpha.SetExpiry("K-A1", expiry)

	w.exec(engine.DeactivateIdentity{ID: id})
	ops := w.pendingOps("alpha")
	require.Len(t, ops, 1)
	assert.Empty(t, ops[0].Access.AccessObjects)
	assert.Equal(t, domain.GrantActive, w.grants(id)[0].State, "deactivation keeps the grant")

	w.dispatch()
	ks := w.keyState("alpha:K-A1")
	assert.Equal(t, domain.DeliveryQueued, ks.Delivery.State, "offline key: pending until its next update")
	require.Len(t, ks.Exposures, 1)
	require.NotNil(t, ks.Exposures[0].EffectiveBy)
	assert.True(t, ks.Exposures[0].EffectiveBy.Equal(expiry), "effective-by is the key's offline expiry")
	assert.False(t, ks.Exposures[0].Escalated, "12 h is within the 7 days a medium entitlement allows")

	w.sync(w.alpha, "K-A1")
	ks = w.keyState("alpha:K-A1")
	assert.Equal(t, domain.DeliveryApplied, ks.Delivery.State)
	assert.Empty(t, ks.Exposures)
	assert.Empty(t, w.alpha.Carries("K-A1"))

	w.exec(engine.ReactivateIdentity{ID: id})
	ops = w.pendingOps("alpha")
	require.Len(t, ops, 1)
	assert.Equal(t, []string{"A-NORTH"}, ops[0].Access.AccessObjects, "the same grant comes back")
	gs := w.grants(id)
	require.Len(t, gs, 1)
	w.verifyAudit()
}

func TestContractorEndDateCapsAndExpires(t *testing.T) {
	w := newWorld(t)
	end := t0.Add(48 * time.Hour)
	res := w.exec(engine.UpsertIdentity{Identity: &domain.Identity{UserName: "carl", EmployeeNumber: "E400", Active: true,
		Function: "field engineer", Location: "north", ContractStatus: "contractor", ContractEnd: &end}})
	id := res.IDs[0]
	ops := w.pendingOps("alpha")
	require.Len(t, ops, 1)
	require.NotNil(t, ops[0].Access.ValidUntil)
	assert.True(t, ops[0].Access.ValidUntil.Equal(end), "the key's validity ends with the contract")
	w.dispatch()
	w.sync(w.alpha, "K-A4")

	w.clock.Set(end.Add(time.Minute))
	n, err := w.eng.Tick(w.ctx)
	require.NoError(t, err)
	assert.Positive(t, n)
	gs := w.grants(id)
	require.Len(t, gs, 1)
	assert.Equal(t, domain.GrantExpired, gs[0].State)
	assert.Equal(t, "contract ended", gs[0].EndReason)
	ops = w.pendingOps("alpha")
	require.Len(t, ops, 1)
	assert.Empty(t, ops[0].Access.AccessObjects)
}

func TestJustInTimeWindowOpensAndCloses(t *testing.T) {
	w := newWorld(t)
	id := w.joiner("dora", "E100", "technician", "east")
	from, until := t0.Add(2*time.Hour), t0.Add(6*time.Hour)
	res := w.exec(engine.Grant{IdentityID: id, EntitlementID: "dc", ValidFrom: &from, ValidUntil: &until,
		Justification: "emergency work CHG-42", Approval: &domain.Approval{Approver: "olga", Reference: "CHG-42"}})
	grantID := res.IDs[0]
	assert.Empty(t, w.pendingOps("alpha"), "nothing before the window opens")

	w.clock.Set(from)
	_, err := w.eng.Tick(w.ctx)
	require.NoError(t, err)
	ops := w.pendingOps("alpha")
	require.Len(t, ops, 1)
	assert.Equal(t, []string{"A-DC"}, ops[0].Access.AccessObjects)
	assert.True(t, ops[0].Access.ValidUntil.Equal(until))
	w.dispatch()
	w.sync(w.alpha, "K-A1")

	w.clock.Set(until)
	_, err = w.eng.Tick(w.ctx)
	require.NoError(t, err)
	ops = w.pendingOps("alpha")
	require.Len(t, ops, 1)
	assert.Empty(t, ops[0].Access.AccessObjects)
	var g *domain.Grant
	for _, x := range w.grants(id) {
		if x.ID == grantID {
			g = x
		}
	}
	require.NotNil(t, g)
	assert.Equal(t, domain.GrantExpired, g.State)
}

func TestGrantAwaitingApproval(t *testing.T) {
	w := newWorld(t)
	res := w.exec(engine.UpsertIdentity{Identity: &domain.Identity{UserName: "tess", EmployeeNumber: "E100", Active: true, Department: "treasury"}})
	id := res.IDs[0]
	gs := w.grants(id)
	require.Len(t, gs, 1)
	assert.Equal(t, domain.GrantRequested, gs[0].State)
	assert.Empty(t, w.pendingOps("alpha"), "a requested grant opens nothing")

	_, err := w.eng.Execute(w.ctx, engine.Actor{Name: "cli"}, engine.ApproveGrant{GrantID: gs[0].ID})
	require.ErrorIs(t, err, domain.ErrInvalid, "an approval names its approver")
	w.exec(engine.ApproveGrant{GrantID: gs[0].ID, By: "olga", Reference: "REQ-7"})
	ops := w.pendingOps("alpha")
	require.Len(t, ops, 1)
	assert.Equal(t, []string{"A-VAULT"}, ops[0].Access.AccessObjects)
	_, err = w.eng.Execute(w.ctx, w.iga, engine.ApproveGrant{GrantID: gs[0].ID, By: "olga"})
	require.ErrorIs(t, err, domain.ErrPrecondition)
}

func TestLostKeyIsBlocked(t *testing.T) {
	w := newWorld(t)
	id := w.joiner("ada", "E100", "field engineer", "north")
	w.dispatch()
	w.sync(w.alpha, "K-A1")
	w.sync(w.beta, "K-B1")

	w.exec(engine.ReportKeyLost{KeyID: "alpha:K-A1"}, engine.ReportKeyLost{KeyID: "beta:K-B1"})
	w.dispatch()
	assert.True(t, w.alpha.Blocked("K-A1"))
	assert.True(t, w.keyState("alpha:K-A1").Blocked)
	// Beta has no blocklist: the block comes back as needs-action and a task.
	ks := w.keyState("beta:K-B1")
	assert.Equal(t, domain.DeliveryNeedsAction, ks.Delivery.State)
	var found bool
	for _, task := range w.tasks(id) {
		if task.KeyID == "beta:K-B1" && task.TaskKind == engine.TaskPhysicalAction {
			found = true
		}
	}
	assert.True(t, found, "a task tells a person what to do")
}

func TestRevocationBeyondAllowedExposureIsEscalated(t *testing.T) {
	w := newWorld(t)
	id := w.joiner("eve", "E100", "technician", "east")
	res := w.exec(engine.Grant{IdentityID: id, EntitlementID: "dc"})
	w.dispatch()
	w.sync(w.alpha, "K-A1")
	// The key has no validity end and no offline expiry: removal is unbounded.
	w.exec(engine.Revoke{GrantID: res.IDs[0]})
	w.dispatch()
	ks := w.keyState("alpha:K-A1")
	require.NotEmpty(t, ks.Exposures)
	assert.True(t, ks.Exposures[0].Escalated)
	// The escalation blocks the key: a block operation followed and ran.
	w.dispatch()
	assert.True(t, w.alpha.Blocked("K-A1"))
	w.verifyAudit()
}

func TestDriverErrorsRetryThenSucceed(t *testing.T) {
	w := newWorld(t)
	w.joiner("ada", "E100", "field engineer", "north")
	w.alpha.Fail = &driverport.Error{Kind: driverport.Transient, Message: "connection reset"}
	w.alpha.FailTimes = 2
	for i := 0; i < 3; i++ {
		w.clock.Advance(time.Second)
		w.dispatch()
	}
	assert.Equal(t, domain.DeliveryQueued, w.keyState("alpha:K-A1").Delivery.State)
	assert.Len(t, w.alpha.Calls(), 3)
}

func TestBadInputIsTyped(t *testing.T) {
	w := newWorld(t)
	id := w.joiner("ada", "E100", "field engineer", "north")
	w.joiner("ad\u00e9le", "E900", "clerk", "west")
	from, until := t0.Add(time.Hour), t0
	cases := map[string]struct {
		step engine.Step
		want error
	}{
		"unknown identity":       {engine.Grant{IdentityID: "nope", EntitlementID: "north"}, domain.ErrNotFound},
		"unknown entitlement":    {engine.Grant{IdentityID: id, EntitlementID: "nope"}, domain.ErrNotFound},
		"window ends too early":  {engine.Grant{IdentityID: id, EntitlementID: "dc", ValidFrom: &from, ValidUntil: &until}, domain.ErrInvalid},
		"duplicate userName":     {engine.UpsertIdentity{Identity: &domain.Identity{UserName: "ADA", Active: true}}, domain.ErrConflict},
		"stale expected version": {engine.UpsertIdentity{Identity: &domain.Identity{Meta: domain.Meta{ID: id}, UserName: "ada", Active: true}, Expect: 99}, domain.ErrConflict},
		"missing userName":       {engine.UpsertIdentity{Identity: &domain.Identity{}}, domain.ErrInvalid},
		"control character":      {engine.UpsertIdentity{Identity: &domain.Identity{UserName: "nul\x00x", Active: true}}, domain.ErrInvalid},
		"invalid UTF-8":          {engine.UpsertIdentity{Identity: &domain.Identity{UserName: "bad\xffx", Active: true}}, domain.ErrInvalid},
		"too long":               {engine.UpsertIdentity{Identity: &domain.Identity{UserName: strings.Repeat("a", 257), Active: true}}, domain.ErrInvalid},
		"same name, other form":  {engine.UpsertIdentity{Identity: &domain.Identity{UserName: "ade\u0301le", Active: true}}, domain.ErrConflict},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := w.eng.Execute(w.ctx, w.iga, c.step)
			require.ErrorIs(t, err, c.want)
		})
	}
	_, err := w.eng.Execute(w.ctx, w.iga, engine.UpsertIdentity{Identity: &domain.Identity{UserName: "Ada", Active: true}})
	assert.Contains(t, err.Error(), `taken by identity "`+id+`"`, "a conflict names who holds the name")
	w.exec(engine.DeactivateIdentity{ID: id})
	_, err = w.eng.Execute(w.ctx, w.iga, engine.Grant{IdentityID: id, EntitlementID: "dc"})
	require.ErrorIs(t, err, domain.ErrPrecondition, "no grant on an inactive identity")
}

func TestDeletedIdentityNeedsNoKey(t *testing.T) {
	w := newWorld(t)
	id := w.joiner("bob", "E300", "field engineer", "north")
	require.Len(t, w.tasks(id), 2)
	w.exec(engine.DeleteIdentity{ID: id})
	assert.Empty(t, w.tasks(id), "its hand-out-key tasks are closed")
}

func TestFailedBatchLeavesNothing(t *testing.T) {
	w := newWorld(t)
	before, err := audit.Verify(w.ctx, w.st)
	require.NoError(t, err)
	steps := []engine.Step{engine.UpsertIdentity{Identity: &domain.Identity{UserName: "x1", EmployeeNumber: "E100", Active: true, Function: "field engineer", Location: "north"}}}
	steps = append(steps, engine.Grant{IdentityID: "missing", EntitlementID: "north"})
	_, err = w.eng.Execute(w.ctx, w.iga, steps...)
	require.ErrorIs(t, err, domain.ErrNotFound)
	var se *engine.StepError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, 1, se.Index)
	after, err := audit.Verify(w.ctx, w.st)
	require.NoError(t, err)
	assert.Equal(t, before.Events, after.Events)
	assert.Empty(t, w.pendingOps("alpha"))
}
