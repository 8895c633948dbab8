package cliq_test

import (
	"context"
	"encoding/base64"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/lockdrivers/cliq"
	"github.com/keyward/keyward/lockdrivers/cliq/cliqtest"
	"github.com/keyward/keyward/lockdrivers/cliq/cwm"
	"github.com/keyward/keyward/lockdrivers/cliq/sim"
	"github.com/keyward/keyward/lockdrivers/driver"
	"github.com/keyward/keyward/lockdrivers/simctl"
)

type scenario struct {
	t   *testing.T
	ctx context.Context
	env *cliqtest.Env
	fx  cliqtest.Fixture
	d   driver.Driver
	n   int
}

func newScenario(t *testing.T) *scenario {
	t.Helper()
	env := cliqtest.NewEnv(t, sim.ProfileCLIQ)
	fx := cliqtest.SeedFixture(env.Sim)
	d := cliq.New(hclog.NewNullLogger())
	ctx := context.Background()
	require.NoError(t, d.Configure(ctx, env.Config))
	return &scenario{t: t, ctx: ctx, env: env, fx: fx, d: d}
}

func (s *scenario) idem() string {
	s.n++
	return "scenario-" + time.Now().Format("150405") + "-" + string(rune('a'+s.n))
}

func (s *scenario) setAccess(key string, aos ...string) driver.Delivery {
	s.t.Helper()
	d, err := s.d.SetKeyAccess(s.ctx, driver.SetKeyAccessRequest{IdempotencyKey: s.idem(), KeyID: key,
		Access: driver.KeyAccess{AccessObjectIDs: aos}})
	require.NoError(s.t, err)
	return d
}

func (s *scenario) opens(key, cyl string) bool {
	s.t.Helper()
	r, err := s.env.Sim.UseKey(s.ctx, key, cyl)
	require.NoError(s.t, err)
	return r.Opened
}

// changes reads the stream from cursor and returns it and the new cursor.
func (s *scenario) changes(cursor string) ([]driver.Change, string) {
	s.t.Helper()
	var out []driver.Change
	require.NoError(s.t, s.d.Changes(s.ctx, driver.ChangesRequest{Cursor: cursor}, func(c driver.Change) error {
		out = append(out, c)
		return nil
	}))
	if len(out) > 0 {
		cursor = out[len(out)-1].Cursor
	}
	return out, cursor
}

func deliveries(cs []driver.Change, key string) []driver.Delivery {
	var out []driver.Delivery
	for _, c := range cs {
		if c.Delivery != nil && c.Delivery.KeyID == key {
			out = append(out, c.Delivery.Delivery)
		}
	}
	return out
}

func lockEvents(cs []driver.Change) []driver.Change {
	var out []driver.Change
	for _, c := range cs {
		if c.LockEvent != nil {
			out = append(out, c)
		}
	}
	return out
}

func (s *scenario) advance(d time.Duration) {
	s.t.Helper()
	require.NoError(s.t, s.env.Sim.Advance(s.ctx, d))
}

func TestScenarioDynamicKeyUpdatedAtRemoteDevice(t *testing.T) {
	s := newScenario(t)
	c := s.fx.Cylinders
	key := s.fx.StockKey
	k, err := s.d.AssignKey(s.ctx, driver.AssignKeyRequest{IdempotencyKey: s.idem(), KeyID: key, PersonID: s.fx.Persons[0]})
	require.NoError(t, err)
	assert.Equal(t, driver.KeyHandedOut, k.State)
	_, cursor := s.changes("")

	del := s.setAccess(key, "group:"+s.fx.Groups[1])
	assert.Equal(t, driver.DeliveryQueued, del.State, "a dynamic key waits for its next update")
	assert.Nil(t, del.NeedsAction)
	assert.False(t, s.opens(key, c[2]), "not before the key is updated")

	s.advance(30 * time.Minute)
	require.NoError(t, s.env.Sim.DeliverKey(s.ctx, key, simctl.ViaProgrammingDevice))
	cs, _ := s.changes(cursor)
	ds := deliveries(cs, key)
	require.Len(t, ds, 1)
	assert.Equal(t, driver.DeliveryApplied, ds[0].State)
	assert.Equal(t, del.ChangeID, ds[0].ChangeID)
	assert.Equal(t, cliqtest.Start.Add(30*time.Minute), ds[0].At, "applied at CWM's lastRemoteUpdate")
	assert.True(t, s.opens(key, c[2]))
	assert.True(t, s.opens(key, c[3]))

	st, ok := s.env.Sim.KeyState(key)
	require.True(t, ok)
	assert.False(t, st.PendingUpdate)
}

