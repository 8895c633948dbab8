package sqlite

import (
	"context"
	"math"
	"strconv"
	"strings"

	"github.com/keyward/keyward/core/domain"
	"github.com/keyward/keyward/core/store"
)

// List implements store.Tx. The filter becomes a WHERE clause over resources r
// (see listWhere); every value is a bound parameter.
func (t *tx) List(ctx context.Context, kind domain.Kind, q store.Query) (store.Page, error) {
	if err := t.check("list", false); err != nil {
		return store.Page{}, err
	}
	if kind == "" {
		return store.Page{}, domain.Invalid("kind", "a listing needs a kind")
	}
	if q.Offset < 0 {
		return store.Page{}, domain.Invalid("offset", "the offset %d is negative", q.Offset)
	}
	plan, err := t.listWhere(ctx, kind, q.Filter)
	if err != nil {
		return store.Page{}, err
	}
	where, whereArgs := plan.where.sql, plan.where.args
	op := "list " + string(kind)

	page := store.Page{Records: []store.Record{}}
	countSQL, countArgs := `SELECT COUNT(*) FROM resources r WHERE `+where, whereArgs
	switch {
	case plan.all:
		countSQL, countArgs = `SELECT COALESCE(SUM(count), 0) FROM kind_counts WHERE kind = ?`, []any{string(kind)}
	case plan.set != nil:
		// Every attrs row has its record, so the index alone counts the matches.
		countSQL, countArgs = `SELECT COUNT(DISTINCT id) FROM (`+plan.set.sql+`)`, plan.set.args
	}
	if err := t.tx.QueryRowContext(ctx, countSQL, countArgs...).Scan(&page.Total); err != nil {
		return store.Page{}, t.s.fail(ctx, op+": count", err)
	}
	if q.Limit == 0 || q.Offset >= page.Total {
		return page, nil
	}
	// TODO: paging uses OFFSET, which walks past every skipped record: a page deep
	// into a large listing (offset 90,000 of 100,000 identities) costs tens of
	// milliseconds instead of one. Keyset paging (after this id) would not, but the
	// query model pages by offset as SCIM does.
	limit := q.Limit
	if limit < 0 {
		limit = -1 // SQLite: no limit
	}
	args := append(whereArgs, limit, q.Offset)
	rows, err := t.tx.QueryContext(ctx, `SELECT r.id, r.version, r.created, r.modified, r.data FROM resources r WHERE `+
		where+` ORDER BY r.id LIMIT ? OFFSET ?`, args...)
	if err != nil {
		return store.Page{}, t.s.fail(ctx, op, err)
	}
	defer rows.Close()
	for rows.Next() {
		rec := store.Record{Kind: kind}
		var created, modified string
		if err := rows.Scan(&rec.ID, &rec.Version, &created, &modified, &rec.Data); err != nil {
			return store.Page{}, t.s.fail(ctx, op, err)
		}
		if rec.Created, err = parseTime(created); err != nil {
			return store.Page{}, err
		}
		if rec.Modified, err = parseTime(modified); err != nil {
			return store.Page{}, err
		}
		page.Records = append(page.Records, rec)
	}
	if err := rows.Err(); err != nil {
		return store.Page{}, t.s.fail(ctx, op, err)
	}
	return page, nil
}

// listPlan is how List runs a filter.
type listPlan struct {
	where frag  // the WHERE clause over resources r
	all   bool  // the filter matches every record of the kind
	set   *frag // when the whole filter is one index form: its query of ids
}

