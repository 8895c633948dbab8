// Package store defines how keyward keeps its resources: the Store interface, the
// query model the edges translate SCIM and LDAP filters into, and typed helpers.
//
// A Store keeps resources as documents with indexed attributes (domain.Resource's
// Attrs) and an append-only audit log. Implementations live in subpackages
// (store/sqlite); every implementation passes storetest.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/keyward/keyward/core/domain"
)

// Store is keyward's persistence.
type Store interface {
	// View runs fn in a read-only transaction over a consistent snapshot.
	View(ctx context.Context, fn func(Tx) error) error
	// Update runs fn in a read-write transaction: all of it commits or none. Writers
	// are serialised. An error from fn rolls back and is returned as is.
	Update(ctx context.Context, fn func(Tx) error) error
	// Close releases the store.
	Close() error
}

// AnyVersion as an expected version skips the compare-and-set check.
const AnyVersion int64 = -1

// ErrReadOnly is returned by the writing methods of a Tx in a View transaction.
var ErrReadOnly = errors.New("store: write in a read-only transaction")

// Record is a stored resource: its metadata, its JSON document and the attributes
// the store indexes. Get returns the distinct Attrs, in no particular order; List
// may leave them nil (decode Data).
type Record struct {
	Kind     domain.Kind
	ID       string
	Version  int64
	Created  time.Time
	Modified time.Time
	Data     []byte
	Attrs    []domain.Attr
}

// Tx is one transaction. Methods that write fail in a View transaction.
type Tx interface {
	// Get reads one record; a missing one is a domain.ErrNotFound error.
	Get(ctx context.Context, kind domain.Kind, id string) (Record, error)
	// Put creates or replaces a record. expect is the version the caller last saw:
	// 0 means "must not exist yet", AnyVersion skips the check, any other value
	// must equal the stored version (else domain.ErrConflict). The store sets
	// Version (old+1, or 1), Created (kept on replace) and Modified (now) and
	// returns the stored record. A non-zero expect for a missing record is a
	// domain.ErrNotFound error. Modified always moves forward on replace. An
	// attribute may not be unnamed nor named id, created or modified (ErrInvalid).
	Put(ctx context.Context, rec Record, expect int64) (Record, error)
	// Delete removes a record under the same expect rule.
	Delete(ctx context.Context, kind domain.Kind, id string, expect int64) error
	// List returns one page of the records of a kind matching q, in id order
	// (bytewise), with the exact count of all matches. An invalid filter or a
	// negative offset is a domain.ErrInvalid error.
	List(ctx context.Context, kind domain.Kind, q Query) (Page, error)
	// NextSequence returns the next value (from 1) of a named counter.
	NextSequence(ctx context.Context, name string) (int64, error)
	// AppendAudit appends one audit event; ev.Seq must be the last seq + 1 (1 on an
	// empty log), else domain.ErrConflict.
	AppendAudit(ctx context.Context, ev AuditRow) error
	// LastAudit returns the last audit row, ok=false when the log is empty.
	LastAudit(ctx context.Context) (row AuditRow, ok bool, err error)
	// ScanAudit calls fn for each audit row with seq >= from, in storage order
	// (by seq), stopping at the first error, which it returns. fn may use the
	// transaction.
	ScanAudit(ctx context.Context, from int64, fn func(AuditRow) error) error
	// FindAudit returns the audit rows whose indexed fields match, in seq order.
	FindAudit(ctx context.Context, f AuditFilter) ([]AuditRow, error)
}

// AuditRow is an audit event as stored: the canonical encoding is Body, chained by
// PrevHash and Hash. The indexed fields duplicate what Body says for look-ups.
type AuditRow struct {
	Seq           int64
	At            time.Time
	IdentityID    string
	EntitlementID string
	KeyID         string
	Body          []byte
	PrevHash      string
	Hash          string
}

// AuditFilter selects audit rows for the why query. Empty fields match anything;
// IdentityID, if set, must match; of EntitlementID and KeyID, a row must match at
// least one of those set (so one query finds a grant's events and its keys'
// operations). Until is inclusive.
type AuditFilter struct {
	IdentityID    string
	EntitlementID string
	KeyID         string
	Until         time.Time // zero: no bound
}

// Page is one page of a listing.
type Page struct {
	Records []Record
	// Total counts every match, not just this page.
	Total int
}

// Query selects, pages and counts records. A nil Filter matches everything. Limit 0
// returns no records but still the Total; Limit < 0 returns all.
type Query struct {
	Filter Expr
	Offset int
	Limit  int
}

// Expr is a filter expression: And, Or, Not, Compare or Present.
type Expr interface{ isExpr() }

// And matches when every operand matches (an empty And matches everything).
type And []Expr

// Or matches when any operand matches (an empty Or matches nothing).
type Or []Expr

// Not matches when X does not.
type Not struct{ X Expr }

