package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/core/domain"
	"github.com/keyward/keyward/core/store"
	"github.com/keyward/keyward/core/store/sqlite"
	"github.com/keyward/keyward/core/store/sqlite/sqlitetest"
	"github.com/keyward/keyward/core/store/storetest"
)

func newStore(t *testing.T) store.Store { return sqlitetest.New(t) }

func TestConformance(t *testing.T) { storetest.Run(t, newStore) }

func TestConcurrency(t *testing.T) { storetest.RunConcurrency(t, newStore) }

var quiet = sqlite.WithLogger(slog.New(slog.DiscardHandler))

func dbPath(t *testing.T) string { return filepath.Join(t.TempDir(), "keyward.db") }

func open(t *testing.T, path string, opts ...sqlite.Option) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), path, append([]sqlite.Option{quiet}, opts...)...)
	require.NoError(t, err)
	return s
}

// rawDB opens the file directly, the way an operator's sqlite3 shell (or an
// attacker) would.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite3", path+"?_busy_timeout=5000")
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func putIdentity(t *testing.T, s store.Store, id, userName string) {
	t.Helper()
	require.NoError(t, s.Update(t.Context(), func(tx store.Tx) error {
		return store.Put(t.Context(), tx, &domain.Identity{Meta: domain.Meta{ID: id}, UserName: userName, Active: true}, store.AnyVersion)
	}))
}

func TestMigrationsAppliedOnce(t *testing.T) {
	path := dbPath(t)
	latest := sqlite.LatestSchemaVersion()
	require.GreaterOrEqual(t, latest, 1)

	s := open(t, path)
	cur, lat, err := s.SchemaVersion(t.Context())
	require.NoError(t, err)
	assert.Equal(t, latest, cur, "Open applies every migration")
	assert.Equal(t, latest, lat)
	applied, err := s.Migrate(t.Context())
	require.NoError(t, err)
	assert.Empty(t, applied, "a current database has nothing to migrate")
	require.NoError(t, s.Close())

	s = open(t, path)
	applied, err = s.Migrate(t.Context())
	require.NoError(t, err)
	assert.Empty(t, applied, "re-opening applies nothing again")
	require.NoError(t, s.Close())

	var rows int
	require.NoError(t, rawDB(t, path).QueryRowContext(t.Context(), `SELECT COUNT(*) FROM schema_migrations`).Scan(&rows))
	assert.Equal(t, latest, rows, "one row per migration")
}

func TestMigrateCommandFlow(t *testing.T) {
	// keyward migrate opens without migrating, then reports what Migrate applied.
	path := dbPath(t)
	s := open(t, path, sqlite.WithoutMigrate())
	defer s.Close()
	cur, _, err := s.SchemaVersion(t.Context())
	require.NoError(t, err)
	assert.Zero(t, cur, "a new database starts at version 0")

	applied, err := s.Migrate(t.Context())
	require.NoError(t, err)
	ms, err := sqlite.Migrations()
	require.NoError(t, err)
	require.Len(t, applied, len(ms))
	for i, m := range applied {
		assert.Equal(t, i+1, m.Version)
		assert.NotEmpty(t, m.Name)
	}
	putIdentity(t, s, "u1", "alice")
}

