package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/core/domain"
	"github.com/keyward/keyward/core/store"
)

// auditRow builds a plausible audit row; the store does not check the chain, only
// the sequence.
func auditRow(seq int64, at time.Time, identity, entitlement, key string) store.AuditRow {
	return store.AuditRow{
		Seq:           seq,
		At:            at,
		IdentityID:    identity,
		EntitlementID: entitlement,
		KeyID:         key,
		Body:          fmt.Appendf(nil, `{"seq":%d,"action":"grant.create"}`, seq),
		PrevHash:      fmt.Sprintf("h%d", seq-1),
		Hash:          fmt.Sprintf("h%d", seq),
	}
}

func appendRows(t *testing.T, s store.Store, rows ...store.AuditRow) {
	t.Helper()
	update(t, s, func(tx store.Tx) error {
		for _, r := range rows {
			if err := tx.AppendAudit(t.Context(), r); err != nil {
				return err
			}
		}
		return nil
	})
}

func assertRow(t *testing.T, want, got store.AuditRow) {
	t.Helper()
	assert.Equal(t, want.Seq, got.Seq)
	assert.True(t, want.At.Equal(got.At), "At: want %v, got %v", want.At, got.At)
	assert.Equal(t, want.IdentityID, got.IdentityID)
	assert.Equal(t, want.EntitlementID, got.EntitlementID)
	assert.Equal(t, want.KeyID, got.KeyID)
	assert.Equal(t, want.Body, got.Body)
	assert.Equal(t, want.PrevHash, got.PrevHash)
	assert.Equal(t, want.Hash, got.Hash)
}

func seqs(rows []store.AuditRow) []int64 {
	out := make([]int64, 0, len(rows))
	for _, r := range rows {
		out = append(out, r.Seq)
	}
	return out
}

func testAuditAppendAndLast(t *testing.T, s store.Store) {
	view(t, s, func(tx store.Tx) error {
		_, ok, err := tx.LastAudit(t.Context())
		assert.False(t, ok, "an empty log has no last row")
		return err
	})
	// A time outside UTC and with nanoseconds comes back as the same instant.
	at := time.Date(2026, 11, 5, 9, 30, 1, 123456789, time.FixedZone("CET", 3600))
	rows := []store.AuditRow{
		auditRow(1, at, "i1", "e1", ""),
		auditRow(2, at.Add(time.Second), "i1", "", "k1"),
		auditRow(3, at.Add(2*time.Second), "", "", ""),
	}
	appendRows(t, s, rows[0])
	appendRows(t, s, rows[1:]...)
	view(t, s, func(tx store.Tx) error {
		last, ok, err := tx.LastAudit(t.Context())
		require.NoError(t, err)
		require.True(t, ok)
		assertRow(t, rows[2], last)
		return nil
	})
	// Inside one Update, each append is at once the last row.
	update(t, s, func(tx store.Tx) error {
		for seq := int64(4); seq <= 6; seq++ {
			row := auditRow(seq, at.Add(time.Duration(seq)*time.Second), "i2", "e2", "k2")
			require.NoError(t, tx.AppendAudit(t.Context(), row))
			row.Body[0] = 'X' // the store keeps its own copy
			last, ok, err := tx.LastAudit(t.Context())
			require.NoError(t, err)
			require.True(t, ok)
			want := auditRow(seq, row.At, "i2", "e2", "k2")
			assertRow(t, want, last)
		}
		return nil
	})
	view(t, s, func(tx store.Tx) error {
		last, ok, err := tx.LastAudit(t.Context())
		require.NoError(t, err)
		require.True(t, ok)
		assertRow(t, auditRow(6, at.Add(6*time.Second), "i2", "e2", "k2"), last)
		return nil
	})
}

func testAuditSeqMustFollow(t *testing.T, s store.Store) {
	now := time.Now()
	app := func(seq int64) error {
		return s.Update(t.Context(), func(tx store.Tx) error { return tx.AppendAudit(t.Context(), auditRow(seq, now, "", "", "")) })
	}
	assertKind(t, app(2), domain.ErrConflict, "the first row is seq 1")
	assertKind(t, app(0), domain.ErrConflict, "seq 0")
	assertKind(t, app(-1), domain.ErrConflict, "negative seq")
	require.NoError(t, app(1))
	require.NoError(t, app(2))
	assertKind(t, app(2), domain.ErrConflict, "a repeated seq")
	assertKind(t, app(1), domain.ErrConflict, "an old seq")
	assertKind(t, app(4), domain.ErrConflict, "a gap")
	require.NoError(t, app(3))
	view(t, s, func(tx store.Tx) error {
		last, ok, err := tx.LastAudit(t.Context())
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, int64(3), last.Seq)
		return nil
	})
}

