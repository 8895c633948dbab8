package sim_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/lockdrivers/cliq/cwm"
	"github.com/keyward/keyward/lockdrivers/cliq/sim"
)

// FuzzSOAPRequest: whatever a client sends, the simulator answers a SOAP
// envelope (a response or a fault), never panics.
func FuzzSOAPRequest(f *testing.F) {
	for _, name := range []string{"getPersons", "getKeysForPerson", "getKeyDetails", "getAuditTrails"} {
		b, err := readFixtureFile(name + ".request.xml")
		require.NoError(f, err)
		f.Add(cwm.QueryPath, b)
	}
	f.Add(cwm.AssumedManagementPath, `<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:m="`+
		cwm.NSAssumedManagement+`"><soapenv:Body><m:setKeyAccess><keyIdentity>k</keyIdentity><access><cylinderIdentity>c</cylinderIdentity></access></m:setKeyAccess></soapenv:Body></soapenv:Envelope>`)
	s, err := sim.New(sim.Options{Start: start})
	require.NoError(f, err)
	s.AddKey(sim.KeySeed{Identity: "k"})
	s.AddCylinder(sim.CylinderSeed{Identity: "c", Name: "c"})
	h := s.Handler()
	f.Fuzz(func(t *testing.T, path, body string) {
		if path != cwm.AssumedManagementPath {
			path = cwm.QueryPath
		}
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
		req.Header.Set("Content-Type", "text/xml")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		assert.Contains(t, []int{http.StatusOK, http.StatusInternalServerError}, rec.Code)
		assert.True(t, strings.HasPrefix(rec.Body.String(), "<?xml"), rec.Body.String())
	})
}