func TestReopenKeepsData(t *testing.T) {
	path := dbPath(t)
	s := open(t, path)
	putIdentity(t, s, "u1", "alice")
	require.NoError(t, s.Update(t.Context(), func(tx store.Tx) error {
		if _, err := tx.NextSequence(t.Context(), "ops"); err != nil {
			return err
		}
		return tx.AppendAudit(t.Context(), store.AuditRow{Seq: 1, At: time.Now(), IdentityID: "u1", Body: []byte(`{}`), Hash: "h1"})
	}))
	require.NoError(t, s.Close())

	s = open(t, path)
	defer s.Close()
	require.NoError(t, s.Update(t.Context(), func(tx store.Tx) error {
		got, err := store.Get[domain.Identity](t.Context(), tx, "u1")
		require.NoError(t, err)
		assert.Equal(t, "alice", got.UserName)
		list, total, err := store.List[domain.Identity](t.Context(), tx, store.Query{Filter: store.Eqf("userName", "alice"), Limit: -1})
		require.NoError(t, err)
		assert.Equal(t, 1, total, "the indexes survive too")
		assert.Len(t, list, 1)
		n, err := tx.NextSequence(t.Context(), "ops")
		require.NoError(t, err)
		assert.Equal(t, int64(2), n)
		last, ok, err := tx.LastAudit(t.Context())
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, "h1", last.Hash)
		return nil
	}))
}

func TestNewerSchemaRefused(t *testing.T) {
	path := dbPath(t)
	s := open(t, path)
	putIdentity(t, s, "u1", "alice")
	require.NoError(t, s.Close())

	future := sqlite.LatestSchemaVersion() + 1
	_, err := rawDB(t, path).ExecContext(t.Context(), `INSERT INTO schema_migrations (version, name, applied) VALUES (?, 'from_the_future', '2030-01-01T00:00:00.000000000Z')`, future)
	require.NoError(t, err)

	for _, opts := range [][]sqlite.Option{nil, {sqlite.WithoutMigrate()}} {
		_, err = sqlite.Open(t.Context(), path, append(opts, quiet)...)
		require.ErrorIs(t, err, sqlite.ErrSchemaTooNew)
		assert.Contains(t, err.Error(), fmt.Sprintf("schema version %d", future), "the error says which version the database has")
		assert.Contains(t, err.Error(), path, "the error names the database")
	}
}

func TestWALAndPragmas(t *testing.T) {
	path := dbPath(t)
	s := open(t, path)
	defer s.Close()
	putIdentity(t, s, "u1", "alice")

	_, err := os.Stat(path + "-wal")
	assert.NoError(t, err, "a WAL file exists while the store is open")
	var mode string
	require.NoError(t, rawDB(t, path).QueryRowContext(t.Context(), `PRAGMA journal_mode`).Scan(&mode))
	assert.Equal(t, "wal", mode, "WAL mode is persistent in the file")
}

func TestBadPaths(t *testing.T) {
	for _, p := range []string{"", ":memory:", "file::memory:?cache=shared", "/tmp/x.db?mode=memory", "a?b.db"} {
		_, err := sqlite.Open(t.Context(), p, quiet)
		assert.ErrorIs(t, err, domain.ErrInvalid, "%q", p)
	}
	_, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "no", "such", "folder", "k.db"), quiet)
	assert.Error(t, err, "a folder that does not exist")
}

func TestNotADatabase(t *testing.T) {
	path := dbPath(t)
	require.NoError(t, os.WriteFile(path, []byte("this is not a database, just text that is long enough to fill a header......"), 0o600))
	_, err := sqlite.Open(t.Context(), path, quiet)
	require.Error(t, err)
	assert.Contains(t, err.Error(), path)
}

func TestAuditRowsAppendOnly(t *testing.T) {
	path := dbPath(t)
	s := open(t, path)
	defer s.Close()
	require.NoError(t, s.Update(t.Context(), func(tx store.Tx) error {
		return tx.AppendAudit(t.Context(), store.AuditRow{Seq: 1, At: time.Now(), Body: []byte(`{}`), Hash: "h1"})
	}))
	db := rawDB(t, path)
	_, err := db.ExecContext(t.Context(), `UPDATE audit SET hash = 'forged'`)
	assert.ErrorContains(t, err, "append-only")
	_, err = db.ExecContext(t.Context(), `DELETE FROM audit`)
	assert.ErrorContains(t, err, "append-only")
}

