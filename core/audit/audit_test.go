package audit_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/core/audit"
	"github.com/keyward/keyward/core/domain"
	"github.com/keyward/keyward/core/store"
	"github.com/keyward/keyward/core/store/sqlite"
)

// chainOf writes n events and returns the store and its file.
func chainOf(t *testing.T, n int) (store.Store, string) {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "audit.db")
	st, err := sqlite.Open(ctx, path, sqlite.WithRelaxedSync())
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	c := audit.NewChain()
	at := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	for i := 0; i < n; i++ {
		require.NoError(t, st.Update(ctx, func(tx store.Tx) error {
			return c.Append(ctx, tx, &domain.AuditEvent{At: at.Add(time.Duration(i) * time.Minute), Actor: "test", Action: "grant.created",
				SubjectKind: domain.KindGrant, SubjectID: "g", Data: []byte(`{"n": 1}`)})
		}))
	}
	return st, path
}

// tamper changes the file behind keyward's back, as someone with write access could.
func tamper(t *testing.T, path string, stmts ...string) {
	t.Helper()
	db, err := sql.Open("sqlite3", path)
	require.NoError(t, err)
	defer db.Close()
	for _, s := range append([]string{"DROP TRIGGER IF EXISTS audit_no_update", "DROP TRIGGER IF EXISTS audit_no_delete"}, stmts...) {
		_, err := db.Exec(s)
		require.NoError(t, err, s)
	}
}

func TestVerifyIntactChain(t *testing.T) {
	st, _ := chainOf(t, 20)
	rep, err := audit.Verify(context.Background(), st)
	require.NoError(t, err)
	assert.Nil(t, rep.Problem)
	assert.EqualValues(t, 20, rep.Events)
}

func TestVerifyNamesTheFirstBrokenEvent(t *testing.T) {
	cases := []struct {
		name    string
		stmts   []string
		seq     int64
		excerpt string
	}{
		{"edited body", []string{`UPDATE audit SET body = replace(body, '"actor":"test"', '"actor":"mallory"') WHERE seq = 7`}, 7, "edited"},
		{"edited body with its hash recomputed elsewhere", []string{`UPDATE audit SET hash = 'ff' || substr(hash, 3) WHERE seq = 7`}, 7, "edited"},
		{"deleted", []string{`DELETE FROM audit WHERE seq = 9`}, 10, "deleted"},
		{"look-up column edited", []string{`UPDATE audit SET identity_id = 'someone-else' WHERE seq = 3`}, 3, "look-up columns"},
		{"reordered", []string{
			`UPDATE audit SET seq = -1 WHERE seq = 4`, `UPDATE audit SET seq = 4 WHERE seq = 5`, `UPDATE audit SET seq = 5 WHERE seq = -1`,
		}, 4, "reordered"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, path := chainOf(t, 12)
			tamper(t, path, c.stmts...)
			rep, err := audit.Verify(context.Background(), st)
			require.NoError(t, err)
			require.NotNil(t, rep.Problem, "tampering must be found")
			assert.Equal(t, c.seq, rep.Problem.Seq)
			assert.Contains(t, rep.Problem.Reason, c.excerpt)
		})
	}
}
