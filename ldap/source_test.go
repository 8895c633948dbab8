package ldap

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/core/domain"
	"github.com/keyward/keyward/core/engine"
	"github.com/keyward/keyward/core/store"
	"github.com/keyward/keyward/core/store/sqlite"
)

// The directory source against a real slapd: an added member becomes a grant, a
// removed one a revocation, a vanished group revokes after the grace period.
func TestDirectorySourceAgainstSlapd(t *testing.T) {
	ctx := context.Background()
	d := startSlapd(t, slapdOptions{})
	adm := d.admin(t)
	d.add(t, adm, testBase, map[string][]string{"objectClass": {"top", "dcObject", "organization"}, "dc": {"example"}, "o": {"Example"}})
	d.add(t, adm, "ou=people,"+testBase, map[string][]string{"objectClass": {"organizationalUnit"}, "ou": {"people"}})
	d.add(t, adm, "ou=groups,"+testBase, map[string][]string{"objectClass": {"organizationalUnit"}, "ou": {"groups"}})
	person := func(i int) string { return fmt.Sprintf("uid=p%d,ou=people,%s", i, testBase) }
	for i := range 4 {
		d.add(t, adm, person(i), map[string][]string{
			"objectClass": {"inetOrgPerson"}, "uid": {fmt.Sprintf("p%d", i)}, "cn": {fmt.Sprintf("P %d", i)}, "sn": {"P"},
			"employeeNumber": {fmt.Sprintf("E%05d", i)},
		})
	}
	group := "cn=north-doors,ou=groups," + testBase
	d.add(t, adm, group, map[string][]string{"objectClass": {"groupOfNames"}, "cn": {"north-doors"}, "member": {person(0), person(3)}})

	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "k.db"), sqlite.WithRelaxedSync())
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	eng := engine.New(st, engine.Options{})
	var steps []engine.Step
	for i := range 3 { // p3 has no identity in keyward
		steps = append(steps, engine.UpsertIdentity{Identity: &domain.Identity{UserName: fmt.Sprintf("u%d", i), Active: true, EmployeeNumber: fmt.Sprintf("E%05d", i)}})
	}
	steps = append(steps, engine.DefineEntitlement{Entitlement: &domain.Entitlement{Name: "North doors", Criticality: domain.CriticalityHigh}})
	res, err := eng.Execute(ctx, engine.Actor{Name: "test"}, steps...)
	require.NoError(t, err)
	ids, entID := res.IDs[:3], res.IDs[3]
	// A manual grant must survive whatever the directory says.
	_, err = eng.Execute(ctx, engine.Actor{Name: "admin"}, engine.Grant{IdentityID: ids[1], EntitlementID: entID})
	require.NoError(t, err)

	src, err := NewSource(eng, SourceConfig{
		Name: "corp", URL: d.url, BindDN: d.rootDN, Password: d.rootPW,
		Groups:      []GroupMapping{{DN: group, Entitlement: "north doors"}},
		GracePeriod: 300 * time.Millisecond, FullEvery: 100,
		PeopleBase: "ou=people," + testBase, PageSize: 2,
	})
	require.NoError(t, err)
	dirGrants := func() []string {
		var out []string
		require.NoError(t, eng.Store().View(ctx, func(tx store.Tx) error {
			gs, err := store.All[domain.Grant](ctx, tx, store.And{store.Eqf("entitlementId", entID), store.Eqf("source", "directory:corp"),
				store.Or{store.Eqf("state", "active"), store.Eqf("state", "requested")}})
			for _, g := range gs {
				out = append(out, g.IdentityID)
			}
			return err
		}))
		return out
	}
	sync := func() GroupReport {
		rep, err := src.Sync(ctx)
		require.NoError(t, err)
		require.Len(t, rep, 1)
		require.NoError(t, rep[0].Err)
		return rep[0]
	}

	r := sync()
	assert.Len(t, src.values, 4, "the people were read with a paged search (2 a page)")
	assert.Equal(t, []string{ids[0]}, r.Granted)
	assert.Equal(t, []string{person(3)}, r.Unmatched, "a member without an identity is reported")
	assert.ElementsMatch(t, []string{ids[0]}, dirGrants())

	t.Run("unchanged group is skipped", func(t *testing.T) {
		assert.True(t, sync().Skipped)
	})
	t.Run("added member becomes a grant", func(t *testing.T) {
		time.Sleep(1100 * time.Millisecond) // slapd's modifyTimestamp has second resolution
		mr := goldap.NewModifyRequest(group, nil)
		mr.Add("member", []string{person(2)})
		require.NoError(t, adm.Modify(mr))
		r := sync()
		assert.Equal(t, []string{ids[2]}, r.Granted)
		assert.ElementsMatch(t, []string{ids[0], ids[2]}, dirGrants())
	})
	t.Run("removed member becomes a revocation", func(t *testing.T) {
		time.Sleep(1100 * time.Millisecond)
		mr := goldap.NewModifyRequest(group, nil)
		mr.Delete("member", []string{person(0)})
		require.NoError(t, adm.Modify(mr))
		r := sync()
		assert.Equal(t, []string{ids[0]}, r.Revoked)
		assert.ElementsMatch(t, []string{ids[2]}, dirGrants())
	})
	t.Run("vanished group revokes only after the grace period", func(t *testing.T) {
		require.NoError(t, adm.Del(goldap.NewDelRequest(group, nil)))
		r := sync()
		assert.True(t, r.Missing)
		assert.Empty(t, r.Revoked)
		assert.ElementsMatch(t, []string{ids[2]}, dirGrants())
		time.Sleep(350 * time.Millisecond)
		r = sync()
		assert.Equal(t, []string{ids[2]}, r.Revoked)
		assert.Empty(t, dirGrants())
	})
	t.Run("grants from other sources are untouched", func(t *testing.T) {
		var manual []*domain.Grant
		require.NoError(t, eng.Store().View(ctx, func(tx store.Tx) error {
			var err error
			manual, err = store.All[domain.Grant](ctx, tx, store.And{store.Eqf("identityId", ids[1]), store.Eqf("state", "active")})
			return err
		}))
		assert.Len(t, manual, 1)
	})
}
