package sim

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strings"

	"github.com/keyward/keyward/lockdrivers/cliq/cwm"
)

// maxRequestBytes bounds a SOAP request.
const maxRequestBytes = 8 << 20

// opDef describes one SOAP operation the simulator serves.
type opDef struct {
	path    string
	ns      string
	allowed []string // child elements of the operation element, unqualified
	run     func(s *Sim, raw []byte) (result, *opError)
}

func decodeOp[T any](body []byte) (T, *opError) {
	var v T
	err := atOperation(body, func(d *xml.Decoder, se xml.StartElement) error { return d.DecodeElement(&v, &se) })
	if err != nil {
		return v, &opError{client: true, code: cwm.FaultCodeInvalid, msg: "Unmarshalling Error: " + err.Error()}
	}
	return v, nil
}

func q(allowed []string, run func(*Sim, []byte) (result, *opError)) opDef {
	return opDef{path: cwm.QueryPath, ns: cwm.NSQueryV2, allowed: allowed, run: run}
}

func m(allowed []string, run func(*Sim, []byte) (result, *opError)) opDef {
	return opDef{path: cwm.AssumedManagementPath, ns: cwm.NSAssumedManagement, allowed: allowed, run: run}
}

// typed adapts an operation taking a decoded request body.
func typed[T any](f func(*Sim, T) (result, *opError)) func(*Sim, []byte) (result, *opError) {
	return func(s *Sim, raw []byte) (result, *opError) {
		req, e := decodeOp[T](raw)
		if e != nil {
			return result{}, e
		}
		return f(s, req)
	}
}

func plain(f func(*Sim) result) func(*Sim, []byte) (result, *opError) {
	return func(s *Sim, _ []byte) (result, *opError) { return f(s), nil }
}

var ops = map[string]opDef{
	cwm.OpGetPersons:       q(nil, plain((*Sim).getPersons)),
	cwm.OpGetKeysForPerson: q([]string{"personIdentity"}, typed((*Sim).getKeysForPerson)),
	cwm.OpGetKeyDetails:    q([]string{"keyIdentity"}, typed((*Sim).getKeyDetails)),
	cwm.OpGetAuditTrails:   q([]string{"importDateInterval", "pagination"}, typed((*Sim).getAuditTrails)),

	cwm.OpCreatePerson:       m([]string{"person"}, typed((*Sim).createPerson)),
	cwm.OpUpdatePerson:       m([]string{"personIdentity", "person"}, typed((*Sim).updatePerson)),
	cwm.OpHandOutKey:         m([]string{"keyIdentity", "personIdentity"}, typed((*Sim).handOutKey)),
	cwm.OpHandInKey:          m([]string{"keyIdentity"}, typed((*Sim).handInKey)),
	cwm.OpReportKeyLost:      m([]string{"keyIdentity"}, typed((*Sim).reportKeyLost)),
	cwm.OpSetKeyValidity:     m([]string{"keyIdentity", "validity"}, typed((*Sim).setKeyValidity)),
	cwm.OpSetKeySchedule:     m([]string{"keyIdentity", "schedule"}, typed((*Sim).setKeySchedule)),
	cwm.OpSetKeyRevalidation: m([]string{"keyIdentity", "revalidation"}, typed((*Sim).setKeyRevalidation)),
	cwm.OpSetKeyAccess:       m([]string{"keyIdentity", "access"}, typed((*Sim).setKeyAccess)),
	cwm.OpBlacklistKey:       m([]string{"keyIdentity", "cylinderIdentity"}, typed((*Sim).blacklistKey)),
	cwm.OpUnblacklistKey:     m([]string{"keyIdentity", "cylinderIdentity"}, typed((*Sim).unblacklistKey)),
	cwm.OpGetKeyState:        m([]string{"keyIdentity"}, typed((*Sim).getKeyState)),
	cwm.OpGetKeys:            m([]string{"pagination", "updatedSince"}, typed((*Sim).getKeys)),
	cwm.OpGetCylinders:       m([]string{"pagination"}, typed((*Sim).getCylinders)),
	cwm.OpGetCylinderGroups:  m(nil, plain((*Sim).getCylinderGroups)),
	cwm.OpGetAccessProfiles:  m(nil, plain((*Sim).getAccessProfiles)),
	cwm.OpGetProgrammingJobs: m([]string{"keyIdentity", "since", "pendingOnly"}, typed(func(s *Sim, r cwm.JobsRequest) (result, *opError) {
		return s.getProgrammingJobs(r), nil
	})),
}

