package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/core/domain"
	"github.com/keyward/keyward/core/store"
)

func testPutGetRoundTrip(t *testing.T, s store.Store) {
	in := rec(domain.KindIdentity, "u1", "userName", "alice", "emails.value", "a@example.com", "emails.value", "alice@example.org")
	in.Data = []byte(`{"userName":"alice","note":"bytes kept as they are"}`)
	before := time.Now().Add(-time.Second)

	out := put(t, s, in, 0)
	assert.Equal(t, domain.KindIdentity, out.Kind)
	assert.Equal(t, "u1", out.ID)
	assert.Equal(t, int64(1), out.Version)
	assert.True(t, out.Created.After(before), "Created is set to now")
	assert.True(t, out.Created.Equal(out.Modified), "a new record is created and modified at once")
	assert.Equal(t, time.UTC, out.Created.Location(), "times come back in UTC")

	got, err := get(t, s, domain.KindIdentity, "u1")
	require.NoError(t, err)
	assert.Equal(t, out.Version, got.Version)
	assert.True(t, out.Created.Equal(got.Created), "Put returns the Created the store keeps")
	assert.True(t, out.Modified.Equal(got.Modified), "Put returns the Modified the store keeps")
	assert.Equal(t, in.Data, got.Data)
	assert.ElementsMatch(t, in.Attrs, got.Attrs)
	assert.Equal(t, domain.KindIdentity, got.Kind)
	assert.Equal(t, "u1", got.ID)

	// A value given twice is one indexed value.
	put(t, s, rec(domain.KindIdentity, "u2", "projects", "apollo", "projects", "apollo", "userName", "bob"), 0)
	got, err = get(t, s, domain.KindIdentity, "u2")
	require.NoError(t, err)
	assert.ElementsMatch(t, []domain.Attr{{Name: "projects", Value: "apollo"}, {Name: "userName", Value: "bob"}}, got.Attrs)
}

func testPutExpectedVersions(t *testing.T, s store.Store) {
	r := rec(domain.KindIdentity, "u1", "userName", "alice")
	require.Equal(t, int64(1), put(t, s, r, 0).Version)

	steps := []struct {
		name    string
		id      string
		expect  int64
		version int64 // the version after a successful Put
		err     error // the sentinel of a refused Put
	}{
		{"create-only on an existing record", "u1", 0, 0, domain.ErrConflict},
		{"any version replaces", "u1", store.AnyVersion, 2, nil},
		{"matching version replaces", "u1", 2, 3, nil},
		{"stale version", "u1", 2, 0, domain.ErrConflict},
		{"version from the future", "u1", 9, 0, domain.ErrConflict},
		{"expected version of a missing record", "u2", 4, 0, domain.ErrNotFound},
		{"any version creates", "u3", store.AnyVersion, 1, nil},
		{"negative version other than AnyVersion", "u1", -2, 0, domain.ErrInvalid},
	}
	for _, st := range steps {
		r := rec(domain.KindIdentity, st.id, "userName", st.id)
		var out store.Record
		err := s.Update(t.Context(), func(tx store.Tx) error {
			var err error
			out, err = tx.Put(t.Context(), r, st.expect)
			return err
		})
		if st.err != nil {
			assertKind(t, err, st.err, st.name)
			continue
		}
		if assert.NoError(t, err, st.name) {
			assert.Equal(t, st.version, out.Version, st.name)
		}
	}
	got, err := get(t, s, domain.KindIdentity, "u1")
	require.NoError(t, err)
	assert.Equal(t, int64(3), got.Version, "refused Puts change nothing")
	_, err = get(t, s, domain.KindIdentity, "u2")
	assertKind(t, err, domain.ErrNotFound, "a refused Put creates nothing")
}

