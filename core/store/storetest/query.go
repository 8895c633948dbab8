package storetest

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/core/domain"
	"github.com/keyward/keyward/core/store"
)

// filterFixture stores five identities whose attributes exercise every operator,
// and one asset that must never show up in an identity listing. It returns the
// stored records by id.
func filterFixture(t *testing.T, s store.Store) map[string]store.Record {
	out := map[string]store.Record{}
	recs := []store.Record{
		rec(domain.KindIdentity, "u1", "userName", "Alice", "emails.value", "alice@example.com",
			"emails.value", "a.smith@Work.example", "emails.value", "alice@example.com",
			"projects", "apollo", "projects", "gemini", "department", "Sales", "active", "true",
			"employeeNumber", "0042"),
		rec(domain.KindIdentity, "u2", "userName", "bob", "emails.value", "bob@example.com",
			"projects", "apollo", "department", "sales", "active", "false", "employeeNumber", "0100"),
		rec(domain.KindIdentity, "u3", "userName", "Carol", "department", "R&D", "active", "true",
			"employeeNumber", "0007", "title", `50%_off*[x]?\`),
		rec(domain.KindIdentity, "u4", "userName", "dave", "emails.value", "DAVE@EXAMPLE.ORG",
			"projects", "gemini", "active", "true", "title", "Dr. Who"),
		rec(domain.KindIdentity, "u5", "userName", "ÉMILE", "department", "Sales", "active", "true"),
		rec(domain.KindAsset, "a1", "userName", "Alice", "department", "Sales"),
	}
	// One transaction each, so that created and modified times follow the order.
	for _, r := range recs {
		out[r.ID] = put(t, s, r, 0)
	}
	return out
}

func cmp(attr string, op store.Op, value string, exact bool) store.Compare {
	return store.Compare{Attr: attr, Op: op, Value: value, CaseExact: exact}
}

func fold(attr string, op store.Op, value string) store.Compare { return cmp(attr, op, value, false) }

func exact(attr string, op store.Op, value string) store.Compare { return cmp(attr, op, value, true) }

func testFilters(t *testing.T, s store.Store) {
	fx := filterFixture(t, s)
	all := []string{"u1", "u2", "u3", "u4", "u5"}
	none := []string{}
	u1Created := domain.FormatTime(fx["u1"].Created)
	u5Modified := domain.FormatTime(fx["u5"].Modified)

	cases := []struct {
		name   string
		filter store.Expr
		want   []string
	}{
		{"nil filter", nil, all},
		{"empty and", store.And{}, all},
		{"empty or", store.Or{}, none},

		{"eq exact", exact("userName", store.Eq, "Alice"), []string{"u1"}},
		{"eq exact is case-sensitive", exact("userName", store.Eq, "alice"), none},
		{"eq folded", fold("userName", store.Eq, "ALICE"), []string{"u1"}},
		{"eq folded non-ASCII", fold("userName", store.Eq, "émile"), []string{"u5"}},
		{"eq folded multi-valued", fold("emails.value", store.Eq, "dave@example.org"), []string{"u4"}},
		{"eq duplicate values list the record once", exact("emails.value", store.Eq, "alice@example.com"), []string{"u1"}},
		{"eq unknown attribute", exact("nosuch", store.Eq, "x"), none},

		{"ne folded includes records without the attribute", fold("department", store.Ne, "SALES"), []string{"u3", "u4"}},
		{"ne exact", exact("department", store.Ne, "Sales"), []string{"u2", "u3", "u4"}},
		{"ne multi-valued: no value equal", exact("projects", store.Ne, "apollo"), []string{"u3", "u4", "u5"}},

		{"co exact", exact("emails.value", store.Co, "example.com"), []string{"u1", "u2"}},
		{"co exact is case-sensitive", exact("emails.value", store.Co, "EXAMPLE"), []string{"u4"}},
		{"co folded", fold("emails.value", store.Co, "Example"), []string{"u1", "u2", "u4"}},
		{"co percent and underscore are literal", exact("title", store.Co, "%_"), []string{"u3"}},
		{"co LIKE wildcards do not match", exact("title", store.Co, "5_%"), none},
		{"co glob wildcards do not match", exact("title", store.Co, "D*o"), none},
		{"co star and bracket are literal", exact("title", store.Co, "*[x]"), []string{"u3"}},
		{"co question mark is literal", exact("title", store.Co, "]?"), []string{"u3"}},
		{"co backslash is literal", exact("title", store.Co, `?\`), []string{"u3"}},
		{"co single character", exact("title", store.Co, "?"), []string{"u3"}},

		{"sw exact", exact("userName", store.Sw, "C"), []string{"u3"}},
		{"sw exact is case-sensitive", exact("userName", store.Sw, "c"), none},
		{"sw folded", fold("userName", store.Sw, "c"), []string{"u3"}},
		{"sw folded non-ASCII", fold("userName", store.Sw, "émi"), []string{"u5"}},
		{"sw with percent", exact("title", store.Sw, "50%"), []string{"u3"}},
		{"sw LIKE wildcard is literal", exact("title", store.Sw, "5_"), none},
		{"sw multi-valued", fold("emails.value", store.Sw, "A."), []string{"u1"}},

		{"ew exact", exact("emails.value", store.Ew, "Work.example"), []string{"u1"}},
		{"ew exact is case-sensitive", exact("emails.value", store.Ew, ".org"), none},
		{"ew folded", fold("emails.value", store.Ew, ".ORG"), []string{"u4"}},
		{"ew with brackets", exact("title", store.Ew, `[x]?\`), []string{"u3"}},

		{"gt", exact("employeeNumber", store.Gt, "0042"), []string{"u2"}},
		{"ge", exact("employeeNumber", store.Ge, "0042"), []string{"u1", "u2"}},
		{"lt", exact("employeeNumber", store.Lt, "0042"), []string{"u3"}},
		{"le", exact("employeeNumber", store.Le, "0042"), []string{"u1", "u3"}},
		{"gt exact compares bytes", exact("userName", store.Gt, "bob"), []string{"u4", "u5"}},
		{"gt folded", fold("userName", store.Gt, "BOB"), []string{"u3", "u4", "u5"}},
		{"le folded", fold("userName", store.Le, "BOB"), []string{"u1", "u2"}},
		{"ge multi-valued", exact("projects", store.Ge, "b"), []string{"u1", "u4"}},

		{"present", store.Present{Attr: "emails.value"}, []string{"u1", "u2", "u4"}},
		{"present single", store.Present{Attr: "title"}, []string{"u3", "u4"}},
		{"present unknown", store.Present{Attr: "nosuch"}, none},
		{"not present", store.Not{X: store.Present{Attr: "emails.value"}}, []string{"u3", "u5"}},
		{"not present unknown", store.Not{X: store.Present{Attr: "nosuch"}}, all},

		{"and", store.And{fold("department", store.Eq, "sales"), exact("projects", store.Eq, "apollo")}, []string{"u1", "u2"}},
		{"and over different values of one attribute", store.And{exact("projects", store.Eq, "apollo"), exact("projects", store.Eq, "gemini")}, []string{"u1"}},
		{"and co over different values", store.And{fold("emails.value", store.Co, "alice"), fold("emails.value", store.Co, "work")}, []string{"u1"}},
		{"or", store.Or{exact("userName", store.Eq, "bob"), store.Present{Attr: "title"}}, []string{"u2", "u3", "u4"}},
		{"not", store.Not{X: exact("active", store.Eq, "true")}, []string{"u2"}},
		{"not not", store.Not{X: store.Not{X: exact("active", store.Eq, "false")}}, []string{"u2"}},
		{"nested", store.And{
			store.Or{fold("department", store.Eq, "sales"), exact("projects", store.Eq, "gemini")},
			store.Not{X: exact("active", store.Eq, "false")},
		}, []string{"u1", "u4", "u5"}},
		{"or of ands", store.Or{
			store.And{exact("active", store.Eq, "true"), exact("projects", store.Eq, "apollo")},
			store.And{store.Present{Attr: "title"}, store.Not{X: store.Present{Attr: "emails.value"}}},
		}, []string{"u1", "u3"}},
		{"and with an empty or", store.And{store.Present{Attr: "userName"}, store.Or{}}, none},
		{"or with an empty and", store.Or{exact("userName", store.Eq, "nobody"), store.And{}}, all},

		{"id eq", exact("id", store.Eq, "u2"), []string{"u2"}},
		{"id eq folded", fold("id", store.Eq, "U2"), []string{"u2"}},
		{"id ne", exact("id", store.Ne, "u2"), []string{"u1", "u3", "u4", "u5"}},
		{"id sw", exact("id", store.Sw, "u"), all},
		{"id gt", exact("id", store.Gt, "u3"), []string{"u4", "u5"}},
		{"id present", store.Present{Attr: "id"}, all},
		{"id in an or", store.Or{exact("id", store.Eq, "u1"), exact("id", store.Eq, "u5")}, []string{"u1", "u5"}},
		{"created le the first", exact("created", store.Le, u1Created), []string{"u1"}},
		{"created gt the first", exact("created", store.Gt, u1Created), []string{"u2", "u3", "u4", "u5"}},
		{"modified ge the last", exact("modified", store.Ge, u5Modified), []string{"u5"}},
		{"modified present", store.Present{Attr: "modified"}, all},
		{"created sw its year", exact("created", store.Sw, u1Created[:4]), all},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := list(t, s, domain.KindIdentity, store.Query{Filter: tc.filter, Limit: -1})
			require.NoError(t, err)
			assert.Equal(t, tc.want, ids(p))
			assert.Equal(t, len(tc.want), p.Total, "Total counts the matches")
		})
	}

	t.Run("records carry their data and meta", func(t *testing.T) {
		p, err := list(t, s, domain.KindIdentity, store.Query{Filter: exact("id", store.Eq, "u3"), Limit: -1})
		require.NoError(t, err)
		require.Len(t, p.Records, 1)
		got, want := p.Records[0], fx["u3"]
		assert.Equal(t, domain.KindIdentity, got.Kind)
		assert.Equal(t, want.Data, got.Data)
		assert.Equal(t, want.Version, got.Version)
		assert.True(t, want.Created.Equal(got.Created))
		assert.True(t, want.Modified.Equal(got.Modified))
	})
}

// bogus is an expression type the store does not know.
type bogus struct{ store.And }

func testInvalidQueries(t *testing.T, s store.Store) {
	filterFixture(t, s)
	cases := []struct {
		name string
		q    store.Query
	}{
		{"comparison without attribute", store.Query{Filter: store.Compare{Op: store.Eq, Value: "x"}}},
		{"unknown operator", store.Query{Filter: store.Compare{Attr: "userName", Op: "like", Value: "x"}}},
		{"empty operator", store.Query{Filter: store.Compare{Attr: "userName", Value: "x"}}},
		{"presence without attribute", store.Query{Filter: store.Present{}}},
		{"not without operand", store.Query{Filter: store.Not{}}},
		{"nested invalid", store.Query{Filter: store.And{store.Present{Attr: "x"}, store.Or{store.Not{X: store.Compare{Attr: "a", Op: "~="}}}}}},
		{"unknown expression", store.Query{Filter: bogus{}}},
		{"negative offset", store.Query{Offset: -1, Limit: 10}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := list(t, s, domain.KindIdentity, tc.q)
			assertKind(t, err, domain.ErrInvalid)
		})
	}
	t.Run("empty kind", func(t *testing.T) {
		_, err := list(t, s, "", store.Query{Limit: -1})
		assertKind(t, err, domain.ErrInvalid)
	})
}

func testIDOrder(t *testing.T, s store.Store) {
	in := []string{"b", "B", "a", "A", "10", "9", "a-1", "a_1", "é", "Z", "z", "1"}
	update(t, s, func(tx store.Tx) error {
		for _, id := range in {
			if _, err := tx.Put(t.Context(), rec(domain.KindKey, id, "type", "fob"), 0); err != nil {
				return err
			}
		}
		return nil
	})
	want := sorted(in...) // byte order, as sort.Strings
	for _, f := range []store.Expr{nil, exact("type", store.Eq, "fob"), store.Or{store.Present{Attr: "type"}, exact("id", store.Eq, "a")}} {
		p, err := list(t, s, domain.KindKey, store.Query{Filter: f, Limit: -1})
		require.NoError(t, err)
		assert.Equal(t, want, ids(p), "%v", f)
	}
	// Paging walks the same order.
	var walked []string
	for off := 0; off < len(in); off += 5 {
		p, err := list(t, s, domain.KindKey, store.Query{Offset: off, Limit: 5})
		require.NoError(t, err)
		walked = append(walked, ids(p)...)
	}
	assert.Equal(t, want, walked)
}

func testPaging(t *testing.T, s store.Store) {
	var all, odd []string
	update(t, s, func(tx store.Tx) error {
		for i := range 25 {
			id := fmt.Sprintf("r%02d", i)
			parity := "even"
			if i%2 == 1 {
				parity = "odd"
				odd = append(odd, id)
			}
			all = append(all, id)
			if _, err := tx.Put(t.Context(), rec(domain.KindGrant, id, "parity", parity), 0); err != nil {
				return err
			}
		}
		return nil
	})
	isOdd := exact("parity", store.Eq, "odd")
	cases := []struct {
		name  string
		q     store.Query
		want  []string
		total int
	}{
		{"first page", store.Query{Limit: 10}, all[:10], 25},
		{"middle page", store.Query{Offset: 10, Limit: 10}, all[10:20], 25},
		{"last partial page", store.Query{Offset: 20, Limit: 10}, all[20:], 25},
		{"offset at the end", store.Query{Offset: 25, Limit: 10}, []string{}, 25},
		{"offset beyond the end", store.Query{Offset: 100, Limit: 10}, []string{}, 25},
		{"limit 0 gives only the total", store.Query{Limit: 0}, []string{}, 25},
		{"limit 0 with an offset", store.Query{Offset: 7, Limit: 0}, []string{}, 25},
		{"limit -1 gives all", store.Query{Limit: -1}, all, 25},
		{"any negative limit gives all", store.Query{Limit: -5}, all, 25},
		{"offset with limit -1", store.Query{Offset: 5, Limit: -1}, all[5:], 25},
		{"filtered first page", store.Query{Filter: isOdd, Limit: 5}, odd[:5], 12},
		{"filtered last page", store.Query{Filter: isOdd, Offset: 10, Limit: 5}, odd[10:], 12},
		{"filtered count only", store.Query{Filter: isOdd}, []string{}, 12},
		{"no match", store.Query{Filter: exact("parity", store.Eq, "none"), Limit: 5}, []string{}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := list(t, s, domain.KindGrant, tc.q)
			require.NoError(t, err)
			assert.Equal(t, tc.want, ids(p))
			assert.Equal(t, tc.total, p.Total)
		})
	}
}

func testNextSequence(t *testing.T, s store.Store) {
	next := func(name string) (int64, error) {
		var n int64
		err := s.Update(t.Context(), func(tx store.Tx) error {
			var err error
			n, err = tx.NextSequence(t.Context(), name)
			return err
		})
		return n, err
	}
	for want := int64(1); want <= 3; want++ {
		n, err := next("operations")
		require.NoError(t, err)
		assert.Equal(t, want, n)
	}
	n, err := next("tasks")
	require.NoError(t, err)
	assert.Equal(t, int64(1), n, "counters are independent")
	update(t, s, func(tx store.Tx) error {
		for want := int64(4); want <= 6; want++ {
			n, err := tx.NextSequence(t.Context(), "operations")
			require.NoError(t, err)
			assert.Equal(t, want, n, "several steps in one transaction")
		}
		return nil
	})
	_, err = next("")
	assertKind(t, err, domain.ErrInvalid)
}
