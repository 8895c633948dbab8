package sim_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/lockdrivers/cliq/cwm"
	"github.com/keyward/keyward/lockdrivers/cliq/sim"
	"github.com/keyward/keyward/lockdrivers/simctl"
)

func opens(t *testing.T, s *sim.Sim, key, cyl string) (bool, string) {
	t.Helper()
	r, err := s.UseKey(context.Background(), key, cyl)
	require.NoError(t, err)
	return r.Opened, r.Reason
}

func TestDynamicKeyTakesAccessAtProgrammingDevice(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	p := e.sim.AddPerson(sim.PersonSeed{FirstName: "A", Surname: "B"})
	c1 := e.sim.AddCylinder(sim.CylinderSeed{Name: "c1"})
	c2 := e.sim.AddCylinder(sim.CylinderSeed{Name: "c2"})
	k := e.sim.AddKey(sim.KeySeed{Type: cwm.KeyTypeDynamic, Holder: p, Cylinders: []string{c1}})

	upd, err := e.m.SetKeyAccess(ctx, k, cwm.KeyAccess{Cylinders: []string{c2}})
	require.NoError(t, err)
	assert.True(t, upd.RemoteUpdatePending)
	assert.Empty(t, upd.Jobs, "a dynamic key needs no cylinder programming")
	d, err := e.c.GetKeyDetails(ctx, k)
	require.NoError(t, err)
	assert.True(t, d.PendingUpdate)
	assert.Nil(t, d.LastRemoteUpdate)

	ok, _ := opens(t, e.sim, k, c1)
	assert.True(t, ok, "the key still carries its old list")
	ok, why := opens(t, e.sim, k, c2)
	assert.False(t, ok)
	assert.Equal(t, "no access", why)

	require.NoError(t, e.sim.Advance(ctx, time.Minute))
	require.NoError(t, e.sim.DeliverKey(ctx, k, simctl.ViaProgrammingDevice))
	d, err = e.c.GetKeyDetails(ctx, k)
	require.NoError(t, err)
	assert.False(t, d.PendingUpdate)
	require.NotNil(t, d.LastRemoteUpdate)
	assert.True(t, d.LastRemoteUpdate.Equal(start.Add(time.Minute)))
	ok, _ = opens(t, e.sim, k, c1)
	assert.False(t, ok)
	ok, _ = opens(t, e.sim, k, c2)
	assert.True(t, ok)

	t.Run("only CLIQ Connect keys sync through a phone", func(t *testing.T) {
		err := e.sim.DeliverKey(ctx, k, simctl.ViaPhoneSync)
		assert.ErrorIs(t, err, simctl.ErrUnsupported)
		ck := e.sim.AddKey(sim.KeySeed{Type: cwm.KeyTypeConnect})
		assert.NoError(t, e.sim.DeliverKey(ctx, ck, simctl.ViaPhoneSync))
	})
	t.Run("groups and profiles expand", func(t *testing.T) {
		g := e.sim.AddGroup(sim.GroupSeed{Name: "g", Cylinders: []string{c1}})
		pr := e.sim.AddProfile(sim.ProfileSeed{Name: "p", Groups: []string{g}})
		_, err := e.m.SetKeyAccess(ctx, k, cwm.KeyAccess{AccessProfiles: []string{pr}})
		require.NoError(t, err)
		require.NoError(t, e.sim.DeliverKey(ctx, k, simctl.ViaAuto))
		ok, _ := opens(t, e.sim, k, c1)
		assert.True(t, ok)
	})
}

