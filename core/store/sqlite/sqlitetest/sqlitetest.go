// Package sqlitetest opens throwaway SQLite stores for the tests of other
// packages: a fresh database in the test's temporary folder, closed when the test
// ends.
package sqlitetest

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/keyward/keyward/core/store/sqlite"
)

// New opens a fresh store for t. Commits are not synced to disk one by one (the
// data is thrown away anyway) and the store logs nothing; opts come after these
// defaults and may override them.
func New(t testing.TB, opts ...sqlite.Option) *sqlite.Store {
	t.Helper()
	all := append([]sqlite.Option{sqlite.WithRelaxedSync(), sqlite.WithLogger(slog.New(slog.DiscardHandler))}, opts...)
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "keyward.db"), all...)
	if err != nil {
		t.Fatalf("open a test store: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close the test store: %v", err)
		}
	})
	return s
}
