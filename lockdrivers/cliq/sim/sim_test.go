package sim_test

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/lockdrivers/cliq/cwm"
	"github.com/keyward/keyward/lockdrivers/cliq/sim"
	"github.com/keyward/keyward/lockdrivers/simctl"
)

var start = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC) // a Monday

type env struct {
	sim *sim.Sim
	srv *sim.Server
	c   *cwm.Client
	m   cwm.Management
	raw *http.Client // speaks TLS with a valid client certificate, no SOAP
}

func newEnv(t *testing.T) *env {
	t.Helper()
	s, err := sim.New(sim.Options{Start: start})
	require.NoError(t, err)
	srv, err := s.Start("127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	cfg, err := s.ClientConfig(srv)
	require.NoError(t, err)
	c, err := cwm.New(cfg)
	require.NoError(t, err)
	t.Cleanup(c.Close)
	cert, err := cwm.LoadCertificate(cfg.PKCS12, cfg.Passphrase, time.Now())
	require.NoError(t, err)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.CA().Pool(), Certificates: []tls.Certificate{cert}}}
	t.Cleanup(tr.CloseIdleConnections)
	return &env{sim: s, srv: srv, c: c, m: c.Management(), raw: &http.Client{Transport: tr}}
}

func TestTLSClientCertificateRequired(t *testing.T) {
	e := newEnv(t)
	other, err := sim.NewCA("another CA")
	require.NoError(t, err)
	wrongPFX, err := other.ValidClientPKCS12("pw")
	require.NoError(t, err)
	wrongCert, err := cwm.LoadCertificate(wrongPFX, "pw", time.Now())
	require.NoError(t, err)
	expiredPFX, err := e.sim.CA().ClientPKCS12("expired", "pw", time.Now().AddDate(-2, 0, 0), time.Now().AddDate(-1, 0, 0))
	require.NoError(t, err)
	expiredCert, err := tlsCertFromPFX(expiredPFX, "pw")
	require.NoError(t, err)

	cases := []struct {
		name  string
		certs []tls.Certificate
	}{
		{"no client certificate", nil},
		{"certificate from another CA", []tls.Certificate{wrongCert}},
		{"expired certificate", []tls.Certificate{expiredCert}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
				RootCAs: e.sim.CA().Pool(), Certificates: tc.certs}}}
			resp, err := hc.Post(e.srv.URL+cwm.QueryPath, "text/xml", strings.NewReader(readFixture(t, "getPersons.request.xml")))
			if err == nil {
				resp.Body.Close()
			}
			require.Error(t, err, "the handshake must be refused")
			assert.Contains(t, err.Error(), "tls")
		})
	}

	t.Run("client refuses an expired certificate before connecting", func(t *testing.T) {
		_, err := cwm.New(cwm.Config{BaseURL: e.srv.URL, PKCS12: expiredPFX, Passphrase: "pw"})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "expired")
	})
	t.Run("client refuses a wrong passphrase", func(t *testing.T) {
		_, err := cwm.New(cwm.Config{BaseURL: e.srv.URL, PKCS12: wrongPFX, Passphrase: "nope"})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "wrong passphrase")
	})
	t.Run("client refuses no certificate", func(t *testing.T) {
		_, err := cwm.New(cwm.Config{BaseURL: e.srv.URL})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "requires a client certificate")
	})
	t.Run("a wrong certificate is a permission error", func(t *testing.T) {
		c, err := cwm.New(cwm.Config{BaseURL: e.srv.URL, PKCS12: wrongPFX, Passphrase: "pw", RootCAs: e.sim.CA().Pool()})
		require.NoError(t, err)
		defer c.Close()
		_, err = c.GetPersons(context.Background())
		require.Error(t, err)
		assert.Equal(t, cwm.KindPermission, cwm.KindOf(err), "%v", err)
	})
}

func tlsCertFromPFX(pfx []byte, pass string) (tls.Certificate, error) {
	// LoadCertificate refuses expired certificates; build one by hand
	// through a far-past clock.
	return cwm.LoadCertificate(pfx, pass, time.Now().AddDate(-1, -6, 0))
}

func readFixture(t *testing.T, name string) string {
	t.Helper()
	b, err := readFixtureFile(name)
	require.NoError(t, err)
	return b
}

func readFixtureFile(name string) (string, error) {
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "testdata", "vendors", "cliq", name))
	return string(b), err
}