// Op is a comparison operator.
type Op string

// The operators, as SCIM names them; LDAP's map onto them.
const (
	Eq Op = "eq"
	Ne Op = "ne"
	Co Op = "co"
	Sw Op = "sw"
	Ew Op = "ew"
	Gt Op = "gt"
	Ge Op = "ge"
	Lt Op = "lt"
	Le Op = "le"
)

// Compare matches a record with at least one value of Attr that compares true
// (Ne: with no value equal to Value). CaseExact chooses case-sensitive matching;
// otherwise values compare case-folded. Gt/Ge/Lt/Le compare the strings, which
// orders times in domain.TimeLayout.
//
// Two attribute names are special in every kind: "id" and "modified" (the
// record's modification time, formatted as domain.TimeLayout) and "created".
type Compare struct {
	Attr      string
	Op        Op
	Value     string
	CaseExact bool
}

// Present matches a record with at least one value of Attr.
type Present struct{ Attr string }

func (And) isExpr()     {}
func (Or) isExpr()      {}
func (Not) isExpr()     {}
func (Compare) isExpr() {}
func (Present) isExpr() {}

// Eqf is a shorthand for a case-exact equality.
func Eqf(attr, value string) Compare {
	return Compare{Attr: attr, Op: Eq, Value: value, CaseExact: true}
}

// Validate checks an expression before a store runs it.
func Validate(e Expr) error {
	switch x := e.(type) {
	case nil:
		return nil
	case And:
		for _, s := range x {
			if err := Validate(s); err != nil {
				return err
			}
		}
	case Or:
		for _, s := range x {
			if err := Validate(s); err != nil {
				return err
			}
		}
	case Not:
		if x.X == nil {
			return domain.Invalid("filter", "not without an operand")
		}
		return Validate(x.X)
	case Compare:
		if x.Attr == "" {
			return domain.Invalid("filter", "comparison without an attribute")
		}
		switch x.Op {
		case Eq, Ne, Co, Sw, Ew, Gt, Ge, Lt, Le:
		default:
			return domain.Invalid("filter", "unknown operator %q", x.Op)
		}
	case Present:
		if x.Attr == "" {
			return domain.Invalid("filter", "presence test without an attribute")
		}
	default:
		return domain.Invalid("filter", "unknown expression %T", e)
	}
	return nil
}

// Resource constrains the typed helpers: a pointer to a domain type.
type Resource[T any] interface {
	*T
	domain.Resource
}

// Get reads and decodes one resource.
func Get[T any, P Resource[T]](ctx context.Context, tx Tx, id string) (P, error) {
	var zero P
	rec, err := tx.Get(ctx, zero.Kind(), id)
	if err != nil {
		return nil, err
	}
	return decode[T, P](rec)
}

// Put encodes and writes one resource under the expect rule of Tx.Put, and updates
// its Meta from what the store recorded.
func Put[P domain.Resource](ctx context.Context, tx Tx, r P, expect int64) error {
	m := r.GetMeta()
	if m.ID == "" {
		return domain.Invalid("id", "a %s needs an id", r.Kind())
	}
	data, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode %s %q: %w", r.Kind(), m.ID, err)
	}
	rec, err := tx.Put(ctx, Record{Kind: r.Kind(), ID: m.ID, Data: data, Attrs: r.Attrs()}, expect)
	if err != nil {
		return err
	}
	m.Version, m.Created, m.Modified = rec.Version, rec.Created, rec.Modified
	return nil
}

// List reads one page of typed resources.
func List[T any, P Resource[T]](ctx context.Context, tx Tx, q Query) ([]P, int, error) {
	var zero P
	page, err := tx.List(ctx, zero.Kind(), q)
	if err != nil {
		return nil, 0, err
	}
	out := make([]P, 0, len(page.Records))
	for _, rec := range page.Records {
		p, err := decode[T, P](rec)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, p)
	}
	return out, page.Total, nil
}

// All lists every resource matching f.
func All[T any, P Resource[T]](ctx context.Context, tx Tx, f Expr) ([]P, error) {
	out, _, err := List[T, P](ctx, tx, Query{Filter: f, Limit: -1})
	return out, err
}

// Exists tells whether a resource exists.
func Exists(ctx context.Context, tx Tx, kind domain.Kind, id string) (bool, error) {
	_, err := tx.Get(ctx, kind, id)
	if errors.Is(err, domain.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

func decode[T any, P Resource[T]](rec Record) (P, error) {
	p := P(new(T))
	if err := json.Unmarshal(rec.Data, p); err != nil {
		return nil, fmt.Errorf("decode %s %q: %w", rec.Kind, rec.ID, err)
	}
	m := p.GetMeta()
	m.ID, m.Version, m.Created, m.Modified = rec.ID, rec.Version, rec.Created, rec.Modified
	return p, nil
}