func TestScenarioNormalKeyNeedsProgrammingKey(t *testing.T) {
	s := newScenario(t)
	c := s.fx.Cylinders
	key := s.fx.NormalKey
	_, cursor := s.changes("")

	plan, err := s.d.Plan(s.ctx, driver.SetKeyAccessRequest{IdempotencyKey: s.idem(), KeyID: key,
		Access: driver.KeyAccess{AccessObjectIDs: []string{"group:" + s.fx.Groups[1]}}})
	require.NoError(t, err)
	assert.Equal(t, driver.DeliveryNeedsAction, plan.Expected)
	require.NotNil(t, plan.NeedsAction)
	assert.ElementsMatch(t, c[:4], plan.NeedsAction.LockIDs)

	del := s.setAccess(key, "group:"+s.fx.Groups[1])
	require.Equal(t, driver.DeliveryNeedsAction, del.State)
	require.NotNil(t, del.NeedsAction)
	assert.Equal(t, driver.ActionVisitLock, del.NeedsAction.Action)
	assert.Equal(t, "CWM_PROGRAMMING_JOBS", del.NeedsAction.ReasonCode)
	assert.ElementsMatch(t, c[:4], del.NeedsAction.LockIDs, "remove from c1, c2; add to c3, c4")
	assert.Contains(t, del.NeedsAction.Reason, "4 cylinder(s)")
	require.NotNil(t, del.Removal)
	assert.Equal(t, []string{"group:" + s.fx.Groups[0]}, del.Removal.AccessObjectIDs)
	assert.True(t, del.Removal.Unbounded, "no revalidation, no validity end: until the cylinders are programmed")

	s.advance(time.Hour)
	require.NoError(t, s.env.Sim.VisitLock(s.ctx, c[2]))
	assert.True(t, s.opens(key, c[2]))
	assert.False(t, s.opens(key, c[3]))
	s.advance(time.Hour)
	for _, cyl := range []string{c[0], c[1], c[3]} {
		require.NoError(t, s.env.Sim.VisitLock(s.ctx, cyl))
	}
	cs, _ := s.changes(cursor)
	ds := deliveries(cs, key)
	require.Len(t, ds, 2, "one per visit time")
	assert.Equal(t, driver.DeliveryNeedsAction, ds[0].State)
	assert.ElementsMatch(t, []string{c[0], c[1], c[3]}, ds[0].NeedsAction.LockIDs, "what was left after the first visit")
	assert.Equal(t, driver.DeliveryApplied, ds[1].State)
	assert.Equal(t, del.ChangeID, ds[1].ChangeID)
	assert.True(t, s.opens(key, c[3]))
	assert.False(t, s.opens(key, c[0]))

	again := s.setAccess(key, "group:"+s.fx.Groups[1])
	assert.Equal(t, driver.DeliveryApplied, again.State)
}

func TestScenarioNeverRevalidatedKeyRevokedAtRevalidationExpiry(t *testing.T) {
	s := newScenario(t)
	c := s.fx.Cylinders
	key := s.env.Sim.AddKey(sim.KeySeed{Type: cwm.KeyTypeDynamic, Holder: s.fx.Persons[0],
		Groups: []string{s.fx.Groups[0]}, RevalidationDays: 7})
	s.advance(2 * 24 * time.Hour)
	require.True(t, s.opens(key, c[0]))

	del := s.setAccess(key)
	assert.Equal(t, driver.DeliveryQueued, del.State)
	require.NotNil(t, del.Removal)
	assert.False(t, del.Removal.Unbounded)
	want := cliqtest.Start.AddDate(0, 0, 7)
	assert.Equal(t, want, del.Removal.EffectiveBy, "last validation (seeding) + 7 days")

	require.NoError(t, s.env.Sim.SetTime(s.ctx, want.Add(-time.Minute)))
	assert.True(t, s.opens(key, c[0]), "exposure: the key still carries the group")
	require.NoError(t, s.env.Sim.SetTime(s.ctx, want))
	assert.False(t, s.opens(key, c[0]), "revalidation expired: the removal is effective")
}

