package iloq_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/lockdrivers/driver"
	"github.com/keyward/keyward/lockdrivers/iloq"
	"github.com/keyward/keyward/lockdrivers/iloq/iloqapi"
	"github.com/keyward/keyward/lockdrivers/iloq/iloqtest"
	"github.com/keyward/keyward/lockdrivers/iloq/sim"
	"github.com/keyward/keyward/lockdrivers/simctl"
)

// scenario is a simulator on a frozen clock and a configured driver.
type scenario struct {
	t   *testing.T
	ctx context.Context
	sim *sim.Server
	d   *iloq.Driver
	cfg driver.Config
}

func newScenario(t *testing.T, opts sim.Options, seed sim.Seed) *scenario {
	t.Helper()
	if opts.Now == nil {
		opts.Now = func() time.Time { return epoch }
	}
	s := iloqtest.Start(t, opts, seed)
	d := iloq.NewDriver(nil)
	ctx := context.Background()
	require.NoError(t, d.Configure(ctx, s.Config))
	t.Cleanup(func() { _ = d.Close(ctx) })
	return &scenario{t: t, ctx: ctx, sim: s.Server, d: d, cfg: s.Config}
}

func (s *scenario) set(key, idem string, access driver.KeyAccess) driver.Delivery {
	s.t.Helper()
	del, err := s.d.SetKeyAccess(s.ctx, driver.SetKeyAccessRequest{IdempotencyKey: idem, KeyID: key, Access: access})
	require.NoError(s.t, err)
	return del
}

func (s *scenario) ops(since int64) []string {
	reqs, err := s.sim.Requests(s.ctx, since)
	require.NoError(s.t, err)
	var out []string
	for _, r := range reqs {
		out = append(out, r.Op)
	}
	return out
}

func (s *scenario) lastSeq() int64 {
	reqs, err := s.sim.Requests(s.ctx, 0)
	require.NoError(s.t, err)
	return reqs[len(reqs)-1].Seq
}

func (s *scenario) changes(cursor string) []driver.Change {
	var out []driver.Change
	require.NoError(s.t, s.d.Changes(s.ctx, driver.ChangesRequest{Cursor: cursor}, func(c driver.Change) error {
		out = append(out, c)
		return nil
	}))
	return out
}

func (s *scenario) opens(key, lock string) bool {
	r, err := s.sim.UseKey(s.ctx, key, lock)
	require.NoError(s.t, err)
	return r.Opened
}

func access(ids ...string) driver.KeyAccess { return driver.KeyAccess{AccessObjectIDs: ids} }

func TestScenarioGrantToApplied(t *testing.T) {
	s := newScenario(t, sim.Options{}, iloqtest.Estate())
	key := iloqtest.Phone1
	cursor := ""
	if cs := s.changes(""); len(cs) > 0 {
		cursor = cs[len(cs)-1].Cursor
	}
	require.False(t, s.opens(key, iloqtest.LockA))

	p, err := s.d.Plan(s.ctx, driver.SetKeyAccessRequest{KeyID: key, Access: access(iloqtest.AccessA)})
	require.NoError(t, err)
	assert.Equal(t, []string{iloqtest.AccessA}, p.Added)
	assert.Equal(t, driver.DeliveryQueued, p.Expected)

	before := s.lastSeq()
	del := s.set(key, "grant-1", access(iloqtest.AccessA))
	assert.Equal(t, driver.DeliveryQueued, del.State, "a phone key waits for its phone")
	assert.Nil(t, del.Removal)
	writes := []string{}
	for _, op := range s.ops(before + 1) {
		if strings.Contains(op, "Can") || !strings.HasPrefix(op, "GET") {
			writes = append(writes, op)
		}
	}
	assert.Equal(t, []string{
		"GET /api/v2/Keys/{id}/SecurityAccesses/CanAdd",
		"PUT /api/v2/Keys/{id}/SecurityAccesses",
		"GET /api/v2/Keys/{id}/CanOrder",
		"POST /api/v2/Keys/{id}/Order",
	}, writes, "pre-check, full replace, pre-check, order")

	require.False(t, s.opens(key, iloqtest.LockA), "not before the phone synced")

	require.NoError(t, s.sim.DeliverKey(s.ctx, key, simctl.ViaPhoneSync))
	var applied *driver.Delivery
	for _, c := range s.changes(cursor) {
		if c.Delivery != nil && c.Delivery.KeyID == key {
			applied = &c.Delivery.Delivery
		}
	}
	require.NotNil(t, applied, "a delivery change after the phone synced")
	assert.Equal(t, driver.DeliveryApplied, applied.State)
	assert.Equal(t, del.ChangeID, applied.ChangeID)
	assert.True(t, s.opens(key, iloqtest.LockA))

	again := s.set(key, "grant-1-retry", access(iloqtest.AccessA))
	assert.Equal(t, driver.DeliveryApplied, again.State)
	assert.Equal(t, del.ChangeID, again.ChangeID)
}