func testPutInvalid(t *testing.T, s store.Store) {
	cases := []struct {
		name string
		rec  store.Record
	}{
		{"no kind", store.Record{ID: "x", Data: []byte(`{}`)}},
		{"no id", store.Record{Kind: domain.KindIdentity, Data: []byte(`{}`)}},
		{"attribute without a name", rec(domain.KindIdentity, "x", "", "v")},
		{"attribute named like a special attribute", rec(domain.KindIdentity, "x", "id", "y")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assertKind(t, putErr(t, s, tc.rec, store.AnyVersion), domain.ErrInvalid)
		})
	}
}

func testReplaceMeta(t *testing.T, s store.Store) {
	first := put(t, s, rec(domain.KindIdentity, "u1", "userName", "alice"), 0)
	second := put(t, s, rec(domain.KindIdentity, "u1", "userName", "alice2"), first.Version)
	third := put(t, s, rec(domain.KindIdentity, "u1", "userName", "alice3"), store.AnyVersion)

	assert.Equal(t, int64(2), second.Version)
	assert.Equal(t, int64(3), third.Version)
	assert.True(t, second.Created.Equal(first.Created), "Created is kept on replace")
	assert.True(t, third.Created.Equal(first.Created), "Created is kept on replace")
	assert.True(t, second.Modified.After(first.Modified), "Modified moves forward on replace")
	assert.True(t, third.Modified.After(second.Modified), "Modified moves forward on replace")

	got, err := get(t, s, domain.KindIdentity, "u1")
	require.NoError(t, err)
	assert.True(t, got.Created.Equal(first.Created))
	assert.True(t, got.Modified.Equal(third.Modified))
	assert.Equal(t, int64(3), got.Version)
}

func testReplaceAttrs(t *testing.T, s store.Store) {
	put(t, s, rec(domain.KindIdentity, "u1", "department", "sales", "projects", "a", "projects", "b"), 0)
	put(t, s, rec(domain.KindIdentity, "u1", "department", "research", "projects", "c"), 1)

	for _, tc := range []struct {
		filter store.Expr
		want   []string
	}{
		{store.Eqf("department", "sales"), []string{}},
		{store.Eqf("department", "research"), []string{"u1"}},
		{store.Eqf("projects", "a"), []string{}},
		{store.Eqf("projects", "c"), []string{"u1"}},
	} {
		p, err := list(t, s, domain.KindIdentity, store.Query{Filter: tc.filter, Limit: -1})
		require.NoError(t, err)
		assert.Equal(t, tc.want, ids(p), "%+v", tc.filter)
	}
	got, err := get(t, s, domain.KindIdentity, "u1")
	require.NoError(t, err)
	assert.ElementsMatch(t, []domain.Attr{{Name: "department", Value: "research"}, {Name: "projects", Value: "c"}}, got.Attrs)
}

func testKindsSeparate(t *testing.T, s store.Store) {
	put(t, s, rec(domain.KindIdentity, "same", "name", "person"), 0)
	put(t, s, rec(domain.KindAsset, "same", "name", "room"), 0)

	id, err := get(t, s, domain.KindIdentity, "same")
	require.NoError(t, err)
	assert.ElementsMatch(t, []domain.Attr{{Name: "name", Value: "person"}}, id.Attrs)

	p, err := list(t, s, domain.KindAsset, store.Query{Filter: store.Eqf("name", "person"), Limit: -1})
	require.NoError(t, err)
	assert.Empty(t, p.Records, "a filter sees only its kind's attributes")
	assert.Zero(t, p.Total)

	assertTotal(t, s, domain.KindIdentity, 1)
	assertTotal(t, s, domain.KindAsset, 1)
	assertTotal(t, s, domain.KindKey, 0)

	update(t, s, func(tx store.Tx) error { return tx.Delete(t.Context(), domain.KindAsset, "same", 1) })
	assertTotal(t, s, domain.KindAsset, 0)
	assertTotal(t, s, domain.KindIdentity, 1)
	_, err = get(t, s, domain.KindIdentity, "same")
	assert.NoError(t, err, "deleting one kind's record leaves the other kind's")
}

