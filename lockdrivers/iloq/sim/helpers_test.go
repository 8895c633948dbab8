package sim_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/lockdrivers/iloq/iloqapi"
	"github.com/keyward/keyward/lockdrivers/iloq/sim"
)

// Ids from testdata/vendors/iloq/seed-example.yaml.
const (
	accNorth    = "5d2c7a10-0000-4000-8000-000000000001"
	accHQ       = "5d2c7a10-0000-4000-8000-000000000002"
	accStandard = "5d2c7a10-0000-4000-8000-000000000003"
	lockN1      = "7a3e0b20-0000-4000-8000-000000000001"
	lockN2      = "7a3e0b20-0000-4000-8000-000000000002"
	lockHQ      = "7a3e0b20-0000-4000-8000-000000000003"
	profOffice  = "9b1f2c30-0000-4000-8000-000000000001"
	personAda   = "1e5b9c40-0000-4000-8000-000000000001"
	personAlan  = "1e5b9c40-0000-4000-8000-000000000002"
	keyAdaPhone = "3c8d4e50-0000-4000-8000-000000000001"
	keyAlanS5   = "3c8d4e50-0000-4000-8000-000000000002"
	keyGraceTag = "3c8d4e50-0000-4000-8000-000000000003"
)

// start is 2026-12-07 09:00 Helsinki (a Monday), the simulators' epoch.
var start = time.Date(2026, 12, 7, 7, 0, 0, 0, time.UTC)

type env struct {
	t   *testing.T
	sim *sim.Server
	srv *httptest.Server
	sid string
}

func newEnv(t *testing.T, opts sim.Options) *env {
	t.Helper()
	if opts.Now == nil {
		opts.Now = func() time.Time { return start }
	}
	s, err := sim.New(opts)
	require.NoError(t, err)
	sd, err := sim.LoadSeed("../../../testdata/vendors/iloq/seed-example.yaml")
	require.NoError(t, err)
	require.NoError(t, s.Seed(sd))
	return &env{t: t, sim: s, srv: newTestServer(t, s)}
}

func newTestServer(t *testing.T, h http.Handler) *httptest.Server {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// login runs the documented session flow and keeps the session id.
func (e *env) login() *env {
	e.t.Helper()
	code, user, pw := e.sim.Credentials()
	var res iloqapi.CreateSessionResult
	e.mustJSON("POST", "/api/v2/CreateSession", iloqapi.CreateSessionParam{CustomerCode: code,
		UserName: user, Password: pw}, &res)
	require.Equal(e.t, iloqapi.SessionOK, res.Result)
	e.sid = res.SessionID
	e.mustJSON("POST", "/api/v2/SetLockgroup", iloqapi.SetLockgroupParam{LockGroupID: e.sim.LockGroupID()}, nil)
	return e
}

// do sends one request and returns status and raw body.
func (e *env) do(method, path string, body any) (int, []byte) {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		require.NoError(e.t, err)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	require.NoError(e.t, err)
	req.Header.Set("Content-Type", "application/json")
	if e.sid != "" {
		req.Header.Set(iloqapi.HeaderSessionID, e.sid)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(e.t, err)
	return resp.StatusCode, raw
}

// mustJSON requires a 2xx answer and decodes it into out (if not nil).
func (e *env) mustJSON(method, path string, body, out any) {
	e.t.Helper()
	status, raw := e.do(method, path, body)
	require.Truef(e.t, status/100 == 2, "%s %s: %d %s", method, path, status, raw)
	if out != nil {
		require.NoError(e.t, json.Unmarshal(raw, out), "%s %s: %s", method, path, raw)
	}
}

// canCode calls a Can… endpoint and returns its bare integer.
func (e *env) canCode(method, path string, body any) int {
	e.t.Helper()
	status, raw := e.do(method, path, body)
	require.Equalf(e.t, http.StatusOK, status, "%s %s: %s", method, path, raw)
	n, err := strconv.Atoi(string(raw))
	require.NoErrorf(e.t, err, "%s: want a bare integer, got %s", path, raw)
	return n
}

// errMessage requires an error status and returns its {"Message"}.
func (e *env) errMessage(method, path string, body any, wantStatus int) string {
	e.t.Helper()
	status, raw := e.do(method, path, body)
	require.Equalf(e.t, wantStatus, status, "%s %s: %s", method, path, raw)
	var eb iloqapi.ErrorBody
	require.NoError(e.t, json.Unmarshal(raw, &eb), "error body: %s", raw)
	require.NotEmpty(e.t, eb.Message)
	return eb.Message
}

// newPhoneKey inserts a phone key for Ada with a phone number and main zone,
// returning its id.
func (e *env) newPhoneKey(accesses ...string) string {
	e.t.Helper()
	id := uuid.NewString()
	e.mustJSON("POST", "/api/v2/Keys", iloqapi.InsertKeyParam{Key: iloqapi.Key{FNKeyID: id,
		KeyTypeMask: iloqapi.KeyTypeS50Phone, PersonID: personAda, Description: "phone"},
		SecurityAccessIDs: accesses}, nil)
	e.mustJSON("PUT", "/api/v2/KeyPhones", iloqapi.KeyPhone{FNKeyID: id,
		PhoneNo: "+35840" + id[:8]}, nil)
	e.mustJSON("PUT", "/api/v2/Keys/"+id+"/UpdateMainZone", iloqapi.UpdateKeyMainZoneParam{
		ZoneID: e.defaultZone()}, nil)
	return id
}

func (e *env) defaultZone() string {
	var zones []iloqapi.Zone
	e.mustJSON("GET", "/api/v2/Zones", nil, &zones)
	for _, z := range zones {
		if z.Type == 4 {
			return z.ZoneID
		}
	}
	e.t.Fatal("no default zone")
	return ""
}

func (e *env) keyState(id string) iloqapi.Key {
	var k iloqapi.Key
	e.mustJSON("GET", "/api/v2/Keys/"+id, nil, &k)
	return k
}

func (e *env) accessIDs(keyID string, mode int) []string {
	var res iloqapi.GetKeySecurityAccessesResult
	e.mustJSON("GET", "/api/v2/Keys/"+keyID+"/SecurityAccesses?mode="+strconv.Itoa(mode), nil, &res)
	ids := []string{}
	for _, a := range res.SecurityAccesses {
		ids = append(ids, a.SecurityAccessID)
	}
	return ids
}

func local(s string) *iloqapi.LocalTime {
	t, err := time.Parse(iloqapi.LocalLayout, s)
	if err != nil {
		panic(err)
	}
	return &iloqapi.LocalTime{Time: t}
}
