package host_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/core/domain"
	"github.com/keyward/keyward/core/driverport"
	"github.com/keyward/keyward/core/engine"
	"github.com/keyward/keyward/core/store"
	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/lockdrivers/host"
)

var groups = []string{"grp-north", "grp-south", "grp-depot"}

// setAccess calls a lock system's driver through core's driver port.
func (w *world) setAccess(lockSystem, key, idem string, aos ...string) (domain.Delivery, error) {
	w.t.Helper()
	d, ok := w.h.Driver(lockSystem)
	require.True(w.t, ok, "driver of %s is not running: %+v", lockSystem, w.status(lockSystem))
	return d.SetKeyAccess(w.ctx, driverport.SetKeyAccess{LockSystemID: lockSystem, KeyVendorID: key, IdempotencyKey: idem,
		Access: domain.KeyAccess{AccessObjects: aos}})
}

func TestRefusedDriverLeavesOthersWorking(t *testing.T) {
	tampered := filepath.Join(t.TempDir(), "lockdriver-padlock")
	b, err := os.ReadFile(padlockBin)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(tampered, append(b, 0), 0o755))

	tests := []struct {
		name string
		decl func(w *world) config.Driver
		env  []string
		want string
	}{
		{"tampered binary", func(w *world) config.Driver { return w.decl("other", tampered, padlockSum) }, nil,
			"does not match its pinned sha256: pinned " + padlockSum},
		{"unknown contract version in the handshake", func(w *world) config.Driver { return w.decl("other", selfBin, selfSum) },
			[]string{roleEnv + "=" + roleDriverV2}, "speaks no contract version keyward knows"},
		{"unknown contract version in Info", func(w *world) config.Driver { return w.decl("other", selfBin, selfSum) },
			[]string{roleEnv + "=" + roleDriverInfoV2}, "the driver speaks contract versions [2], keyward speaks lockdriver.v1"},
		{"invalid configuration", func(w *world) config.Driver {
			d := w.decl("other", padlockBin, padlockSum)
			d.Config = map[string]any{"page_size": 500}
			return d
		}, nil, "rejected its configuration"},
		{"secret not resolvable", func(w *world) config.Driver {
			d := w.decl("other", padlockBin, padlockSum)
			d.Secrets["api_token"] = config.Secret{Env: "KEYWARD_TEST_UNSET_SECRET"}
			return d
		}, nil, "secret api_token: environment variable KEYWARD_TEST_UNSET_SECRET is not set"},
		{"missing binary", func(w *world) config.Driver {
			return w.decl("other", filepath.Join(t.TempDir(), "nope"), padlockSum)
		}, nil, "no such file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			w.startSim("padlock", nil)
			w.startSim("other", nil)
			w.startHost(host.Options{DriverEnv: tc.env}, w.decl("padlock", padlockBin, padlockSum), tc.decl(w))

			st := w.status("other")
			assert.Equal(t, host.StateRefused, st.State)
			assert.Contains(t, st.Reason, tc.want)
			_, ok := w.h.Driver("other")
			assert.False(t, ok, "a refused driver is no driver: operations wait")
			logs := w.log.String()
			assert.Contains(t, logs, "driver refused")
			assert.Contains(t, logs, "lock_system=other")
			assert.Equal(t, 1.0, metric(t, w, "keyward_driver_state", "lock_system", "other", "state", "refused"))

			// The other lock system works.
			assert.Equal(t, host.StateRunning, w.status("padlock").State)
			d, err := w.setAccess("padlock", "cr-2", "refused-test-1", "grp-north")
			require.NoError(t, err)
			assert.Equal(t, domain.DeliveryQueued, d.State)
			assert.Equal(t, 1.0, metric(t, w, "keyward_driver_up", "lock_system", "padlock"))
		})
	}
}

