package ldap

import (
	"strings"
)

// tri is the three-valued result of a filter (RFC 4511 §4.5.1.7).
type tri uint8

const (
	triFalse tri = iota
	triTrue
	triUndefined
)

type filterKind uint8

const (
	fAnd filterKind = iota
	fOr
	fNot
	fEq
	fSubstr
	fGe
	fLe
	fPresent
	fApprox
	fExt
)

// filter is a compiled RFC 4515 filter with assertion values normalised by the
// attribute's matching rule.
type filter struct {
	kind  filterKind
	subs  []*filter
	typ   *attrType // nil: unknown attribute (Undefined)
	attr  string    // as the client wrote it
	value string    // normalised assertion value
	raw   string    // assertion value as sent
	// substrings, normalised
	initial string
	any     []string
	final   string
	// objectClass=* and similar are always true
	always bool
}

// compileFilter turns the BER Filter of a search request into a filter, refusing
// nesting deeper than maxDepth.
func compileFilter(p *tlv, maxDepth int) (filter, error) {
	f, err := compile(p, 0, maxDepth)
	if err != nil {
		return filter{}, err
	}
	return *f, nil
}

func compile(p *tlv, depth, maxDepth int) (*filter, error) {
	if depth > maxDepth {
		return nil, decodeErr("filter nested deeper than %d", maxDepth)
	}
	if p.class() != classContext {
		return nil, decodeErr("filter choice is not context-tagged")
	}
	switch p.tag() {
	case 0, 1:
		if !p.constructed() {
			return nil, decodeErr("bad and/or filter")
		}
		f := &filter{kind: fAnd}
		if p.tag() == 1 {
			f.kind = fOr
		}
		for i := range p.kids {
			s, err := compile(&p.kids[i], depth+1, maxDepth)
			if err != nil {
				return nil, err
			}
			f.subs = append(f.subs, s)
		}
		return f, nil
	case 2:
		if len(p.kids) != 1 {
			return nil, decodeErr("not filter needs one operand")
		}
		s, err := compile(&p.kids[0], depth+1, maxDepth)
		if err != nil {
			return nil, err
		}
		return &filter{kind: fNot, subs: []*filter{s}}, nil
	case 3, 5, 6, 8:
		if len(p.kids) != 2 {
			return nil, decodeErr("bad attribute value assertion")
		}
		attr, ok1 := octetString(&p.kids[0])
		val, ok2 := octetString(&p.kids[1])
		if !ok1 || !ok2 || attr == "" {
			return nil, decodeErr("bad attribute value assertion")
		}
		kind := map[byte]filterKind{3: fEq, 5: fGe, 6: fLe, 8: fApprox}[p.tag()]
		f := &filter{kind: kind, attr: attr, raw: val, typ: lookupAttr(attr)}
		if f.typ != nil {
			f.value = normValue(f.typ.match, val)
		}
		return f, nil
	case 4:
		return compileSubstrings(p)
	case 7:
		attr := string(p.data)
		if attr == "" || p.constructed() {
			return nil, decodeErr("bad presence filter")
		}
		f := &filter{kind: fPresent, attr: attr, typ: lookupAttr(attr)}
		f.always = f.typ != nil && lower(f.typ.name()) == "objectclass"
		return f, nil
	case 9:
		return compileExtensible(p)
	}
	return nil, decodeErr("unknown filter choice %d", p.tag())
}

func compileSubstrings(p *tlv) (*filter, error) {
	if len(p.kids) != 2 || len(p.kids[1].kids) == 0 {
		return nil, decodeErr("bad substring filter")
	}
	attr, ok := octetString(&p.kids[0])
	if !ok || attr == "" {
		return nil, decodeErr("bad substring filter")
	}
	f := &filter{kind: fSubstr, attr: attr, typ: lookupAttr(attr)}
	m := matchCaseIgnore
	if f.typ != nil {
		m = f.typ.match
	}
	n := len(p.kids[1].kids)
	for i := range p.kids[1].kids {
		c := &p.kids[1].kids[i]
		v := string(c.data)
		if v == "" {
			return nil, decodeErr("empty substring")
		}
		nv := substrNorm(m, v)
		switch c.tag() {
		case 0:
			if i != 0 {
				return nil, decodeErr("initial substring not first")
			}
			f.initial = nv
		case 1:
			f.any = append(f.any, nv)
		case 2:
			if i != n-1 {
				return nil, decodeErr("final substring not last")
			}
			f.final = nv
		default:
			return nil, decodeErr("bad substring choice")
		}
	}
	return f, nil
}

// substrNorm prepares a substring assertion: folded but without trimming, since
// spaces at the edge of a fragment are significant inside a value.
func substrNorm(m match, v string) string {
	if m == matchCaseExact {
		return v
	}
	return strings.ToLower(v)
}

