package ldap

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// BER tags of the LDAP protocol (RFC 4511 §4.2–§4.14), as full identifier octets.
const (
	tagBindRequest     = 0x60
	tagBindResponse    = 0x61
	tagUnbindRequest   = 0x42
	tagSearchRequest   = 0x63
	tagSearchEntry     = 0x64
	tagSearchDone      = 0x65
	tagModifyRequest   = 0x66
	tagModifyResponse  = 0x67
	tagAddRequest      = 0x68
	tagAddResponse     = 0x69
	tagDelRequest      = 0x4a
	tagDelResponse     = 0x6b
	tagModDNRequest    = 0x6c
	tagModDNResponse   = 0x6d
	tagCompareRequest  = 0x6e
	tagCompareResponse = 0x6f
	tagAbandonRequest  = 0x50
	tagExtendedRequest = 0x77
	tagExtendedResp    = 0x78

	tagSequence    = 0x30
	tagSet         = 0x31
	tagInteger     = 0x02
	tagOctetString = 0x04
	tagEnumerated  = 0x0a
	tagBoolean     = 0x01
)

// encoder appends BER (definite, minimal lengths) to a byte slice. Constructed
// elements are opened with begin and closed with end, which back-patches the length.
type encoder struct{ b []byte }

// begin opens a constructed element and returns where its length octet sits.
func (e *encoder) begin(tag byte) int {
	e.b = append(e.b, tag, 0)
	return len(e.b) - 1
}

// end closes the element opened at pos, widening the length field if needed.
func (e *encoder) end(pos int) {
	n := len(e.b) - pos - 1
	if n < 0x80 {
		e.b[pos] = byte(n)
		return
	}
	var lb [4]byte
	k := 0
	for v := n; v > 0; v >>= 8 {
		k++
	}
	for i := 0; i < k; i++ {
		lb[k-1-i] = byte(n >> (8 * i))
	}
	e.b = append(e.b, make([]byte, k)...)
	copy(e.b[pos+1+k:], e.b[pos+1:len(e.b)-k])
	e.b[pos] = 0x80 | byte(k)
	copy(e.b[pos+1:], lb[:k])
}

func (e *encoder) length(n int) {
	switch {
	case n < 0x80:
		e.b = append(e.b, byte(n))
	case n < 0x100:
		e.b = append(e.b, 0x81, byte(n))
	case n < 0x10000:
		e.b = append(e.b, 0x82, byte(n>>8), byte(n))
	case n < 0x1000000:
		e.b = append(e.b, 0x83, byte(n>>16), byte(n>>8), byte(n))
	default:
		e.b = append(e.b, 0x84, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
}

func (e *encoder) octets(tag byte, s string) {
	e.b = append(e.b, tag)
	e.length(len(s))
	e.b = append(e.b, s...)
}

func (e *encoder) raw(tag byte, s []byte) {
	e.b = append(e.b, tag)
	e.length(len(s))
	e.b = append(e.b, s...)
}

func (e *encoder) integer(tag byte, v int64) {
	var buf [9]byte
	n := 0
	for {
		buf[8-n] = byte(v)
		n++
		v >>= 8
		if (v == 0 && buf[9-n]&0x80 == 0) || (v == -1 && buf[9-n]&0x80 != 0) {
			break
		}
	}
	e.b = append(e.b, tag, byte(n))
	e.b = append(e.b, buf[9-n:]...)
}

// errFrame is a framing error: the stream can no longer be read.
var errFrame = errors.New("malformed LDAP message framing")

// readFrame reads one whole LDAPMessage TLV into buf (reused), refusing messages
// larger than max. The contents are not checked here.
func readFrame(r *bufio.Reader, buf []byte, max int) ([]byte, error) {
	tag, err := r.ReadByte()
	if err != nil {
		return nil, err
	}
	if tag != tagSequence {
		return nil, fmt.Errorf("%w: message is not a SEQUENCE (0x%02x)", errFrame, tag)
	}
	l0, err := r.ReadByte()
	if err != nil {
		return nil, unexpected(err)
	}
	n := int(l0)
	if l0&0x80 != 0 {
		k := int(l0 & 0x7f)
		if k == 0 || k > 4 {
			return nil, fmt.Errorf("%w: unsupported length form", errFrame)
		}
		n = 0
		for i := 0; i < k; i++ {
			b, err := r.ReadByte()
			if err != nil {
				return nil, unexpected(err)
			}
			n = n<<8 | int(b)
		}
	}
	if n > max || n < 0 {
		return nil, fmt.Errorf("%w: message of %d bytes exceeds the limit of %d", errFrame, n, max)
	}
	hdr := []byte{tag}
	hdr = appendLength(hdr, n)
	if cap(buf) < len(hdr)+n {
		buf = make([]byte, 0, len(hdr)+n)
	}
	buf = append(buf[:0], hdr...)
	buf = buf[:len(hdr)+n]
	if _, err := io.ReadFull(r, buf[len(hdr):]); err != nil {
		return nil, unexpected(err)
	}
	return buf, nil
}

func appendLength(b []byte, n int) []byte {
	e := encoder{b: b}
	e.length(n)
	return e.b
}

func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// peekHeader extracts the message id and the protocolOp tag of a framed message
// without decoding the rest, so that a request whose body is malformed can still be
// answered with a result code on its own message id.
func peekHeader(frame []byte) (id int64, op byte, ok bool) {
	// Skip the outer SEQUENCE header.
	p, ok := skipHeader(frame, 0)
	if !ok || p >= len(frame) || frame[p] != tagInteger {
		return 0, 0, false
	}
	if p+1 >= len(frame) {
		return 0, 0, false
	}
	l := int(frame[p+1])
	if l == 0 || l > 4 || p+2+l > len(frame) {
		return 0, 0, false
	}
	for _, b := range frame[p+2 : p+2+l] {
		id = id<<8 | int64(b)
	}
	q := p + 2 + l
	if q >= len(frame) {
		return id, 0, false
	}
	return id, frame[q], true
}

// skipHeader returns the offset of the content of the TLV starting at p.
func skipHeader(b []byte, p int) (int, bool) {
	if p+2 > len(b) {
		return 0, false
	}
	l0 := b[p+1]
	if l0&0x80 == 0 {
		return p + 2, true
	}
	k := int(l0 & 0x7f)
	if k == 0 || p+2+k > len(b) {
		return 0, false
	}
	return p + 2 + k, true
}
