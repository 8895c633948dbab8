// Package sqlite is keyward's embedded store: store.Store on SQLite through
// github.com/mattn/go-sqlite3.
//
// The database runs in WAL mode, so readers never wait for the writer. All writes
// go through one connection (a *sql.DB limited to one open connection, whose
// transactions begin IMMEDIATE), which serialises Updates inside the process and
// takes the database's write lock up front against other processes; Views use a
// pool of query-only connections. The schema is created and upgraded by the
// forward-only migrations embedded in the binary (see Migrate).
//
// SQLite needs a file: ":memory:" databases are refused, because every pooled
// connection would see its own empty database. Tests use a file in t.TempDir().
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mattn/go-sqlite3"

	"github.com/keyward/keyward/core/domain"
	"github.com/keyward/keyward/core/store"
)

var _ store.Store = (*Store)(nil)

// Store is a store.Store on one SQLite database file. It is safe for concurrent use.
type Store struct {
	path   string
	w      *sql.DB // the one writer connection
	r      *sql.DB // the query-only reader pool
	now    func() time.Time
	logger *slog.Logger

	closeOnce sync.Once
	closeErr  error
}

type config struct {
	busyTimeout time.Duration
	readers     int
	now         func() time.Time
	logger      *slog.Logger
	migrate     bool
	syncFull    bool
}

// Option configures Open.
type Option func(*config)

// WithBusyTimeout sets how long a connection waits for a lock held by another
// process before it fails (default 5 s).
func WithBusyTimeout(d time.Duration) Option { return func(c *config) { c.busyTimeout = d } }

// WithReaders sets the size of the reader pool (default: the number of CPUs, at
// least 4).
func WithReaders(n int) Option { return func(c *config) { c.readers = n } }

// WithClock sets the clock the store stamps Created and Modified with (default
// time.Now), so that tests with an injected clock get matching metadata.
func WithClock(now func() time.Time) Option { return func(c *config) { c.now = now } }

// WithLogger sets the logger for the store's own events (migrations applied).
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithoutMigrate opens the database without applying pending migrations, for
// `keyward migrate`, which calls Migrate itself to report what it applied. A
// database newer than this binary is still refused.
func WithoutMigrate() Option { return func(c *config) { c.migrate = false } }

// WithRelaxedSync trades durability for speed: commits in WAL mode are no longer
// synced to disk one by one (synchronous=NORMAL), so a power cut may lose the last
// commits (never the database's consistency, nor the audit chain's: it loses its
// tail). It saves one fsync per Update, which on a slow disk is most of a small
// Update's time. The default (synchronous=FULL) makes every commit durable
// before Update returns: an IGA is told "done" only for what survives.
func WithRelaxedSync() Option { return func(c *config) { c.syncFull = false } }

// Open opens (creating if need be) the database at path, applies pending
// migrations and returns the store. A database whose schema is newer than this
// binary is refused.
func Open(ctx context.Context, path string, opts ...Option) (*Store, error) {
	cfg := config{
		busyTimeout: 5 * time.Second,
		readers:     max(4, runtime.NumCPU()),
		now:         time.Now,
		logger:      slog.Default(),
		migrate:     true,
		syncFull:    true,
	}
	for _, o := range opts {
		o(&cfg)
	}
	if err := checkPath(path); err != nil {
		return nil, err
	}
	if cfg.readers < 1 {
		return nil, domain.Invalid("readers", "the reader pool needs at least one connection, not %d", cfg.readers)
	}

	syncMode := "FULL"
	if !cfg.syncFull {
		syncMode = "NORMAL"
	}
	dsn := func(pairs ...string) string {
		q := url.Values{}
		q.Set("_busy_timeout", strconv.FormatInt(cfg.busyTimeout.Milliseconds(), 10))
		q.Set("_foreign_keys", "1")
		q.Set("_stmt_cache_size", "64")
		for i := 0; i+1 < len(pairs); i += 2 {
			q.Set(pairs[i], pairs[i+1])
		}
		return path + "?" + q.Encode()
	}
	// The writer gets a larger page cache (32 MiB, allocated as needed) for the
	// index pages a big transaction touches.
	writerDSN := dsn("_journal_mode", "WAL", "_synchronous", syncMode, "_txlock", "immediate", "_cache_size", "-32768")
	readerDSN := dsn("_query_only", "1", "_txlock", "deferred")

	w, err := sql.Open("sqlite3", writerDSN)
	if err != nil {
		return nil, fmt.Errorf("sqlite store: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	s := &Store{path: path, w: w, now: cfg.now, logger: cfg.logger}

	var mode string
	if err := w.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		_ = w.Close()
		return nil, s.fail(ctx, "open "+path, err)
	}
	if !strings.EqualFold(mode, "wal") {
		_ = w.Close()
		return nil, fmt.Errorf("sqlite store: %s: journal mode is %q, not WAL (is the file on a file system without shared memory?)", path, mode)
	}
	if cfg.migrate {
		_, err = s.Migrate(ctx)
	} else {
		err = s.checkNotNewer(ctx)
	}
	if err != nil {
		_ = w.Close()
		return nil, err
	}
	// Let SQLite gather the statistics its query planner needs (cheap; it only
	// analyses what changed a lot). Close does the same for long-lived stores.
	if _, err := w.ExecContext(ctx, "PRAGMA optimize=0x10002"); err != nil {
		_ = w.Close()
		return nil, s.fail(ctx, "optimize "+path, err)
	}

	r, err := sql.Open("sqlite3", readerDSN)
	if err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("sqlite store: open %s for reading: %w", path, err)
	}
	r.SetMaxOpenConns(cfg.readers)
	r.SetMaxIdleConns(cfg.readers)
	r.SetConnMaxLifetime(0)
	if err := r.PingContext(ctx); err != nil {
		_ = w.Close()
		_ = r.Close()
		return nil, s.fail(ctx, "open "+path+" for reading", err)
	}
	s.r = r
	return s, nil
}

