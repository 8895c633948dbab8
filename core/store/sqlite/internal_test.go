package sqlite

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/core/domain"
	"github.com/keyward/keyward/core/store"
)

func openTest(t *testing.T) *Store {
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "keyward.db"), WithRelaxedSync(), WithLogger(slog.New(slog.DiscardHandler)))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

// explain returns the query plan of the page query List runs for filter.
func explain(ctx context.Context, t *testing.T, s *Store, filter store.Expr) string {
	var lines []string
	require.NoError(t, s.View(ctx, func(stx store.Tx) error {
		plan, err := stx.(*tx).listWhere(ctx, domain.KindIdentity, filter)
		require.NoError(t, err)
		where, args := plan.where.sql, plan.where.args
		rows, err := stx.(*tx).tx.QueryContext(ctx, `EXPLAIN QUERY PLAN SELECT r.id, r.version, r.created, r.modified, r.data FROM resources r WHERE `+
			where+` ORDER BY r.id LIMIT ? OFFSET ?`, append(args, 10, 0)...)
		require.NoError(t, err)
		defer rows.Close()
		for rows.Next() {
			var id, parent, notused int
			var detail string
			require.NoError(t, rows.Scan(&id, &parent, &notused, &detail))
			lines = append(lines, detail)
		}
		return rows.Err()
	}))
	return strings.Join(lines, "\n")
}

// TestQueriesUseIndexes checks with EXPLAIN QUERY PLAN that the look-ups the
// edges make most are index searches, never a scan of a table.
func TestQueriesUseIndexes(t *testing.T) {
	s := openTest(t)
	cases := []struct {
		name   string
		filter store.Expr
		want   []string // each must appear in the plan
	}{
		{"userName eq folded", store.Compare{Attr: "userName", Op: store.Eq, Value: "alice"},
			[]string{"attrs_by_folded (kind=? AND name=? AND folded=?)", "(kind=? AND id=?)"}},
		{"userName eq exact", store.Eqf("userName", "alice"),
			[]string{"attrs_by_value (kind=? AND name=? AND value=?)", "(kind=? AND id=?)"}},
		{"userName sw exact", store.Compare{Attr: "userName", Op: store.Sw, Value: "al", CaseExact: true},
			[]string{"attrs_by_value (kind=? AND name=? AND value>? AND value<?)"}},
		{"userName sw folded", store.Compare{Attr: "userName", Op: store.Sw, Value: "Al"},
			[]string{"attrs_by_folded (kind=? AND name=? AND folded>? AND folded<?)"}},
		{"externalId eq and active", store.And{store.Eqf("externalId", "x"), store.Eqf("active", "true")},
			[]string{"attrs_by_value (kind=? AND name=? AND value=?)", "(kind=? AND id=?)"}},
		{"and: one driver, the rest probes the primary key", store.And{store.Eqf("active", "true"), store.Eqf("externalId", "x")},
			[]string{"attrs_by_value (kind=? AND name=? AND value=?)", "PRIMARY KEY (kind=? AND id=? AND name=? AND value=?)"}},
		{"or of comparisons is a union of index searches", store.Or{store.Eqf("userName", "x"), store.Compare{Attr: "emails.value", Op: store.Eq, Value: "x"}},
			[]string{"UNION", "attrs_by_value (kind=? AND name=? AND value=?)", "attrs_by_folded (kind=? AND name=? AND folded=?)"}},
		{"id eq", store.Eqf("id", "x"), []string{"(kind=? AND id=?)"}},
		{"id eq and more", store.And{store.Eqf("id", "x"), store.Eqf("active", "true")}, []string{"(kind=? AND id=?)"}},
		{"no filter", nil, []string{"(kind=?)"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			plan := explain(t.Context(), t, s, tc.filter)
			for _, w := range tc.want {
				assert.Contains(t, plan, w)
			}
			assert.NotContains(t, plan, "SCAN", "no table or index is scanned whole")
			assert.NotContains(t, plan, "TEMP B-TREE", "the id order comes from the index")
		})
	}
}

