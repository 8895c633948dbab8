package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/keyward/keyward/core/domain"
	"github.com/keyward/keyward/core/store"
)

// tx is one store transaction on one connection.
type tx struct {
	s     *Store
	tx    *sql.Tx
	write bool
	ended bool
	// lastSeq is the audit log's last seq once this transaction has read it
	// (lastSeqKnown), and lastRow the last row once it appended one (lastRowKnown):
	// the one writer makes them safe to remember.
	lastSeq      int64
	lastSeqKnown bool
	lastRow      store.AuditRow
	lastRowKnown bool
}

// check refuses calls after the transaction ended and writes in a View.
func (t *tx) check(op string, writes bool) error {
	if t.ended {
		return fmt.Errorf("sqlite store: %s: the transaction has already ended", op)
	}
	if writes && !t.write {
		return fmt.Errorf("%s: %w", op, store.ErrReadOnly)
	}
	return nil
}

// fold is keyward's case folding for case-insensitive matching. It is simple
// folding (strings.ToLower), not full Unicode case folding.
//
// TODO: use full Unicode case folding (golang.org/x/text/cases.Fold); until then
// a case-insensitive filter does not match "straße" with "STRASSE", and a value
// changes its folded form only through a migration that rewrites attrs.folded.
func fold(s string) string { return strings.ToLower(s) }

func formatTime(t time.Time) string { return domain.FormatTime(t) }

// parseTime reads a time in domain.TimeLayout. Scanning the audit log parses a
// million of them, so the fixed layout is read by position; anything unexpected
// goes to time.Parse for its error.
func parseTime(s string) (time.Time, error) {
	if len(s) == len(domain.TimeLayout) && s[4] == '-' && s[7] == '-' && s[10] == 'T' && s[13] == ':' &&
		s[16] == ':' && s[19] == '.' && s[29] == 'Z' {
		num := func(from, to int) int {
			n := 0
			for i := from; i < to; i++ {
				c := s[i]
				if c < '0' || c > '9' {
					return -1
				}
				n = n*10 + int(c-'0')
			}
			return n
		}
		y, mo, d, h, mi, sec, ns := num(0, 4), num(5, 7), num(8, 10), num(11, 13), num(14, 16), num(17, 19), num(20, 29)
		if y >= 0 && mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && h >= 0 && h < 24 && mi >= 0 && mi < 60 &&
			sec >= 0 && sec < 60 && ns >= 0 {
			t := time.Date(y, time.Month(mo), d, h, mi, sec, ns, time.UTC)
			if t.Day() == d { // not 31 April
				return t, nil
			}
		}
	}
	t, err := time.Parse(domain.TimeLayout, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("sqlite store: stored time %q is not in the store's layout: %w", s, err)
	}
	return t, nil
}

// special attribute names: columns of resources, not rows of attrs.
var specialAttrs = map[string]string{"id": "r.id", "created": "r.created", "modified": "r.modified"}

func checkKindID(kind domain.Kind, id string) error {
	if kind == "" {
		return domain.Invalid("kind", "a record needs a kind")
	}
	if id == "" {
		return domain.Invalid("id", "a %s record needs an id", kind)
	}
	return nil
}

func checkExpect(expect int64) error {
	if expect < store.AnyVersion {
		return domain.Invalid("version", "expected version %d is neither a version, 0 (must not exist) nor AnyVersion", expect)
	}
	return nil
}