// Handler returns the simulator's SOAP HTTP handler (without TLS; Start
// serves it over TLS with client certificates required).
func (s *Sim) Handler() http.Handler { return s.handler }

func (s *Sim) newHandler() http.Handler {
	return http.HandlerFunc(s.serveSOAP)
}

func (s *Sim) serveSOAP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	crashed := s.crashed
	s.mu.Unlock()
	if crashed {
		http.Error(w, "CWM simulator is crashed", http.StatusServiceUnavailable)
		return
	}
	if r.URL.Path != cwm.QueryPath && r.URL.Path != cwm.AssumedManagementPath {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost {
		// TODO: serve a WSDL at ?wsdl; clients generated from a WSDL cannot
		// use the simulator until it does.
		http.Error(w, "POST a SOAP 1.1 envelope", http.StatusMethodNotAllowed)
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(strings.ToLower(ct), "text/xml") {
		s.fault(w, r, "", "", &opError{client: true, code: cwm.FaultCodeInvalid,
			msg: fmt.Sprintf("Unsupported Content-Type: %s Supported ones are: [text/xml]", ct)})
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBytes+1))
	if err != nil || len(body) > maxRequestBytes {
		s.fault(w, r, "", "", errInvalid("request body unreadable or larger than %d bytes", maxRequestBytes))
		return
	}
	name, err := operationElement(body)
	if err != nil {
		s.fault(w, r, "", "", errInvalid("Couldn't create SOAP message due to exception: %v", err))
		return
	}
	def, ok := ops[name.Local]
	if !ok || def.ns != name.Space || def.path != r.URL.Path {
		s.fault(w, r, name.Local, "", errInvalid("Cannot find dispatch method for {%s}%s", name.Space, name.Local))
		return
	}
	raw := body
	if e := checkChildren(raw, def.allowed); e != nil {
		s.fault(w, r, name.Local, "", e)
		return
	}
	s.mu.Lock()
	res, e := def.run(s, raw)
	if e != nil {
		s.mu.Unlock()
		s.fault(w, r, name.Local, "", e)
		return
	}
	s.logRequest(r.Method, r.URL.Path, name.Local, res.target, res.changed, http.StatusOK)
	s.mu.Unlock()
	writeEnvelope(w, http.StatusOK, func(enc *xml.Encoder) error {
		start := xml.StartElement{
			Name: xml.Name{Local: "ns4:" + name.Local + "Response"},
			Attr: []xml.Attr{{Name: xml.Name{Local: "xmlns:ns4"}, Value: def.ns}},
		}
		if res.body == nil {
			if err := enc.EncodeToken(start); err != nil {
				return err
			}
			return enc.EncodeToken(start.End())
		}
		return enc.EncodeElement(res.body, start)
	})
}

// operationElement finds the single element in the SOAP Body and returns
// its name.
func operationElement(body []byte) (xml.Name, error) {
	var name xml.Name
	err := atOperation(body, func(_ *xml.Decoder, se xml.StartElement) error {
		name = se.Name
		return nil
	})
	return name, err
}

// atOperation positions a decoder over body at the operation element (the
// first child of the SOAP Body) and calls fn with it.
func atOperation(body []byte, fn func(*xml.Decoder, xml.StartElement) error) error {
	d := xml.NewDecoder(bytes.NewReader(body))
	depth := 0
	inBody := false
	for {
		tok, err := d.Token()
		if err != nil {
			if err == io.EOF {
				return errors.New("no operation element in SOAP Body")
			}
			return err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			switch {
			case depth == 1 && (t.Name.Space != cwm.NSSOAPEnv || t.Name.Local != "Envelope"):
				return fmt.Errorf("root element {%s}%s is not a SOAP 1.1 Envelope", t.Name.Space, t.Name.Local)
			case depth == 2 && t.Name.Space == cwm.NSSOAPEnv && t.Name.Local == "Body":
				inBody = true
			case depth == 2:
				if err := d.Skip(); err != nil {
					return err
				}
				depth--
			case depth == 3 && inBody:
				return fn(d, t)
			}
		case xml.EndElement:
			depth--
		}
	}
}

