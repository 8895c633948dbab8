package ldap

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	goldap "github.com/go-ldap/ldap/v3"
)

// attribute is one attribute of an entry: its type, its values, the values
// normalised for matching, and its precomputed BER encoding (PartialAttribute).
type attribute struct {
	typ    *attrType
	values []string
	norm   []string
	enc    []byte
}

// entry is an immutable directory entry. A change replaces the whole entry, so a
// search or a paging cursor may keep pointers to entries while writers proceed.
type entry struct {
	dn     string
	ndn    string // normalised DN
	parent string // normalised parent DN
	user   []*attribute
	oper   []*attribute
	// slots maps an attribute type's ordinal to 1 + its index in attrs (0: absent);
	// a byte array beats a map on the search path.
	slots [maxAttrTypes]uint8
	attrs []*attribute
}

// get returns the entry's attribute of type t, or nil.
func (e *entry) get(t *attrType) *attribute {
	if i := e.slots[t.ord]; i != 0 {
		return e.attrs[i-1]
	}
	return nil
}

// entryBuilder collects attributes in order.
type entryBuilder struct {
	e *entry
	// dnNorm normalises DN values; the view passes a memoising one for the DNs
	// it builds itself.
	dnNorm func(string) string
}

func newEntry(dn string) *entryBuilder { return newEntryWith(dn, normDN) }

func newEntryWith(dn string, dnNorm func(string) string) *entryBuilder {
	ndn := dnNorm(dn)
	parent := ""
	if i := indexRDNEnd(ndn); i >= 0 {
		parent = ndn[i+1:]
	}
	return &entryBuilder{e: &entry{dn: dn, ndn: ndn, parent: parent}, dnNorm: dnNorm}
}

// add appends values to an attribute; empty values are skipped.
func (b *entryBuilder) add(name string, values ...string) *entryBuilder {
	t := schemaIndex[lower(name)]
	if t == nil {
		panic("ldap: attribute not in the published schema: " + name)
	}
	var vs []string
	for _, v := range values {
		if v != "" {
			vs = append(vs, v)
		}
	}
	if len(vs) == 0 {
		return b
	}
	a := b.e.get(t)
	if a == nil {
		if len(b.e.attrs) >= 255 {
			panic("ldap: too many attributes on one entry")
		}
		a = &attribute{typ: t}
		b.e.attrs = append(b.e.attrs, a)
		b.e.slots[t.ord] = uint8(len(b.e.attrs))
		if t.operational {
			b.e.oper = append(b.e.oper, a)
		} else {
			b.e.user = append(b.e.user, a)
		}
	}
	a.values = append(a.values, vs...)
	return b
}

// done normalises and encodes the attributes and returns the entry.
func (b *entryBuilder) done() *entry {
	for _, list := range [][]*attribute{b.e.user, b.e.oper} {
		for _, a := range list {
			a.norm = make([]string, len(a.values))
			for i, v := range a.values {
				if a.typ.match == matchDN {
					a.norm[i] = b.dnNorm(v)
				} else {
					a.norm[i] = normValue(a.typ.match, v)
				}
			}
			a.enc = encodeAttribute(a.typ.name(), a.values, false)
		}
	}
	return b.e
}

func encodeAttribute(name string, values []string, typesOnly bool) []byte {
	var e encoder
	p := e.begin(tagSequence)
	e.octets(tagOctetString, name)
	q := e.begin(tagSet)
	if !typesOnly {
		for _, v := range values {
			e.octets(tagOctetString, v)
		}
	}
	e.end(q)
	e.end(p)
	return e.b
}

// normValue normalises an attribute value or assertion value for matching.
func normValue(m match, v string) string {
	switch m {
	case matchDN:
		return normDN(v)
	case matchTime:
		if t, ok := parseGeneralizedTime(v); ok {
			return t.UTC().Format("20060102150405.000000000Z")
		}
		return "\x00invalid:" + v
	case matchCaseExact:
		return squeezeSpaces(v)
	case matchBoolean:
		return strings.ToUpper(strings.TrimSpace(v))
	case matchInteger:
		if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil && n >= 0 {
			return fmt.Sprintf("%020d", n)
		}
		return "\x00invalid:" + v
	case matchUUID, matchOID:
		return strings.ToLower(strings.TrimSpace(v))
	default:
		return foldValue(v)
	}
}