func TestScenarioRevocationEffectiveBy(t *testing.T) {
	seed := iloqtest.Estate()
	seed.Keys[0].AccessRights = []string{iloqtest.AccessA}  // phone, offline expiration 24 h
	seed.Keys[2].AccessRights = []string{iloqtest.AccessA}  // S5 key
	seed.Keys[2].EndDate = "2027-01-31T18:00:00"            // Helsinki local
	endUTC := time.Date(2027, 1, 31, 16, 0, 0, 0, time.UTC) // UTC+2 in winter
	cases := []struct {
		name string
		key  string
		want func(now time.Time) time.Time
	}{
		{"phone key: its offline expiration", iloqtest.Phone1,
			func(now time.Time) time.Time { return now.Add(iloqtest.OfflineExpiration) }},
		{"5 Series key: its end date", iloqtest.S5Key, func(time.Time) time.Time { return endUTC }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newScenario(t, sim.Options{}, seed)
			require.True(t, s.opens(c.key, iloqtest.LockA))
			now, _ := s.sim.Now(s.ctx)
			del := s.set(c.key, "revoke", access())
			require.NotNil(t, del.Removal)
			assert.Equal(t, []string{iloqtest.AccessA}, del.Removal.AccessObjectIDs)
			require.False(t, del.Removal.Unbounded)
			want := c.want(now)
			assert.False(t, del.Removal.EffectiveBy.Before(want), "effective-by %s before %s", del.Removal.EffectiveBy, want)
			assert.WithinDuration(t, want, del.Removal.EffectiveBy, 2*time.Second)

			// The key is never reprogrammed: it opens until effective-by, not after.
			require.NoError(t, s.sim.SetTime(s.ctx, want.Add(-time.Minute)))
			assert.True(t, s.opens(c.key, iloqtest.LockA), "still open just before effective-by (exposure)")
			require.NoError(t, s.sim.SetTime(s.ctx, del.Removal.EffectiveBy.Add(time.Second)))
			assert.False(t, s.opens(c.key, iloqtest.LockA), "closed after effective-by")
		})
	}
	t.Run("a key without end date or expiration is unbounded", func(t *testing.T) {
		seed := iloqtest.Estate()
		seed.Keys[2].AccessRights = []string{iloqtest.AccessA}
		s := newScenario(t, sim.Options{}, seed)
		del := s.set(iloqtest.S5Key, "revoke", access())
		require.NotNil(t, del.Removal)
		assert.True(t, del.Removal.Unbounded)
		assert.Equal(t, driver.DeliveryNeedsAction, del.State)
		assert.Equal(t, driver.ActionUpdateKey, del.NeedsAction.Action, "the holder must visit a hot spot")
	})
	t.Run("a tag is emptied on the server at once", func(t *testing.T) {
		seed := iloqtest.Estate()
		seed.Keys[3].AccessRights = []string{iloqtest.AccessA}
		s := newScenario(t, sim.Options{}, seed)
		now, _ := s.sim.Now(s.ctx)
		del := s.set(iloqtest.Tag, "revoke", access())
		assert.Equal(t, driver.DeliveryApplied, del.State)
		assert.WithinDuration(t, now, del.Removal.EffectiveBy, 2*time.Second)
		assert.False(t, s.opens(iloqtest.Tag, iloqtest.LockA))
	})
}