// listWhere validates filter and translates it, with the kind, into the WHERE
// clause of a query over resources r and the values to bind.
//
// The plan it aims for: one indexable part of the filter (a comparison or
// presence test on an attribute, or an Or of such) is the driver, an
// uncorrelated "r.id IN (SELECT id FROM attrs ...)" that SQLite answers from the
// (kind, name, value|folded, id) indexes in id order; every other part is a
// correlated EXISTS probing the attrs primary key (kind, id, name, value) of each
// candidate. In an And with several indexable parts, the driver is the one with
// the fewest matches, measured by a bounded count: SQLite has no statistics on
// how selective one attribute's value is (active=true matches nearly everyone,
// externalId=x one record).
func (t *tx) listWhere(ctx context.Context, kind domain.Kind, filter store.Expr) (listPlan, error) {
	if err := store.Validate(filter); err != nil {
		return listPlan{}, err
	}
	b := builder{kind: string(kind)}
	w := frag{"r.kind = ?", []any{string(kind)}}
	var parts []store.Expr
	if and, ok := filter.(store.And); ok {
		parts = flattenAnd(and)
	} else if filter != nil {
		parts = []store.Expr{filter}
	}
	if len(parts) == 0 {
		return listPlan{where: w, all: true}, nil
	}
	driver := -1
	if !hasIDEq(parts) { // an id equality is already a primary key look-up
		var err error
		if driver, err = t.pickDriver(ctx, &b, parts); err != nil {
			return listPlan{}, err
		}
	}
	var plan listPlan
	if len(parts) == 1 && driver == 0 {
		set := b.set(parts[0])
		plan.set = &set
	}
	for i, p := range parts {
		var f frag
		if i == driver {
			set := b.set(p)
			f = frag{"r.id IN (" + set.sql + ")", set.args}
		} else {
			f = b.pred(p)
		}
		w = w.and(f)
	}
	plan.where = w
	return plan, b.err
}

// driverProbes bound the counts that compare candidate drivers: a first, cheap
// round, a wider one when every candidate reached the first bound, and a full
// count (0) when they are still tied: counting index entries costs far less
// than driving the query with the larger set.
var driverProbes = []int{64, 4096, 0}