func checkPath(path string) error {
	switch {
	case path == "":
		return domain.Invalid("path", "the SQLite store needs a database file path")
	case path == ":memory:" || strings.Contains(path, "mode=memory") || strings.HasPrefix(path, "file::memory:"):
		return domain.Invalid("path", "in-memory SQLite databases are not supported (each connection would see its own); use a file, e.g. in a temporary folder")
	case strings.ContainsAny(path, "?#"):
		return domain.Invalid("path", "the database path %q may not contain '?' or '#'", path)
	}
	return nil
}

// Path returns the database file's path.
func (s *Store) Path() string { return s.path }

// Close closes the store's connections (the last one checkpoints the WAL into
// the database file). Closing again returns the first Close's result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		var errs []error
		if s.r != nil {
			errs = append(errs, s.r.Close())
		}
		if _, err := s.w.Exec("PRAGMA optimize"); err != nil {
			errs = append(errs, err)
		}
		errs = append(errs, s.w.Close())
		if err := errors.Join(errs...); err != nil {
			s.closeErr = fmt.Errorf("sqlite store: close %s: %w", s.path, err)
		}
	})
	return s.closeErr
}

// View implements store.Store.
func (s *Store) View(ctx context.Context, fn func(store.Tx) error) error {
	return s.run(ctx, s.r, false, fn)
}

// Update implements store.Store. Updates must not nest: an Update called from
// inside another waits for the writer connection until its context ends.
func (s *Store) Update(ctx context.Context, fn func(store.Tx) error) error {
	return s.run(ctx, s.w, true, fn)
}

func (s *Store) run(ctx context.Context, db *sql.DB, write bool, fn func(store.Tx) error) (err error) {
	if err := ctx.Err(); err != nil {
		return err
	}
	sqlTx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return s.fail(ctx, "begin", err)
	}
	t := &tx{s: s, tx: sqlTx, write: write}
	committed := false
	defer func() {
		t.ended = true
		if !committed {
			// The rollback error is uninteresting: fn's error (or the panic, or the
			// test's FailNow) is what the caller needs to see.
			_ = sqlTx.Rollback()
		}
	}()
	if err := fn(t); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if !write {
		// Nothing to commit; ending the read transaction is the rollback above.
		return nil
	}
	if err := sqlTx.Commit(); err != nil {
		return s.fail(ctx, "commit", err)
	}
	committed = true
	return nil
}

// fail turns a driver error into a store error: constraint violations are
// domain.ErrConflict, a cancelled context is the context's error, and everything
// else is wrapped with what the store was doing.
func (s *Store) fail(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("sqlite store: %s: %w", op, cerr)
	}
	var se sqlite3.Error
	if errors.As(err, &se) {
		switch se.Code {
		case sqlite3.ErrConstraint:
			return fmt.Errorf("sqlite store: %s: %w: %w", op, domain.ErrConflict, err)
		case sqlite3.ErrBusy, sqlite3.ErrLocked:
			return fmt.Errorf("sqlite store: %s: the database is locked by another connection or process: %w", op, err)
		}
	}
	if errors.Is(err, sql.ErrTxDone) {
		return fmt.Errorf("sqlite store: %s: the transaction has already ended: %w", op, err)
	}
	return fmt.Errorf("sqlite store: %s: %w", op, err)
}
