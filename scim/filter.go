package scim

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	filter "github.com/scim2/filter-parser/v2"

	"github.com/keyward/keyward/core/domain"
	"github.com/keyward/keyward/core/store"
)

// quoteBareValues turns the unquoted comparison values some clients send
// (`externalId eq jyoung`, `meta.created gt 2015-10-10T14:38:21-07:00`, iga.md
// BUG-20) into JSON strings, so that they match rather than fail or, worse,
// silently return nothing. Quoted strings, numbers, true, false and null are
// left alone. RFC 7644 §3.4.2.2 asks for quotes; this is a compatibility step.
func quoteBareValues(f string) string {
	var out strings.Builder
	out.Grow(len(f) + 8)
	prevOp := false // the previous word was a comparison operator
	i := 0
	for i < len(f) {
		c := f[i]
		switch {
		case c == '"':
			j := i + 1
			for j < len(f) && f[j] != '"' {
				if f[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(f) {
				j = len(f) - 1
			}
			out.WriteString(f[i : j+1])
			i = j + 1
			prevOp = false
		case c == ' ' || c == '\t' || c == '(' || c == ')' || c == '[' || c == ']':
			out.WriteByte(c)
			i++
		default:
			j := i
			for j < len(f) && !strings.ContainsRune(" \t()[]", rune(f[j])) {
				j++
			}
			// A bare value may contain brackets or parens only as the end of the
			// surrounding group, so it stops at them.
			word := f[i:j]
			if prevOp && !isLiteral(word) {
				b, _ := json.Marshal(word)
				out.Write(b)
			} else {
				out.WriteString(word)
			}
			prevOp = isCompareOp(word)
			i = j
		}
	}
	return out.String()
}

func isCompareOp(w string) bool {
	switch strings.ToLower(w) {
	case "eq", "ne", "co", "sw", "ew", "gt", "lt", "ge", "le":
		return true
	}
	return false
}

func isLiteral(w string) bool {
	switch strings.ToLower(w) {
	case "true", "false", "null":
		return true
	}
	_, err := strconv.ParseFloat(w, 64)
	return err == nil
}

// attrKind is how an attribute's values compare.
type attrKind int

const (
	kindString attrKind = iota
	kindBool
	kindTime
	kindJoin // resolved through grants (members, groups, entitlements, grants)
)

// indexed says where a SCIM attribute lives in the store's query model.
type indexed struct {
	store     string
	caseExact bool
	kind      attrKind
}

// attrMap maps lower-cased, URN-qualified-or-core SCIM attribute paths to store
// attributes. Attributes missing here are evaluated in memory (slower, exact).
type attrMap map[string]indexed

func s(name string) indexed  { return indexed{store: name} }
func sx(name string) indexed { return indexed{store: name, caseExact: true} }

var userAttrs = attrMap{
	"id":                       sx("id"),
	"externalid":               sx("externalId"),
	"username":                 s("userName"),
	"active":                   {store: "active", caseExact: true, kind: kindBool},
	"displayname":              s("displayName"),
	"name.givenname":           s("name.givenName"),
	"name.familyname":          s("name.familyName"),
	"name.formatted":           s("name.formatted"),
	"title":                    s("title"),
	"usertype":                 s("userType"),
	"emails":                   s("emails.value"),
	"emails.value":             s("emails.value"),
	"phonenumbers":             s("phoneNumbers.value"),
	"phonenumbers.value":       s("phoneNumbers.value"),
	"meta.lastmodified":        {store: "modified", caseExact: true, kind: kindTime},
	"meta.created":             {store: "created", caseExact: true, kind: kindTime},
	"employeenumber":           s("employeeNumber"),
	"costcenter":               s("costCenter"),
	"organization":             s("organization"),
	"division":                 s("division"),
	"department":               s("department"),
	"manager":                  sx("managerId"),
	"manager.value":            sx("managerId"),
	"contractstatus":           s("contractStatus"),
	"contractend":              {store: "contractEnd", caseExact: true, kind: kindTime},
	"location":                 s("location"),
	"projects":                 s("projects"),
	"function":                 s("function"),
	"risk":                     s("risk"),
	"groups":                   {kind: kindJoin},
	"groups.value":             {kind: kindJoin},
	"entitlements":             {kind: kindJoin},
	"entitlements.value":       {kind: kindJoin},
	"grants":                   {kind: kindJoin},
	"grants.value":             {kind: kindJoin},
	"meta.resourcetype":        {},
	"meta.version":             {},
	"meta.location":            {},
	"name.middlename":          {},
	"name.honorificprefix":     {},
	"name.honorificsuffix":     {},
	"nickname":                 {},
	"preferredlanguage":        {},
	"locale":                   {},
	"timezone":                 {},
	"emails.type":              {},
	"emails.primary":           {},
	"phonenumbers.type":        {},
	"phonenumbers.primary":     {},
	"manager.displayname":      {},
	"groups.display":           {},
	"entitlements.display":     {},
	"entitlements.type":        {},
	"grants.validfrom":         {},
	"grants.validuntil":        {},
	"grants.state":             {},
	"grants.source":            {},
	"grants.display":           {},
	"grants.justification":     {},
	"grants.approver":          {},
	"grants.approvalreference": {},
	"keys":                     {},
	"keys.value":               {},
	"roles":                    {},
	"roles.value":              {},
}

var groupAttrs = attrMap{
	"id":                sx("id"),
	"externalid":        sx("externalId"),
	"displayname":       s("name"),
	"meta.lastmodified": {store: "modified", caseExact: true, kind: kindTime},
	"meta.created":      {store: "created", caseExact: true, kind: kindTime},
	"members":           {kind: kindJoin},
	"members.value":     {kind: kindJoin},
	"owner":             s("owner"),
	"criticality":       s("criticality"),
	"bound":             {store: "bound", caseExact: true, kind: kindBool},
	"assets":            sx("assetIds"),
	"members.display":   {},
	"members.type":      {},
	"description":       {},
	"maxduration":       {},
	"sites":             {},
}

// joiner resolves a membership comparison (`members eq "u1"`, `groups.value eq
// "g1"`) into the ids of the resources it selects.
type joiner func(attr string, value string) ([]string, error)

// translation is a filter turned into a store query. Exact is false when parts of
// the filter could not be expressed in the store's query model: Expr then selects
// a superset and the caller must evaluate the filter on each resource.
type translation struct {
	Expr  store.Expr
	Exact bool
}

type translator struct {
	attrs attrMap
	// core is the resource's core schema URN; ext maps extension URNs (lower
	// case) to themselves, for URN-qualified attribute names.
	core string
	exts []string
	join joiner
}

// translate turns a parsed SCIM filter into the store's query model.
func (t translator) translate(e filter.Expression) (translation, error) {
	x, exact, err := t.expr(e, false)
	if err != nil {
		return translation{}, err
	}
	return translation{Expr: x, Exact: exact}, nil
}

// expr returns the store expression, and whether it is exact. Under negation an
// inexact part cannot be widened safely, so the whole negation becomes
// match-everything and inexact.
func (t translator) expr(e filter.Expression, negated bool) (store.Expr, bool, error) {
	switch x := e.(type) {
	case *filter.LogicalExpression:
		l, le, err := t.expr(x.Left, negated)
		if err != nil {
			return nil, false, err
		}
		r, re, err := t.expr(x.Right, negated)
		if err != nil {
			return nil, false, err
		}
		if x.Operator == filter.OR {
			if !le || !re {
				// A superset of an or needs a superset of each side.
				return orExpr(l, r), false, nil
			}
			return orExpr(l, r), true, nil
		}
		return andExpr(l, r), le && re, nil
	case *filter.NotExpression:
		in, exact, err := t.expr(x.Expression, !negated)
		if err != nil {
			return nil, false, err
		}
		if !exact {
			return store.And{}, false, nil
		}
		return store.Not{X: in}, true, nil
	case *filter.AttributeExpression:
		return t.compare(x)
	case *filter.ValuePath:
		return t.valuePath(x)
	}
	return nil, false, errInvalidFilter("unsupported filter expression")
}

func andExpr(l, r store.Expr) store.Expr {
	var out store.And
	for _, x := range []store.Expr{l, r} {
		if a, ok := x.(store.And); ok {
			out = append(out, a...)
		} else {
			out = append(out, x)
		}
	}
	return out
}

func orExpr(l, r store.Expr) store.Expr {
	var out store.Or
	for _, x := range []store.Expr{l, r} {
		if a, ok := x.(store.Or); ok {
			out = append(out, a...)
		} else {
			out = append(out, x)
		}
	}
	return out
}

// key returns the attrMap key of a path: URN prefixes of known schemas are
// dropped, names lower-cased.
func (t translator) key(p filter.AttributePath) (string, error) {
	if uri := p.URI(); uri != "" && !strings.EqualFold(uri, t.core) {
		known := false
		for _, e := range t.exts {
			if strings.EqualFold(uri, e) {
				known = true
			}
		}
		if !known {
			return "", errInvalidFilter(fmt.Sprintf("unknown schema %q in filter", uri))
		}
	}
	k := strings.ToLower(p.AttributeName)
	if sub := p.SubAttributeName(); sub != "" {
		k += "." + strings.ToLower(sub)
	}
	if _, ok := t.attrs[k]; !ok {
		return "", errInvalidFilter(fmt.Sprintf("unknown attribute %q in filter", p.String()))
	}
	return k, nil
}

func (t translator) compare(x *filter.AttributeExpression) (store.Expr, bool, error) {
	k, err := t.key(x.AttributePath)
	if err != nil {
		return nil, false, err
	}
	ix := t.attrs[k]
	if ix.kind == kindJoin {
		if x.Operator != filter.EQ || t.join == nil {
			return store.And{}, false, nil
		}
		v, err := compareString(x.CompareValue)
		if err != nil {
			return nil, false, err
		}
		ids, err := t.join(k, v)
		if err != nil {
			return nil, false, err
		}
		out := make(store.Or, 0, len(ids))
		for _, id := range ids {
			out = append(out, store.Eqf("id", id))
		}
		return out, true, nil
	}
	if ix.store == "" {
		return store.And{}, false, nil
	}
	if ix.kind == kindTime && ix.store == "modified" && t.join != nil && (x.Operator == filter.GT || x.Operator == filter.GE) {
		// A grant made or revoked changes the resource it shows on (iga.md
		// BUG-26): delta queries also select resources whose grants changed.
		v, err := t.value(ix, x)
		if err != nil {
			return nil, false, err
		}
		ids, err := t.join("meta.lastmodified "+string(x.Operator), v)
		if err != nil {
			return nil, false, err
		}
		out := store.Or{store.Compare{Attr: "modified", Op: store.Op(x.Operator), Value: v, CaseExact: true}}
		for _, id := range ids {
			out = append(out, store.Eqf("id", id))
		}
		return out, true, nil
	}
	if x.Operator == filter.PR {
		return store.Present{Attr: ix.store}, true, nil
	}
	v, err := t.value(ix, x)
	if err != nil {
		return nil, false, err
	}
	return store.Compare{Attr: ix.store, Op: store.Op(x.Operator), Value: v, CaseExact: ix.caseExact}, true, nil
}

func (t translator) value(ix indexed, x *filter.AttributeExpression) (string, error) {
	switch ix.kind {
	case kindBool:
		b, ok := x.CompareValue.(bool)
		if !ok {
			if s, isStr := x.CompareValue.(string); isStr {
				if pb, err := strconv.ParseBool(s); err == nil {
					b, ok = pb, true
				}
			}
		}
		if !ok {
			return "", errInvalidFilter(fmt.Sprintf("%s compares with true or false", x.AttributePath.String()))
		}
		if x.Operator != filter.EQ && x.Operator != filter.NE {
			return "", errInvalidFilter(fmt.Sprintf("%s is a boolean: only eq, ne and pr apply", x.AttributePath.String()))
		}
		return strconv.FormatBool(b), nil
	case kindTime:
		s, err := compareString(x.CompareValue)
		if err != nil {
			return "", err
		}
		tm, err := parseTime(s)
		if err != nil {
			return "", errInvalidFilter(fmt.Sprintf("%s compares with a date and time (RFC 3339), not %q", x.AttributePath.String(), s))
		}
		return domain.FormatTime(tm), nil
	}
	return compareString(x.CompareValue)
}

// compareString reads a comparison value as text; the parser keeps JSON escapes.
func compareString(v any) (string, error) {
	switch x := v.(type) {
	case string:
		if !strings.Contains(x, `\`) {
			return x, nil
		}
		var out string
		if err := json.Unmarshal([]byte(`"`+x+`"`), &out); err != nil {
			return "", errInvalidFilter("bad escape in a filter value")
		}
		return out, nil
	case bool:
		return strconv.FormatBool(x), nil
	case nil:
		return "", errInvalidFilter("null is not a comparison value; use pr or not (… pr)")
	default:
		return fmt.Sprint(x), nil
	}
}

func parseTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("not a time: %q", s)
}

// valuePath translates `emails[type eq "work" and value eq "x"]`: comparisons on
// the element's value become comparisons on the attribute, the rest is left to
// the in-memory check.
func (t translator) valuePath(x *filter.ValuePath) (store.Expr, bool, error) {
	if _, err := t.key(x.AttributePath); err != nil {
		return nil, false, err
	}
	var parts store.And
	exact := true
	var walk func(e filter.Expression) error
	walk = func(e filter.Expression) error {
		switch y := e.(type) {
		case *filter.LogicalExpression:
			if y.Operator == filter.OR {
				exact = false
				return nil
			}
			if err := walk(y.Left); err != nil {
				return err
			}
			return walk(y.Right)
		case *filter.AttributeExpression:
			p := y.AttributePath
			sub := p.AttributeName
			full := x.AttributePath
			full.SubAttribute = &sub
			k, err := t.key(full)
			if err != nil {
				return err
			}
			ix := t.attrs[k]
			if !strings.HasSuffix(k, ".value") || ix.store == "" && ix.kind != kindJoin {
				exact = false
				return nil
			}
			c := *y
			c.AttributePath = full
			ex, ok, err := t.compare(&c)
			if err != nil {
				return err
			}
			exact = exact && ok
			parts = append(parts, ex)
			return nil
		default:
			exact = false
			return nil
		}
	}
	if err := walk(x.ValueFilter); err != nil {
		return nil, false, err
	}
	if len(parts) == 1 {
		return parts[0], exact, nil
	}
	return parts, exact, nil
}