func TestScenarioBlacklistCapacity(t *testing.T) {
	s := newScenario(t)
	c := s.fx.Cylinders
	key := s.fx.NormalKey
	s.env.Sim.FillBlacklist(c[0], sim.BlacklistCapacity-1)
	s.env.Sim.FillBlacklist(c[1], sim.BlacklistCapacity)

	_, err := s.d.BlockKey(s.ctx, driver.BlockKeyRequest{IdempotencyKey: s.idem(), KeyID: key})
	require.Error(t, err, "the 3,001st entry on c2")
	assert.Equal(t, driver.KindNeedsAction, driver.KindOf(err))
	var de *driver.Error
	require.ErrorAs(t, err, &de)
	require.NotNil(t, de.NeedsAction)
	assert.Equal(t, "CWM_BLACKLIST_FULL", de.NeedsAction.ReasonCode)
	assert.Contains(t, err.Error(), "3000 of 3000")
	assert.Equal(t, sim.BlacklistCapacity-1, s.env.Sim.BlacklistSize(c[0]), "all or nothing: no job on c1 either")

	s.env.Sim.FillBlacklist(c[1], 0)
	other := s.env.Sim.AddKey(sim.KeySeed{Holder: s.fx.Persons[1], Cylinders: []string{c[0]}})
	res, err := s.d.BlockKey(s.ctx, driver.BlockKeyRequest{IdempotencyKey: s.idem(), KeyID: other})
	require.NoError(t, err, "the 3,000th entry on c1 fits")
	assert.Equal(t, driver.DeliveryNeedsAction, res.Delivery.State)
	require.Len(t, res.Locks, 1)
	assert.Equal(t, driver.PropagationPending, res.Locks[0].State)
}

func TestScenarioClientCertificateRefused(t *testing.T) {
	env := cliqtest.NewEnv(t, sim.ProfileCLIQ)
	other, err := sim.NewCA("not CWM's CA")
	require.NoError(t, err)
	foreign, err := other.ValidClientPKCS12("pw")
	require.NoError(t, err)
	expired, err := env.Sim.CA().ClientPKCS12("old", "pw", time.Now().AddDate(-2, 0, 0), time.Now().AddDate(-1, 0, 0))
	require.NoError(t, err)
	with := func(pfx []byte, pass string) driver.Config {
		cfg := env.Config
		cfg.Secrets = map[string]string{cliq.SecretClientCertificatePassphrase: pass}
		if pfx != nil {
			cfg.Secrets[cliq.SecretClientCertificate] = base64.StdEncoding.EncodeToString(pfx)
		}
		return cfg
	}
	cases := []struct {
		name string
		cfg  driver.Config
		kind driver.Kind
		msg  string
	}{
		{"no client certificate", with(nil, ""), driver.KindInvalid, "CWM accepts integrations only with a client certificate"},
		{"wrong passphrase", with(foreign, "nope"), driver.KindInvalid, "wrong passphrase"},
		{"expired certificate", with(expired, "pw"), driver.KindInvalid, "expired at"},
		{"certificate CWM does not trust", with(foreign, "pw"), driver.KindPermission, "refused the client certificate"},
		{"neither base64 nor PKCS#12", func() driver.Config {
			cfg := with(nil, "pw")
			cfg.Secrets[cliq.SecretClientCertificate] = "-----BEGIN CERTIFICATE-----"
			return cfg
		}(), driver.KindInvalid, "neither base64 nor a PKCS#12 file"},
	}
	t.Run("the raw .pfx file is accepted too", func(t *testing.T) {
		cc, err := env.Sim.ClientConfig(env.Server)
		require.NoError(t, err)
		cfg := with(nil, cc.Passphrase)
		cfg.Secrets[cliq.SecretClientCertificate] = string(cc.PKCS12)
		assert.NoError(t, cliq.New(hclog.NewNullLogger()).Configure(context.Background(), cfg))
	})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := cliq.New(hclog.NewNullLogger())
			err := d.Configure(context.Background(), tc.cfg)
			require.Error(t, err)
			assert.Equal(t, tc.kind, driver.KindOf(err), "%v", err)
			assert.Contains(t, err.Error(), tc.msg)
			h, err := d.Health(context.Background())
			require.NoError(t, err)
			assert.Equal(t, driver.HealthDown, h.Status, "an unconfigured driver is down")
		})
	}
}