func testDelete(t *testing.T, s store.Store) {
	put(t, s, rec(domain.KindIdentity, "u1", "userName", "alice"), 0)
	put(t, s, rec(domain.KindIdentity, "u1", "userName", "alice"), 1) // version 2
	put(t, s, rec(domain.KindIdentity, "u2", "userName", "bob"), 0)

	del := func(id string, expect int64) error {
		return s.Update(t.Context(), func(tx store.Tx) error { return tx.Delete(t.Context(), domain.KindIdentity, id, expect) })
	}
	assertKind(t, del("u1", 1), domain.ErrConflict, "stale version")
	assertKind(t, del("u1", 0), domain.ErrConflict, "expect 0 means it must not exist")
	assertKind(t, del("nobody", store.AnyVersion), domain.ErrNotFound)
	assertKind(t, del("nobody", 3), domain.ErrNotFound)
	assertKind(t, del("u1", -7), domain.ErrInvalid)
	require.NoError(t, del("u1", 2))
	require.NoError(t, del("u2", store.AnyVersion))

	for _, id := range []string{"u1", "u2"} {
		_, err := get(t, s, domain.KindIdentity, id)
		assertKind(t, err, domain.ErrNotFound, id)
	}
	p, err := list(t, s, domain.KindIdentity, store.Query{Filter: store.Present{Attr: "userName"}, Limit: -1})
	require.NoError(t, err)
	assert.Empty(t, p.Records, "a deleted record's attributes go with it")

	assertTotal(t, s, domain.KindIdentity, 0)

	again := put(t, s, rec(domain.KindIdentity, "u1", "userName", "alice"), 0)
	assert.Equal(t, int64(1), again.Version, "a re-created record starts again at version 1")
	assertTotal(t, s, domain.KindIdentity, 1)
}

// assertTotal checks the count of an unfiltered listing, alone and with records.
func assertTotal(t *testing.T, s store.Store, kind domain.Kind, want int) {
	t.Helper()
	for _, q := range []store.Query{{Limit: 0}, {Limit: -1}, {Filter: store.And{}, Limit: 0}} {
		p, err := list(t, s, kind, q)
		require.NoError(t, err)
		assert.Equal(t, want, p.Total, "unfiltered Total of %s (%+v)", kind, q)
	}
}

func testNotFound(t *testing.T, s store.Store) {
	_, err := get(t, s, domain.KindIdentity, "missing")
	assertKind(t, err, domain.ErrNotFound)
	view(t, s, func(tx store.Tx) error {
		ok, err := store.Exists(t.Context(), tx, domain.KindIdentity, "missing")
		assert.NoError(t, err)
		assert.False(t, ok)
		_, err = store.Get[domain.Identity](t.Context(), tx, "missing")
		assertKind(t, err, domain.ErrNotFound)
		return nil
	})
}

func testReadYourWrites(t *testing.T, s store.Store) {
	update(t, s, func(tx store.Tx) error {
		ctx := t.Context()
		_, err := tx.Put(ctx, rec(domain.KindIdentity, "u1", "userName", "alice"), 0)
		require.NoError(t, err)
		got, err := tx.Get(ctx, domain.KindIdentity, "u1")
		require.NoError(t, err)
		assert.Equal(t, int64(1), got.Version)
		p, err := tx.List(ctx, domain.KindIdentity, store.Query{Filter: store.Eqf("userName", "alice"), Limit: -1})
		require.NoError(t, err)
		assert.Equal(t, []string{"u1"}, ids(p))
		require.NoError(t, tx.Delete(ctx, domain.KindIdentity, "u1", 1))
		_, err = tx.Get(ctx, domain.KindIdentity, "u1")
		assertKind(t, err, domain.ErrNotFound)
		return nil
	})
}