func TestScenarioLostKey(t *testing.T) {
	seed := iloqtest.Estate()
	seed.Keys[2].AccessRights = []string{iloqtest.AccessA, iloqtest.AccessB} // the S5 key that gets lost
	seed.Keys[1].AccessRights = []string{iloqtest.AccessA}                   // a colleague's phone
	s := newScenario(t, sim.Options{}, seed)
	lost := iloqtest.S5Key

	res, err := s.d.BlockKey(s.ctx, driver.BlockKeyRequest{IdempotencyKey: "lost-1", KeyID: lost, Reason: "lost"})
	require.NoError(t, err)
	assert.Equal(t, driver.DeliveryQueued, res.Delivery.State)
	var pending []string
	for _, lp := range res.Locks {
		assert.Equal(t, driver.PropagationPending, lp.State)
		pending = append(pending, lp.LockID)
	}
	assert.ElementsMatch(t, []string{iloqtest.LockA, iloqtest.LockB}, pending)

	k, err := s.d.ReportKeyLost(s.ctx, driver.KeyRequest{IdempotencyKey: "lost-1", KeyID: lost})
	require.NoError(t, err)
	assert.Equal(t, driver.KeyLost, k.State, "lost, and blocklisted underneath")
	t.Run("the blocklist is ordered once", func(t *testing.T) {
		reqs, err := s.sim.Requests(s.ctx, 0)
		require.NoError(t, err)
		assert.Equal(t, 1, countOp(reqs, "POST /api/v2/Blacklists/AddKey/{id}"))
		assert.Equal(t, 1, countOp(reqs, "POST /api/v2/Blacklists/OrderS40Blacklist"))
	})

	cursor := ""
	if cs := s.changes(""); len(cs) > 0 {
		cursor = cs[len(cs)-1].Cursor
	}
	assert.Equal(t, map[string]bool{iloqtest.LockA: false, iloqtest.LockB: false, iloqtest.LockC: false,
		iloqtest.LockD: false}, s.sim.BlocklistSpread(), "ordered, not yet at any lock")
	assert.True(t, s.opens(lost, iloqtest.LockB), "B has not learnt the blocklist")

	// A colleague's phone syncs, picks up the blocklist and carries it to A.
	require.NoError(t, s.sim.DeliverKey(s.ctx, iloqtest.Phone2, simctl.ViaPhoneSync))
	require.True(t, s.opens(iloqtest.Phone2, iloqtest.LockA))
	assert.True(t, s.sim.BlocklistSpread()[iloqtest.LockA])
	assert.False(t, s.opens(lost, iloqtest.LockA), "A refuses the lost key")

	// A programming key visits B; the driver sees the visit in the lock log.
	require.NoError(t, s.sim.VisitLock(s.ctx, iloqtest.LockB))
	var spread []string
	for _, c := range s.changes(cursor) {
		if c.Block != nil && c.Block.KeyID == lost && c.Block.Blocked {
			assert.Equal(t, driver.PropagationApplied, c.Block.Lock.State)
			spread = append(spread, c.Block.Lock.LockID)
		}
	}
	assert.Equal(t, []string{iloqtest.LockB}, spread, "block propagation visible in the change stream")
	assert.False(t, s.opens(lost, iloqtest.LockB))
}