func compileExtensible(p *tlv) (*filter, error) {
	// MatchingRuleAssertion ::= SEQUENCE { matchingRule [1] OPTIONAL, type [2]
	// OPTIONAL, matchValue [3], dnAttributes [4] BOOLEAN DEFAULT FALSE }
	var rule, attr, val string
	dnAttrs := false
	for i := range p.kids {
		c := &p.kids[i]
		switch c.tag() {
		case 1:
			rule = string(c.data)
		case 2:
			attr = string(c.data)
		case 3:
			val = string(c.data)
		case 4:
			dnAttrs = len(c.data) == 1 && c.data[0] != 0
		}
	}
	if attr == "" && rule == "" {
		return nil, decodeErr("extensible match needs a rule or a type")
	}
	// Only the plain form (an attribute with its own equality rule) is evaluated;
	// every other extensible match is Undefined, as RFC 4511 allows for rules the
	// server does not implement.
	f := &filter{kind: fExt, attr: attr, raw: val}
	if rule == "" && !dnAttrs {
		f.typ = lookupAttr(attr)
		if f.typ != nil {
			f.value = normValue(f.typ.match, val)
		}
	}
	return f, nil
}

// eval evaluates the filter against an entry.
func (f *filter) eval(e *entry) tri {
	switch f.kind {
	case fAnd:
		r := triTrue
		for _, s := range f.subs {
			switch s.eval(e) {
			case triFalse:
				return triFalse
			case triUndefined:
				r = triUndefined
			}
		}
		return r
	case fOr:
		r := triFalse
		for _, s := range f.subs {
			switch s.eval(e) {
			case triTrue:
				return triTrue
			case triUndefined:
				r = triUndefined
			}
		}
		return r
	case fNot:
		switch f.subs[0].eval(e) {
		case triTrue:
			return triFalse
		case triFalse:
			return triTrue
		}
		return triUndefined
	case fPresent:
		if f.always {
			return triTrue
		}
		if f.typ == nil {
			return triFalse
		}
		return boolTri(e.get(f.typ) != nil)
	}
	if f.typ == nil || f.typ.match == matchNone {
		return triUndefined
	}
	a := e.get(f.typ)
	if a == nil {
		return triFalse
	}
	switch f.kind {
	case fEq, fApprox, fExt:
		for _, v := range a.norm {
			if v == f.value {
				return triTrue
			}
		}
		return triFalse
	case fGe, fLe:
		if f.typ.match == matchBoolean || f.typ.match == matchDN {
			return triUndefined
		}
		for _, v := range a.norm {
			if (f.kind == fGe && v >= f.value) || (f.kind == fLe && v <= f.value) {
				return triTrue
			}
		}
		return triFalse
	case fSubstr:
		if f.typ.match != matchCaseIgnore && f.typ.match != matchCaseExact {
			return triUndefined
		}
		for _, v := range a.norm {
			if f.substrMatch(v) {
				return triTrue
			}
		}
		return triFalse
	}
	return triUndefined
}

func (f *filter) substrMatch(v string) bool {
	if !strings.HasPrefix(v, f.initial) {
		return false
	}
	v = v[len(f.initial):]
	for _, a := range f.any {
		i := strings.Index(v, a)
		if i < 0 {
			return false
		}
		v = v[i+len(a):]
	}
	return strings.HasSuffix(v, f.final)
}

func boolTri(b bool) tri {
	if b {
		return triTrue
	}
	return triFalse
}

// String renders the filter in RFC 4515 form; it keys paging cursors.
func (f *filter) String() string {
	var b strings.Builder
	f.write(&b)
	return b.String()
}

func (f *filter) write(b *strings.Builder) {
	b.WriteByte('(')
	switch f.kind {
	case fAnd, fOr, fNot:
		b.WriteByte("&|!"[f.kind])
		for _, s := range f.subs {
			s.write(b)
		}
	case fPresent:
		b.WriteString(f.attr + "=*")
	case fSubstr:
		b.WriteString(f.attr + "=" + f.initial + "*")
		for _, a := range f.any {
			b.WriteString(a + "*")
		}
		b.WriteString(f.final)
	default:
		ops := map[filterKind]string{fEq: "=", fGe: ">=", fLe: "<=", fApprox: "~=", fExt: ":="}
		b.WriteString(f.attr + ops[f.kind] + escapeFilter(f.raw))
	}
	b.WriteByte(')')
}

func escapeFilter(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '*' || c == '(' || c == ')' || c == '\\' || c == 0 {
			b.WriteString("\\" + hex2(c))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

func hex2(c byte) string {
	const h = "0123456789abcdef"
	return string([]byte{h[c>>4], h[c&15]})
}

// indexable returns an equality assertion (attribute, normalised value) the filter
// implies for every matching entry, for a candidate look-up: the filter itself or
// one operand of a top-level AND.
func (f *filter) indexable(indexed map[*attrType]bool) (*attrType, string, bool) {
	switch f.kind {
	case fEq, fApprox:
		if f.typ != nil && indexed[f.typ] {
			return f.typ, f.value, true
		}
	case fAnd:
		for _, s := range f.subs {
			if t, v, ok := s.indexable(indexed); ok {
				return t, v, true
			}
		}
	}
	return nil, "", false
}