func TestScenarioLateAuditTrailsDeduplicated(t *testing.T) {
	s := newScenario(t)
	c := s.fx.Cylinders
	key := s.fx.NormalKey
	_, cursor := s.changes("")
	t0 := cliqtest.Start

	require.True(t, s.opens(key, c[0]))
	cs, cursor := s.changes(cursor)
	assert.Empty(t, lockEvents(cs), "CWM has not heard of it yet")

	s.advance(time.Hour)
	require.NoError(t, s.env.Sim.DeliverKey(s.ctx, key, simctl.ViaProgrammingDevice))
	cs, cursor = s.changes(cursor)
	evs := lockEvents(cs)
	require.Len(t, evs, 1, "uploaded from the key an hour later")
	assert.Equal(t, t0, evs[0].At, "dated when it happened, not when CWM imported it")
	assert.Equal(t, c[0], evs[0].LockEvent.LockID)
	assert.True(t, evs[0].LockEvent.Opened)

	s.advance(time.Hour)
	require.NoError(t, s.env.Sim.VisitLock(s.ctx, c[0]))
	cs, cursor = s.changes(cursor)
	assert.Empty(t, lockEvents(cs), "the cylinder's copy, collected later, is the same event")

	t.Run("cylinder first, key later", func(t *testing.T) {
		require.False(t, s.opens(key, c[4]), "no access")
		require.NoError(t, s.env.Sim.VisitLock(s.ctx, c[4]))
		cs, next := s.changes(cursor)
		evs := lockEvents(cs)
		require.Len(t, evs, 1)
		assert.False(t, evs[0].LockEvent.Opened)
		assert.Equal(t, "no access", evs[0].LockEvent.Reason)
		s.advance(time.Minute)
		require.NoError(t, s.env.Sim.DeliverKey(s.ctx, key, simctl.ViaProgrammingDevice))
		cs, _ = s.changes(next)
		assert.Empty(t, lockEvents(cs))
	})
	t.Run("the whole stream has each event once", func(t *testing.T) {
		cs, _ := s.changes("")
		assert.Len(t, lockEvents(cs), 2)
	})
}

func TestBadInputIsInvalid(t *testing.T) {
	s := newScenario(t)
	key := s.fx.ConnectKeys[0]
	page := func(driver.Page[driver.Lock]) error { return nil }
	cases := []struct {
		name string
		call func() error
		msg  string
	}{
		{"list cursor not issued by the driver", func() error {
			return s.d.ListLocks(s.ctx, driver.ListRequest{Cursor: "x"}, page)
		}, "not a cursor this driver issued"},
		{"change cursor not issued by the driver", func() error {
			return s.d.Changes(s.ctx, driver.ChangesRequest{Cursor: "!!"}, func(driver.Change) error { return nil })
		}, "not a cursor this driver issued"},
		{"access object without a kind", func() error {
			_, err := s.d.SetKeyAccess(s.ctx, driver.SetKeyAccessRequest{IdempotencyKey: "b1", KeyID: key,
				Access: driver.KeyAccess{AccessObjectIDs: []string{s.fx.Groups[0]}}})
			return err
		}, "is not profile:<id>, group:<id> or cylinder:<id>"},
		{"schedule interval ending before it starts", func() error {
			_, err := s.d.SetKeyAccess(s.ctx, driver.SetKeyAccessRequest{IdempotencyKey: "b2", KeyID: key,
				Access: driver.KeyAccess{Schedule: []driver.ScheduleInterval{{Day: time.Monday, Start: 10 * time.Hour, End: 9 * time.Hour}}}})
			return err
		}, "need 0 <= start < end <= 24h"},
		{"schedule with seconds", func() error {
			_, err := s.d.SetKeyAccess(s.ctx, driver.SetKeyAccessRequest{IdempotencyKey: "b3", KeyID: key,
				Access: driver.KeyAccess{Schedule: []driver.ScheduleInterval{{Day: time.Monday, Start: time.Second, End: time.Hour}}}})
			return err
		}, "minute granularity"},
		{"window ending before it starts", func() error {
			_, err := s.d.SetKeyAccess(s.ctx, driver.SetKeyAccessRequest{IdempotencyKey: "b4", KeyID: key,
				Access: driver.KeyAccess{Window: driver.Window{NotBefore: cliqtest.Start, NotAfter: cliqtest.Start.Add(-time.Hour)}}})
			return err
		}, "notAfter must be after notBefore"},
		{"person without external id", func() error {
			_, err := s.d.EnsurePerson(s.ctx, driver.EnsurePersonRequest{IdempotencyKey: "b5", Person: driver.Person{Name: "X"}})
			return err
		}, "person.externalId: required"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			require.Error(t, err)
			assert.Equal(t, driver.KindInvalid, driver.KindOf(err), "%v", err)
			assert.Contains(t, err.Error(), tc.msg)
		})
	}
}