// TestTwoProcessesShareTheFile opens the same file twice, as two keyward
// processes would (serve and an admin command): their writes serialise through
// SQLite's lock and the busy timeout, and none is lost.
func TestTwoProcessesShareTheFile(t *testing.T) {
	path := dbPath(t)
	a := open(t, path)
	defer a.Close()
	b := open(t, path)
	defer b.Close()
	require.NoError(t, a.Update(t.Context(), func(tx store.Tx) error {
		_, err := tx.Put(t.Context(), store.Record{Kind: domain.KindSetting, ID: "n", Data: []byte(`0`)}, 0)
		return err
	}))
	const perStore = 20
	var wg sync.WaitGroup
	errs := make(chan error, 2*perStore)
	for _, s := range []*sqlite.Store{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range perStore {
				errs <- s.Update(t.Context(), func(tx store.Tx) error {
					cur, err := tx.Get(t.Context(), domain.KindSetting, "n")
					if err != nil {
						return err
					}
					var n int
					if _, err := fmt.Sscan(string(cur.Data), &n); err != nil {
						return err
					}
					_, err = tx.Put(t.Context(), store.Record{Kind: domain.KindSetting, ID: "n", Data: fmt.Appendf(nil, "%d", n+1)}, cur.Version)
					return err
				})
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.NoError(t, b.View(t.Context(), func(tx store.Tx) error {
		cur, err := tx.Get(t.Context(), domain.KindSetting, "n")
		require.NoError(t, err)
		assert.Equal(t, fmt.Sprint(2*perStore), string(cur.Data))
		return nil
	}))
}

func TestClockOption(t *testing.T) {
	fixed := time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)
	s := sqlitetest.New(t, sqlite.WithClock(func() time.Time { return fixed }))
	var first, second store.Record
	require.NoError(t, s.Update(t.Context(), func(tx store.Tx) error {
		var err error
		if first, err = tx.Put(t.Context(), store.Record{Kind: domain.KindSetting, ID: "x"}, 0); err != nil {
			return err
		}
		second, err = tx.Put(t.Context(), store.Record{Kind: domain.KindSetting, ID: "x"}, 1)
		return err
	}))
	assert.True(t, first.Created.Equal(fixed), "Created comes from the injected clock")
	assert.True(t, second.Modified.After(fixed), "Modified still moves forward when the clock stands still")
	assert.True(t, second.Created.Equal(fixed))
}

func TestCancelledQuery(t *testing.T) {
	s := sqlitetest.New(t)
	ctx, cancel := context.WithCancel(t.Context())
	err := s.View(ctx, func(tx store.Tx) error {
		cancel()
		_, err := tx.List(ctx, domain.KindIdentity, store.Query{Limit: -1})
		return err
	})
	assert.ErrorIs(t, err, context.Canceled)
}

// TestWaitingWriterHonoursItsDeadline holds the one writer in an Update and checks
// that a second Update gives up at its context's deadline, while Views go on.
func TestWaitingWriterHonoursItsDeadline(t *testing.T) {
	s := sqlitetest.New(t)
	holding, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- s.Update(context.Background(), func(tx store.Tx) error {
			close(holding)
			<-release
			return nil
		})
	}()
	<-holding
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	err := s.Update(ctx, func(tx store.Tx) error { return nil })
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.NoError(t, s.View(t.Context(), func(tx store.Tx) error {
		_, err := tx.List(t.Context(), domain.KindIdentity, store.Query{})
		return err
	}), "readers do not wait for the writer")
	close(release)
	require.NoError(t, <-done)
}

func TestCloseTwiceAndUseAfterClose(t *testing.T) {
	s := open(t, dbPath(t))
	require.NoError(t, s.Close())
	assert.NoError(t, s.Close(), "closing again is harmless")
	err := s.View(t.Context(), func(tx store.Tx) error { return nil })
	assert.Error(t, err, "a closed store refuses work")
	err = s.Update(t.Context(), func(tx store.Tx) error { return nil })
	assert.Error(t, err, "a closed store refuses work")
}