// Get implements store.Tx.
func (t *tx) Get(ctx context.Context, kind domain.Kind, id string) (store.Record, error) {
	if err := t.check("get", false); err != nil {
		return store.Record{}, err
	}
	if err := checkKindID(kind, id); err != nil {
		return store.Record{}, err
	}
	rec := store.Record{Kind: kind, ID: id}
	var created, modified string
	err := t.tx.QueryRowContext(ctx, `SELECT version, created, modified, data FROM resources WHERE kind = ? AND id = ?`,
		string(kind), id).Scan(&rec.Version, &created, &modified, &rec.Data)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Record{}, domain.NotFound(kind, id)
	}
	if err != nil {
		return store.Record{}, t.s.fail(ctx, fmt.Sprintf("get %s %q", kind, id), err)
	}
	if rec.Created, err = parseTime(created); err != nil {
		return store.Record{}, err
	}
	if rec.Modified, err = parseTime(modified); err != nil {
		return store.Record{}, err
	}
	rows, err := t.tx.QueryContext(ctx, `SELECT name, value FROM attrs WHERE kind = ? AND id = ?`, string(kind), id)
	if err != nil {
		return store.Record{}, t.s.fail(ctx, fmt.Sprintf("get %s %q attributes", kind, id), err)
	}
	defer rows.Close()
	for rows.Next() {
		var a domain.Attr
		if err := rows.Scan(&a.Name, &a.Value); err != nil {
			return store.Record{}, t.s.fail(ctx, fmt.Sprintf("get %s %q attributes", kind, id), err)
		}
		rec.Attrs = append(rec.Attrs, a)
	}
	if err := rows.Err(); err != nil {
		return store.Record{}, t.s.fail(ctx, fmt.Sprintf("get %s %q attributes", kind, id), err)
	}
	return rec, nil
}

// stored reads a record's version and times, ok=false when it does not exist.
func (t *tx) stored(ctx context.Context, kind domain.Kind, id string) (version int64, created, modified string, ok bool, err error) {
	err = t.tx.QueryRowContext(ctx, `SELECT version, created, modified FROM resources WHERE kind = ? AND id = ?`,
		string(kind), id).Scan(&version, &created, &modified)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, "", "", false, nil
	}
	if err != nil {
		return 0, "", "", false, t.s.fail(ctx, fmt.Sprintf("read %s %q", kind, id), err)
	}
	return version, created, modified, true, nil
}

// Put implements store.Tx.
func (t *tx) Put(ctx context.Context, rec store.Record, expect int64) (store.Record, error) {
	if err := t.check("put", true); err != nil {
		return store.Record{}, err
	}
	if err := checkKindID(rec.Kind, rec.ID); err != nil {
		return store.Record{}, err
	}
	if err := checkExpect(expect); err != nil {
		return store.Record{}, err
	}
	for _, a := range rec.Attrs {
		if a.Name == "" {
			return store.Record{}, domain.Invalid("attrs", "%s %q has an attribute without a name", rec.Kind, rec.ID)
		}
		if _, ok := specialAttrs[a.Name]; ok {
			return store.Record{}, domain.Invalid("attrs", "%s %q: attribute name %q is reserved for the record's own metadata", rec.Kind, rec.ID, a.Name)
		}
	}
	version, created, modified, exists, err := t.stored(ctx, rec.Kind, rec.ID)
	if err != nil {
		return store.Record{}, err
	}
	switch {
	case !exists && expect > 0:
		return store.Record{}, &domain.Error{Kind: domain.ErrNotFound, Resource: rec.Kind, ID: rec.ID,
			Message: fmt.Sprintf("does not exist (expected version %d)", expect)}
	case exists && expect == 0:
		return store.Record{}, domain.Conflict(rec.Kind, rec.ID, "already exists")
	case exists && expect > 0 && expect != version:
		return store.Record{}, domain.Conflict(rec.Kind, rec.ID, "version %d is stale: the stored version is %d", expect, version)
	}

	now := t.s.now().UTC().Round(0)
	data := rec.Data
	if data == nil {
		data = []byte{}
	}
	out := store.Record{Kind: rec.Kind, ID: rec.ID, Data: rec.Data, Attrs: distinct(rec.Attrs)}
	op := fmt.Sprintf("put %s %q", rec.Kind, rec.ID)
	if exists {
		prev, err := parseTime(modified)
		if err != nil {
			return store.Record{}, err
		}
		if !now.After(prev) {
			now = prev.Add(time.Nanosecond) // Modified always moves forward
		}
		out.Version = version + 1
		if out.Created, err = parseTime(created); err != nil {
			return store.Record{}, err
		}
		out.Modified = now
		if _, err := t.tx.ExecContext(ctx, `UPDATE resources SET version = ?, modified = ?, data = ? WHERE kind = ? AND id = ?`,
			out.Version, formatTime(now), data, string(rec.Kind), rec.ID); err != nil {
			return store.Record{}, t.s.fail(ctx, op, err)
		}
	} else {
		out.Version, out.Created, out.Modified = 1, now, now
		if _, err := t.tx.ExecContext(ctx, `INSERT INTO resources (kind, id, version, created, modified, data) VALUES (?, ?, ?, ?, ?, ?)`,
			string(rec.Kind), rec.ID, out.Version, formatTime(now), formatTime(now), data); err != nil {
			return store.Record{}, t.s.fail(ctx, op, err)
		}
		if _, err := t.tx.ExecContext(ctx, `INSERT INTO kind_counts (kind, count) VALUES (?, 1)
ON CONFLICT (kind) DO UPDATE SET count = kind_counts.count + 1`, string(rec.Kind)); err != nil {
			return store.Record{}, t.s.fail(ctx, op, err)
		}
	}
	if err := t.writeAttrs(ctx, rec.Kind, rec.ID, out.Attrs, exists); err != nil {
		return store.Record{}, t.s.fail(ctx, op, err)
	}
	return out, nil
}

