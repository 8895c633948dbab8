package scim

import (
	"encoding/json"
	"strconv"
	"strings"

	filter "github.com/scim2/filter-parser/v2"
)

// lookup finds a key in a document case-insensitively (RFC 7643 §2.1).
func lookup(m map[string]any, name string) (string, any, bool) {
	if v, ok := m[name]; ok {
		return name, v, true
	}
	for k, v := range m {
		if strings.EqualFold(k, name) {
			return k, v, true
		}
	}
	return "", nil, false
}

// container returns the map an attribute path lives in: the document itself or
// the extension object named by the path's URN.
func (t translator) container(doc map[string]any, p filter.AttributePath) map[string]any {
	uri := p.URI()
	if uri == "" || strings.EqualFold(uri, t.core) {
		return doc
	}
	_, v, _ := lookup(doc, uri)
	m, _ := v.(map[string]any)
	return m
}

// values collects the values an attribute path names in a document; multi-valued
// attributes contribute one value per element.
func (t translator) values(doc map[string]any, p filter.AttributePath) []any {
	c := t.container(doc, p)
	if c == nil {
		return nil
	}
	_, v, ok := lookup(c, p.AttributeName)
	if !ok || v == nil {
		return nil
	}
	sub := p.SubAttributeName()
	var out []any
	add := func(x any) {
		if sub == "" {
			if m, ok := x.(map[string]any); ok {
				// A multi-valued complex attribute without a sub-attribute
				// compares its value (RFC 7644 §3.4.2.2).
				if _, vv, ok := lookup(m, "value"); ok {
					out = append(out, vv)
				}
				return
			}
			out = append(out, x)
			return
		}
		if m, ok := x.(map[string]any); ok {
			if _, vv, ok := lookup(m, sub); ok && vv != nil {
				out = append(out, vv)
			}
		}
	}
	if list, ok := v.([]any); ok {
		for _, x := range list {
			add(x)
		}
	} else {
		add(v)
	}
	return out
}

// matches evaluates a filter on a document in memory. It backs the filters the
// store's query model cannot express (value paths on type or primary,
// attributes keyward does not index).
func (t translator) matches(e filter.Expression, doc map[string]any) bool {
	switch x := e.(type) {
	case *filter.LogicalExpression:
		if x.Operator == filter.OR {
			return t.matches(x.Left, doc) || t.matches(x.Right, doc)
		}
		return t.matches(x.Left, doc) && t.matches(x.Right, doc)
	case *filter.NotExpression:
		return !t.matches(x.Expression, doc)
	case *filter.AttributeExpression:
		vals := t.values(doc, x.AttributePath)
		k, _ := t.key(x.AttributePath)
		ix := t.attrs[k]
		if x.Operator == filter.PR {
			for _, v := range vals {
				if !isEmpty(v) {
					return true
				}
			}
			return false
		}
		want, err := compareString(x.CompareValue)
		if err != nil {
			return false
		}
		if x.Operator == filter.NE {
			for _, v := range vals {
				if compareValue(v, filter.EQ, want, ix) {
					return false
				}
			}
			return true
		}
		for _, v := range vals {
			if compareValue(v, x.Operator, want, ix) {
				return true
			}
		}
		return false
	case *filter.ValuePath:
		c := t.container(doc, x.AttributePath)
		if c == nil {
			return false
		}
		_, v, _ := lookup(c, x.AttributePath.AttributeName)
		list, _ := v.([]any)
		if m, ok := v.(map[string]any); ok {
			list = []any{m}
		}
		for _, el := range list {
			m, ok := el.(map[string]any)
			if !ok {
				continue
			}
			sub := translator{attrs: elementAttrs(t.attrs, x.AttributePath.AttributeName), core: ""}
			if sub.matches(x.ValueFilter, m) {
				return true
			}
		}
		return false
	}
	return false
}

// elementAttrs derives the attribute table for the elements of a multi-valued
// attribute from the resource's table.
func elementAttrs(attrs attrMap, name string) attrMap {
	prefix := strings.ToLower(name) + "."
	out := attrMap{}
	for k, v := range attrs {
		if strings.HasPrefix(k, prefix) {
			out[strings.TrimPrefix(k, prefix)] = v
		}
	}
	return out
}

func isEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	return false
}

func compareValue(v any, op filter.CompareOperator, want string, ix indexed) bool {
	var got string
	switch x := v.(type) {
	case string:
		got = x
	case bool:
		got = strconv.FormatBool(x)
		want = strings.ToLower(want)
	case json.Number:
		got = x.String()
	case float64:
		got = strconv.FormatFloat(x, 'f', -1, 64)
	default:
		return false
	}
	if ix.kind == kindTime {
		gt, err1 := parseTime(got)
		wt, err2 := parseTime(want)
		if err1 != nil || err2 != nil {
			return false
		}
		c := gt.Compare(wt)
		switch op {
		case filter.EQ:
			return c == 0
		case filter.GT:
			return c > 0
		case filter.GE:
			return c >= 0
		case filter.LT:
			return c < 0
		case filter.LE:
			return c <= 0
		}
		return false
	}
	if !ix.caseExact {
		got, want = strings.ToLower(got), strings.ToLower(want)
	}
	switch op {
	case filter.EQ:
		return got == want
	case filter.CO:
		return strings.Contains(got, want)
	case filter.SW:
		return strings.HasPrefix(got, want)
	case filter.EW:
		return strings.HasSuffix(got, want)
	case filter.GT:
		return got > want
	case filter.GE:
		return got >= want
	case filter.LT:
		return got < want
	case filter.LE:
		return got <= want
	}
	return false
}
