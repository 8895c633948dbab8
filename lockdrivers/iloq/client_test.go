package iloq_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/lockdrivers/driver"
	"github.com/keyward/keyward/lockdrivers/iloq"
	"github.com/keyward/keyward/lockdrivers/iloq/sim"
	"github.com/keyward/keyward/lockdrivers/simctl"
)

// Ids from testdata/vendors/iloq/seed-example.yaml.
const (
	accNorth    = "5d2c7a10-0000-4000-8000-000000000001"
	accHQ       = "5d2c7a10-0000-4000-8000-000000000002"
	accStandard = "5d2c7a10-0000-4000-8000-000000000003"
	lockN1      = "7a3e0b20-0000-4000-8000-000000000001"
	lockN2      = "7a3e0b20-0000-4000-8000-000000000002"
	lockHQ      = "7a3e0b20-0000-4000-8000-000000000003"
	personAda   = "1e5b9c40-0000-4000-8000-000000000001"
	personAlan  = "1e5b9c40-0000-4000-8000-000000000002"
	keyAdaPhone = "3c8d4e50-0000-4000-8000-000000000001"
	keyAlanS5   = "3c8d4e50-0000-4000-8000-000000000002"
	keyGraceTag = "3c8d4e50-0000-4000-8000-000000000003"
)

// epoch is Monday 2026-12-07 09:00 Helsinki.
var epoch = time.Date(2026, 12, 7, 7, 0, 0, 0, time.UTC)

const seedFile = "../../testdata/vendors/iloq/seed-example.yaml"

func newSim(t *testing.T, opts sim.Options) *sim.Server {
	t.Helper()
	if opts.Now == nil {
		opts.Now = func() time.Time { return epoch }
	}
	s, err := sim.New(opts)
	require.NoError(t, err)
	sd, err := sim.LoadSeed(seedFile)
	require.NoError(t, err)
	require.NoError(t, s.Seed(sd))
	return s
}

// pooled serves the simulator under /iloqws (the manager URL) and
// /iloqwspool2 (the URL GetUrl answers), counting calls per prefix.
type pooled struct {
	srv           *httptest.Server
	manager, pool atomic.Int64
}

func servePooled(t *testing.T, s *sim.Server) *pooled {
	p := &pooled{}
	mux := http.NewServeMux()
	mux.Handle("/iloqws/", http.StripPrefix("/iloqws", countHandler(&p.manager, s)))
	mux.Handle("/iloqwspool2/", http.StripPrefix("/iloqwspool2", countHandler(&p.pool, s)))
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

func countHandler(n *atomic.Int64, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		h.ServeHTTP(w, r)
	})
}

func newClient(s *sim.Server, manager string) *iloq.Client {
	code, user, pw := s.Credentials()
	return iloq.NewClient(iloq.ClientConfig{ManagerURL: manager, CustomerCode: code, UserName: user,
		Password: pw, Backoff: time.Millisecond})
}

func TestClientSession(t *testing.T) {
	ctx := context.Background()
	t.Run("GetUrl moves the session to the pool URL", func(t *testing.T) {
		s2 := newSim(t, sim.Options{})
		p := servePooled(t, s2)
		s2.SetPoolURL(p.srv.URL + "/iloqwspool2/")
		c := newClient(s2, p.srv.URL+"/iloqws")
		keys, err := c.ListKeys(ctx)
		require.NoError(t, err)
		assert.Len(t, keys, 3)
		assert.EqualValues(t, 1, p.manager.Load(), "only GetUrl goes to the manager URL")
		assert.EqualValues(t, 4, p.pool.Load(), "CreateSession, LockGroups, SetLockgroup, Keys")
		assert.Equal(t, "Europe/Helsinki", c.Location().String())
	})
	t.Run("an empty GetUrl keeps the manager URL", func(t *testing.T) {
		s := newSim(t, sim.Options{})
		p := servePooled(t, s)
		c := newClient(s, p.srv.URL+"/iloqws")
		_, err := c.ListKeys(ctx)
		require.NoError(t, err)
		assert.EqualValues(t, 5, p.manager.Load())
	})
	t.Run("an expired session is renewed once", func(t *testing.T) {
		s := newSim(t, sim.Options{})
		srv := httptest.NewServer(s)
		t.Cleanup(srv.Close)
		c := newClient(s, srv.URL)
		_, err := c.ListKeys(ctx)
		require.NoError(t, err)
		require.NoError(t, s.Advance(ctx, time.Hour))
		_, err = c.ListKeys(ctx)
		require.NoError(t, err)
		reqs, err := s.Requests(ctx, 0)
		require.NoError(t, err)
		assert.Equal(t, 2, countOp(reqs, "POST /api/v2/CreateSession"))
	})
	t.Run("wrong credentials are a permission error", func(t *testing.T) {
		s := newSim(t, sim.Options{})
		srv := httptest.NewServer(s)
		t.Cleanup(srv.Close)
		c := iloq.NewClient(iloq.ClientConfig{ManagerURL: srv.URL, CustomerCode: "ILOQ_SIM",
			UserName: "api.user", Password: "nope"})
		_, err := c.ListKeys(ctx)
		assert.ErrorIs(t, err, driver.ErrPermission)
		assert.ErrorContains(t, err, "result 5")
	})
	t.Run("the gateway key travels on every call", func(t *testing.T) {
		s := newSim(t, sim.Options{GatewayKey: "gw-1"})
		srv := httptest.NewServer(s)
		t.Cleanup(srv.Close)
		c := newClient(s, srv.URL)
		_, err := c.ListKeys(ctx)
		assert.ErrorIs(t, err, driver.ErrPermission)
		code, user, pw := s.Credentials()
		c = iloq.NewClient(iloq.ClientConfig{ManagerURL: srv.URL, CustomerCode: code, UserName: user,
			Password: pw, GatewayKey: "gw-1"})
		_, err = c.ListKeys(ctx)
		assert.NoError(t, err)
	})
	t.Run("the lock group is chosen by id or name", func(t *testing.T) {
		s := newSim(t, sim.Options{LockGroupName: "North"})
		srv := httptest.NewServer(s)
		t.Cleanup(srv.Close)
		code, user, pw := s.Credentials()
		for _, lg := range []string{"North", s.LockGroupID()} {
			c := iloq.NewClient(iloq.ClientConfig{ManagerURL: srv.URL, CustomerCode: code, UserName: user,
				Password: pw, LockGroupID: lg})
			require.NoError(t, c.Login(ctx))
			assert.Equal(t, s.LockGroupID(), c.LockGroup().LockGroupID)
		}
		c := iloq.NewClient(iloq.ClientConfig{ManagerURL: srv.URL, CustomerCode: code, UserName: user,
			Password: pw, LockGroupID: "South"})
		err := c.Login(ctx)
		assert.ErrorIs(t, err, driver.ErrInvalid)
		assert.ErrorContains(t, err, "South")
	})
	t.Run("a GetUrl answer that is no URL is refused", func(t *testing.T) {
		s := newSim(t, sim.Options{PoolURL: "not a url"})
		srv := httptest.NewServer(s)
		t.Cleanup(srv.Close)
		err := newClient(s, srv.URL).Login(ctx)
		assert.ErrorContains(t, err, "Url/GetUrl")
	})
	t.Run("Logout kills the session", func(t *testing.T) {
		s := newSim(t, sim.Options{})
		srv := httptest.NewServer(s)
		t.Cleanup(srv.Close)
		c := newClient(s, srv.URL)
		require.NoError(t, c.Login(ctx))
		require.NoError(t, c.Logout(ctx))
		reqs, _ := s.Requests(ctx, 0)
		assert.Equal(t, 1, countOp(reqs, "GET /api/v2/KillSession"))
	})
}