// rawPost sends a request body as the public client does and returns the
// status and body.
func rawPost(t *testing.T, e *env, path, body string) (int, string) {
	t.Helper()
	hc := e.raw
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "text/xml;charset=UTF-8")
	req.Header.Set("SOAPAction", e.srv.URL+path)
	resp, err := hc.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func TestQueryWireFormat(t *testing.T) {
	e := newEnv(t)
	p := e.sim.AddPerson(sim.PersonSeed{FirstName: "Ada", Surname: "Lovelace", ExternalReference: "E1"})
	e.sim.AddPerson(sim.PersonSeed{FirstName: "Gone", Surname: "Away", Deleted: true})
	k := e.sim.AddKey(sim.KeySeed{Holder: p, Marking: "DK/4", Type: cwm.KeyTypeTemporary})
	e.sim.AddKey(sim.KeySeed{Holder: p, Deleted: true})
	cyl := e.sim.AddCylinder(sim.CylinderSeed{Name: "Door 1"})
	ctx := context.Background()
	_, err := e.sim.UseKey(ctx, k, cyl)
	require.NoError(t, err)
	require.NoError(t, e.sim.DeliverKey(ctx, k, simctl.ViaProgrammingDevice))

	cases := []struct {
		name    string
		fixture string
		want    []string
	}{
		{"getPersons", "getPersons.request.xml", []string{
			`<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body>`,
			`<ns4:getPersonsResponse xmlns:ns4="http://cliq.shared.assaabloy.com/ws/query/v2/"><person><identity>` + p + `</identity><firstName>Ada</firstName><surname>Lovelace</surname>`,
			`<deleted>false</deleted></person>`, `<deleted>true</deleted></person>`,
		}},
		{"getKeysForPerson", "getKeysForPerson.request.xml", []string{
			`<ns4:getKeysForPersonResponse xmlns:ns4="http://cliq.shared.assaabloy.com/ws/query/v2/"><key><identity>` + k +
				`</identity><type>TEMPORARY_KEY</type><name>CLIQ KEY</name><marking>DK/4</marking><deleted>false</deleted></key>`,
			`<deleted>true</deleted></key>`,
		}},
		{"getKeyDetails", "getKeyDetails.request.xml", []string{
			`<ns4:getKeyDetailsResponse xmlns:ns4="http://cliq.shared.assaabloy.com/ws/query/v2/"><keyDetails>`,
			`<operationalStatus>HANDED_OUT</operationalStatus><lastRemoteUpdate>2026-03-02T09:00:00.000Z</lastRemoteUpdate>`,
		}},
		{"getAuditTrails with seconds-less dates", "getAuditTrails.request.xml", []string{
			`<ns4:getAuditTrailsResponse xmlns:ns4="http://cliq.shared.assaabloy.com/ws/query/v2/"><auditTrails>`,
			`<keyIdentity>` + k + `</keyIdentity>`,
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body := strings.NewReplacer("{{person}}", p, "{{key}}", k).Replace(readFixture(t, tc.fixture))
			status, resp := rawPost(t, e, cwm.QueryPath, body)
			require.Equal(t, http.StatusOK, status, resp)
			for _, w := range tc.want {
				assert.Contains(t, resp, w)
			}
		})
	}
}

func TestRequestsTheSchemaRefuses(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		name, path, body, want string
	}{
		{"qualified child element", cwm.QueryPath,
			`<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:v2="http://cliq.shared.assaabloy.com/ws/query/v2/"><soapenv:Body><v2:getKeyDetails><v2:keyIdentity>x</v2:keyIdentity></v2:getKeyDetails></soapenv:Body></soapenv:Envelope>`,
			`unexpected element (uri:&#34;http://cliq.shared.assaabloy.com/ws/query/v2/&#34;, local:&#34;keyIdentity&#34;)`},
		{"unknown child element", cwm.QueryPath,
			`<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:v2="http://cliq.shared.assaabloy.com/ws/query/v2/"><soapenv:Body><v2:getKeyDetails><keyId>x</keyId></v2:getKeyDetails></soapenv:Body></soapenv:Envelope>`,
			`Expected elements are &lt;{}keyIdentity&gt;`},
		{"operation in the wrong namespace", cwm.QueryPath,
			`<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:v2="urn:other"><soapenv:Body><v2:getPersons/></soapenv:Body></soapenv:Envelope>`,
			`Cannot find dispatch method for {urn:other}getPersons`},
		{"management operation on the query endpoint", cwm.QueryPath,
			`<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:m="` + cwm.NSAssumedManagement + `"><soapenv:Body><m:getKeys/></soapenv:Body></soapenv:Envelope>`,
			`Cannot find dispatch method`},
		{"not XML", cwm.QueryPath, `{"json": true}`, `Couldn&#39;t create SOAP message`},
		{"SOAP 1.2 envelope", cwm.QueryPath,
			`<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body/></e:Envelope>`, `is not a SOAP 1.1 Envelope`},
		{"unknown key", cwm.QueryPath,
			`<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:v2="http://cliq.shared.assaabloy.com/ws/query/v2/"><soapenv:Body><v2:getKeyDetails><keyIdentity>nope</keyIdentity></v2:getKeyDetails></soapenv:Body></soapenv:Envelope>`,
			`<code>NOT_FOUND</code>`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, resp := rawPost(t, e, tc.path, tc.body)
			assert.Equal(t, http.StatusInternalServerError, status)
			assert.Contains(t, resp, `<S:Fault>`)
			assert.Contains(t, resp, tc.want)
		})
	}
}