func TestScenarioNeedsAction(t *testing.T) {
	cases := []struct {
		name   string
		opts   sim.Options
		key    string
		access driver.KeyAccess
		code   string
		action driver.Action
	}{
		{"a standard access right needs iLOQ Manager", sim.Options{}, iloqtest.Phone2,
			access(iloqtest.Standard), "iloq.CanOrder.1", driver.ActionUseVendorTool},
		{"a phone key without phone number", sim.Options{}, iloqtest.Unissued,
			access(iloqtest.AccessA), "iloq.CanOrder.9", driver.ActionOther},
		{"the licence limit", sim.Options{LicenceLimit: 4}, iloqtest.Unissued, access(iloqtest.AccessA),
			"iloq.CanOrder.3", driver.ActionBuyLicences},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newScenario(t, c.opts, iloqtest.Estate())
			if c.code == "iloq.CanOrder.3" {
				status, raw := putPhone(t, s, iloqtest.Unissued)
				require.Equal(t, http.StatusNoContent, status, raw)
			}
			del, err := s.d.SetKeyAccess(s.ctx, driver.SetKeyAccessRequest{IdempotencyKey: "na", KeyID: c.key,
				Access: c.access})
			require.NoError(t, err, "needs-action is a delivery state, not an error")
			assert.Equal(t, driver.DeliveryNeedsAction, del.State)
			require.NotNil(t, del.NeedsAction)
			assert.Equal(t, c.code, del.NeedsAction.ReasonCode)
			assert.Equal(t, c.action, del.NeedsAction.Action)
			assert.NotEmpty(t, del.NeedsAction.Reason)
			if c.code == "iloq.CanOrder.1" {
				assert.Contains(t, del.NeedsAction.Reason, "iLOQ Manager")
				p, err := s.d.Plan(s.ctx, driver.SetKeyAccessRequest{KeyID: c.key, Access: access(iloqtest.Standard, iloqtest.AccessA)})
				require.NoError(t, err)
				assert.Equal(t, driver.DeliveryNeedsAction, p.Expected)
			}
		})
	}
	t.Run("every CanOrder refusal has a reason and an action", func(t *testing.T) {
		for code := -1; code <= 14; code++ {
			if code == 0 {
				continue
			}
			na := iloq.CanOrderAction(code)
			assert.NotEmpty(t, na.Reason, "code %d", code)
			assert.NotEqual(t, driver.ActionNone, na.Action, "code %d", code)
		}
		for code := 1; code <= 4; code++ {
			na := iloq.CanReturnAction(code)
			assert.NotEmpty(t, na.Reason, "code %d", code)
		}
	})
}

// putPhone registers a phone number through the vendor API directly.
func putPhone(t *testing.T, s *scenario, key string) (int, string) {
	var settings iloq.Settings
	require.NoError(t, json.Unmarshal(s.cfg.Settings, &settings))
	c := iloq.NewClient(iloq.ClientConfig{ManagerURL: settings.ManagerURL, CustomerCode: settings.CustomerCode,
		UserName: settings.UserName, Password: s.cfg.Secrets[iloq.SecretPassword]})
	err := c.Call(s.ctx, "put phone", http.MethodPut, "KeyPhones", iloqapi.KeyPhone{FNKeyID: key, PhoneNo: "+3585550000"}, nil)
	if err != nil {
		return 0, err.Error()
	}
	return http.StatusNoContent, ""
}

func TestScenarioWindowAndSchedule(t *testing.T) {
	s := newScenario(t, sim.Options{}, iloqtest.Estate())
	loc := s.sim.Location()
	a := driver.KeyAccess{AccessObjectIDs: []string{iloqtest.AccessC},
		Window: driver.Window{NotBefore: time.Date(2026, 12, 7, 8, 5, 0, 0, loc), // rounds up to 08:15
			NotAfter: time.Date(2026, 12, 31, 17, 50, 0, 0, loc)}, // rounds down to 17:45
		Schedule: []driver.ScheduleInterval{
			{Day: time.Monday, Start: 8 * time.Hour, End: 16 * time.Hour},
			{Day: time.Tuesday, Start: 8 * time.Hour, End: 16 * time.Hour},
		}}
	del := s.set(iloqtest.Phone1, "window", a)
	require.Equal(t, driver.DeliveryQueued, del.State)
	require.NoError(t, s.sim.DeliverKey(s.ctx, iloqtest.Phone1, simctl.ViaAuto))

	var got driver.Key
	require.NoError(t, s.d.ListKeys(s.ctx, driver.ListRequest{}, func(p driver.Page[driver.Key]) error {
		for _, k := range p.Items {
			if k.ID == iloqtest.Phone1 {
				got = k
			}
		}
		return nil
	}))
	require.NotNil(t, got.Programmed)
	assert.Equal(t, time.Date(2026, 12, 7, 8, 15, 0, 0, loc).UTC(), got.Programmed.Window.NotBefore)
	assert.Equal(t, time.Date(2026, 12, 31, 17, 45, 0, 0, loc).UTC(), got.Programmed.Window.NotAfter)
	assert.Equal(t, a.Schedule, got.Programmed.Schedule)
	assert.Nil(t, got.Pending)

	// Monday 2026-12-07 09:00 Helsinki is the epoch: inside the schedule.
	assert.True(t, s.opens(iloqtest.Phone1, iloqtest.LockC))
	require.NoError(t, s.sim.Advance(s.ctx, 8*time.Hour)) // 17:00
	assert.False(t, s.opens(iloqtest.Phone1, iloqtest.LockC), "outside the schedule")

	p, err := s.d.Plan(s.ctx, driver.SetKeyAccessRequest{KeyID: iloqtest.Phone1, Access: a})
	require.NoError(t, err)
	assert.True(t, p.NoChange, "the rounded window is what the key holds")
}