// checkChildren enforces the schema's element qualification: children of the
// operation element are unqualified and known, as a JAX-WS endpoint would.
func checkChildren(raw []byte, allowed []string) *opError {
	var n struct {
		Children []struct {
			XMLName xml.Name
		} `xml:",any"`
	}
	err := atOperation(raw, func(d *xml.Decoder, se xml.StartElement) error { return d.DecodeElement(&n, &se) })
	if err != nil {
		return errInvalid("Unmarshalling Error: %v", err)
	}
	for _, c := range n.Children {
		known := false
		for _, a := range allowed {
			if c.XMLName.Local == a {
				known = true
			}
		}
		if c.XMLName.Space != "" || !known {
			exp := make([]string, len(allowed))
			for i, a := range allowed {
				exp[i] = "<{}" + a + ">"
			}
			return errInvalid("Unmarshalling Error: unexpected element (uri:%q, local:%q). Expected elements are %s",
				c.XMLName.Space, c.XMLName.Local, strings.Join(exp, ","))
		}
	}
	return nil
}

// writeEnvelope writes a response envelope with the S: prefix JAX-WS uses.
func writeEnvelope(w http.ResponseWriter, status int, body func(*xml.Encoder) error) {
	var buf bytes.Buffer
	buf.WriteString(`<?xml version='1.0' encoding='UTF-8'?><S:Envelope xmlns:S="` + cwm.NSSOAPEnv + `"><S:Body>`)
	enc := xml.NewEncoder(&buf)
	err := body(enc)
	if err == nil {
		err = enc.Flush()
	}
	if err != nil {
		// The simulator's own types always encode; reaching here is a bug.
		http.Error(w, "sim: encode response: "+err.Error(), http.StatusInternalServerError)
		return
	}
	buf.WriteString(`</S:Body></S:Envelope>`)
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// fault writes a SOAP 1.1 fault (HTTP 500) and logs the request.
func (s *Sim) fault(w http.ResponseWriter, r *http.Request, op, target string, e *opError) {
	s.mu.Lock()
	s.logRequest(r.Method, r.URL.Path, op, target, false, http.StatusInternalServerError)
	s.mu.Unlock()
	code := "S:Server"
	if e.client {
		code = "S:Client"
	}
	ns := cwm.NSQueryV2
	if r.URL.Path == cwm.AssumedManagementPath {
		ns = cwm.NSAssumedManagement
	}
	writeEnvelope(w, http.StatusInternalServerError, func(enc *xml.Encoder) error {
		type detail struct {
			XMLName xml.Name `xml:"ns4:cwmFault"`
			NS      string   `xml:"xmlns:ns4,attr"`
			Code    string   `xml:"code"`
			Message string   `xml:"message"`
		}
		type fault struct {
			XMLName xml.Name `xml:"S:Fault"`
			Code    string   `xml:"faultcode"`
			String  string   `xml:"faultstring"`
			Detail  detail   `xml:"detail>ns4:cwmFault"`
		}
		return enc.Encode(fault{Code: code, String: e.msg, Detail: detail{NS: ns, Code: e.code, Message: e.msg}})
	})
}

// Server is a running simulator endpoint.
type Server struct {
	// URL is the CWM base URL, e.g. https://127.0.0.1:40123.
	URL string
	srv *http.Server
	ln  net.Listener
}

// Start serves the SOAP endpoints over TLS on addr ("127.0.0.1:0" picks a
// free port). A client certificate signed by the simulator's CA is
// required: a connection without one is refused in the TLS handshake.
func (s *Sim) Start(addr string) (*Server, error) {
	cert, err := s.ca.ServerCertificate()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("sim: listen %s: %w", addr, err)
	}
	srv := &http.Server{Handler: s.handler, TLSConfig: serverTLS(s.ca, cert), ErrorLog: quietLog()}
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	return &Server{URL: "https://" + ln.Addr().String(), srv: srv, ln: ln}, nil
}

// Close stops the server.
func (srv *Server) Close() error {
	return srv.srv.Shutdown(context.Background())
}

func quietLog() *log.Logger { return log.New(io.Discard, "", 0) }

// ClientConfig returns a cwm.Config for a client of srv with a fresh, valid
// client certificate from the simulator's CA.
func (s *Sim) ClientConfig(srv *Server) (cwm.Config, error) {
	const pass = "sim-passphrase"
	pfx, err := s.ca.ValidClientPKCS12(pass)
	if err != nil {
		return cwm.Config{}, err
	}
	return cwm.Config{BaseURL: srv.URL, PKCS12: pfx, Passphrase: pass, RootCAs: s.ca.Pool()}, nil
}