func TestNormalKeyChangesByCylinderProgrammingJobs(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c1 := e.sim.AddCylinder(sim.CylinderSeed{Name: "c1"})
	c2 := e.sim.AddCylinder(sim.CylinderSeed{Name: "c2"})
	c3 := e.sim.AddCylinder(sim.CylinderSeed{Name: "c3"})
	k := e.sim.AddKey(sim.KeySeed{Type: cwm.KeyTypeNormal, Cylinders: []string{c1}})

	upd, err := e.m.SetKeyAccess(ctx, k, cwm.KeyAccess{Cylinders: []string{c2, c3}})
	require.NoError(t, err)
	assert.False(t, upd.RemoteUpdatePending, "nothing changes on a normal key itself")
	require.Len(t, upd.Jobs, 3)
	actions := map[string]string{}
	for _, j := range upd.Jobs {
		actions[j.CylinderIdentity] = j.Action
		assert.Equal(t, cwm.JobPending, j.State)
	}
	assert.Equal(t, map[string]string{c1: cwm.JobRemoveKey, c2: cwm.JobAddKey, c3: cwm.JobAddKey}, actions)

	t.Run("the same access again creates nothing", func(t *testing.T) {
		before, err := e.sim.Requests(ctx, 0)
		require.NoError(t, err)
		upd2, err := e.m.SetKeyAccess(ctx, k, cwm.KeyAccess{Cylinders: []string{c3, c2}})
		require.NoError(t, err)
		assert.Len(t, upd2.Jobs, 3)
		reqs, err := e.sim.Requests(ctx, before[len(before)-1].Seq+1)
		require.NoError(t, err)
		require.Len(t, reqs, 1)
		assert.False(t, reqs[0].Changed)
		assert.Equal(t, cwm.OpSetKeyAccess, reqs[0].Op)
	})

	ok, _ := opens(t, e.sim, k, c2)
	assert.False(t, ok, "not before a programming key visits c2")
	require.NoError(t, e.sim.VisitLock(ctx, c2))
	ok, _ = opens(t, e.sim, k, c2)
	assert.True(t, ok)
	ok, _ = opens(t, e.sim, k, c1)
	assert.True(t, ok, "c1 not yet visited")
	require.NoError(t, e.sim.VisitLock(ctx, c1))
	ok, _ = opens(t, e.sim, k, c1)
	assert.False(t, ok)

	t.Run("undoing a change before the visit cancels the job", func(t *testing.T) {
		upd, err := e.m.SetKeyAccess(ctx, k, cwm.KeyAccess{Cylinders: []string{c2}})
		require.NoError(t, err)
		assert.Empty(t, upd.Jobs, "c3's ADD job is cancelled, nothing else changes")
		jobs, err := e.m.GetProgrammingJobs(ctx, cwm.JobQuery{KeyIdentity: k})
		require.NoError(t, err)
		states := map[string]int{}
		for _, j := range jobs {
			states[j.State]++
		}
		assert.Equal(t, map[string]int{cwm.JobDone: 2, cwm.JobCancelled: 1}, states)
	})
}

func TestRevalidationExpiry(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := e.sim.AddCylinder(sim.CylinderSeed{Name: "c"})
	k := e.sim.AddKey(sim.KeySeed{Type: cwm.KeyTypeDynamic, Cylinders: []string{c}, RevalidationDays: 7})

	require.NoError(t, e.sim.Advance(ctx, 7*24*time.Hour-time.Second))
	ok, _ := opens(t, e.sim, k, c)
	assert.True(t, ok)
	require.NoError(t, e.sim.Advance(ctx, time.Second))
	ok, why := opens(t, e.sim, k, c)
	assert.False(t, ok)
	assert.Equal(t, "expired", why)
	require.NoError(t, e.sim.DeliverKey(ctx, k, simctl.ViaProgrammingDevice))
	ok, _ = opens(t, e.sim, k, c)
	assert.True(t, ok, "revalidated at the PD")

	t.Run("a new period reaches the key at its next update", func(t *testing.T) {
		require.NoError(t, e.m.SetKeyRevalidation(ctx, k, cwm.Revalidation{Enabled: true, PeriodDays: 1}))
		st, _ := e.sim.KeyState(k)
		assert.True(t, st.PendingUpdate)
		require.NoError(t, e.sim.Advance(ctx, 2*24*time.Hour))
		ok, _ := opens(t, e.sim, k, c)
		assert.True(t, ok, "the key still carries the 7-day period")
	})
	t.Run("period out of range", func(t *testing.T) {
		err := e.m.SetKeyRevalidation(ctx, k, cwm.Revalidation{Enabled: true, PeriodDays: 0})
		assert.Equal(t, cwm.KindInvalid, cwm.KindOf(err))
	})
}