func testRollback(t *testing.T, s store.Store) {
	put(t, s, rec(domain.KindIdentity, "keep", "userName", "kept"), 0)

	err := s.Update(t.Context(), func(tx store.Tx) error {
		ctx := t.Context()
		_, err := tx.Put(ctx, rec(domain.KindIdentity, "new", "userName", "new"), 0)
		require.NoError(t, err)
		_, err = tx.Put(ctx, rec(domain.KindIdentity, "keep", "userName", "changed"), 1)
		require.NoError(t, err)
		n, err := tx.NextSequence(ctx, "ops")
		require.NoError(t, err)
		require.Equal(t, int64(1), n)
		require.NoError(t, tx.AppendAudit(ctx, auditRow(1, time.Now(), "i", "", "")))
		return errBoom
	})
	assert.Equal(t, errBoom, err, "Update returns fn's error as is")

	_, err = get(t, s, domain.KindIdentity, "new")
	assertKind(t, err, domain.ErrNotFound, "a rolled back create leaves nothing")
	kept, err := get(t, s, domain.KindIdentity, "keep")
	require.NoError(t, err)
	assert.Equal(t, int64(1), kept.Version, "a rolled back replace leaves the old version")
	assert.ElementsMatch(t, []domain.Attr{{Name: "userName", Value: "kept"}}, kept.Attrs)
	p, err := list(t, s, domain.KindIdentity, store.Query{Filter: store.Eqf("userName", "changed"), Limit: -1})
	require.NoError(t, err)
	assert.Zero(t, p.Total, "a rolled back replace leaves the old attributes")
	assertTotal(t, s, domain.KindIdentity, 1)

	update(t, s, func(tx store.Tx) error {
		n, err := tx.NextSequence(t.Context(), "ops")
		assert.Equal(t, int64(1), n, "a rolled back sequence step is not consumed")
		if err != nil {
			return err
		}
		_, ok, err := tx.LastAudit(t.Context())
		assert.False(t, ok, "a rolled back audit row is gone")
		return err
	})
}

func testRollbackOnStoreError(t *testing.T, s store.Store) {
	put(t, s, rec(domain.KindIdentity, "u1", "userName", "alice"), 0)
	err := s.Update(t.Context(), func(tx store.Tx) error {
		if _, err := tx.Put(t.Context(), rec(domain.KindIdentity, "u2", "userName", "bob"), 0); err != nil {
			return err
		}
		_, err := tx.Put(t.Context(), rec(domain.KindIdentity, "u1", "userName", "alice"), 0)
		return err
	})
	assertKind(t, err, domain.ErrConflict)
	_, err = get(t, s, domain.KindIdentity, "u2")
	assertKind(t, err, domain.ErrNotFound, "the batch is one commit or none")
}

func testViewRefusesWrites(t *testing.T, s store.Store) {
	put(t, s, rec(domain.KindIdentity, "u1", "userName", "alice"), 0)
	view(t, s, func(tx store.Tx) error {
		ctx := t.Context()
		_, err := tx.Put(ctx, rec(domain.KindIdentity, "u2", "userName", "bob"), 0)
		assertKind(t, err, store.ErrReadOnly, "Put")
		assertKind(t, tx.Delete(ctx, domain.KindIdentity, "u1", store.AnyVersion), store.ErrReadOnly, "Delete")
		_, err = tx.NextSequence(ctx, "s")
		assertKind(t, err, store.ErrReadOnly, "NextSequence")
		assertKind(t, tx.AppendAudit(ctx, auditRow(1, time.Now(), "", "", "")), store.ErrReadOnly, "AppendAudit")
		return nil
	})
	_, err := get(t, s, domain.KindIdentity, "u2")
	assertKind(t, err, domain.ErrNotFound)
	_, err = get(t, s, domain.KindIdentity, "u1")
	assert.NoError(t, err)
	update(t, s, func(tx store.Tx) error {
		n, err := tx.NextSequence(t.Context(), "s")
		assert.Equal(t, int64(1), n)
		return err
	})
}

