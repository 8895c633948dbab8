package ldap

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"sync/atomic"
	"time"
)

// selection is a search's attribute selection (RFC 4511 §4.5.1.8, RFC 3673).
type selection struct {
	allUser bool
	allOper bool
	types   []*attrType
}

func newSelection(attrs []string) selection {
	var s selection
	if len(attrs) == 0 {
		s.allUser = true
		return s
	}
	seen := map[*attrType]bool{}
	for _, a := range attrs {
		switch a {
		case "*":
			s.allUser = true
		case "+":
			s.allOper = true
		case "1.1", "":
		default:
			if t := lookupAttr(a); t != nil && !seen[t] {
				seen[t] = true
				s.types = append(s.types, t)
			}
		}
	}
	return s
}

// attributes lists an entry's attributes the selection returns, in entry order.
func (s *selection) attributes(e *entry, dst []*attribute) []*attribute {
	dst = dst[:0]
	if s.allUser {
		dst = append(dst, e.user...)
	}
	if s.allOper {
		dst = append(dst, e.oper...)
	}
	for _, t := range s.types {
		if (s.allUser && !t.operational) || (s.allOper && t.operational) {
			continue
		}
		if a := e.get(t); a != nil {
			dst = append(dst, a)
		}
	}
	return dst
}

// testHookSearch, when set by a test, runs at the start of every search.
var testHookSearch atomic.Pointer[func(base string)]

// cursor is the state of a paged search between pages, bound to its connection.
type cursor struct {
	key       string
	results   []*entry
	pos       int
	truncated bool
	used      time.Time
}

const maxCursorsPerConn = 16

func newCookie() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (c *conn) search(m *message) {
	if err := c.checkControls(m, oidPaging, oidManageDsaIT); err != nil {
		c.result(m.id, tagSearchDone, err)
		return
	}
	req, err := decodeSearch(m.op, c.s.cfg.MaxFilterDepth)
	if err != nil {
		c.result(m.id, tagSearchDone, lerr(resultProtocolError, "%v", err))
		return
	}
	if hook := testHookSearch.Load(); hook != nil {
		(*hook)(req.base)
	}
	bnd := c.normBase(req.base)
	if strings.HasPrefix(bnd, "\x00") {
		c.result(m.id, tagSearchDone, lerr(resultInvalidDNSyntax, "base %q is not a DN", req.base))
		return
	}
	sel := newSelection(req.attrs)
	// The root DSE and the subschema are readable by anyone.
	if bnd == "" || bnd == "cn=subschema" {
		special := c.s.rootDSE.Load()
		if bnd != "" {
			special = c.s.subschema
		}
		if bnd == "" && req.scope != scopeBase {
			c.result(m.id, tagSearchDone, lerr(resultNoSuchObject, "search the naming context %s", c.s.cfg.BaseDN))
			return
		}
		if req.scope != scopeOne && req.filter.eval(special) == triTrue {
			c.writeEntry(m.id, special, &sel, req.typesOnly)
		}
		c.result(m.id, tagSearchDone, nil)
		return
	}
	if c.account == nil {
		c.result(m.id, tagSearchDone, lerr(resultInsufficientAccessRights, "anonymous clients may read only the root DSE and cn=Subschema; bind as a service account"))
		return
	}
	if !isUnder(bnd, c.s.baseNDN) && !(c.s.cfg.Changelog && isUnder(bnd, changelogDN)) {
		c.result(m.id, tagSearchDone, &ldapError{code: resultNoSuchObject, msg: "the base is outside the naming context " + c.s.cfg.BaseDN})
		return
	}
	if pc, ok := m.control(oidPaging); ok {
		c.pagedSearch(m, req, bnd, &sel, pc)
		return
	}
	// TODO: the client's timeLimit is not enforced; searches run over memory and
	// end in milliseconds, but a client relying on timeLimitExceeded never sees it.
	limit := c.s.cfg.SizeLimit
	if req.sizeLimit > 0 && int(req.sizeLimit) < limit {
		limit = int(req.sizeLimit)
	}
	results, more, lerr := c.collect(req, bnd, limit)
	if lerr != nil {
		c.result(m.id, tagSearchDone, lerr)
		return
	}
	for _, e := range results {
		c.writeEntry(m.id, e, &sel, req.typesOnly)
	}
	if more {
		c.result(m.id, tagSearchDone, lerr2(resultSizeLimitExceeded, "more than %d entries match; use paged results (RFC 2696)", limit))
		return
	}
	c.result(m.id, tagSearchDone, nil)
}