// TestDriverIsTheMostSelective checks that of an And's indexable parts, the one
// with the fewest matches drives the query, whatever its position.
func TestDriverIsTheMostSelective(t *testing.T) {
	s := openTest(t)
	require.NoError(t, s.Update(t.Context(), func(stx store.Tx) error {
		for i := range 300 {
			id := &domain.Identity{Meta: domain.Meta{ID: fmt.Sprintf("u%03d", i)}, UserName: fmt.Sprintf("user%d", i), Active: true, ExternalID: fmt.Sprintf("x%d", i),
				Department: fmt.Sprintf("d%d", i%3)}
			if err := store.Put(t.Context(), stx, id, 0); err != nil {
				return err
			}
		}
		return nil
	}))
	active, ext, dept := store.Eqf("active", "true"), store.Eqf("externalId", "x7"), store.Eqf("department", "d1")
	require.NoError(t, s.View(t.Context(), func(stx store.Tx) error {
		b := builder{kind: string(domain.KindIdentity)}
		for _, tc := range []struct {
			parts []store.Expr
			want  int
		}{
			{[]store.Expr{active, ext}, 1},
			{[]store.Expr{ext, active}, 0},
			{[]store.Expr{active, store.Not{X: ext}}, 0},
			{[]store.Expr{store.Not{X: ext}}, -1},
			// 300 and 100 matches: both beyond the first probe, told apart by the second.
			{[]store.Expr{active, dept}, 1},
			{[]store.Expr{dept, active}, 0},
		} {
			got, err := stx.(*tx).pickDriver(t.Context(), &b, tc.parts)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got, "%v", tc.parts)
		}
		return nil
	}))
}

// TestConstraintIsConflict checks that a constraint violation the store did not
// foresee still surfaces as domain.ErrConflict.
func TestConstraintIsConflict(t *testing.T) {
	s := openTest(t)
	err := s.Update(t.Context(), func(stx store.Tx) error {
		raw := stx.(*tx).tx
		insert := `INSERT INTO sequences (name, value) VALUES ('x', 1)`
		if _, err := raw.ExecContext(t.Context(), insert); err != nil {
			return err
		}
		_, err := raw.ExecContext(t.Context(), insert)
		return s.fail(t.Context(), "insert twice", err)
	})
	assert.ErrorIs(t, err, domain.ErrConflict)
	assert.Contains(t, err.Error(), "UNIQUE constraint failed")
}

func TestGlobEscape(t *testing.T) {
	for in, want := range map[string]string{
		"plain": "plain",
		"a*b":   "a[*]b",
		"?":     "[?]",
		"[x]":   "[[]x]",
		`50%_\`: `50%_\`,
		"é*":    "é[*]",
	} {
		assert.Equal(t, want, globEscape(in), in)
	}
}

// TestFindAuditUsesIndexes checks that the why query's look-ups search the
// partial indexes instead of scanning the log.
func TestFindAuditUsesIndexes(t *testing.T) {
	s := openTest(t)
	cases := []struct {
		name string
		f    store.AuditFilter
		want []string
	}{
		{"identity", store.AuditFilter{IdentityID: "i"}, []string{"audit_by_identity"}},
		{"identity and entitlement", store.AuditFilter{IdentityID: "i", EntitlementID: "e"}, []string{"audit_by_"}},
		{"entitlement or key", store.AuditFilter{EntitlementID: "e", KeyID: "k"}, []string{"audit_by_entitlement", "audit_by_key"}},
		{"key until", store.AuditFilter{KeyID: "k", Until: time.Now()}, []string{"audit_by_key"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			q, args := auditQuery(tc.f)
			rows, err := s.r.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+q, args...)
			require.NoError(t, err)
			defer rows.Close()
			var plan []string
			for rows.Next() {
				var id, parent, notused int
				var detail string
				require.NoError(t, rows.Scan(&id, &parent, &notused, &detail))
				plan = append(plan, detail)
			}
			text := strings.Join(plan, "\n")
			for _, w := range tc.want {
				assert.Contains(t, text, w)
			}
			assert.NotContains(t, text, "SCAN audit", "the log is not scanned whole")
		})
	}
}

func TestParseTime(t *testing.T) {
	for _, in := range []time.Time{
		time.Date(2026, 12, 3, 16, 58, 1, 123456789, time.UTC),
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(2024, 2, 29, 0, 0, 0, 1, time.FixedZone("X", 7200)),
	} {
		got, err := parseTime(domain.FormatTime(in))
		require.NoError(t, err)
		assert.True(t, in.Equal(got), "%v", in)
		assert.Equal(t, time.UTC, got.Location())
	}
	for _, bad := range []string{"", "2026-12-03", "2026-13-03T00:00:00.000000000Z", "2026-04-31T00:00:00.000000000Z",
		"2026-12-03T24:00:00.000000000Z", "2026-12-03T00:00:00.00000000xZ", "2026-12-03 00:00:00.000000000Z"} {
		_, err := parseTime(bad)
		assert.Error(t, err, "%q", bad)
	}
}