func TestClientErrorKinds(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	_, err := e.c.GetKeyDetails(ctx, "no-such-key")
	assert.Equal(t, cwm.KindNotFound, cwm.KindOf(err), "%v", err)
	assert.Contains(t, err.Error(), "cwm: getKeyDetails:")

	_, err = e.c.GetAuditTrails(ctx, time.Time{}, time.Time{}, 0, 10)
	assert.Equal(t, cwm.KindInvalid, cwm.KindOf(err))

	err = e.m.SetKeyValidity(ctx, e.sim.AddKey(sim.KeySeed{}), cwm.Validity{Type: "SOMETIMES"})
	assert.Equal(t, cwm.KindInvalid, cwm.KindOf(err), "%v", err)

	require.NoError(t, e.sim.Crash(ctx))
	_, err = e.c.GetPersons(ctx)
	assert.Equal(t, cwm.KindTransient, cwm.KindOf(err), "%v", err)
	require.NoError(t, e.sim.Restart(ctx))
	_, err = e.c.GetPersons(ctx)
	assert.NoError(t, err)
}

func TestAuditTrailsArriveLateByImportDate(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	cyl := e.sim.AddCylinder(sim.CylinderSeed{Name: "Gate"})
	k := e.sim.AddKey(sim.KeySeed{Type: cwm.KeyTypeDynamic, Cylinders: []string{cyl}})

	res, err := e.sim.UseKey(ctx, k, cyl)
	require.NoError(t, err)
	require.True(t, res.Opened, res.Reason)
	rows, err := e.c.GetAuditTrails(ctx, start, time.Time{}, 0, 100)
	require.NoError(t, err)
	assert.Empty(t, rows, "CWM knows nothing until the key or cylinder reports")

	require.NoError(t, e.sim.Advance(ctx, 3*time.Hour))
	require.NoError(t, e.sim.DeliverKey(ctx, k, simctl.ViaProgrammingDevice))
	require.NoError(t, e.sim.Advance(ctx, time.Hour))
	require.NoError(t, e.sim.VisitLock(ctx, cyl))

	rows, err = e.c.GetAuditTrails(ctx, start, time.Time{}, 0, 100)
	require.NoError(t, err)
	require.Len(t, rows, 2, "once from the key, once from the cylinder")
	assert.Equal(t, res.EventID, rows[0].Identity)
	assert.Equal(t, rows[0].Identity, rows[1].Identity, "both copies carry the event's identity")
	assert.Equal(t, []string{"KEY", "CYLINDER"}, []string{rows[0].Source, rows[1].Source})
	assert.True(t, rows[0].EventDate.Equal(start))
	assert.True(t, rows[0].ImportDate.Equal(start.Add(3*time.Hour)))
	assert.True(t, rows[1].ImportDate.Equal(start.Add(4*time.Hour)))

	t.Run("interval is [from, to) on import date", func(t *testing.T) {
		rows, err := e.c.GetAuditTrails(ctx, start, start.Add(4*time.Hour), 0, 100)
		require.NoError(t, err)
		assert.Len(t, rows, 1)
		rows, err = e.c.GetAuditTrails(ctx, start.Add(4*time.Hour), time.Time{}, 0, 100)
		require.NoError(t, err)
		assert.Len(t, rows, 1)
	})
}

func TestAuditPaging(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for i := 0; i < 2500; i++ {
		e.sim.AddAuditTrail(cwm.AuditTrail{EventType: cwm.EventAccessGranted})
	}
	cases := []struct {
		name        string
		first, max  int
		wantRows    int
		wantIdxFrom int
	}{
		{"first page", 0, 1000, 1000, 0},
		{"last partial page", 2000, 1000, 500, 2000},
		{"past the end", 2500, 1000, 0, 0},
		{"small page", 10, 5, 5, 10},
		{"maxResults at the cap", 0, 1000, 1000, 0},
	}
	all := make([]cwm.AuditTrail, 0, 2500)
	require.NoError(t, e.c.AllAuditTrails(ctx, start, time.Time{}, 1000, func(p []cwm.AuditTrail) error {
		all = append(all, p...)
		return nil
	}))
	require.Len(t, all, 2500)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rows, err := e.c.GetAuditTrails(ctx, start, time.Time{}, tc.first, tc.max)
			require.NoError(t, err)
			require.Len(t, rows, tc.wantRows)
			if tc.wantRows > 0 {
				assert.Equal(t, all[tc.wantIdxFrom].Identity, rows[0].Identity)
			}
		})
	}
	t.Run("the server caps maxResults at 1000", func(t *testing.T) {
		body := strings.Replace(readFixture(t, "getAuditTrails.request.xml"), "<maxResults>1000<", "<maxResults>5000<", 1)
		status, resp := rawPost(t, e, cwm.QueryPath, body)
		require.Equal(t, http.StatusOK, status)
		assert.Equal(t, 1000, strings.Count(resp, "<auditTrails>"))
	})
}
