package cwm_test

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/lockdrivers/cliq/cwm"
	"github.com/keyward/keyward/lockdrivers/cliq/sim"
)

// hostile starts a TLS server (client certificate required, like CWM)
// answering every request with status and body, and returns a client for
// it and the last request body it received.
func hostile(t *testing.T, status int, body string) (*cwm.Client, *string) {
	t.Helper()
	ca, err := sim.NewCA("test")
	require.NoError(t, err)
	cert, err := ca.ServerCertificate()
	require.NoError(t, err)
	var got string
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = string(b)
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: ca.Pool()}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	pfx, err := ca.ValidClientPKCS12("pw")
	require.NoError(t, err)
	c, err := cwm.New(cwm.Config{BaseURL: srv.URL, PKCS12: pfx, Passphrase: "pw", RootCAs: ca.Pool(), Timeout: 5 * time.Second})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c, &got
}

const env = `<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body>%s</S:Body></S:Envelope>`

func envelope(body string) string { return strings.Replace(env, "%s", body, 1) }

func TestResponsesTheClientRefuses(t *testing.T) {
	cases := []struct {
		name   string
		status int
		body   string
		kind   cwm.Kind
		msg    string
	}{
		{"an HTML error page", 200, `<html><body>Gateway error`, cwm.KindMalformed, "want a SOAP 1.1 envelope"},
		{"truncated XML", 200, `<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body>`, cwm.KindMalformed, "not XML"},
		{"not XML at all", 200, "\x00\x01binary", cwm.KindMalformed, "not XML"},
		{"empty body", 200, ``, cwm.KindMalformed, "no SOAP Body"},
		{"SOAP 1.2 envelope", 200, `<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body/></e:Envelope>`,
			cwm.KindMalformed, "want a SOAP 1.1 envelope"},
		{"unexpected element in Body", 200, envelope(`<ns4:getKeysForPersonResponse xmlns:ns4="` + cwm.NSQueryV2 + `"/>`),
			cwm.KindMalformed, "want {http://cliq.shared.assaabloy.com/ws/query/v2/}getPersonsResponse"},
		{"response in another namespace", 200, envelope(`<x:getPersonsResponse xmlns:x="urn:x"/>`),
			cwm.KindMalformed, "unexpected element {urn:x}getPersonsResponse"},
		{"bad boolean", 200, envelope(`<ns4:getPersonsResponse xmlns:ns4="` + cwm.NSQueryV2 + `"><person><deleted>maybe</deleted></person></ns4:getPersonsResponse>`),
			cwm.KindMalformed, "malformed getPersonsResponse"},
		{"server fault", 500, envelope(`<S:Fault><faultcode>S:Server</faultcode><faultstring>database down</faultstring></S:Fault>`),
			cwm.KindTransient, "database down"},
		{"client fault", 500, envelope(`<S:Fault><faultcode>S:Client</faultcode><faultstring>bad request</faultstring></S:Fault>`),
			cwm.KindInvalid, "bad request"},
		{"fault with capacity detail", 500, envelope(`<S:Fault><faultcode>S:Client</faultcode><faultstring>full</faultstring><detail><ns4:cwmFault xmlns:ns4="` + cwm.NSQueryV2 + `"><code>CAPACITY</code></ns4:cwmFault></detail></S:Fault>`),
			cwm.KindCapacity, "full"},
		{"HTTP 503 without envelope", 503, `Service Unavailable`, cwm.KindTransient, "503"},
		{"HTTP 401", 401, ``, cwm.KindPermission, "401"},
		{"HTTP 404", 404, `not here`, cwm.KindInvalid, "404"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := hostile(t, tc.status, tc.body)
			_, err := c.GetPersons(context.Background())
			require.Error(t, err)
			assert.Equal(t, tc.kind, cwm.KindOf(err), "%v", err)
			assert.Contains(t, err.Error(), "cwm: getPersons:", "names the operation")
			assert.Contains(t, err.Error(), tc.msg)
		})
	}
}

func TestRequestShape(t *testing.T) {
	c, got := hostile(t, 200, envelope(`<ns4:getAuditTrailsResponse xmlns:ns4="`+cwm.NSQueryV2+`"/>`))
	from := time.Date(2018, 4, 1, 0, 0, 0, 0, time.FixedZone("", 8*3600))
	rows, err := c.GetAuditTrails(context.Background(), from, time.Time{}, 0, 5000)
	require.NoError(t, err)
	assert.Empty(t, rows)
	assert.Equal(t, `<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:v2="http://cliq.shared.assaabloy.com/ws/query/v2/">`+
		`<soapenv:Header/><soapenv:Body><v2:getAuditTrails><importDateInterval><from>2018-04-01T00:00:00.000+08:00</from></importDateInterval>`+
		`<pagination><firstResult>0</firstResult><maxResults>1000</maxResults></pagination></v2:getAuditTrails></soapenv:Body></soapenv:Envelope>`, *got,
		"prefixes, unqualified children, maxResults capped at 1000, no <to> when open")
}

func TestParseDateTime(t *testing.T) {
	cases := []struct {
		in   string
		want time.Time
	}{
		{"2018-04-01T00:00+08:00", time.Date(2018, 3, 31, 16, 0, 0, 0, time.UTC)},
		{"2019-02-28T10:15:30.123+01:00", time.Date(2019, 2, 28, 9, 15, 30, 123e6, time.UTC)},
		{"2019-02-28T10:15:30Z", time.Date(2019, 2, 28, 10, 15, 30, 0, time.UTC)},
		{"2019-02-28T10:15:30", time.Date(2019, 2, 28, 10, 15, 30, 0, time.UTC)},
		{"2019-02-28", time.Date(2019, 2, 28, 0, 0, 0, 0, time.UTC)},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got, err := cwm.ParseDateTime(tc.in)
			require.NoError(t, err)
			assert.True(t, tc.want.Equal(got), "%s != %s", got, tc.want)
		})
	}
	_, err := cwm.ParseDateTime("yesterday")
	assert.Error(t, err)
}

func TestConfigRefused(t *testing.T) {
	cases := []struct {
		name string
		cfg  cwm.Config
		msg  string
	}{
		{"no URL", cwm.Config{}, "no CWM base URL"},
		{"plain http", cwm.Config{BaseURL: "http://cwm.example.com"}, "must be an https URL"},
		{"no certificate", cwm.Config{BaseURL: "https://cwm.example.com"}, "requires a client certificate"},
		{"garbage certificate", cwm.Config{BaseURL: "https://cwm.example.com", PKCS12: []byte("nope")}, "cannot read PKCS#12"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := cwm.New(tc.cfg)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.msg)
		})
	}
}
