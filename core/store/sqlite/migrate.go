package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/keyward/keyward/core/domain"
)

// The migrations are numbered files, NNNN_what.sql, applied in order and never
// edited once released: a schema change is a new file.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// ErrSchemaTooNew is returned when the database was migrated by a newer keyward
// than this binary: running on it could corrupt data this binary does not know.
var ErrSchemaTooNew = errors.New("database schema is newer than this keyward")

// Migration is one embedded schema migration.
type Migration struct {
	Version int
	Name    string
	sql     string
}

var migrationName = regexp.MustCompile(`^(\d{4})_([a-z0-9_]+)\.sql$`)

// Migrations lists the embedded migrations in order.
var Migrations = sync.OnceValues(func() ([]Migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("sqlite store: read embedded migrations: %w", err)
	}
	var out []Migration
	for _, e := range entries {
		m := migrationName.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("sqlite store: embedded migration %q is not named NNNN_name.sql", e.Name())
		}
		body, err := migrationFiles.ReadFile(path.Join("migrations", e.Name()))
		if err != nil {
			return nil, fmt.Errorf("sqlite store: read embedded migration %s: %w", e.Name(), err)
		}
		v, _ := strconv.Atoi(m[1])
		out = append(out, Migration{Version: v, Name: m[2], sql: string(body)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	for i, m := range out {
		if m.Version != i+1 {
			return nil, fmt.Errorf("sqlite store: embedded migrations must be numbered 1, 2, 3...: found %04d where %04d belongs", m.Version, i+1)
		}
	}
	return out, nil
})

// LatestSchemaVersion is the schema version this binary migrates to.
func LatestSchemaVersion() int {
	ms, err := Migrations()
	if err != nil {
		return 0
	}
	return len(ms)
}

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER NOT NULL PRIMARY KEY,
    name    TEXT    NOT NULL,
    applied TEXT    NOT NULL
)`

// Migrate applies the pending migrations in one transaction and returns those it
// applied (none when the schema is current). A database newer than this binary is
// refused with ErrSchemaTooNew.
func (s *Store) Migrate(ctx context.Context) ([]Migration, error) {
	ms, err := Migrations()
	if err != nil {
		return nil, err
	}
	tx, err := s.w.BeginTx(ctx, nil) // BEGIN IMMEDIATE: one migrator at a time
	if err != nil {
		return nil, s.fail(ctx, "migrate: begin", err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, createMigrationsTable); err != nil {
		return nil, s.fail(ctx, "migrate: create schema_migrations", err)
	}
	current, err := schemaVersion(ctx, tx)
	if err != nil {
		return nil, s.fail(ctx, "migrate: read the schema version", err)
	}
	if err := s.tooNew(current, len(ms)); err != nil {
		return nil, err
	}
	var applied []Migration
	for _, m := range ms[current:] {
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			return nil, s.fail(ctx, fmt.Sprintf("migrate: apply %04d_%s", m.Version, m.Name), err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied) VALUES (?, ?, ?)`,
			m.Version, m.Name, domain.FormatTime(time.Now())); err != nil {
			return nil, s.fail(ctx, fmt.Sprintf("migrate: record %04d_%s", m.Version, m.Name), err)
		}
		applied = append(applied, m)
	}
	if err := tx.Commit(); err != nil {
		return nil, s.fail(ctx, "migrate: commit", err)
	}
	for _, m := range applied {
		s.logger.InfoContext(ctx, "store migration applied", "path", s.path, "version", m.Version, "migration", m.Name)
	}
	return applied, nil
}

// SchemaVersion returns the database's schema version (0 for a new database) and
// the latest version this binary knows.
func (s *Store) SchemaVersion(ctx context.Context) (current, latest int, err error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, 0, s.fail(ctx, "schema version: begin", err)
	}
	defer func() { _ = tx.Rollback() }()
	current, err = schemaVersion(ctx, tx)
	if err != nil {
		return 0, 0, s.fail(ctx, "schema version", err)
	}
	return current, LatestSchemaVersion(), nil
}

func (s *Store) checkNotNewer(ctx context.Context) error {
	current, latest, err := s.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	return s.tooNew(current, latest)
}

func (s *Store) tooNew(current, latest int) error {
	if current > latest {
		return fmt.Errorf("sqlite store: %s: %w: the database is at schema version %d, this binary knows up to %d; run a keyward at least as new as the one that migrated it", s.path, ErrSchemaTooNew, current, latest)
	}
	return nil
}

// schemaVersion reads the highest applied migration, 0 when there is none.
func schemaVersion(ctx context.Context, tx *sql.Tx) (int, error) {
	var n int
	err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`).Scan(&n)
	if err != nil || n == 0 {
		return 0, err
	}
	var v sql.NullInt64
	if err := tx.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, err
	}
	return int(v.Int64), nil
}