func TestKillDriverMidBatch(t *testing.T) {
	// 250 rounds × 4 keys = 1,000 operations. Most of the time goes to the
	// engine's commands and outbox on SQLite (the planner reads every grant
	// of an identity, and they pile up round after round); under the race
	// detector that is about four times slower, so the batch is cut to 200
	// operations there.
	rounds := 250
	if raceEnabled {
		rounds = 50
	}
	w := newWorld(t)
	killAt := int64(rounds * len(w.ident) / 2)
	var orders, driverPid, killedPid atomic.Int64
	w.startSim("padlock", func(api http.Handler) http.Handler {
		return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			rec := httptest.NewRecorder()
			api.ServeHTTP(rec, r) // the vendor takes the programming order...
			if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/orders") && orders.Add(1) == killAt {
				// ...and the driver dies before it hears the answer.
				pid := driverPid.Load()
				if syscall.Kill(int(pid), syscall.SIGKILL) == nil {
					killedPid.Store(pid)
				}
			}
			for k, v := range rec.Header() {
				rw.Header()[k] = v
			}
			rw.WriteHeader(rec.Code)
			_, _ = rw.Write(rec.Body.Bytes())
		})
	})
	h := w.startHost(host.Options{ObserveInterval: 100 * time.Millisecond}, w.decl("padlock", padlockBin, padlockSum))
	pid0 := w.status("padlock").Pid
	require.Positive(t, pid0)
	driverPid.Store(int64(pid0))
	_, err := h.SyncInventory(w.ctx, "padlock")
	require.NoError(t, err)
	keys := all[domain.Key](w, store.Eqf("lockSystemId", "padlock"))
	require.Len(t, keys, 5, "inventory sync brought the simulator's credentials")

	// The dispatcher's step (what RunDispatcher repeats) runs the outbox until
	// the round's operations are done; while the driver restarts it finds no
	// driver and the operations wait.
	opts := engine.DispatchOptions{CallTimeout: 5 * time.Second, BaseBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond}
	pending := func() int {
		return len(all[domain.Operation](w, store.And{store.Eqf("lockSystemId", "padlock"), store.Eqf("state", string(domain.OpPending))}))
	}
	began := time.Now()
	var execTime time.Duration
	for r := range rounds {
		var steps []engine.Step
		for i, id := range w.ident {
			if r > 0 {
				steps = append(steps, engine.Revoke{IdentityID: id, EntitlementID: entitlements[(i+r-1)%3]})
			}
			steps = append(steps, engine.Grant{IdentityID: id, EntitlementID: entitlements[(i+r)%3]})
		}
		t0 := time.Now()
		_, err := w.eng.Execute(w.ctx, engine.Actor{Name: "iga"}, steps...)
		require.NoError(t, err)
		execTime += time.Since(t0)
		deadline := time.Now().Add(20 * time.Second)
		for {
			_, err := w.eng.DispatchDue(w.ctx, "padlock", h, opts)
			require.NoError(t, err)
			if pending() == 0 {
				break
			}
			require.True(t, time.Now().Before(deadline), "round %d: operations still pending", r)
			time.Sleep(10 * time.Millisecond)
		}
	}
	elapsed := time.Since(began)

	require.NotZero(t, killedPid.Load(), "the driver was killed mid-batch")
	st := w.status("padlock")
	assert.Equal(t, host.StateRunning, st.State)
	assert.GreaterOrEqual(t, st.Restarts, 1)
	assert.NotEqual(t, pid0, st.Pid, "a new driver process runs")

	ops := all[domain.Operation](w, store.Eqf("lockSystemId", "padlock"))
	require.Len(t, ops, rounds*len(w.ident))
	attempts, retried := 0, 0
	for _, op := range ops {
		assert.Equal(t, domain.OpDone, op.State, "operation %s: %s", op.ID, op.LastError)
		attempts += op.Attempts
		if op.Attempts > 1 {
			retried++
		}
	}
	assert.Positive(t, retried, "the operation in flight was retried")
	calls := metric(t, w, "keyward_driver_call_duration_seconds", "lock_system", "padlock", "call", "SetKeyAccess", "outcome", "ok")
	callTime := metricSum(t, w, "keyward_driver_call_duration_seconds", "lock_system", "padlock", "call", "SetKeyAccess", "outcome", "ok")
	t.Logf("%d operations in %s (%.0f ops/s; engine commands %s of it), %d attempts, %d retried, driver restarted %d time(s); SetKeyAccess through the host (driver + 3 vendor requests) mean %.2f ms",
		len(ops), elapsed.Round(time.Millisecond), float64(len(ops))/elapsed.Seconds(), execTime.Round(time.Millisecond), attempts, retried, st.Restarts,
		callTime/calls*1000)

	// The simulator holds the desired state, and no change went out twice.
	for i := range w.ident {
		key := []string{"cr-1", "cr-2", "cr-3", "cr-4"}[i]
		want := []string{groups[(i+rounds-1)%3]}
		assert.Equal(t, want, w.credential("padlock", key).Access.Groups, "credential %s", key)
		assert.Equal(t, want, w.keyState(engine.KeyID("padlock", key)).Planned.AccessObjects, "key %s planned access", key)
	}
	reqs, err := w.sims["padlock"].Requests(w.ctx, 0)
	require.NoError(t, err)
	changed := map[[2]string]int{}
	for _, r := range reqs {
		if r.Changed {
			changed[[2]string{r.Target, r.Op}]++
		}
	}
	for _, key := range []string{"cr-1", "cr-2", "cr-3", "cr-4"} {
		assert.Equal(t, rounds, changed[[2]string{key, "put-access"}], "%s: access changes", key)
		assert.Equal(t, rounds, changed[[2]string{key, "create-order"}], "%s: programming orders (one per desired state, none twice)", key)
	}
}