func lerr2(code int, format string, args ...any) *ldapError { return lerr(code, format, args...) }

// collect finds the matching entries under the read lock.
func (c *conn) collect(req searchRequest, bnd string, limit int) ([]*entry, bool, *ldapError) {
	d := c.s.dit
	d.mu.RLock()
	defer d.mu.RUnlock()
	base := d.entries[bnd]
	if base == nil {
		return nil, false, &ldapError{code: resultNoSuchObject, matched: d.matchedLocked(bnd), msg: "no such entry"}
	}
	out, more := d.collect(base, req.scope, &req.filter, limit)
	return out, more, nil
}

// matchedLocked returns the DN of the nearest existing ancestor of ndn.
func (d *dit) matchedLocked(ndn string) string {
	for {
		i := indexRDNEnd(ndn)
		if i < 0 {
			return ""
		}
		ndn = ndn[i+1:]
		if e := d.entries[ndn]; e != nil {
			return e.dn
		}
	}
}

func (c *conn) pagedSearch(m *message, req searchRequest, bnd string, sel *selection, pc control) {
	size, cookie, err := pagingRequest(pc.value)
	if err != nil {
		c.result(m.id, tagSearchDone, lerr(resultProtocolError, "%v", err))
		return
	}
	key := strings.Join([]string{bnd, string(rune('0' + req.scope)), req.filter.String(), strings.Join(req.attrs, ","), boolStr(req.typesOnly)}, "\x00")
	var cur *cursor
	if len(cookie) > 0 {
		cur = c.cursors[string(cookie)]
		if cur == nil || cur.key != key {
			c.result(m.id, tagSearchDone, lerr(resultUnwillingToPerform, "paged results cookie is unknown, expired, or belongs to another search or connection"))
			return
		}
		if size == 0 {
			// size 0 abandons the paged search (RFC 2696 §3).
			delete(c.cursors, string(cookie))
			c.pagedDone(m.id, nil, 0, "")
			return
		}
		delete(c.cursors, string(cookie))
	} else {
		limit := 0
		if req.sizeLimit > 0 {
			limit = int(req.sizeLimit)
		}
		results, more, lerr := c.collect(req, bnd, limit)
		if lerr != nil {
			c.result(m.id, tagSearchDone, lerr)
			return
		}
		cur = &cursor{key: key, results: results, truncated: more}
	}
	page := int(size)
	if page > c.s.cfg.MaxPageSize || page <= 0 {
		page = c.s.cfg.MaxPageSize
	}
	if size == 0 {
		page = 0
	}
	end := min(cur.pos+page, len(cur.results))
	for _, e := range cur.results[cur.pos:end] {
		c.writeEntry(m.id, e, sel, req.typesOnly)
	}
	cur.pos = end
	total := len(cur.results)
	if cur.pos < len(cur.results) {
		cur.used = time.Now()
		next := newCookie()
		c.storeCursor(next, cur)
		c.pagedDone(m.id, nil, total, next)
		return
	}
	var done *ldapError
	if cur.truncated {
		done = lerr(resultSizeLimitExceeded, "the size limit of %d entries was reached", req.sizeLimit)
	}
	c.pagedDone(m.id, done, total, "")
}

func (c *conn) storeCursor(cookie string, cur *cursor) {
	if len(c.cursors) >= maxCursorsPerConn {
		var oldest string
		var t time.Time
		for k, v := range c.cursors {
			if oldest == "" || v.used.Before(t) {
				oldest, t = k, v.used
			}
		}
		delete(c.cursors, oldest)
	}
	c.cursors[cookie] = cur
}