func TestValidityAndSchedule(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := e.sim.AddCylinder(sim.CylinderSeed{Name: "c"})
	k := e.sim.AddKey(sim.KeySeed{Type: cwm.KeyTypeDynamic, Cylinders: []string{c}})
	deliver := func() { require.NoError(t, e.sim.DeliverKey(ctx, k, simctl.ViaProgrammingDevice)) }

	cases := []struct {
		name   string
		set    func() error
		opened bool
		reason string
	}{
		{"never valid", func() error { return e.m.SetKeyValidity(ctx, k, cwm.Validity{Type: cwm.ValidityNever}) }, false, "expired"},
		{"valid between, now inside", func() error {
			return e.m.SetKeyValidity(ctx, k, cwm.Validity{Type: cwm.ValidityBetween,
				From: cwm.NewDateTime(start.Add(-time.Hour)), To: cwm.NewDateTime(start.Add(time.Hour))})
		}, true, ""},
		{"valid between, ended", func() error {
			return e.m.SetKeyValidity(ctx, k, cwm.Validity{Type: cwm.ValidityBetween, To: cwm.NewDateTime(start)})
		}, false, "expired"},
		{"always valid, Monday schedule 08-10", func() error {
			if err := e.m.SetKeyValidity(ctx, k, cwm.Validity{Type: cwm.ValidityAlways}); err != nil {
				return err
			}
			return e.m.SetKeySchedule(ctx, k, cwm.Schedule{Intervals: []cwm.Interval{{Day: "MONDAY", From: "08:00", To: "10:00"}}})
		}, true, ""},
		{"Tuesday-only schedule", func() error {
			return e.m.SetKeySchedule(ctx, k, cwm.Schedule{Intervals: []cwm.Interval{{Day: "TUESDAY", From: "00:00", To: "24:00"}}})
		}, false, "outside schedule"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.NoError(t, tc.set())
			deliver()
			ok, why := opens(t, e.sim, k, c)
			assert.Equal(t, tc.opened, ok)
			assert.Equal(t, tc.reason, why)
		})
	}
	t.Run("bad schedule", func(t *testing.T) {
		err := e.m.SetKeySchedule(ctx, k, cwm.Schedule{Intervals: []cwm.Interval{{Day: "MONDAY", From: "10:00", To: "09:00"}}})
		assert.Equal(t, cwm.KindInvalid, cwm.KindOf(err))
	})
}

func TestBlacklistCapacity(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := e.sim.AddCylinder(sim.CylinderSeed{Name: "c"})
	k1 := e.sim.AddKey(sim.KeySeed{Cylinders: []string{c}})
	k2 := e.sim.AddKey(sim.KeySeed{Cylinders: []string{c}})
	e.sim.FillBlacklist(c, sim.BlacklistCapacity-1)

	jobs, err := e.m.BlacklistKey(ctx, k1, nil)
	require.NoError(t, err, "the 3,000th entry fits")
	require.Len(t, jobs, 1)
	assert.Equal(t, c, jobs[0].CylinderIdentity)
	assert.Equal(t, sim.BlacklistCapacity, e.sim.BlacklistSize(c))

	_, err = e.m.BlacklistKey(ctx, k2, []string{c})
	require.Error(t, err, "the 3,001st does not")
	assert.Equal(t, cwm.KindCapacity, cwm.KindOf(err))
	assert.Contains(t, err.Error(), "blacklist of cylinder")
	assert.Contains(t, err.Error(), "3000 of 3000")

	again, err := e.m.BlacklistKey(ctx, k1, nil)
	require.NoError(t, err, "repeating a blacklisting is no new entry")
	assert.Equal(t, jobs[0].Identity, again[0].Identity)

	ok, _ := opens(t, e.sim, k1, c)
	assert.True(t, ok, "not before a programming key visits")
	require.NoError(t, e.sim.VisitLock(ctx, c))
	ok, why := opens(t, e.sim, k1, c)
	assert.False(t, ok)
	assert.Equal(t, "blocklisted", why)

	_, err = e.m.UnblacklistKey(ctx, k1, nil)
	require.NoError(t, err)
	require.NoError(t, e.sim.VisitLock(ctx, c))
	ok, _ = opens(t, e.sim, k1, c)
	assert.True(t, ok)
}

func TestCylinderKeepsLastThousandEvents(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := e.sim.AddCylinder(sim.CylinderSeed{Name: "c"})
	k := e.sim.AddKey(sim.KeySeed{Cylinders: []string{c}})
	for i := 0; i < sim.CylinderEventMemory+5; i++ {
		opens(t, e.sim, k, c)
	}
	require.NoError(t, e.sim.VisitLock(ctx, c))
	rows, err := e.c.GetAuditTrails(ctx, start, time.Time{}, 0, 1000)
	require.NoError(t, err)
	assert.Len(t, rows, sim.CylinderEventMemory)
	require.NoError(t, e.sim.VisitLock(ctx, c))
	more, err := e.c.GetAuditTrails(ctx, start, time.Time{}, 1000, 1000)
	require.NoError(t, err)
	assert.Empty(t, more, "a second visit collects nothing new")
}

