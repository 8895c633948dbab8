package sim_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/lockdrivers/iloq/sim"
	"github.com/keyward/keyward/lockdrivers/simctl"
)

func TestAdminEndpoint(t *testing.T) {
	e := newEnv(t, sim.Options{}).login()
	ctl := simctl.NewClient(e.srv.URL+sim.AdminPrefix, nil)
	ctx := context.Background()

	res, err := ctl.UseKey(ctx, keyAdaPhone, lockHQ)
	require.NoError(t, err)
	assert.True(t, res.Opened, res.Reason)
	assert.NotEmpty(t, res.EventID)

	before, err := ctl.Now(ctx)
	require.NoError(t, err)
	require.NoError(t, ctl.Advance(ctx, time.Hour))
	after, err := ctl.Now(ctx)
	require.NoError(t, err)
	assert.Equal(t, time.Hour, after.Sub(before))
	assert.ErrorIs(t, ctl.SetTime(ctx, before), simctl.ErrInvalid)

	_, err = ctl.UseKey(ctx, "3c8d4e50-0000-4000-8000-00000000ffff", lockHQ)
	assert.ErrorIs(t, err, simctl.ErrNotFound)

	require.NoError(t, ctl.Crash(ctx))
	_, err = http.Get(e.srv.URL + "/api/v2/Test")
	assert.Error(t, err, "a crashed server drops connections")
	require.NoError(t, ctl.Restart(ctx))
	e.login()

	reqs, err := ctl.Requests(ctx, 0)
	require.NoError(t, err)
	require.NotEmpty(t, reqs)
	var changed int
	for _, r := range reqs {
		if r.Changed {
			changed++
		}
	}
	assert.Zero(t, changed, "login and reads change nothing")
	e.mustJSON("POST", "/api/v2/Keys/"+keyAdaPhone+"/SecurityAccesses",
		map[string]string{"SecurityAccess_ID": accNorth}, nil)
	reqs, err = ctl.Requests(ctx, reqs[len(reqs)-1].Seq+1)
	require.NoError(t, err)
	require.Len(t, reqs, 1)
	assert.True(t, reqs[0].Changed)
	assert.Equal(t, "POST /api/v2/Keys/{id}/SecurityAccesses", reqs[0].Op)
	assert.Equal(t, keyAdaPhone, reqs[0].Target)
}