func (c *conn) pagedDone(id int64, err *ldapError, total int, cookie string) {
	c.resultWith(id, tagSearchDone, err, nil, func(e *encoder) {
		p := e.begin(tagSequence)
		e.octets(tagOctetString, oidPaging)
		v := encoder{}
		q := v.begin(tagSequence)
		v.integer(tagInteger, int64(total))
		v.octets(tagOctetString, cookie)
		v.end(q)
		e.raw(tagOctetString, v.b)
		e.end(p)
	})
}

func boolStr(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// normBase normalises a search base, remembering the last few per connection:
// clients search the same few bases over and over.
func (c *conn) normBase(dn string) string {
	if n, ok := c.bases[dn]; ok {
		return n
	}
	n := normDN(dn)
	if len(c.bases) >= 32 {
		clear(c.bases)
	}
	c.bases[dn] = n
	return n
}

// writeEntry writes a SearchResultEntry from the entry's precomputed encodings.
func (c *conn) writeEntry(id int64, e *entry, sel *selection, typesOnly bool) {
	attrs := sel.attributes(e, c.attrBuf[:0])
	c.attrBuf = attrs[:0]
	attrsLen := 0
	var encs [][]byte
	if typesOnly {
		encs = make([][]byte, len(attrs))
		for i, a := range attrs {
			encs[i] = encodeAttribute(a.typ.name(), nil, true)
			attrsLen += len(encs[i])
		}
	} else {
		for _, a := range attrs {
			attrsLen += len(a.enc)
		}
	}
	h := &c.scratch
	h.b = h.b[:0]
	var idEnc encoder
	idEnc.integer(tagInteger, id)
	dnLen := 1 + lenOfLen(len(e.dn)) + len(e.dn)
	seqLen := 1 + lenOfLen(attrsLen) + attrsLen
	opLen := dnLen + seqLen
	msgLen := len(idEnc.b) + 1 + lenOfLen(opLen) + opLen
	h.b = append(h.b, tagSequence)
	h.length(msgLen)
	h.b = append(h.b, idEnc.b...)
	h.b = append(h.b, tagSearchEntry)
	h.length(opLen)
	h.octets(tagOctetString, e.dn)
	h.b = append(h.b, tagSequence)
	h.length(attrsLen)
	_, _ = c.w.Write(h.b)
	if typesOnly {
		for _, b := range encs {
			_, _ = c.w.Write(b)
		}
		return
	}
	for _, a := range attrs {
		_, _ = c.w.Write(a.enc)
	}
}

func lenOfLen(n int) int {
	switch {
	case n < 0x80:
		return 1
	case n < 0x100:
		return 2
	case n < 0x10000:
		return 3
	case n < 0x1000000:
		return 4
	}
	return 5
}

// compare answers RFC 4511 §4.10 from the same entries searches see.
func (c *conn) compare(m *message) {
	if err := c.checkControls(m, oidManageDsaIT); err != nil {
		c.result(m.id, tagCompareResponse, err)
		return
	}
	req, err := decodeCompare(m.op)
	if err != nil {
		c.result(m.id, tagCompareResponse, lerr(resultProtocolError, "%v", err))
		return
	}
	if c.account == nil {
		c.result(m.id, tagCompareResponse, lerr(resultInsufficientAccessRights, "bind as a service account to compare"))
		return
	}
	ndn := normDN(req.dn)
	e := c.s.dit.get(ndn)
	if e == nil {
		c.s.dit.mu.RLock()
		matched := c.s.dit.matchedLocked(ndn)
		c.s.dit.mu.RUnlock()
		c.result(m.id, tagCompareResponse, &ldapError{code: resultNoSuchObject, matched: matched, msg: "no such entry"})
		return
	}
	t := lookupAttr(req.attr)
	if t == nil {
		c.result(m.id, tagCompareResponse, lerr(resultUndefinedAttributeType, "attribute %s is not in the schema", req.attr))
		return
	}
	f := filter{kind: fEq, typ: t, value: normValue(t.match, req.value)}
	switch f.eval(e) {
	case triTrue:
		c.result(m.id, tagCompareResponse, &ldapError{code: resultCompareTrue})
	case triFalse:
		c.result(m.id, tagCompareResponse, &ldapError{code: resultCompareFalse})
	default:
		c.result(m.id, tagCompareResponse, lerr(resultUndefinedAttributeType, "attribute %s has no equality rule", req.attr))
	}
}

// modify passes member changes to the backend; the backend refuses the rest.
func (c *conn) modify(m *message) {
	if err := c.checkControls(m, oidPermissiveModify, oidManageDsaIT); err != nil {
		c.result(m.id, tagModifyResponse, err)
		return
	}
	req, err := decodeModify(m.op)
	if err != nil {
		c.result(m.id, tagModifyResponse, lerr(resultProtocolError, "%v", err))
		return
	}
	if c.account == nil || !c.account.Write {
		c.result(m.id, tagModifyResponse, lerr(resultInsufficientAccessRights, "this bind identity may not write"))
		return
	}
	if c.s.back == nil {
		c.result(m.id, tagModifyResponse, lerr(resultUnwillingToPerform, "this directory is read-only"))
		return
	}
	_, permissive := m.control(oidPermissiveModify)
	ctx, cancel := context.WithTimeout(c.s.ctx, 30*time.Second)
	defer cancel()
	if err := c.s.back.modify(ctx, c.bindDN, req, permissive); err != nil {
		le, ok := err.(*ldapError)
		if !ok {
			c.s.log.Error("ldap modify failed", "dn", req.dn, "err", err)
			le = lerr(resultOther, "the change could not be applied")
		}
		c.result(m.id, tagModifyResponse, le)
		return
	}
	c.result(m.id, tagModifyResponse, nil)
}

// buildRootDSE builds the root DSE (RFC 4512 §5.1): everything in it is
// operational, returned with "+" or by name.
func (s *server) buildRootDSE(first, last string) *entry {
	b := newEntry("")
	b.add("objectClass", "top", "extensibleObject")
	b.add("namingContexts", s.cfg.BaseDN)
	if s.cfg.Changelog {
		b.add("namingContexts", changelogDN)
		b.add("changelog", changelogDN)
		b.add("firstChangeNumber", first)
		b.add("lastChangeNumber", last)
	}
	b.add("subschemaSubentry", "cn=Subschema")
	b.add("supportedLDAPVersion", "3")
	b.add("supportedControl", oidPaging, oidPermissiveModify, oidManageDsaIT)
	ext := []string{oidWhoAmI}
	if s.cfg.TLS != nil {
		ext = append([]string{oidStartTLS}, ext...)
	}
	b.add("supportedExtension", ext...)
	// "+" (RFC 3673) and absolute true and false filters (RFC 4526).
	b.add("supportedFeatures", "1.3.6.1.4.1.4203.1.5.1", "1.3.6.1.4.1.4203.1.5.3")
	b.add("vendorName", "keyward")
	b.add("vendorVersion", s.cfg.Version)
	return b.done()
}

func buildSubschema(at time.Time) *entry {
	b := newEntry("cn=Subschema")
	b.add("objectClass", "top", "subentry", "subschema", "extensibleObject")
	b.add("cn", "Subschema")
	b.add("structuralObjectClass", "subentry")
	ts := generalizedTime(at)
	b.add("createTimestamp", ts)
	b.add("modifyTimestamp", ts)
	b.add("entryDN", "cn=Subschema")
	b.add("subschemaSubentry", "cn=Subschema")
	vals := subschemaValues()
	for _, n := range []string{"ldapSyntaxes", "matchingRules", "attributeTypes", "objectClasses"} {
		b.add(n, vals[n]...)
	}
	return b.done()
}