// distinct returns the attributes without repeats, in their first order.
func distinct(attrs []domain.Attr) []domain.Attr {
	seen := make(map[domain.Attr]bool, len(attrs))
	out := make([]domain.Attr, 0, len(attrs))
	for _, a := range attrs {
		if !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	return out
}

// writeAttrs makes the stored attribute values of a record equal to attrs, which
// are distinct. A replace usually changes few of them, so it reads the stored
// ones and writes only the difference.
func (t *tx) writeAttrs(ctx context.Context, kind domain.Kind, id string, attrs []domain.Attr, replace bool) error {
	want := make(map[domain.Attr]bool, len(attrs))
	for _, a := range attrs {
		want[a] = true
	}
	add := append([]domain.Attr(nil), attrs...)
	if replace {
		rows, err := t.tx.QueryContext(ctx, `SELECT name, value FROM attrs WHERE kind = ? AND id = ?`, string(kind), id)
		if err != nil {
			return err
		}
		var drop []domain.Attr
		have := map[domain.Attr]bool{}
		for rows.Next() {
			var a domain.Attr
			if err := rows.Scan(&a.Name, &a.Value); err != nil {
				rows.Close()
				return err
			}
			have[a] = true
			if !want[a] {
				drop = append(drop, a)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, a := range drop {
			if _, err := t.tx.ExecContext(ctx, `DELETE FROM attrs WHERE kind = ? AND id = ? AND name = ? AND value = ?`,
				string(kind), id, a.Name, a.Value); err != nil {
				return err
			}
		}
		kept := add[:0]
		for _, a := range add {
			if !have[a] {
				kept = append(kept, a)
			}
		}
		add = kept
	}
	return t.insertAttrs(ctx, kind, id, add)
}

// attrsPerInsert bounds one multi-row INSERT (5 parameters a row).
const attrsPerInsert = 100

func (t *tx) insertAttrs(ctx context.Context, kind domain.Kind, id string, attrs []domain.Attr) error {
	for len(attrs) > 0 {
		n := min(len(attrs), attrsPerInsert)
		var q strings.Builder
		q.WriteString(`INSERT INTO attrs (kind, id, name, value, folded) VALUES `)
		args := make([]any, 0, 5*n)
		for i, a := range attrs[:n] {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString("(?, ?, ?, ?, ?)")
			args = append(args, string(kind), id, a.Name, a.Value, fold(a.Value))
		}
		if _, err := t.tx.ExecContext(ctx, q.String(), args...); err != nil {
			return err
		}
		attrs = attrs[n:]
	}
	return nil
}

// Delete implements store.Tx.
func (t *tx) Delete(ctx context.Context, kind domain.Kind, id string, expect int64) error {
	if err := t.check("delete", true); err != nil {
		return err
	}
	if err := checkKindID(kind, id); err != nil {
		return err
	}
	if err := checkExpect(expect); err != nil {
		return err
	}
	version, _, _, exists, err := t.stored(ctx, kind, id)
	switch {
	case err != nil:
		return err
	case !exists:
		return domain.NotFound(kind, id)
	case expect == 0:
		return domain.Conflict(kind, id, "exists (expected it not to)")
	case expect > 0 && expect != version:
		return domain.Conflict(kind, id, "version %d is stale: the stored version is %d", expect, version)
	}
	op := fmt.Sprintf("delete %s %q", kind, id)
	if _, err := t.tx.ExecContext(ctx, `DELETE FROM attrs WHERE kind = ? AND id = ?`, string(kind), id); err != nil {
		return t.s.fail(ctx, op, err)
	}
	if _, err := t.tx.ExecContext(ctx, `DELETE FROM resources WHERE kind = ? AND id = ?`, string(kind), id); err != nil {
		return t.s.fail(ctx, op, err)
	}
	if _, err := t.tx.ExecContext(ctx, `UPDATE kind_counts SET count = count - 1 WHERE kind = ?`, string(kind)); err != nil {
		return t.s.fail(ctx, op, err)
	}
	return nil
}

// NextSequence implements store.Tx.
func (t *tx) NextSequence(ctx context.Context, name string) (int64, error) {
	if err := t.check("next sequence", true); err != nil {
		return 0, err
	}
	if name == "" {
		return 0, domain.Invalid("sequence", "a sequence needs a name")
	}
	var v int64
	err := t.tx.QueryRowContext(ctx, `INSERT INTO sequences (name, value) VALUES (?, 1)
ON CONFLICT (name) DO UPDATE SET value = sequences.value + 1 RETURNING value`, name).Scan(&v)
	if err != nil {
		return 0, t.s.fail(ctx, fmt.Sprintf("next value of sequence %q", name), err)
	}
	return v, nil
}

const auditColumns = `seq, at, identity_id, entitlement_id, key_id, body, prev_hash, hash`

// AppendAudit implements store.Tx.
func (t *tx) AppendAudit(ctx context.Context, ev store.AuditRow) error {
	if err := t.check("append audit", true); err != nil {
		return err
	}
	if !t.lastSeqKnown {
		if err := t.tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM audit`).Scan(&t.lastSeq); err != nil {
			return t.s.fail(ctx, "append audit: read the last seq", err)
		}
		t.lastSeqKnown = true
	}
	if last := t.lastSeq; ev.Seq != last+1 {
		return &domain.Error{Kind: domain.ErrConflict, Field: "seq",
			Message: fmt.Sprintf("audit seq %d does not follow the last seq %d", ev.Seq, last)}
	}
	body := ev.Body
	if body == nil {
		body = []byte{}
	}
	_, err := t.tx.ExecContext(ctx, `INSERT INTO audit (`+auditColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		ev.Seq, formatTime(ev.At), ev.IdentityID, ev.EntitlementID, ev.KeyID, body, ev.PrevHash, ev.Hash)
	if err != nil {
		return t.s.fail(ctx, fmt.Sprintf("append audit seq %d", ev.Seq), err)
	}
	t.lastSeq = ev.Seq
	ev.Body = append([]byte{}, body...)
	ev.At = ev.At.UTC()
	t.lastRow, t.lastRowKnown = ev, true
	return nil
}

// LastAudit implements store.Tx.
func (t *tx) LastAudit(ctx context.Context) (store.AuditRow, bool, error) {
	if err := t.check("last audit", false); err != nil {
		return store.AuditRow{}, false, err
	}
	if t.lastRowKnown {
		row := t.lastRow
		row.Body = append([]byte{}, row.Body...)
		return row, true, nil
	}
	rows, err := t.queryAudit(ctx, `SELECT `+auditColumns+` FROM audit ORDER BY seq DESC LIMIT 1`)
	if err != nil || len(rows) == 0 {
		return store.AuditRow{}, false, err
	}
	return rows[0], true, nil
}

// scanChunk is how many audit rows ScanAudit reads per query. fn runs with no
// cursor open, so it may use the transaction.
const scanChunk = 2048

// ScanAudit implements store.Tx. It reads the next chunk of rows in a second
// goroutine while fn works on the current one, so that verifying the chain
// (hashing in fn) and reading the log share the cores. Both use the one
// transaction; database/sql serialises their calls on its connection.
func (t *tx) ScanAudit(ctx context.Context, from int64, fn func(store.AuditRow) error) error {
	if err := t.check("scan audit", false); err != nil {
		return err
	}
	type chunk struct {
		rows []store.AuditRow
		err  error
	}
	chunks := make(chan chunk, 1) // one chunk read ahead
	stop := make(chan struct{})
	go func() {
		defer close(chunks)
		for {
			rows, err := t.readAudit(ctx, make([]store.AuditRow, 0, scanChunk),
				`SELECT `+auditColumns+` FROM audit WHERE seq >= ? ORDER BY seq LIMIT ?`, from, scanChunk)
			select {
			case chunks <- chunk{rows, err}:
			case <-stop:
				return
			}
			if err != nil || len(rows) < scanChunk {
				return
			}
			from = rows[len(rows)-1].Seq + 1
		}
	}()
	defer func() {
		// The reader must be done with the transaction before ScanAudit returns.
		close(stop)
		for range chunks {
		}
	}()
	for c := range chunks {
		if c.err != nil {
			return c.err
		}
		for _, r := range c.rows {
			if err := fn(r); err != nil {
				return err
			}
		}
	}
	return nil
}

// FindAudit implements store.Tx.
func (t *tx) FindAudit(ctx context.Context, f store.AuditFilter) ([]store.AuditRow, error) {
	if err := t.check("find audit", false); err != nil {
		return nil, err
	}
	q, args := auditQuery(f)
	rows, err := t.queryAudit(ctx, q, args...)
	if rows == nil && err == nil {
		rows = []store.AuditRow{}
	}
	return rows, err
}

// auditQuery renders the FindAudit query for f.
func auditQuery(f store.AuditFilter) (string, []any) {
	var where []string
	var args []any
	if f.IdentityID != "" {
		// The repeated "<> ''" lets SQLite use the partial index.
		where = append(where, "(identity_id = ? AND identity_id <> '')")
		args = append(args, f.IdentityID)
	}
	var either []string
	if f.EntitlementID != "" {
		either = append(either, "(entitlement_id = ? AND entitlement_id <> '')")
		args = append(args, f.EntitlementID)
	}
	if f.KeyID != "" {
		either = append(either, "(key_id = ? AND key_id <> '')")
		args = append(args, f.KeyID)
	}
	if len(either) > 0 {
		where = append(where, "("+strings.Join(either, " OR ")+")")
	}
	if !f.Until.IsZero() {
		where = append(where, "at <= ?")
		args = append(args, formatTime(f.Until))
	}
	q := `SELECT ` + auditColumns + ` FROM audit`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	return q + " ORDER BY seq", args
}

func (t *tx) queryAudit(ctx context.Context, q string, args ...any) ([]store.AuditRow, error) {
	return t.readAudit(ctx, nil, q, args...)
}

// readAudit appends the rows q returns to out.
func (t *tx) readAudit(ctx context.Context, out []store.AuditRow, q string, args ...any) ([]store.AuditRow, error) {
	rows, err := t.tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, t.s.fail(ctx, "read audit", err)
	}
	defer rows.Close()
	// RawBytes spare database/sql's own copy of each value; body is copied once.
	var at, body sql.RawBytes
	for rows.Next() {
		var r store.AuditRow
		if err := rows.Scan(&r.Seq, &at, &r.IdentityID, &r.EntitlementID, &r.KeyID, &body, &r.PrevHash, &r.Hash); err != nil {
			return nil, t.s.fail(ctx, "read audit", err)
		}
		r.Body = append([]byte{}, body...)
		if r.At, err = parseTime(string(at)); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, t.s.fail(ctx, "read audit", err)
	}
	return out, nil
}