func TestScenarioReturnKey(t *testing.T) {
	s := newScenario(t, sim.Options{}, iloqtest.Estate())
	k, err := s.d.ReturnKey(s.ctx, driver.KeyRequest{IdempotencyKey: "r1", KeyID: iloqtest.Tag})
	require.NoError(t, err)
	assert.Equal(t, driver.KeyReturned, k.State)

	_, err = s.d.ReturnKey(s.ctx, driver.KeyRequest{IdempotencyKey: "r2", KeyID: iloqtest.S5Key})
	require.Error(t, err)
	assert.Equal(t, driver.KindNeedsAction, driver.KindOf(err))
	var de *driver.Error
	require.ErrorAs(t, err, &de)
	assert.Equal(t, driver.ActionUseVendorTool, de.NeedsAction.Action)

	k, err = s.d.ReturnKey(s.ctx, driver.KeyRequest{IdempotencyKey: "r3", KeyID: iloqtest.Unissued})
	require.NoError(t, err, "a never programmed key is deleted instead")
	assert.Equal(t, driver.KeyReturned, k.State)
}

func TestScenarioPersons(t *testing.T) {
	s := newScenario(t, sim.Options{}, iloqtest.Estate())
	p, err := s.d.EnsurePerson(s.ctx, driver.EnsurePersonRequest{IdempotencyKey: "p1",
		Person: driver.Person{ExternalID: "E9001", Name: "Ada Lovelace", Email: "ada@example.com"}})
	require.NoError(t, err)
	assert.Equal(t, "E9001", p.ExternalID)
	again, err := s.d.EnsurePerson(s.ctx, driver.EnsurePersonRequest{IdempotencyKey: "p2",
		Person: driver.Person{ExternalID: "E9001", Name: "Ada Lovelace"}})
	require.NoError(t, err)
	assert.Equal(t, p.ID, again.ID, "found by ExternalPersonId")
	seeded, err := s.d.EnsurePerson(s.ctx, driver.EnsurePersonRequest{IdempotencyKey: "p3",
		Person: driver.Person{ExternalID: "E0002"}})
	require.NoError(t, err)
	assert.Equal(t, "e0000000-0000-4000-8000-000000000002", seeded.ID)

	k, err := s.d.AssignKey(s.ctx, driver.AssignKeyRequest{IdempotencyKey: "a1", KeyID: iloqtest.S5Key, PersonID: p.ID})
	require.NoError(t, err)
	assert.Equal(t, p.ID, k.HolderID)
	assert.Equal(t, driver.KeyHandedOut, k.State)
}