// pickDriver returns the index of the part to drive the query with, -1 for none.
func (t *tx) pickDriver(ctx context.Context, b *builder, parts []store.Expr) (int, error) {
	var candidates []int
	for i, p := range parts {
		if b.indexable(p) {
			candidates = append(candidates, i)
		}
	}
	switch len(candidates) {
	case 0:
		return -1, nil
	case 1:
		return candidates[0], nil
	}
	best := candidates[0]
	for _, limit := range driverProbes {
		bestN, bound := limit+1, ` LIMIT `+itoa(limit)
		if limit == 0 {
			bestN, bound = math.MaxInt, ""
		}
		for _, i := range candidates {
			set := b.set(parts[i])
			var n int
			err := t.tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM (`+set.sql+bound+`)`, set.args...).Scan(&n)
			if err != nil {
				return -1, t.s.fail(ctx, "list: estimate a filter's matches", err)
			}
			if n < bestN {
				best, bestN = i, n
			}
			if n == 0 {
				return best, nil
			}
		}
		if bestN < limit || limit == 0 {
			return best, nil
		}
	}
	return best, nil
}

func itoa(n int) string { return strconv.Itoa(n) }

func flattenAnd(a store.And) []store.Expr {
	var out []store.Expr
	for _, e := range a {
		if inner, ok := e.(store.And); ok {
			out = append(out, flattenAnd(inner)...)
		} else {
			out = append(out, e)
		}
	}
	return out
}

func hasIDEq(parts []store.Expr) bool {
	for _, p := range parts {
		if c, ok := p.(store.Compare); ok && c.Attr == "id" && c.Op == store.Eq && c.CaseExact {
			return true
		}
	}
	return false
}

// frag is a piece of SQL and the values its placeholders take, in order.
type frag struct {
	sql  string
	args []any
}

func (f frag) and(g frag) frag {
	return frag{f.sql + " AND " + g.sql, append(append([]any{}, f.args...), g.args...)}
}

// builder translates validated store.Expr values into SQL fragments. Values never
// enter the SQL text.
type builder struct {
	kind string
	err  error
}

// indexable tells whether e has a set form: a comparison (not ne) or presence
// test on an attribute, or an Or of such.
func (b *builder) indexable(e store.Expr) bool {
	switch x := e.(type) {
	case store.Compare:
		_, special := specialAttrs[x.Attr]
		return !special && x.Op != store.Ne
	case store.Present:
		_, special := specialAttrs[x.Attr]
		return !special
	case store.Or:
		if len(x) == 0 {
			return false
		}
		for _, s := range x {
			if !b.indexable(s) {
				return false
			}
		}
		return true
	}
	return false
}

// set renders an indexable expression as a query of the ids that match it.
func (b *builder) set(e store.Expr) frag {
	switch x := e.(type) {
	case store.Compare:
		cond := b.op(attrColumn(x.CaseExact), x)
		return frag{"SELECT a.id FROM attrs a WHERE a.kind = ? AND a.name = ? AND " + cond.sql,
			append([]any{b.kind, x.Attr}, cond.args...)}
	case store.Present:
		return frag{"SELECT a.id FROM attrs a WHERE a.kind = ? AND a.name = ?", []any{b.kind, x.Attr}}
	case store.Or:
		var out frag
		for i, s := range x {
			f := b.set(s)
			if i > 0 {
				out.sql += " UNION "
			}
			out.sql += f.sql
			out.args = append(out.args, f.args...)
		}
		return out
	}
	b.err = domain.Invalid("filter", "expression %T has no index form", e)
	return frag{"SELECT NULL WHERE 1 = 0", nil}
}

// pred renders any expression as a condition on the current row r.
func (b *builder) pred(e store.Expr) frag {
	switch x := e.(type) {
	case store.And:
		return b.join(x, "1 = 1", " AND ")
	case store.Or:
		return b.join(x, "1 = 0", " OR ")
	case store.Not:
		f := b.pred(x.X)
		return frag{"NOT (" + f.sql + ")", f.args}
	case store.Present:
		if _, ok := specialAttrs[x.Attr]; ok {
			return frag{"1 = 1", nil} // every record has an id and its times
		}
		return frag{"EXISTS (SELECT 1 FROM attrs a WHERE a.kind = ? AND a.id = r.id AND a.name = ?)", []any{b.kind, x.Attr}}
	case store.Compare:
		if x.Op == store.Ne { // no value equal: the negation over all the values
			eq := x
			eq.Op = store.Eq
			f := b.pred(eq)
			return frag{"NOT " + f.sql, f.args}
		}
		if col, ok := specialAttrs[x.Attr]; ok {
			if !x.CaseExact {
				// lower() folds ASCII only; ids and times are ASCII in keyward.
				col = "lower(" + col + ")"
			}
			return b.op(col, x)
		}
		cond := b.op(attrColumn(x.CaseExact), x)
		return frag{"EXISTS (SELECT 1 FROM attrs a WHERE a.kind = ? AND a.id = r.id AND a.name = ? AND " + cond.sql + ")",
			append([]any{b.kind, x.Attr}, cond.args...)}
	}
	// store.Validate refuses anything else before the builder runs.
	b.err = domain.Invalid("filter", "unknown expression %T", e)
	return frag{"1 = 0", nil}
}

func (b *builder) join(es []store.Expr, empty, sep string) frag {
	if len(es) == 0 {
		return frag{empty, nil}
	}
	var out frag
	parts := make([]string, len(es))
	for i, e := range es {
		f := b.pred(e)
		parts[i] = f.sql
		out.args = append(out.args, f.args...)
	}
	out.sql = "(" + strings.Join(parts, sep) + ")"
	return out
}

func attrColumn(caseExact bool) string {
	if caseExact {
		return "a.value"
	}
	return "a.folded"
}

// op renders "col OP ?" for a comparison other than ne, binding its value
// (folded unless CaseExact). Substring operators use GLOB, which in SQLite is
// case-sensitive and byte-exact (LIKE folds ASCII case whatever the data) and
// whose prefix form (sw) is served by the index; the value's own glob characters
// are escaped, so they match literally.
func (b *builder) op(col string, c store.Compare) frag {
	value := c.Value
	if !c.CaseExact {
		value = fold(value)
	}
	switch c.Op {
	case store.Co:
		return frag{col + " GLOB ?", []any{"*" + globEscape(value) + "*"}}
	case store.Sw:
		return frag{col + " GLOB ?", []any{globEscape(value) + "*"}}
	case store.Ew:
		return frag{col + " GLOB ?", []any{"*" + globEscape(value)}}
	case store.Gt:
		return frag{col + " > ?", []any{value}}
	case store.Ge:
		return frag{col + " >= ?", []any{value}}
	case store.Lt:
		return frag{col + " < ?", []any{value}}
	case store.Le:
		return frag{col + " <= ?", []any{value}}
	default: // store.Eq
		return frag{col + " = ?", []any{value}}
	}
}

// globEscape makes s match itself in a GLOB pattern: each of * ? [ becomes a
// one-character class.
func globEscape(s string) string {
	if !strings.ContainsAny(s, "*?[") {
		return s
	}
	var out strings.Builder
	for _, r := range s {
		switch r {
		case '*', '?', '[':
			out.WriteByte('[')
			out.WriteRune(r)
			out.WriteByte(']')
		default:
			out.WriteRune(r)
		}
	}
	return out.String()
}
