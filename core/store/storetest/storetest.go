// Package storetest is the conformance suite every store.Store implementation
// passes. A backend's test calls Run (and RunConcurrency when it promises the
// concurrency guarantees) with a constructor that returns a fresh, empty store:
//
//	func TestConformance(t *testing.T) { storetest.Run(t, newStore) }
//
// Every subtest gets its own store. The suite only uses the store package's
// interface, so the SQLite and the PostgreSQL stores run exactly the same checks.
//
// What the suite pins down beyond the interface's comments, for implementers:
//   - ids sort bytewise (PostgreSQL: text columns in the "C" collation);
//   - Modified moves forward on every replace, even when the clock does not
//     (one tick of a nanosecond is enough), and times come back in UTC with the
//     nanoseconds they were stored with;
//   - a Put or Delete with expect > 0 on a missing record is ErrNotFound, a
//     Delete with expect 0 on an existing one ErrConflict, an expect below
//     AnyVersion ErrInvalid;
//   - attribute values are a set: a value given twice is stored once;
//   - case-insensitive matching compares strings.ToLower of both sides, and the
//     substring operators treat every character of the value literally (no
//     wildcards: %, _, *, ?, [ and \ match themselves);
//   - ScanAudit's fn may use the transaction (read in chunks, never call fn with
//     a cursor open on the same connection);
//   - AppendAudit with any seq but last+1 is ErrConflict, and LastAudit sees the
//     rows appended earlier in the same transaction;
//   - writes in a View fail with store.ErrReadOnly, and a Tx used after its
//     transaction ended fails instead of panicking.
package storetest

import (
	"context"
	"errors"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/core/domain"
	"github.com/keyward/keyward/core/store"
)

// NewStore returns a fresh, empty store for one subtest. It registers its own
// cleanup (t.Cleanup) to close the store.
type NewStore func(t *testing.T) store.Store

// Run runs the conformance suite: records, versions, transactions, the query
// model, paging, sequences and the audit log.
func Run(t *testing.T, newStore NewStore) {
	tests := []struct {
		name string
		fn   func(*testing.T, store.Store)
	}{
		{"PutGetRoundTrip", testPutGetRoundTrip},
		{"PutExpectedVersions", testPutExpectedVersions},
		{"PutInvalid", testPutInvalid},
		{"ReplaceKeepsCreatedBumpsModified", testReplaceMeta},
		{"ReplaceReplacesAttrs", testReplaceAttrs},
		{"KindsAreSeparate", testKindsSeparate},
		{"Delete", testDelete},
		{"NotFound", testNotFound},
		{"ReadYourWrites", testReadYourWrites},
		{"RollbackLeavesNothing", testRollback},
		{"RollbackOnStoreError", testRollbackOnStoreError},
		{"ViewRefusesWrites", testViewRefusesWrites},
		{"TxUnusableAfterEnd", testTxAfterEnd},
		{"ContextCancelled", testContextCancelled},
		{"TypedHelpers", testTypedHelpers},
		{"Filters", testFilters},
		{"RandomFilters", testRandomFilters},
		{"InvalidQueries", testInvalidQueries},
		{"IDOrder", testIDOrder},
		{"Paging", testPaging},
		{"NextSequence", testNextSequence},
		{"AuditAppendAndLast", testAuditAppendAndLast},
		{"AuditSeqMustFollow", testAuditSeqMustFollow},
		{"AuditScan", testAuditScan},
		{"AuditScanManyRows", testAuditScanMany},
		{"AuditFind", testAuditFind},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newStore(t))
		})
	}
}

// update runs fn in an Update and requires it to succeed.
func update(t *testing.T, s store.Store, fn func(store.Tx) error) {
	t.Helper()
	require.NoError(t, s.Update(t.Context(), fn))
}

// view runs fn in a View and requires it to succeed.
func view(t *testing.T, s store.Store, fn func(store.Tx) error) {
	t.Helper()
	require.NoError(t, s.View(t.Context(), fn))
}

// put writes one record in its own transaction and returns what the store kept.
func put(t *testing.T, s store.Store, rec store.Record, expect int64) store.Record {
	t.Helper()
	var out store.Record
	update(t, s, func(tx store.Tx) error {
		var err error
		out, err = tx.Put(t.Context(), rec, expect)
		return err
	})
	return out
}

// putErr writes one record in its own transaction and returns the error.
func putErr(t *testing.T, s store.Store, rec store.Record, expect int64) error {
	t.Helper()
	return s.Update(t.Context(), func(tx store.Tx) error {
		_, err := tx.Put(t.Context(), rec, expect)
		return err
	})
}

// get reads one record in its own View.
func get(t *testing.T, s store.Store, kind domain.Kind, id string) (store.Record, error) {
	t.Helper()
	var out store.Record
	err := s.View(t.Context(), func(tx store.Tx) error {
		var err error
		out, err = tx.Get(t.Context(), kind, id)
		return err
	})
	return out, err
}

// list runs one query in its own View.
func list(t *testing.T, s store.Store, kind domain.Kind, q store.Query) (store.Page, error) {
	t.Helper()
	var out store.Page
	err := s.View(t.Context(), func(tx store.Tx) error {
		var err error
		out, err = tx.List(t.Context(), kind, q)
		return err
	})
	return out, err
}

// ids lists the ids of a page's records in order.
func ids(p store.Page) []string {
	out := make([]string, 0, len(p.Records))
	for _, r := range p.Records {
		out = append(out, r.ID)
	}
	return out
}

// sorted returns a sorted copy.
func sorted(in ...string) []string {
	out := append([]string{}, in...)
	sort.Strings(out)
	return out
}

// rec builds a record of kind k with attributes given as name, value pairs.
func rec(k domain.Kind, id string, pairs ...string) store.Record {
	r := store.Record{Kind: k, ID: id, Data: []byte(`{"id":"` + id + `"}`)}
	for i := 0; i+1 < len(pairs); i += 2 {
		r.Attrs = append(r.Attrs, domain.Attr{Name: pairs[i], Value: pairs[i+1]})
	}
	return r
}

var errBoom = errors.New("storetest: boom")

// ctxKey keeps context values of this package apart.
type ctxKey struct{}

// bgCtx returns a context that is not t.Context, for tests that cancel it.
func bgCtx(t *testing.T) (context.Context, context.CancelFunc) {
	return context.WithCancel(context.WithValue(t.Context(), ctxKey{}, t.Name()))
}

// assertKind checks that err matches the sentinel and says so clearly.
func assertKind(t *testing.T, err, kind error, msgAndArgs ...any) bool {
	t.Helper()
	if !assert.Error(t, err, msgAndArgs...) {
		return false
	}
	return assert.ErrorIs(t, err, kind, msgAndArgs...)
}
