package ldap

import (
	"errors"
	"fmt"
	"strings"

	ber "github.com/go-asn1-ber/asn1-ber"
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
	op       *ber.Packet
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

// decodeMessage decodes a framed LDAPMessage.
func decodeMessage(frame []byte) (*message, error) {
	p, err := ber.DecodePacketErr(frame)
	if err != nil {
		return nil, decodeErr("%v", err)
	}
	if len(p.Children) < 2 || len(p.Children) > 3 {
		return nil, decodeErr("a message has %d parts", len(p.Children))
	}
	idp := p.Children[0]
	id, ok := idp.Value.(int64)
	if !ok || idp.Tag != ber.TagInteger || id < 0 || id > 1<<31-1 {
		return nil, decodeErr("bad message id")
	}
	op := p.Children[1]
	m := &message{id: id, op: op, tag: identifierByte(op)}
	if len(p.Children) == 3 {
		cs := p.Children[2]
		if cs.ClassType != ber.ClassContext || cs.Tag != 0 {
			return nil, decodeErr("controls must be tagged [0]")
		}
		for _, c := range cs.Children {
			ctl, err := decodeControl(c)
			if err != nil {
				return nil, err
			}
			m.controls = append(m.controls, ctl)
		}
	}
	return m, nil
}

func identifierByte(p *ber.Packet) byte {
	return byte(p.ClassType) | byte(p.TagType) | byte(p.Tag&0x1f)
}

func decodeControl(p *ber.Packet) (control, error) {
	if len(p.Children) == 0 || len(p.Children) > 3 {
		return control{}, decodeErr("bad control")
	}
	oid, ok := octetString(p.Children[0])
	if !ok || oid == "" {
		return control{}, decodeErr("bad control type")
	}
	c := control{oid: oid}
	for _, ch := range p.Children[1:] {
		switch {
		case ch.ClassType == ber.ClassUniversal && ch.Tag == ber.TagBoolean:
			b, _ := ch.Value.(bool)
			c.critical = b
		case ch.ClassType == ber.ClassUniversal && ch.Tag == ber.TagOctetString:
			c.value = ch.Data.Bytes()
			c.hasValue = true
		default:
			return control{}, decodeErr("bad control %s", oid)
		}
	}
	return c, nil
}

// octetString returns the bytes of a primitive element as a string.
func octetString(p *ber.Packet) (string, bool) {
	if p == nil || p.TagType != ber.TypePrimitive || p.Data == nil {
		return "", false
	}
	return p.Data.String(), true
}

func integer(p *ber.Packet) (int64, bool) {
	if p == nil || p.TagType != ber.TypePrimitive {
		return 0, false
	}
	b := p.Data.Bytes()
	if len(b) == 0 || len(b) > 8 {
		return 0, false
	}
	v, err := ber.ParseInt64(b)
	return v, err == nil
}

// bindRequest is RFC 4511 §4.2.
type bindRequest struct {
	version  int64
	name     string
	simple   bool
	password string
	mech     string
}

func decodeBind(op *ber.Packet) (bindRequest, error) {
	var r bindRequest
	if len(op.Children) != 3 {
		return r, decodeErr("bind request has %d parts", len(op.Children))
	}
	v, ok := integer(op.Children[0])
	if !ok {
		return r, decodeErr("bad bind version")
	}
	r.version = v
	if r.name, ok = octetString(op.Children[1]); !ok {
		return r, decodeErr("bad bind name")
	}
	auth := op.Children[2]
	switch {
	case auth.ClassType == ber.ClassContext && auth.Tag == 0 && auth.TagType == ber.TypePrimitive:
		r.simple = true
		r.password = auth.Data.String()
	case auth.ClassType == ber.ClassContext && auth.Tag == 3:
		if len(auth.Children) > 0 {
			r.mech, _ = octetString(auth.Children[0])
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
)

func decodeSearch(op *ber.Packet, maxDepth int) (searchRequest, error) {
	var r searchRequest
	if len(op.Children) != 8 {
		return r, decodeErr("search request has %d parts", len(op.Children))
	}
	ch := op.Children
	var ok bool
	if r.base, ok = octetString(ch[0]); !ok {
		return r, decodeErr("bad base DN")
	}
	if r.scope, ok = integer(ch[1]); !ok || r.scope < 0 || r.scope > 3 {
		return r, decodeErr("bad scope")
	}
	if r.sizeLimit, ok = integer(ch[3]); !ok || r.sizeLimit < 0 {
		return r, decodeErr("bad size limit")
	}
	if r.timeLimit, ok = integer(ch[4]); !ok || r.timeLimit < 0 {
		return r, decodeErr("bad time limit")
	}
	if b, isBool := ch[5].Value.(bool); isBool {
		r.typesOnly = b
	} else {
		return r, decodeErr("bad typesOnly")
	}
	f, err := compileFilter(ch[6], maxDepth)
	if err != nil {
		return r, err
	}
	r.filter = f
	for _, a := range ch[7].Children {
		s, ok := octetString(a)
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

func decodeModify(op *ber.Packet) (modifyRequest, error) {
	var r modifyRequest
	if len(op.Children) != 2 {
		return r, decodeErr("modify request has %d parts", len(op.Children))
	}
	var ok bool
	if r.dn, ok = octetString(op.Children[0]); !ok {
		return r, decodeErr("bad DN")
	}
	for _, c := range op.Children[1].Children {
		if len(c.Children) != 2 || len(c.Children[1].Children) != 2 {
			return r, decodeErr("bad change")
		}
		var m modification
		if m.op, ok = integer(c.Children[0]); !ok {
			return r, decodeErr("bad change operation")
		}
		pa := c.Children[1]
		if m.attr, ok = octetString(pa.Children[0]); !ok {
			return r, decodeErr("bad attribute")
		}
		for _, v := range pa.Children[1].Children {
			s, ok := octetString(v)
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

func decodeExtended(op *ber.Packet) (extendedRequest, error) {
	var r extendedRequest
	if len(op.Children) < 1 || len(op.Children) > 2 {
		return r, decodeErr("extended request has %d parts", len(op.Children))
	}
	n := op.Children[0]
	if n.ClassType != ber.ClassContext || n.Tag != 0 {
		return r, decodeErr("bad extended request name")
	}
	r.name = n.Data.String()
	if len(op.Children) == 2 {
		r.value = op.Children[1].Data.Bytes()
	}
	return r, nil
}

type compareRequest struct {
	dn    string
	attr  string
	value string
}

func decodeCompare(op *ber.Packet) (compareRequest, error) {
	var r compareRequest
	if len(op.Children) != 2 || len(op.Children[1].Children) != 2 {
		return r, decodeErr("bad compare request")
	}
	var ok1, ok2, ok3 bool
	r.dn, ok1 = octetString(op.Children[0])
	r.attr, ok2 = octetString(op.Children[1].Children[0])
	r.value, ok3 = octetString(op.Children[1].Children[1])
	if !ok1 || !ok2 || !ok3 {
		return r, decodeErr("bad compare request")
	}
	return r, nil
}

// pagingRequest decodes the RFC 2696 control value.
func pagingRequest(v []byte) (size int64, cookie []byte, err error) {
	p, err := ber.DecodePacketErr(v)
	if err != nil || len(p.Children) != 2 {
		return 0, nil, decodeErr("bad paged results control")
	}
	size, ok := integer(p.Children[0])
	if !ok || size < 0 {
		return 0, nil, decodeErr("bad paged results size")
	}
	return size, p.Children[1].Data.Bytes(), nil
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
