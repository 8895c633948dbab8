package sqlite

import (
	"context"
	"strings"

	"github.com/keyward/keyward/core/domain"
	"github.com/keyward/keyward/core/store"
)

// List implements store.Tx. The filter becomes a WHERE clause over resources r in
// which every comparison on an attribute is a subquery on attrs served by one of
// its (kind, name, value|folded, id) indexes; every value is a bound parameter.
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
	where, whereArgs, err := listWhere(kind, q.Filter)
	if err != nil {
		return store.Page{}, err
	}
	op := "list " + string(kind)

	page := store.Page{Records: []store.Record{}}
	if err := t.tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM resources r WHERE `+where, whereArgs...).Scan(&page.Total); err != nil {
		return store.Page{}, t.s.fail(ctx, op+": count", err)
	}
	if q.Limit == 0 || q.Offset >= page.Total {
		return page, nil
	}
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

// listWhere validates filter and translates it, with the kind, into the WHERE
// clause of a query over resources r and the values to bind.
func listWhere(kind domain.Kind, filter store.Expr) (string, []any, error) {
	if err := store.Validate(filter); err != nil {
		return "", nil, err
	}
	b := builder{kind: string(kind), args: []any{string(kind)}}
	where := "r.kind = ?"
	if filter != nil {
		where += " AND " + b.expr(filter)
	}
	return where, b.args, b.err
}

// builder translates a validated store.Expr into SQL text with ? placeholders and
// collects the values to bind. Values never enter the SQL text.
type builder struct {
	kind string
	args []any
	err  error
}

func (b *builder) expr(e store.Expr) string {
	switch x := e.(type) {
	case store.And:
		if len(x) == 0 {
			return "1 = 1"
		}
		return b.join(x, " AND ")
	case store.Or:
		if len(x) == 0 {
			return "1 = 0"
		}
		return b.join(x, " OR ")
	case store.Not:
		return "NOT " + b.expr(x.X)
	case store.Present:
		if _, ok := specialAttrs[x.Attr]; ok {
			return "1 = 1" // every record has an id and its times
		}
		b.args = append(b.args, b.kind, x.Attr)
		return "r.id IN (SELECT a.id FROM attrs a WHERE a.kind = ? AND a.name = ?)"
	case store.Compare:
		return b.compare(x)
	}
	// store.Validate refuses anything else before the builder runs.
	b.err = domain.Invalid("filter", "unknown expression %T", e)
	return "1 = 0"
}

func (b *builder) join(es []store.Expr, sep string) string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = b.expr(e)
	}
	return "(" + strings.Join(parts, sep) + ")"
}

// compare translates one comparison. Ne is "no value equal", so the negation of
// Eq over the whole set of the record's values.
func (b *builder) compare(c store.Compare) string {
	if c.Op == store.Ne {
		eq := c
		eq.Op = store.Eq
		return "NOT " + b.compare(eq)
	}
	value := c.Value
	if !c.CaseExact {
		value = fold(value)
	}
	if col, ok := specialAttrs[c.Attr]; ok {
		if !c.CaseExact {
			// lower() folds ASCII only; ids and times are ASCII in keyward.
			col = "lower(" + col + ")"
		}
		return b.op(col, c.Op, value)
	}
	col := "a.value"
	if !c.CaseExact {
		col = "a.folded"
	}
	b.args = append(b.args, b.kind, c.Attr)
	return "r.id IN (SELECT a.id FROM attrs a WHERE a.kind = ? AND a.name = ? AND " + b.op(col, c.Op, value) + ")"
}

// op renders "col OP ?" and binds its value. Substring operators use GLOB, which
// in SQLite is case-sensitive and byte-exact (LIKE folds ASCII case whatever the
// data) and whose prefix form (sw) is served by the index; the value's own glob
// characters are escaped, so they match literally.
func (b *builder) op(col string, op store.Op, value string) string {
	switch op {
	case store.Co:
		b.args = append(b.args, "*"+globEscape(value)+"*")
		return col + " GLOB ?"
	case store.Sw:
		b.args = append(b.args, globEscape(value)+"*")
		return col + " GLOB ?"
	case store.Ew:
		b.args = append(b.args, "*"+globEscape(value))
		return col + " GLOB ?"
	}
	b.args = append(b.args, value)
	switch op {
	case store.Gt:
		return col + " > ?"
	case store.Ge:
		return col + " >= ?"
	case store.Lt:
		return col + " < ?"
	case store.Le:
		return col + " <= ?"
	default: // store.Eq
		return col + " = ?"
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