// foldValue applies caseIgnoreMatch preparation: case folded, leading and trailing
// spaces removed, inner runs of spaces squeezed (RFC 4518 §2.6.1, simplified).
func foldValue(v string) string {
	ascii := true
	for i := 0; i < len(v); i++ {
		if v[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		clean := true
		for i := 0; i < len(v); i++ {
			c := v[i]
			if (c >= 'A' && c <= 'Z') || (c == ' ' && (i == 0 || i == len(v)-1 || v[i+1] == ' ')) {
				clean = false
				break
			}
		}
		if clean {
			return v
		}
	}
	return squeezeSpaces(strings.ToLower(v))
}

func squeezeSpaces(v string) string {
	if !strings.Contains(v, "  ") && strings.TrimSpace(v) == v {
		return v
	}
	return strings.Join(strings.FieldsFunc(v, unicode.IsSpace), " ")
}

// normDN normalises a DN for distinguishedNameMatch: attribute types lower-cased
// and resolved to their primary name, values folded, no spaces around separators,
// special characters escaped the one RFC 4514 way. An unparsable DN normalises to
// itself folded, which matches nothing real.
func normDN(dn string) string {
	if dn == "" {
		return ""
	}
	d, err := goldap.ParseDN(dn)
	if err != nil {
		return "\x00invalid:" + strings.ToLower(dn)
	}
	var b strings.Builder
	for i, rdn := range d.RDNs {
		if i > 0 {
			b.WriteByte(',')
		}
		avas := rdn.Attributes
		if len(avas) > 1 {
			avas = append([]*goldap.AttributeTypeAndValue(nil), avas...)
			sort.Slice(avas, func(i, j int) bool { return lower(avas[i].Type) < lower(avas[j].Type) })
		}
		for j, ava := range avas {
			if j > 0 {
				b.WriteByte('+')
			}
			t := lower(ava.Type)
			m := matchCaseIgnore
			if at := schemaIndex[t]; at != nil {
				t = lower(at.name())
				m = at.match
			}
			b.WriteString(t)
			b.WriteByte('=')
			b.WriteString(escapeRDNValue(normValue(m, ava.Value)))
		}
	}
	return b.String()
}

// escapeRDNValue escapes a value for use in a DN string (RFC 4514 §2.4).
func escapeRDNValue(v string) string {
	need := false
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case ',', '+', '"', '\\', '<', '>', ';', '=', 0:
			need = true
		}
	}
	if !need && (v == "" || (v[0] != ' ' && v[0] != '#' && v[len(v)-1] != ' ')) {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == ',' || c == '+' || c == '"' || c == '\\' || c == '<' || c == '>' || c == ';' || c == '=':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == 0:
			b.WriteString("\\00")
		case (c == ' ' && (i == 0 || i == len(v)-1)) || (c == '#' && i == 0):
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// indexRDNEnd returns the index of the ',' ending the first RDN of a normalised DN.
func indexRDNEnd(ndn string) int {
	for i := 0; i < len(ndn); i++ {
		switch ndn[i] {
		case '\\':
			i++
		case ',':
			return i
		}
	}
	return -1
}

// isUnder tells whether normalised DN d is at or below normalised DN base.
func isUnder(d, base string) bool {
	if base == "" {
		return true
	}
	if d == base {
		return true
	}
	if len(d) <= len(base) || !strings.HasSuffix(d, base) || d[len(d)-len(base)-1] != ',' {
		return false
	}
	// The comma must not be escaped.
	n := 0
	for i := len(d) - len(base) - 2; i >= 0 && d[i] == '\\'; i-- {
		n++
	}
	return n%2 == 0
}

// parseGeneralizedTime parses RFC 4517 §3.3.13 GeneralizedTime, with minutes and
// seconds optional, a fraction, and Z or an offset.
func parseGeneralizedTime(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if len(s) < 11 {
		return time.Time{}, false
	}
	// Split off the zone.
	var zone string
	switch {
	case strings.HasSuffix(s, "Z"):
		zone, s = "Z", s[:len(s)-1]
	case len(s) > 5 && (s[len(s)-5] == '+' || s[len(s)-5] == '-'):
		zone, s = s[len(s)-5:], s[:len(s)-5]
	case len(s) > 3 && (s[len(s)-3] == '+' || s[len(s)-3] == '-'):
		zone, s = s[len(s)-3:]+"00", s[:len(s)-3]
	default:
		return time.Time{}, false
	}
	frac := ""
	if i := strings.IndexAny(s, ".,"); i >= 0 {
		frac, s = s[i+1:], s[:i]
		if frac == "" {
			return time.Time{}, false
		}
		for _, c := range frac {
			if c < '0' || c > '9' {
				return time.Time{}, false
			}
		}
	}
	var layout string
	switch len(s) {
	case 10:
		layout = "2006010215"
	case 12:
		layout = "200601021504"
	case 14:
		layout = "20060102150405"
	default:
		return time.Time{}, false
	}
	t, err := time.Parse(layout, s)
	if err != nil {
		return time.Time{}, false
	}
	if frac != "" && len(s) == 14 {
		if len(frac) > 9 {
			frac = frac[:9]
		}
		ns := 0
		for i := 0; i < 9; i++ {
			ns *= 10
			if i < len(frac) {
				ns += int(frac[i] - '0')
			}
		}
		t = t.Add(time.Duration(ns))
	}
	if zone != "Z" {
		sign := 1
		if zone[0] == '-' {
			sign = -1
		}
		h := int(zone[1]-'0')*10 + int(zone[2]-'0')
		m := int(zone[3]-'0')*10 + int(zone[4]-'0')
		if h > 23 || m > 59 {
			return time.Time{}, false
		}
		t = t.Add(-time.Duration(sign) * (time.Duration(h)*time.Hour + time.Duration(m)*time.Minute))
	}
	return t.UTC(), true
}

// generalizedTime formats t as LDAP GeneralizedTime in UTC, as slapd does.
func generalizedTime(t time.Time) string {
	return t.UTC().Format("20060102150405Z")
}
