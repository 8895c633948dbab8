package cwm

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"testing"
	"time"
)

// auditPage builds a getAuditTrailsResponse envelope of n rows.
func auditPage(n int) []byte {
	var b bytes.Buffer
	b.WriteString(`<?xml version='1.0' encoding='UTF-8'?><S:Envelope xmlns:S="` + NSSOAPEnv + `"><S:Body><ns4:getAuditTrailsResponse xmlns:ns4="` + NSQueryV2 + `">`)
	t := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	for i := 0; i < n; i++ {
		row := AuditTrail{Identity: fmt.Sprintf("%08d-0000-4000-8000-000000000000", i), EventType: EventAccessGranted,
			EventDate: &DateTime{t}, ImportDate: &DateTime{t}, KeyIdentity: "6f1c2d4e-0000-4000-8000-000000000001",
			CylinderIdentity: "6f1c2d4e-0000-4000-8000-000000000002", Source: "KEY"}
		out, _ := xml.Marshal(struct {
			XMLName xml.Name `xml:"auditTrails"`
			AuditTrail
		}{AuditTrail: row})
		b.Write(out)
	}
	b.WriteString(`</ns4:getAuditTrailsResponse></S:Body></S:Envelope>`)
	return b.Bytes()
}

// BenchmarkDecodeAuditPage measures the client's decoding of one page of
// 1,000 audit rows, the bulk of an audit sync's CPU.
func BenchmarkDecodeAuditPage(b *testing.B) {
	page := auditPage(1000)
	b.SetBytes(int64(len(page)))
	for b.Loop() {
		var r GetAuditTrailsResponse
		if err := decodeResponse(bytes.NewReader(page), NSQueryV2, OpGetAuditTrails, &r); err != nil || len(r.AuditTrails) != 1000 {
			b.Fatal(err, len(r.AuditTrails))
		}
	}
}