func TestWebhookSignatureVector(t *testing.T) {
	raw, err := os.ReadFile("../../testdata/vendors/iloq/webhook-signature-vector.json")
	require.NoError(t, err)
	var v struct{ SignKey, Body, Signature string }
	require.NoError(t, json.Unmarshal(raw, &v))
	s := iloqtest.Start(t, sim.Options{}, iloqtest.Estate())
	s.Config.Secrets[iloq.SecretWebhookSignKey] = v.SignKey
	d := iloq.NewDriver(nil)
	require.NoError(t, d.Configure(context.Background(), s.Config))
	h := http.Header{}
	h.Set("Webhook-Signature", v.Signature)
	h.Set("Event-Name", "key_added")
	cs, err := d.HandleWebhook(context.Background(), driver.Webhook{Header: h, Body: []byte(v.Body)})
	require.NoError(t, err, "the documented test vector verifies")
	require.Len(t, cs, 1)
	assert.Equal(t, "3fa85f64-5717-4562-b3fc-2c963f66afa6", cs[0].KeyState.KeyID)

	h.Set("Webhook-Signature", strings.Repeat("0", 64))
	_, err = d.HandleWebhook(context.Background(), driver.Webhook{Header: h, Body: []byte(v.Body)})
	assert.ErrorIs(t, err, driver.ErrUnauthenticated)

	t.Run("stale webhooks are refused when a maximum age is set", func(t *testing.T) {
		var settings map[string]any
		require.NoError(t, json.Unmarshal(s.Config.Settings, &settings))
		settings["webhookMaxAgeMinutes"] = 15
		raw, err := json.Marshal(settings)
		require.NoError(t, err)
		cfg := s.Config
		cfg.Settings = raw
		strict := iloq.NewDriver(nil)
		require.NoError(t, strict.Configure(context.Background(), cfg))
		h := http.Header{}
		h.Set("Webhook-Signature", v.Signature)
		h.Set("Event-Name", "key_added")
		_, err = strict.HandleWebhook(context.Background(), driver.Webhook{Header: h, Body: []byte(v.Body)})
		assert.ErrorIs(t, err, driver.ErrUnauthenticated, "the 2021 vector is stale")
	})

	dl, err := os.ReadFile("../../testdata/vendors/iloq/device-log-arrived.json")
	require.NoError(t, err)
	h.Set("Webhook-Signature", iloqapi.Sign(v.SignKey, dl))
	h.Set("Event-Name", "device_log_arrived")
	cs, err = d.HandleWebhook(context.Background(), driver.Webhook{Header: h, Body: dl})
	require.NoError(t, err)
	require.Len(t, cs, 1)
	require.NotNil(t, cs[0].LockEvent)
	assert.Equal(t, "fd051b34-5ddc-485a-915a-205016ea74d6", cs[0].LockEvent.KeyID, "the documented fnKey_ID spelling")
	assert.True(t, cs[0].LockEvent.Opened)
}

func TestChangesPagesPastTheLogCap(t *testing.T) {
	seed := iloqtest.Estate()
	const rows = 650 // several answers capped at 200 rows (sim.Options.LogRowCap)
	for i := range rows {
		at := epoch.Add(-time.Duration(rows-i) * time.Second)
		seed.Logs = append(seed.Logs, sim.SeedLog{Key: iloqtest.Phone1, Lock: iloqtest.LockA,
			At:      at.Add(-time.Duration(i%97) * time.Minute), // late arrivals: access order differs
			Arrival: at.Truncate(10 * time.Second)})             // ten rows share each instant
	}
	for _, byGoing := range []bool{false, true} {
		t.Run(fmt.Sprintf("vendor orders by access time: %v", byGoing), func(t *testing.T) {
			s := newScenario(t, sim.Options{LogsByGoingDate: byGoing, LogRowCap: 200}, seed)
			all := s.changes("")
			events := 0
			ids := map[string]bool{}
			for _, c := range all {
				require.False(t, ids[c.ID], "change %s twice", c.ID)
				ids[c.ID] = true
				if c.LockEvent != nil {
					events++
				}
			}
			assert.Equal(t, rows, events)
			// Resume from a cursor in the middle of a group of equal arrival times.
			mid := all[405]
			rest := s.changes(mid.Cursor)
			assert.Len(t, rest, len(all)-406)
			assert.Equal(t, all[406].ID, rest[0].ID)
			// A limit caps one call.
			var limited []driver.Change
			require.NoError(t, s.d.Changes(s.ctx, driver.ChangesRequest{Limit: 7}, func(c driver.Change) error {
				limited = append(limited, c)
				return nil
			}))
			assert.Len(t, limited, 7)
		})
	}
}
