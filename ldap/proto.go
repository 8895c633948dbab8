package ldap

import (
	"errors"
	"fmt"
	"strings"
)

// Result codes of RFC 4511 §4.1.9 that the server sends.
const (
	resultSuccess                  = 0
	resultOperationsError          = 1
	resultProtocolError            = 2
	resultTimeLimitExceeded        = 3
	resultSizeLimitExceeded        = 4
	resultCompareFalse             = 5
	resultCompareTrue              = 6
	resultAuthMethodNotSupported   = 7
	resultUnavailableCritical      = 12
	resultConfidentialityRequired  = 13
	resultNoSuchAttribute          = 16
	resultUndefinedAttributeType   = 17
	resultConstraintViolation      = 19
	resultAttributeOrValueExists   = 20
	resultInvalidAttributeSyntax   = 21
	resultNoSuchObject             = 32
	resultInvalidDNSyntax          = 34
	resultInvalidCredentials       = 49
	resultInsufficientAccessRights = 50
	resultBusy                     = 51
	resultUnavailable              = 52
	resultUnwillingToPerform       = 53
	resultOther                    = 80
)

// OIDs the server knows.
const (
	oidPaging           = "1.2.840.113556.1.4.319"
	oidPermissiveModify = "1.2.840.113556.1.4.1413"
	oidManageDsaIT      = "2.16.840.1.113730.3.4.2"
	oidStartTLS         = "1.3.6.1.4.1.1466.20037"
	oidWhoAmI           = "1.3.6.1.4.1.4203.1.11.3"
	oidNoticeDisconnect = "1.3.6.1.4.1.1466.20036"
)

// ldapError is a failed operation: a result code and a diagnostic message, the
// protocol's own form of an error.
type ldapError struct {
	code    int
	matched string
	msg     string
}

func (e *ldapError) Error() string { return fmt.Sprintf("LDAP result %d: %s", e.code, e.msg) }

func lerr(code int, format string, args ...any) *ldapError {
	return &ldapError{code: code, msg: fmt.Sprintf(format, args...)}
}

// control is a request control (RFC 4511 §4.1.11).
type control struct {
	oid      string
	critical bool
	value    []byte
	hasValue bool
}

// message is one decoded LDAPMessage.
type message struct {
	id       int64
	op       *tlv
	tag      byte
	controls []control
}

func (m *message) control(oid string) (control, bool) {
	for _, c := range m.controls {
		if c.oid == oid {
			return c, true
		}
	}
	return control{}, false
}

var errDecode = errors.New("malformed request")

func decodeErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errDecode, fmt.Sprintf(format, args...))
}

// maxBERDepth bounds element nesting in a request; filters have their own,
// smaller limit (Config.MaxFilterDepth).
const maxBERDepth = 200

// decodeMessage decodes a framed LDAPMessage.
func decodeMessage(frame []byte) (*message, error) {
	p, rest, err := decodeTLV(frame, maxBERDepth)
	if err != nil {
		return nil, decodeErr("%v", err)
	}
	if len(rest) != 0 || p.id != tagSequence {
		return nil, decodeErr("trailing bytes after the message")
	}
	if len(p.kids) < 2 || len(p.kids) > 3 {
		return nil, decodeErr("a message has %d parts", len(p.kids))
	}
	idp := &p.kids[0]
	id, ok := integer(idp)
	if !ok || idp.id != tagInteger || id < 0 || id > 1<<31-1 {
		return nil, decodeErr("bad message id")
	}
	op := &p.kids[1]
	m := &message{id: id, op: op, tag: op.id}
	if len(p.kids) == 3 {
		cs := &p.kids[2]
		if !cs.isContext(0) || !cs.constructed() {
			return nil, decodeErr("controls must be tagged [0]")
		}
		for i := range cs.kids {
			ctl, err := decodeControl(&cs.kids[i])
			if err != nil {
				return nil, err
			}
			m.controls = append(m.controls, ctl)
		}
	}
	return m, nil
}

