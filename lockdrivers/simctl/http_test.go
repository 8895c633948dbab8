package simctl_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/examples/driver/sim"
	"github.com/keyward/keyward/lockdrivers/simctl"
)

// The HTTP adapter is tested against a real simulator (the example
// driver's Padlock Cloud) behind a real HTTP server.
func start(t *testing.T) (*sim.Sim, *simctl.Client, string) {
	s := sim.New(sim.Options{WebhookSecret: "k"})
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return s, simctl.NewClient(srv.URL+"/admin/", nil), srv.URL + "/admin"
}

func TestClientRoundTrip(t *testing.T) {
	ctx := context.Background()
	_, c, _ := start(t)

	now, err := c.Now(ctx)
	require.NoError(t, err)
	require.NoError(t, c.Advance(ctx, 90*time.Minute))
	later, err := c.Now(ctx)
	require.NoError(t, err)
	assert.Equal(t, now.Add(90*time.Minute), later)
	require.NoError(t, c.SetTime(ctx, later.Add(time.Hour)))
	assert.ErrorIs(t, c.SetTime(ctx, now), simctl.ErrInvalid, "time never moves backwards")

	require.NoError(t, c.DeliverKey(ctx, "cr-2", simctl.ViaPhoneSync))
	err = c.DeliverKey(ctx, "cr-1", simctl.ViaPhoneSync)
	assert.ErrorIs(t, err, simctl.ErrUnsupported, "a fob has no phone")
	assert.Equal(t, "simctl POST /keys/cr-1/deliver: credential cr-1 is a fob, not a phone: "+simctl.ErrUnsupported.Error(), err.Error())
	assert.ErrorIs(t, c.DeliverKey(ctx, "nope", simctl.ViaAuto), simctl.ErrNotFound)
	require.NoError(t, c.VisitLock(ctx, "pl-2"))
	assert.ErrorIs(t, c.VisitLock(ctx, "nope"), simctl.ErrNotFound)

	res, err := c.UseKey(ctx, "cr-1", "pl-1")
	require.NoError(t, err)
	assert.False(t, res.Opened)
	assert.Equal(t, "no access", res.Reason)
	assert.NotEmpty(t, res.EventID)

	hooks, err := c.Webhooks(ctx, 0)
	require.NoError(t, err)
	require.Len(t, hooks, 1)
	assert.Equal(t, sim.Sign("k", hooks[0].Body), hooks[0].Header.Get(sim.SignatureHeader))
	hooks, err = c.Webhooks(ctx, 2)
	require.NoError(t, err)
	assert.Empty(t, hooks)

	require.NoError(t, c.Crash(ctx))
	assert.ErrorIs(t, c.DeliverKey(ctx, "cr-1", simctl.ViaAuto), simctl.ErrCrashed)
	require.NoError(t, c.Restart(ctx))
	require.NoError(t, c.DeliverKey(ctx, "cr-1", simctl.ViaAuto))

	reqs, err := c.Requests(ctx, 0)
	require.NoError(t, err)
	assert.Empty(t, reqs, "control calls are not vendor API requests")
}

func TestHandlerBadInput(t *testing.T) {
	_, _, base := start(t)
	cases := []struct {
		name, method, path, body string
		status                   int
	}{
		{"bad json", "POST", "/use", `{"key_id":`, http.StatusBadRequest},
		{"unknown field", "POST", "/use", `{"key":"cr-1"}`, http.StatusBadRequest},
		{"bad duration", "POST", "/clock/advance", `{"by":"soon"}`, http.StatusBadRequest},
		{"negative duration", "POST", "/clock/advance", `{"by":"-1h"}`, http.StatusBadRequest},
		{"bad since", "GET", "/requests?since=x", ``, http.StatusBadRequest},
		{"unknown key", "POST", "/keys/zz/deliver", ``, http.StatusNotFound},
		{"bad via", "POST", "/keys/cr-1/deliver", `{"via":"pigeon"}`, http.StatusBadRequest},
		{"too large", "PUT", "/clock", `{"now":"` + strings.Repeat("x", 2<<20) + `"}`, http.StatusRequestEntityTooLarge},
		{"wrong method", "DELETE", "/crash", ``, http.StatusMethodNotAllowed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, base+tc.path, strings.NewReader(tc.body))
			require.NoError(t, err)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, tc.status, resp.StatusCode)
		})
	}
}
