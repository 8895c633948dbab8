package ldap

import "fmt"

// tlv is one decoded BER element of a request. Its data aliases the frame it was
// decoded from, which the connection reuses for the next request: keep nothing
// from it beyond the request without copying (string conversions copy).
type tlv struct {
	id   byte // the identifier octet: class, constructed bit, tag number
	data []byte
	kids []tlv
}

const (
	classUniversal   = 0x00
	classApplication = 0x40
	classContext     = 0x80
)

func (t *tlv) class() byte           { return t.id & 0xc0 }
func (t *tlv) constructed() bool     { return t.id&0x20 != 0 }
func (t *tlv) tag() byte             { return t.id & 0x1f }
func (t *tlv) isContext(n byte) bool { return t.class() == classContext && t.tag() == n }

// decodeTLV decodes one element and everything inside it, up to maxDepth levels of
// nesting. LDAP uses definite lengths only (RFC 4511 §5.1).
func decodeTLV(b []byte, maxDepth int) (tlv, []byte, error) {
	if maxDepth < 0 {
		return tlv{}, nil, fmt.Errorf("elements nested too deep")
	}
	if len(b) < 2 {
		return tlv{}, nil, fmt.Errorf("truncated element")
	}
	t := tlv{id: b[0]}
	if t.id&0x1f == 0x1f {
		return tlv{}, nil, fmt.Errorf("high tag numbers are not used in LDAP")
	}
	n, p := int(b[1]), 2
	if n&0x80 != 0 {
		k := n & 0x7f
		if k == 0 {
			return tlv{}, nil, fmt.Errorf("indefinite length is not allowed")
		}
		if k > 4 || len(b) < 2+k {
			return tlv{}, nil, fmt.Errorf("bad length")
		}
		n = 0
		for _, c := range b[2 : 2+k] {
			n = n<<8 | int(c)
		}
		p = 2 + k
	}
	if n < 0 || n > len(b)-p {
		return tlv{}, nil, fmt.Errorf("element longer than its container")
	}
	t.data = b[p : p+n]
	rest := b[p+n:]
	if t.constructed() {
		in := t.data
		for len(in) > 0 {
			var k tlv
			var err error
			k, in, err = decodeTLV(in, maxDepth-1)
			if err != nil {
				return tlv{}, nil, err
			}
			t.kids = append(t.kids, k)
		}
	}
	return t, rest, nil
}