func TestCustodyAndSoftDelete(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	p1 := e.sim.AddPerson(sim.PersonSeed{FirstName: "A", Surname: "One"})
	p2 := e.sim.AddPerson(sim.PersonSeed{FirstName: "B", Surname: "Two"})
	k := e.sim.AddKey(sim.KeySeed{})
	gone := e.sim.AddKey(sim.KeySeed{Deleted: true})

	require.NoError(t, e.m.HandOutKey(ctx, k, p1))
	require.NoError(t, e.m.HandOutKey(ctx, k, p1), "again is no change")
	err := e.m.HandOutKey(ctx, k, p2)
	assert.Equal(t, cwm.KindConflict, cwm.KindOf(err))
	keys, err := e.c.GetKeysForPerson(ctx, p1)
	require.NoError(t, err)
	require.Len(t, keys, 1)
	require.NoError(t, e.m.HandInKey(ctx, k))
	keys, err = e.c.GetKeysForPerson(ctx, p1)
	require.NoError(t, err)
	assert.Empty(t, keys, "no key element when the person holds none")
	require.NoError(t, e.m.ReportKeyLost(ctx, k))
	assert.Equal(t, cwm.KindConflict, cwm.KindOf(e.m.HandOutKey(ctx, k, p2)))
	assert.Equal(t, cwm.KindNotFound, cwm.KindOf(e.m.HandOutKey(ctx, gone, p2)), "a deleted key cannot be handed out")

	id, err := e.m.CreatePerson(ctx, cwm.PersonInput{FirstName: "C", Surname: "Three", ExternalReference: "E3"})
	require.NoError(t, err)
	persons, err := e.c.GetPersons(ctx)
	require.NoError(t, err)
	require.Len(t, persons, 3)
	assert.Equal(t, id, persons[2].Identity)
	assert.Equal(t, "E3", persons[2].ExternalReference)
}

func TestClockNeverMovesBack(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	assert.Error(t, e.sim.SetTime(ctx, start.Add(-time.Second)))
	assert.Error(t, e.sim.Advance(ctx, -time.Second))
	require.NoError(t, e.sim.SetTime(ctx, start.Add(time.Hour)))
	now, err := e.sim.Now(ctx)
	require.NoError(t, err)
	assert.Equal(t, start.Add(time.Hour), now)
}

func TestIncrementalReads(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := e.sim.AddCylinder(sim.CylinderSeed{Name: "c"})
	k1 := e.sim.AddKey(sim.KeySeed{Type: cwm.KeyTypeDynamic})
	k2 := e.sim.AddKey(sim.KeySeed{Type: cwm.KeyTypeNormal})
	_, err := e.m.SetKeyAccess(ctx, k2, cwm.KeyAccess{Cylinders: []string{c}})
	require.NoError(t, err)
	require.NoError(t, e.sim.Advance(ctx, time.Hour))
	mark := start.Add(time.Hour)
	require.NoError(t, e.sim.DeliverKey(ctx, k1, simctl.ViaProgrammingDevice))
	_, err = e.m.BlacklistKey(ctx, k1, []string{c})
	require.NoError(t, err)

	keys, err := e.m.GetKeys(ctx, cwm.KeyQuery{UpdatedSince: mark})
	require.NoError(t, err)
	require.Len(t, keys, 1)
	assert.Equal(t, k1, keys[0].Identity)
	all, err := e.m.GetKeys(ctx, cwm.KeyQuery{})
	require.NoError(t, err)
	assert.Len(t, all, 2)

	cases := []struct {
		name string
		q    cwm.JobQuery
		want int
	}{
		{"all", cwm.JobQuery{}, 2},
		{"pending only", cwm.JobQuery{PendingOnly: true}, 2},
		{"since the mark: pending ones still come", cwm.JobQuery{Since: mark}, 2},
		{"one key", cwm.JobQuery{KeyIdentity: k2}, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			jobs, err := e.m.GetProgrammingJobs(ctx, tc.q)
			require.NoError(t, err)
			assert.Len(t, jobs, tc.want)
		})
	}
	require.NoError(t, e.sim.VisitLock(ctx, c))
	require.NoError(t, e.sim.Advance(ctx, time.Hour))
	jobs, err := e.m.GetProgrammingJobs(ctx, cwm.JobQuery{Since: start.Add(2 * time.Hour)})
	require.NoError(t, err)
	assert.Empty(t, jobs, "executed before, nothing pending")
	jobs, err = e.m.GetProgrammingJobs(ctx, cwm.JobQuery{Since: mark})
	require.NoError(t, err)
	assert.Len(t, jobs, 2, "executed since the mark")
}