func TestPersonsAndCustody(t *testing.T) {
	s := newScenario(t)
	p, err := s.d.EnsurePerson(s.ctx, driver.EnsurePersonRequest{IdempotencyKey: "p1",
		Person: driver.Person{ExternalID: "E1", Name: "Someone Else"}})
	require.NoError(t, err)
	assert.Equal(t, s.fx.Persons[0], p.ID, "found by external reference, not created")
	q, err := s.d.EnsurePerson(s.ctx, driver.EnsurePersonRequest{IdempotencyKey: "p2",
		Person: driver.Person{ExternalID: "E99", Name: "Grace Brewster Hopper"}})
	require.NoError(t, err)
	assert.Equal(t, "Grace Brewster Hopper", q.Name)
	again, err := s.d.EnsurePerson(s.ctx, driver.EnsurePersonRequest{IdempotencyKey: "p2",
		Person: driver.Person{ExternalID: "E99", Name: "Grace Brewster Hopper"}})
	require.NoError(t, err)
	assert.Equal(t, q.ID, again.ID, "a retry finds the person it created")

	key := s.fx.ConnectKeys[0]
	k, err := s.d.AssignKey(s.ctx, driver.AssignKeyRequest{IdempotencyKey: "a1", KeyID: key, PersonID: q.ID})
	require.NoError(t, err, "reassigning hands the key in first")
	assert.Equal(t, q.ID, k.HolderID)
	k, err = s.d.ReturnKey(s.ctx, driver.KeyRequest{IdempotencyKey: "r1", KeyID: key})
	require.NoError(t, err)
	assert.Equal(t, driver.KeyReturned, k.State)
	assert.Empty(t, k.HolderID)
	k, err = s.d.ReportKeyLost(s.ctx, driver.KeyRequest{IdempotencyKey: "l1", KeyID: key})
	require.NoError(t, err)
	assert.Equal(t, driver.KeyLost, k.State)
	_, err = s.d.AssignKey(s.ctx, driver.AssignKeyRequest{IdempotencyKey: "a2", KeyID: key, PersonID: q.ID})
	assert.Equal(t, driver.KindConflict, driver.KindOf(err), "a lost key cannot be handed out: %v", err)
}

func TestChangesReturnsTheCallersError(t *testing.T) {
	s := newScenario(t)
	s.opens(s.fx.ConnectKeys[0], s.fx.Cylinders[0]) // a CLIQ Connect key reports at once
	stop := errors.New("stop")
	err := s.d.Changes(s.ctx, driver.ChangesRequest{}, func(driver.Change) error { return stop })
	assert.Same(t, stop, err)
}

func TestChangesCursorInsideALargeImport(t *testing.T) {
	s := newScenario(t)
	var ids []string
	for i := 0; i < 1500; i++ {
		id := uuid.NewString()
		ids = append(ids, id)
		s.env.Sim.AddAuditTrail(cwm.AuditTrail{Identity: id, EventType: cwm.EventAccessGranted,
			KeyIdentity: s.fx.NormalKey, CylinderIdentity: s.fx.Cylinders[0]})
	}
	var first []driver.Change
	require.NoError(t, s.d.Changes(s.ctx, driver.ChangesRequest{Limit: 1200}, func(c driver.Change) error {
		first = append(first, c)
		return nil
	}))
	require.Len(t, first, 1200, "all 1,500 rows share one import time; the limit cuts inside it")
	s.advance(time.Minute)
	// A late copy of an event already handed out, and a new event.
	s.env.Sim.AddAuditTrail(cwm.AuditTrail{Identity: ids[1100], EventType: cwm.EventAccessGranted,
		EventDate: &cwm.DateTime{Time: cliqtest.Start}})
	s.env.Sim.AddAuditTrail(cwm.AuditTrail{Identity: "new-one", EventType: cwm.EventAccessGranted})
	rest, _ := s.changes(first[len(first)-1].Cursor)
	got := lockEvents(rest)
	require.Len(t, got, 301)
	assert.Equal(t, ids[1200], got[0].ID)
	assert.Equal(t, "new-one", got[300].ID)
}