func decodeControl(p *tlv) (control, error) {
	if p.id != tagSequence || len(p.kids) == 0 || len(p.kids) > 3 {
		return control{}, decodeErr("bad control")
	}
	oid, ok := octetString(&p.kids[0])
	if !ok || oid == "" {
		return control{}, decodeErr("bad control type")
	}
	c := control{oid: oid}
	for i := range p.kids[1:] {
		ch := &p.kids[1+i]
		switch ch.id {
		case tagBoolean:
			b, ok := boolean(ch)
			if !ok {
				return control{}, decodeErr("bad control criticality")
			}
			c.critical = b
		case tagOctetString:
			c.value = append([]byte(nil), ch.data...)
			c.hasValue = true
		default:
			return control{}, decodeErr("bad control %s", oid)
		}
	}
	return c, nil
}

// octetString returns the contents of a primitive element as a string (a copy).
func octetString(p *tlv) (string, bool) {
	if p == nil || p.constructed() {
		return "", false
	}
	return string(p.data), true
}

func integer(p *tlv) (int64, bool) {
	if p == nil || p.constructed() || len(p.data) == 0 || len(p.data) > 8 {
		return 0, false
	}
	v := int64(int8(p.data[0]))
	for _, c := range p.data[1:] {
		v = v<<8 | int64(c)
	}
	return v, true
}

func boolean(p *tlv) (bool, bool) {
	if p == nil || p.constructed() || len(p.data) != 1 {
		return false, false
	}
	return p.data[0] != 0, true
}

// bindRequest is RFC 4511 §4.2.
type bindRequest struct {
	version  int64
	name     string
	simple   bool
	password string
	mech     string
}

func decodeBind(op *tlv) (bindRequest, error) {
	var r bindRequest
	if len(op.kids) != 3 {
		return r, decodeErr("bind request has %d parts", len(op.kids))
	}
	v, ok := integer(&op.kids[0])
	if !ok {
		return r, decodeErr("bad bind version")
	}
	r.version = v
	if r.name, ok = octetString(&op.kids[1]); !ok {
		return r, decodeErr("bad bind name")
	}
	auth := &op.kids[2]
	switch {
	case auth.isContext(0) && !auth.constructed():
		r.simple = true
		r.password = string(auth.data)
	case auth.isContext(3) && auth.constructed():
		if len(auth.kids) > 0 {
			r.mech, _ = octetString(&auth.kids[0])
		}
	default:
		return r, decodeErr("unknown authentication choice")
	}
	return r, nil
}

// searchRequest is RFC 4511 §4.5.1.
type searchRequest struct {
	base      string
	scope     int64
	sizeLimit int64
	timeLimit int64
	typesOnly bool
	filter    filter
	attrs     []string
}

// Scopes.
const (
	scopeBase = 0
	scopeOne  = 1
	scopeSub  = 2
	// scopeChildren is the subordinate subtree (draft-sermersheim-ldap-subordinate-scope).
	scopeChildren = 3
)

func decodeSearch(op *tlv, maxDepth int) (searchRequest, error) {
	var r searchRequest
	if len(op.kids) != 8 {
		return r, decodeErr("search request has %d parts", len(op.kids))
	}
	ch := op.kids
	var ok bool
	if r.base, ok = octetString(&ch[0]); !ok {
		return r, decodeErr("bad base DN")
	}
	if r.scope, ok = integer(&ch[1]); !ok || r.scope < 0 || r.scope > 3 {
		return r, decodeErr("bad scope")
	}
	if r.sizeLimit, ok = integer(&ch[3]); !ok || r.sizeLimit < 0 {
		return r, decodeErr("bad size limit")
	}
	if r.timeLimit, ok = integer(&ch[4]); !ok || r.timeLimit < 0 {
		return r, decodeErr("bad time limit")
	}
	if r.typesOnly, ok = boolean(&ch[5]); !ok {
		return r, decodeErr("bad typesOnly")
	}
	f, err := compileFilter(&ch[6], maxDepth)
	if err != nil {
		return r, err
	}
	r.filter = f
	for i := range ch[7].kids {
		s, ok := octetString(&ch[7].kids[i])
		if !ok {
			return r, decodeErr("bad attribute selector")
		}
		r.attrs = append(r.attrs, s)
	}
	return r, nil
}

