package cwm

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Namespaces and paths.
const (
	// NSSOAPEnv is the SOAP 1.1 envelope namespace.
	NSSOAPEnv = "http://schemas.xmlsoap.org/soap/envelope/"
	// NSQueryV2 is the namespace of the CWM query API v2, as seen in public
	// code calling a real CWM.
	NSQueryV2 = "http://cliq.shared.assaabloy.com/ws/query/v2/"
	// QueryPath is the path of the query API v2 endpoint on a CWM host.
	QueryPath = "/CLIQWebManager/ws/query/v2/"

	// NSAssumedManagement is the namespace of the ASSUMED management
	// service (writes and the reads the query API does not show). It is
	// invented, shaped like NSQueryV2; see [Management].
	NSAssumedManagement = "http://cliq.shared.assaabloy.com/ws/management/v1/"
	// AssumedManagementPath is the ASSUMED path of the management service.
	AssumedManagementPath = "/CLIQWebManager/ws/management/v1/"
)

// maxResponseBytes bounds a response body; a larger one is refused as
// malformed instead of exhausting memory.
const maxResponseBytes = 256 << 20

// Fault is a SOAP 1.1 fault (SOAP 1.1 §4.4).
type Fault struct {
	Code   string       `xml:"faultcode"`
	String string       `xml:"faultstring"`
	Actor  string       `xml:"faultactor,omitempty"`
	Detail *FaultDetail `xml:"detail,omitempty"`
}

// FaultDetail is the content of a fault's detail element. Real CWM fault
// details are not public; this shape (a cwmFault element in the service
// namespace with a code and a message) is an ASSUMPTION the simulator
// follows. A fault without it is classified by its faultcode alone.
type FaultDetail struct {
	Code    string `xml:"cwmFault>code"`
	Message string `xml:"cwmFault>message,omitempty"`
}

// encodeRequest writes a SOAP 1.1 request envelope the way the public CWM
// client does: prefix soapenv for the envelope, a service prefix for the
// operation element, an empty Header, and unqualified children.
func encodeRequest(prefix, ns, op string, body any) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString(`<soapenv:Envelope xmlns:soapenv="` + NSSOAPEnv + `" xmlns:` + prefix + `="` + ns + `">`)
	buf.WriteString(`<soapenv:Header/><soapenv:Body>`)
	start := xml.StartElement{Name: xml.Name{Local: prefix + ":" + op}}
	if body == nil {
		buf.WriteString("<" + prefix + ":" + op + "/>")
	} else {
		enc := xml.NewEncoder(&buf)
		if err := enc.EncodeElement(body, start); err != nil {
			return nil, err
		}
		if err := enc.Flush(); err != nil {
			return nil, err
		}
	}
	buf.WriteString(`</soapenv:Body></soapenv:Envelope>`)
	return buf.Bytes(), nil
}

// errFault is returned by decodeResponse when the body holds a SOAP fault.
type errFault struct{ f *Fault }

func (e errFault) Error() string { return "soap fault: " + e.f.String }

// decodeResponse reads a SOAP envelope and decodes the element
// {ns}<op>Response in its Body into out. A Fault in the body is returned as
// errFault. Any other shape is an error.
func decodeResponse(r io.Reader, ns, op string, out any) error {
	d := xml.NewDecoder(r)
	inBody := false
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return errors.New("no SOAP Body in response")
		}
		if err != nil {
			return fmt.Errorf("response is not XML: %w", err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		switch {
		case !inBody && se.Name.Space == NSSOAPEnv && se.Name.Local == "Envelope":
		case !inBody && se.Name.Space == NSSOAPEnv && se.Name.Local == "Header":
			if err := d.Skip(); err != nil {
				return fmt.Errorf("response is not XML: %w", err)
			}
		case !inBody && se.Name.Space == NSSOAPEnv && se.Name.Local == "Body":
			inBody = true
		case !inBody:
			return fmt.Errorf("unexpected element {%s}%s, want a SOAP 1.1 envelope", se.Name.Space, se.Name.Local)
		case se.Name.Space == NSSOAPEnv && se.Name.Local == "Fault":
			f := new(Fault)
			if err := d.DecodeElement(f, &se); err != nil {
				return fmt.Errorf("malformed SOAP fault: %w", err)
			}
			return errFault{f}
		case se.Name.Space == ns && se.Name.Local == op+"Response":
			if out == nil {
				return d.Skip()
			}
			if err := d.DecodeElement(out, &se); err != nil {
				return fmt.Errorf("malformed %sResponse: %w", op, err)
			}
			return nil
		default:
			return fmt.Errorf("unexpected element {%s}%s in SOAP Body, want {%s}%sResponse",
				se.Name.Space, se.Name.Local, ns, op)
		}
	}
}

// DateTime is an xs:dateTime. It parses the forms CWM and its clients use,
// including the seconds-less "2018-04-01T00:00+08:00" seen in public code,
// and formats with milliseconds and offset as JAX-WS does.
type DateTime struct{ time.Time }

// dateTimeLayouts are tried in order when parsing.
var dateTimeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02T15:04:05",
	"2006-01-02T15:04",
	"2006-01-02Z07:00",
	"2006-01-02",
}

// ParseDateTime parses an xs:dateTime in any of the accepted forms. A value
// without an offset is read as UTC.
func ParseDateTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, l := range dateTimeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("invalid xs:dateTime %q", s)
}

// FormatDateTime formats t as an xs:dateTime with milliseconds.
func FormatDateTime(t time.Time) string {
	return t.Format("2006-01-02T15:04:05.000Z07:00")
}

// MarshalText implements encoding.TextMarshaler.
func (d DateTime) MarshalText() ([]byte, error) {
	return []byte(FormatDateTime(d.Time)), nil
}

// UnmarshalText implements encoding.TextUnmarshaler; empty text is the zero
// time.
func (d *DateTime) UnmarshalText(b []byte) error {
	if len(bytes.TrimSpace(b)) == 0 {
		d.Time = time.Time{}
		return nil
	}
	t, err := ParseDateTime(string(b))
	if err != nil {
		return err
	}
	d.Time = t
	return nil
}

// NewDateTime returns a pointer to a DateTime holding t, or nil for the
// zero time (so that omitempty drops it).
func NewDateTime(t time.Time) *DateTime {
	if t.IsZero() {
		return nil
	}
	return &DateTime{t}
}