func testTxAfterEnd(t *testing.T, s store.Store) {
	var kept store.Tx
	view(t, s, func(tx store.Tx) error { kept = tx; return nil })
	_, err := kept.Get(t.Context(), domain.KindIdentity, "u1")
	assert.Error(t, err, "a View's Tx is unusable once View returned")

	update(t, s, func(tx store.Tx) error { kept = tx; return nil })
	_, err = kept.Put(t.Context(), rec(domain.KindIdentity, "u1"), 0)
	assert.Error(t, err, "an Update's Tx is unusable once Update returned")
	_, err = get(t, s, domain.KindIdentity, "u1")
	assertKind(t, err, domain.ErrNotFound)
}

func testContextCancelled(t *testing.T, s store.Store) {
	ctx, cancel := bgCtx(t)
	cancel()
	called := false
	err := s.Update(ctx, func(tx store.Tx) error { called = true; return nil })
	assert.ErrorIs(t, err, context.Canceled, "Update on a cancelled context")
	err = s.View(ctx, func(tx store.Tx) error { called = true; return nil })
	assert.ErrorIs(t, err, context.Canceled, "View on a cancelled context")
	assert.False(t, called, "fn does not run on a cancelled context")

	ctx, cancel = bgCtx(t)
	defer cancel()
	err = s.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.Put(ctx, rec(domain.KindIdentity, "u1", "userName", "alice"), 0); err != nil {
			return err
		}
		cancel()
		return nil
	})
	assert.ErrorIs(t, err, context.Canceled, "a context cancelled before commit fails the Update")
	_, err = get(t, s, domain.KindIdentity, "u1")
	assertKind(t, err, domain.ErrNotFound, "a cancelled Update commits nothing")
}

func testTypedHelpers(t *testing.T, s store.Store) {
	end := time.Date(2027, 3, 31, 17, 0, 0, 0, time.UTC)
	alice := &domain.Identity{
		Meta: domain.Meta{ID: "id-alice"}, UserName: "alice", Active: true,
		Emails:      []domain.Contact{{Value: "alice@example.com", Primary: true}},
		Department:  "Field Service",
		ContractEnd: &end,
		Projects:    []string{"north", "south"},
	}
	bob := &domain.Identity{Meta: domain.Meta{ID: "id-bob"}, UserName: "bob", Department: "Field Service"}
	update(t, s, func(tx store.Tx) error {
		require.NoError(t, store.Put(t.Context(), tx, alice, 0))
		return store.Put(t.Context(), tx, bob, 0)
	})
	assert.Equal(t, int64(1), alice.Version, "Put updates Meta")
	assert.False(t, alice.Created.IsZero())

	view(t, s, func(tx store.Tx) error {
		ctx := t.Context()
		got, err := store.Get[domain.Identity](ctx, tx, "id-alice")
		require.NoError(t, err)
		assert.Equal(t, alice.UserName, got.UserName)
		assert.Equal(t, alice.Projects, got.Projects)
		assert.True(t, got.ContractEnd.Equal(end))
		assert.Equal(t, alice.Version, got.Version)
		assert.True(t, alice.Modified.Equal(got.Modified))

		list, total, err := store.List[domain.Identity](ctx, tx, store.Query{Filter: store.Eqf("department", "Field Service"), Limit: 1})
		require.NoError(t, err)
		assert.Equal(t, 2, total)
		require.Len(t, list, 1)
		assert.Equal(t, "id-alice", list[0].ID)

		all, err := store.All[domain.Identity](ctx, tx, store.Compare{Attr: "contractEnd", Op: store.Le, Value: domain.FormatTime(end)})
		require.NoError(t, err)
		require.Len(t, all, 1)
		assert.Equal(t, "alice", all[0].UserName)

		ok, err := store.Exists(ctx, tx, domain.KindIdentity, "id-bob")
		assert.NoError(t, err)
		assert.True(t, ok)
		return nil
	})
}
