package storetest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/core/domain"
	"github.com/keyward/keyward/core/store"
)

// testRandomFilters lists with random filters over random records and compares
// each answer with a plain Go evaluation of the query model, so that however a
// backend plans a filter (which part drives, which parts probe), the answer is
// the one the model defines.
func testRandomFilters(t *testing.T, s store.Store) {
	rng := rand.New(rand.NewPCG(20261203, 7))
	names := []string{"a", "b", "c"}
	values := []string{"x", "X", "xy", "Yx", "y", "", "é", "É", "x*y", "50%"}

	var recs []store.Record
	update(t, s, func(tx store.Tx) error {
		for i := range 40 {
			r := store.Record{Kind: domain.KindTask, ID: fmt.Sprintf("t%02d", i), Data: []byte(`{}`)}
			for _, n := range names {
				for range rng.IntN(3) { // 0, 1 or 2 values of each attribute
					r.Attrs = append(r.Attrs, domain.Attr{Name: n, Value: values[rng.IntN(len(values))]})
				}
			}
			got, err := tx.Put(t.Context(), r, 0)
			if err != nil {
				return err
			}
			got.Attrs = r.Attrs
			recs = append(recs, got)
		}
		return nil
	})

	ops := []store.Op{store.Eq, store.Ne, store.Co, store.Sw, store.Ew, store.Gt, store.Ge, store.Lt, store.Le}
	var gen func(depth int) store.Expr
	gen = func(depth int) store.Expr {
		k := rng.IntN(10)
		if depth >= 3 {
			k = rng.IntN(4)
		}
		switch {
		case k < 3:
			attr := names[rng.IntN(len(names))]
			if rng.IntN(8) == 0 {
				attr = "id"
			}
			v := values[rng.IntN(len(values))]
			if attr == "id" {
				v = fmt.Sprintf("t%d", rng.IntN(4))
			}
			return store.Compare{Attr: attr, Op: ops[rng.IntN(len(ops))], Value: v, CaseExact: rng.IntN(2) == 0}
		case k == 3:
			return store.Present{Attr: names[rng.IntN(len(names))]}
		case k < 6:
			and := store.And{}
			for range rng.IntN(4) {
				and = append(and, gen(depth+1))
			}
			return and
		case k < 9:
			or := store.Or{}
			for range rng.IntN(4) {
				or = append(or, gen(depth+1))
			}
			return or
		default:
			return store.Not{X: gen(depth + 1)}
		}
	}

	for i := range 150 {
		f := gen(0)
		var want []string
		for _, r := range recs {
			if matches(f, r) {
				want = append(want, r.ID)
			}
		}
		if want == nil {
			want = []string{}
		}
		p, err := list(t, s, domain.KindTask, store.Query{Filter: f, Limit: -1})
		require.NoError(t, err, "filter %d: %s", i, describe(f))
		if !assert.Equal(t, want, ids(p), "filter %d: %s", i, describe(f)) {
			return
		}
		assert.Equal(t, len(want), p.Total, "filter %d: %s", i, describe(f))
	}
}

// matches evaluates the query model's definition on one record.
func matches(e store.Expr, r store.Record) bool {
	switch x := e.(type) {
	case nil:
		return true
	case store.And:
		for _, s := range x {
			if !matches(s, r) {
				return false
			}
		}
		return true
	case store.Or:
		return slices.ContainsFunc(x, func(s store.Expr) bool { return matches(s, r) })
	case store.Not:
		return !matches(x.X, r)
	case store.Present:
		return len(valuesOf(r, x.Attr)) > 0
	case store.Compare:
		if x.Op == store.Ne {
			eq := x
			eq.Op = store.Eq
			return !matches(eq, r)
		}
		want := x.Value
		if !x.CaseExact {
			want = strings.ToLower(want)
		}
		for _, v := range valuesOf(r, x.Attr) {
			if !x.CaseExact {
				v = strings.ToLower(v)
			}
			var ok bool
			switch x.Op {
			case store.Eq:
				ok = v == want
			case store.Co:
				ok = strings.Contains(v, want)
			case store.Sw:
				ok = strings.HasPrefix(v, want)
			case store.Ew:
				ok = strings.HasSuffix(v, want)
			case store.Gt:
				ok = v > want
			case store.Ge:
				ok = v >= want
			case store.Lt:
				ok = v < want
			case store.Le:
				ok = v <= want
			}
			if ok {
				return true
			}
		}
	}
	return false
}

func valuesOf(r store.Record, attr string) []string {
	switch attr {
	case "id":
		return []string{r.ID}
	case "created":
		return []string{domain.FormatTime(r.Created)}
	case "modified":
		return []string{domain.FormatTime(r.Modified)}
	}
	var out []string
	for _, a := range r.Attrs {
		if a.Name == attr {
			out = append(out, a.Value)
		}
	}
	return out
}

// describe renders a filter for a failure message.
func describe(e store.Expr) string {
	switch x := e.(type) {
	case store.And:
		return "and(" + describeAll(x) + ")"
	case store.Or:
		return "or(" + describeAll(x) + ")"
	case store.Not:
		return "not(" + describe(x.X) + ")"
	case store.Present:
		return x.Attr + " pr"
	case store.Compare:
		c := ""
		if !x.CaseExact {
			c = "~"
		}
		return fmt.Sprintf("%s %s%s %q", x.Attr, c, x.Op, x.Value)
	}
	return fmt.Sprintf("%v", e)
}

func describeAll(es []store.Expr) string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = describe(e)
	}
	return strings.Join(parts, ", ")
}
