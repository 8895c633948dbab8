package cwm

import (
	"strings"
	"testing"
)

// FuzzDecodeResponse: no response body makes the decoder panic; it either
// decodes or returns an error.
func FuzzDecodeResponse(f *testing.F) {
	f.Add(`<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body><ns4:getAuditTrailsResponse xmlns:ns4="http://cliq.shared.assaabloy.com/ws/query/v2/"><auditTrails><identity>a</identity><eventDate>2018-04-01T00:00+08:00</eventDate></auditTrails></ns4:getAuditTrailsResponse></S:Body></S:Envelope>`)
	f.Add(`<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body><S:Fault><faultcode>S:Client</faultcode><faultstring>x</faultstring><detail><cwmFault><code>CAPACITY</code></cwmFault></detail></S:Fault></S:Body></S:Envelope>`)
	f.Add(`<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Header><a/></S:Header><S:Body/></S:Envelope>`)
	f.Add(`<x`)
	f.Fuzz(func(t *testing.T, body string) {
		var r GetAuditTrailsResponse
		err := decodeResponse(strings.NewReader(body), NSQueryV2, OpGetAuditTrails, &r)
		if ef, ok := err.(errFault); ok {
			_ = kindOfFault(ef.f)
		}
	})
}