func testAuditScan(t *testing.T, s store.Store) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var rows []store.AuditRow
	for i := int64(1); i <= 5; i++ {
		rows = append(rows, auditRow(i, base.Add(time.Duration(i)*time.Minute), fmt.Sprintf("i%d", i), "", ""))
	}
	appendRows(t, s, rows...)

	scan := func(from int64) []store.AuditRow {
		var got []store.AuditRow
		view(t, s, func(tx store.Tx) error {
			return tx.ScanAudit(t.Context(), from, func(r store.AuditRow) error {
				got = append(got, r)
				return nil
			})
		})
		return got
	}
	for _, tc := range []struct {
		from int64
		want []int64
	}{
		{0, []int64{1, 2, 3, 4, 5}},
		{1, []int64{1, 2, 3, 4, 5}},
		{3, []int64{3, 4, 5}},
		{5, []int64{5}},
		{6, []int64{}},
		{99, []int64{}},
	} {
		assert.Equal(t, tc.want, seqs(scan(tc.from)), "from %d", tc.from)
	}
	got := scan(1)
	require.Len(t, got, 5)
	for i := range rows {
		assertRow(t, rows[i], got[i])
	}

	t.Run("stops at the first error", func(t *testing.T) {
		calls := 0
		err := s.View(t.Context(), func(tx store.Tx) error {
			return tx.ScanAudit(t.Context(), 1, func(r store.AuditRow) error {
				calls++
				if r.Seq == 2 {
					return errBoom
				}
				return nil
			})
		})
		assert.ErrorIs(t, err, errBoom)
		assert.Equal(t, 2, calls)
	})
	t.Run("fn may use the transaction", func(t *testing.T) {
		view(t, s, func(tx store.Tx) error {
			return tx.ScanAudit(t.Context(), 1, func(r store.AuditRow) error {
				found, err := tx.FindAudit(t.Context(), store.AuditFilter{IdentityID: r.IdentityID})
				if err != nil {
					return err
				}
				assert.Equal(t, []int64{r.Seq}, seqs(found))
				_, err = tx.Get(t.Context(), domain.KindIdentity, r.IdentityID)
				assertKind(t, err, domain.ErrNotFound)
				return nil
			})
		})
	})
	t.Run("in an Update with appends", func(t *testing.T) {
		update(t, s, func(tx store.Tx) error {
			return tx.ScanAudit(t.Context(), 5, func(r store.AuditRow) error {
				if r.Seq != 5 {
					return nil
				}
				return tx.AppendAudit(t.Context(), auditRow(6, base, "", "", ""))
			})
		})
		assert.Equal(t, []int64{1, 2, 3, 4, 5, 6}, seqs(scan(0)), "rows appended during a scan may or may not be visited; the log stays intact")
	})
}

func testAuditScanMany(t *testing.T, s store.Store) {
	const n = 2500 // more than a backend's batch of rows, most likely
	at := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	update(t, s, func(tx store.Tx) error {
		for i := int64(1); i <= n; i++ {
			if err := tx.AppendAudit(t.Context(), auditRow(i, at, "", "", "")); err != nil {
				return err
			}
		}
		return nil
	})
	for _, from := range []int64{1, 1000, 2001} {
		next := from
		view(t, s, func(tx store.Tx) error {
			return tx.ScanAudit(t.Context(), from, func(r store.AuditRow) error {
				if r.Seq != next {
					return fmt.Errorf("seq %d after %d", r.Seq, next-1)
				}
				next++
				return nil
			})
		})
		assert.Equal(t, int64(n+1), next, "from %d every row once, in order", from)
	}
}

func testAuditFind(t *testing.T, s store.Store) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Hour) }
	appendRows(t, s,
		auditRow(1, at(1), "i1", "e1", ""),
		auditRow(2, at(2), "i1", "", "k1"),
		auditRow(3, at(3), "i2", "e1", "k2"),
		auditRow(4, at(4), "i1", "e2", "k1"),
		auditRow(5, at(5), "", "e1", ""),
	)
	cases := []struct {
		name string
		f    store.AuditFilter
		want []int64
	}{
		{"empty filter", store.AuditFilter{}, []int64{1, 2, 3, 4, 5}},
		{"identity", store.AuditFilter{IdentityID: "i1"}, []int64{1, 2, 4}},
		{"identity and entitlement", store.AuditFilter{IdentityID: "i1", EntitlementID: "e1"}, []int64{1}},
		{"identity and key", store.AuditFilter{IdentityID: "i1", KeyID: "k1"}, []int64{2, 4}},
		{"identity, entitlement or key", store.AuditFilter{IdentityID: "i1", EntitlementID: "e1", KeyID: "k1"}, []int64{1, 2, 4}},
		{"entitlement", store.AuditFilter{EntitlementID: "e1"}, []int64{1, 3, 5}},
		{"key", store.AuditFilter{KeyID: "k1"}, []int64{2, 4}},
		{"entitlement or key", store.AuditFilter{EntitlementID: "e2", KeyID: "k2"}, []int64{3, 4}},
		{"until is inclusive", store.AuditFilter{Until: at(3)}, []int64{1, 2, 3}},
		{"identity until", store.AuditFilter{IdentityID: "i1", Until: at(2)}, []int64{1, 2}},
		{"until in another zone", store.AuditFilter{Until: at(2).In(time.FixedZone("X", -5*3600))}, []int64{1, 2}},
		{"until before everything", store.AuditFilter{Until: at(0)}, []int64{}},
		{"unknown identity", store.AuditFilter{IdentityID: "nobody"}, []int64{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got []store.AuditRow
			view(t, s, func(tx store.Tx) error {
				var err error
				got, err = tx.FindAudit(t.Context(), tc.f)
				return err
			})
			assert.Equal(t, tc.want, seqs(got))
		})
	}
	t.Run("rows are complete", func(t *testing.T) {
		var got []store.AuditRow
		view(t, s, func(tx store.Tx) error {
			var err error
			got, err = tx.FindAudit(t.Context(), store.AuditFilter{KeyID: "k2"})
			return err
		})
		require.Len(t, got, 1)
		assertRow(t, auditRow(3, at(3), "i2", "e1", "k2"), got[0])
	})
}