// modification is one change of a modify request.
type modification struct {
	op     int64 // 0 add, 1 delete, 2 replace, 3 increment
	attr   string
	values []string
}

type modifyRequest struct {
	dn   string
	mods []modification
}

func decodeModify(op *tlv) (modifyRequest, error) {
	var r modifyRequest
	if len(op.kids) != 2 {
		return r, decodeErr("modify request has %d parts", len(op.kids))
	}
	var ok bool
	if r.dn, ok = octetString(&op.kids[0]); !ok {
		return r, decodeErr("bad DN")
	}
	for i := range op.kids[1].kids {
		c := &op.kids[1].kids[i]
		if len(c.kids) != 2 || len(c.kids[1].kids) != 2 {
			return r, decodeErr("bad change")
		}
		var m modification
		if m.op, ok = integer(&c.kids[0]); !ok {
			return r, decodeErr("bad change operation")
		}
		pa := &c.kids[1]
		if m.attr, ok = octetString(&pa.kids[0]); !ok {
			return r, decodeErr("bad attribute")
		}
		for j := range pa.kids[1].kids {
			s, ok := octetString(&pa.kids[1].kids[j])
			if !ok {
				return r, decodeErr("bad value")
			}
			m.values = append(m.values, s)
		}
		r.mods = append(r.mods, m)
	}
	return r, nil
}

type extendedRequest struct {
	name  string
	value []byte
}

func decodeExtended(op *tlv) (extendedRequest, error) {
	var r extendedRequest
	if len(op.kids) < 1 || len(op.kids) > 2 {
		return r, decodeErr("extended request has %d parts", len(op.kids))
	}
	n := &op.kids[0]
	if !n.isContext(0) || n.constructed() {
		return r, decodeErr("bad extended request name")
	}
	r.name = string(n.data)
	if len(op.kids) == 2 {
		r.value = append([]byte(nil), op.kids[1].data...)
	}
	return r, nil
}

type compareRequest struct {
	dn    string
	attr  string
	value string
}

func decodeCompare(op *tlv) (compareRequest, error) {
	var r compareRequest
	if len(op.kids) != 2 || len(op.kids[1].kids) != 2 {
		return r, decodeErr("bad compare request")
	}
	var ok1, ok2, ok3 bool
	r.dn, ok1 = octetString(&op.kids[0])
	r.attr, ok2 = octetString(&op.kids[1].kids[0])
	r.value, ok3 = octetString(&op.kids[1].kids[1])
	if !ok1 || !ok2 || !ok3 {
		return r, decodeErr("bad compare request")
	}
	return r, nil
}

// pagingRequest decodes the RFC 2696 control value.
func pagingRequest(v []byte) (size int64, cookie []byte, err error) {
	p, rest, err := decodeTLV(v, 4)
	if err != nil || len(rest) != 0 || p.id != tagSequence || len(p.kids) != 2 || p.kids[1].id != tagOctetString {
		return 0, nil, decodeErr("bad paged results control")
	}
	size, ok := integer(&p.kids[0])
	if !ok || size < 0 {
		return 0, nil, decodeErr("bad paged results size")
	}
	return size, p.kids[1].data, nil
}

// responseTag gives the response tag for a request tag, 0 when it has none.
func responseTag(req byte) byte {
	switch req {
	case tagBindRequest:
		return tagBindResponse
	case tagSearchRequest:
		return tagSearchDone
	case tagModifyRequest:
		return tagModifyResponse
	case tagAddRequest:
		return tagAddResponse
	case tagDelRequest:
		return tagDelResponse
	case tagModDNRequest:
		return tagModDNResponse
	case tagCompareRequest:
		return tagCompareResponse
	case tagExtendedRequest:
		return tagExtendedResp
	}
	return 0
}

// lower folds ASCII case; attribute descriptions are ASCII (RFC 4512 §2.5).
func lower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}