func countOp(reqs []simctl.Request, op string) int {
	n := 0
	for _, r := range reqs {
		if r.Op == op {
			n++
		}
	}
	return n
}

func TestClientFaults(t *testing.T) {
	ctx := context.Background()
	s := newSim(t, sim.Options{})
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	c := newClient(s, srv.URL)
	require.NoError(t, c.Login(ctx))
	cases := []struct {
		name   string
		inject func()
		check  func(t *testing.T, err error)
	}{
		{"5xx answers are retried", func() { s.FailNext("/api/v2/keys", 2, http.StatusServiceUnavailable) },
			func(t *testing.T, err error) { assert.NoError(t, err) }},
		{"dropped connections are retried", func() { s.DropNext("/api/v2/keys", 2) },
			func(t *testing.T, err error) { assert.NoError(t, err) }},
		{"a lasting outage is transient", func() { s.FailNext("/api/v2/keys", 10, http.StatusBadGateway) },
			func(t *testing.T, err error) {
				assert.ErrorIs(t, err, driver.ErrTransient)
				assert.ErrorContains(t, err, "GET Keys/{id}")
			}},
		{"malformed JSON names the call", func() { s.GarbleNext("/api/v2/keys", 1, `{"FNKey_ID": [`) },
			func(t *testing.T, err error) {
				require.Error(t, err)
				assert.ErrorContains(t, err, "iloq: GET Keys/{id}")
				assert.ErrorContains(t, err, "malformed")
			}},
		{"an answer about another key is refused", func() {
			s.GarbleNext("/api/v2/keys", 1, `{"FNKey_ID":"`+keyAdaPhone+`"}`)
		}, func(t *testing.T, err error) {
			assert.ErrorContains(t, err, "contradicts")
		}},
		{"an unknown key is not found", nil, func(t *testing.T, err error) {}},
	}
	for _, cs := range cases {
		t.Run(cs.name, func(t *testing.T) {
			defer s.ClearFaults()
			if cs.inject == nil {
				_, err := c.GetKey(ctx, "3c8d4e50-0000-4000-8000-00000000ffff")
				assert.ErrorIs(t, err, driver.ErrNotFound)
				return
			}
			cs.inject()
			k, err := c.GetKey(ctx, keyAlanS5)
			cs.check(t, err)
			if err == nil {
				assert.Equal(t, keyAlanS5, k.FNKeyID)
			}
		})
	}
	t.Run("a timed-out call is retried", func(t *testing.T) {
		code, user, pw := s.Credentials()
		fast := iloq.NewClient(iloq.ClientConfig{ManagerURL: srv.URL, CustomerCode: code, UserName: user,
			Password: pw, Backoff: time.Millisecond, HTTPClient: &http.Client{Timeout: 200 * time.Millisecond}})
		require.NoError(t, fast.Login(ctx))
		s.SlowNext("/api/v2/keys", 1, time.Second)
		defer s.ClearFaults()
		k, err := fast.GetKey(ctx, keyAlanS5)
		require.NoError(t, err)
		assert.Equal(t, keyAlanS5, k.FNKeyID)
		s.SlowNext("/api/v2/keys", 4, time.Second)
		_, err = fast.GetKey(ctx, keyAlanS5)
		assert.ErrorIs(t, err, driver.ErrTransient)
	})
	t.Run("a crashed vendor comes back after restart", func(t *testing.T) {
		require.NoError(t, s.Crash(ctx))
		_, err := c.ListKeys(ctx)
		assert.ErrorIs(t, err, driver.ErrTransient)
		require.NoError(t, s.Restart(ctx))
		_, err = c.ListKeys(ctx)
		assert.NoError(t, err, "logs in again: the restart lost the session")
	})
}
