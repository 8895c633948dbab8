package host_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
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
	"github.com/keyward/keyward/examples/driver/sim"
	"github.com/keyward/keyward/lockdrivers/host"
)

func TestHostKilledDriverDies(t *testing.T) {
	srv, err := sim.Start("127.0.0.1:0", sim.Options{Token: simToken})
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	cmd := exec.Command(selfBin)
	cmd.Env = append(os.Environ(), roleEnv+"="+roleHost,
		"KEYWARD_HOST_TEST_BIN="+padlockBin, "KEYWARD_HOST_TEST_SUM="+padlockSum, "KEYWARD_HOST_TEST_URL="+srv.URL,
		"KEYWARD_HOST_TEST_TOKEN="+simToken, "KEYWARD_HOST_TEST_DB="+filepath.Join(t.TempDir(), "keyward.db"))
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var pid int
	select {
	case l, ok := <-lines:
		require.True(t, ok, "host ended without starting its driver: %s", stderr.String())
		_, err := fmt.Sscanf(l, "pid %d", &pid)
		require.NoError(t, err, "host said %q", l)
	case <-time.After(30 * time.Second):
		t.Fatalf("host did not start its driver: %s", stderr.String())
	}
	require.True(t, alive(pid), "driver %d runs under the host", pid)

	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for alive(pid) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	assert.False(t, alive(pid), "driver %d survived its host", pid)
}

// alive tells whether a process exists and is not a zombie.
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return !os.IsNotExist(err)
	}
	// pid (comm) state ...; comm may hold spaces, so cut at the last ')'.
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z' && s[i+2] != 'X'
	}
	return true
}

func TestWebhooks(t *testing.T) {
	w := newWorld(t)
	srv := w.startSim("padlock", nil)
	h := w.startHost(host.Options{ObserveInterval: -1}, w.decl("padlock", padlockBin, padlockSum))
	_, err := h.SyncInventory(w.ctx, "padlock")
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle("POST /hooks/{lockSystem}", h.Webhooks())
	keyward := httptest.NewServer(mux)
	t.Cleanup(keyward.Close)

	_, err = srv.UseKey(w.ctx, "cr-2", "pl-1")
	require.NoError(t, err)
	hooks, err := srv.Webhooks(w.ctx, 0)
	require.NoError(t, err)
	require.Len(t, hooks, 1)
	hook := hooks[0]
	lockEvents := func() int { return len(all[domain.LockEvent](w, nil)) }

	tests := []struct {
		name       string
		path       string
		header     func(http.Header)
		body       []byte
		wantStatus int
		wantStored int
	}{
		{"bad signature", "/hooks/padlock", func(h http.Header) { h.Set(sim.SignatureHeader, sim.Sign("not-the-secret", hook.Body)) }, hook.Body, http.StatusUnauthorized, 0},
		{"no signature", "/hooks/padlock", func(h http.Header) { h.Del(sim.SignatureHeader) }, hook.Body, http.StatusUnauthorized, 0},
		{"body changed after signing", "/hooks/padlock", nil, bytes.Replace(hook.Body, []byte("cr-2"), []byte("cr-3"), 1), http.StatusUnauthorized, 0},
		{"unknown lock system", "/hooks/elsewhere", nil, hook.Body, http.StatusNotFound, 0},
		{"good signature", "/hooks/padlock", nil, hook.Body, http.StatusOK, 1},
		{"the same webhook again", "/hooks/padlock", nil, hook.Body, http.StatusOK, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := lockEvents()
			req, err := http.NewRequest(http.MethodPost, keyward.URL+tc.path, bytes.NewReader(tc.body))
			require.NoError(t, err)
			req.Header = hook.Header.Clone()
			if tc.header != nil {
				tc.header(req.Header)
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			_ = resp.Body.Close()
			assert.Equal(t, tc.wantStatus, resp.StatusCode)
			assert.Equal(t, before+tc.wantStored, lockEvents(), "lock events stored")
		})
	}
	assert.Contains(t, w.log.String(), "webhook rejected: signature or credentials wrong; nothing changed")
}

func TestMalformedDriverDataRejected(t *testing.T) {
	failFast := engine.DispatchOptions{MaxAttempts: 1, CallTimeout: 5 * time.Second}
	tests := []struct {
		bad string
		run func(t *testing.T, w *world, h *host.Host)
	}{
		{"delivery-state", func(t *testing.T, w *world, h *host.Host) {
			op := dispatchOne(t, w, h, failFast)
			assert.Equal(t, domain.OpFailed, op.State)
			assert.Contains(t, op.LastError, `driver bad: SetKeyAccess: invalid: driver answer rejected (contract violation): delivery state "" is not a contract state`)
			assert.Equal(t, domain.DeliveryFailed, op.Delivery.State, "keyward records its own failure, nothing from the answer")
		}},
		{"removal", func(t *testing.T, w *world, h *host.Host) {
			op := dispatchOne(t, w, h, failFast)
			assert.Equal(t, domain.OpFailed, op.State)
			assert.Contains(t, op.LastError, "driver bad: SetKeyAccess: invalid: driver answer rejected (contract violation): removal with neither an effective-by time nor unbounded")
		}},
		{"key-holder", func(t *testing.T, w *world, h *host.Host) {
			_, err := h.SyncInventory(w.ctx, "bad")
			require.Error(t, err)
			assert.Contains(t, err.Error(), `driver bad: ListKeys: invalid: driver answer rejected (contract violation): key cr-1 is held by person "u-nobody", whom ListPersons does not list`)
			assert.Empty(t, all[domain.Key](w, store.Eqf("lockSystemId", "bad")), "nothing of the inventory is stored")
			assert.Empty(t, all[domain.Lock](w, store.Eqf("lockSystemId", "bad")), "nothing of the inventory is stored")
		}},
		{"key-type", func(t *testing.T, w *world, h *host.Host) {
			_, err := h.SyncInventory(w.ctx, "bad")
			require.Error(t, err)
			assert.Contains(t, err.Error(), `driver bad: ListKeys: invalid: driver answer rejected (contract violation): key cr-1: type "" is not a contract key type`)
			assert.Empty(t, all[domain.Key](w, store.Eqf("lockSystemId", "bad")), "nothing of the inventory is stored")
		}},
		{"change-lock", func(t *testing.T, w *world, h *host.Host) {
			for _, lock := range []string{"pl-1", "pl-3"} {
				_, err := w.sims["bad"].UseKey(w.ctx, "cr-2", lock)
				require.NoError(t, err)
			}
			n, err := h.Observe(w.ctx, "bad")
			require.Error(t, err)
			assert.Contains(t, err.Error(), `driver bad: Changes: invalid: driver answer rejected (contract violation): change "evt-2" after cursor "": lock event without a lock id`)
			assert.Equal(t, 1, n, "the good change before the malformed one is kept")
			evs := all[domain.LockEvent](w, nil)
			require.Len(t, evs, 1)
			assert.Equal(t, "evt-1", evs[0].VendorEventID)
			cur := all[domain.Setting](w, nil)
			var cursor string
			for _, s := range cur {
				if s.ID == "driver-cursor/bad" {
					cursor = s.Value
				}
			}
			assert.Equal(t, "1", cursor, "the cursor stops before the malformed change")
		}},
	}
	for _, tc := range tests {
		t.Run(tc.bad, func(t *testing.T) {
			w := newWorld(t)
			w.startSim("bad", nil)
			h := w.startHost(host.Options{DriverEnv: []string{roleEnv + "=" + roleDriverBad, badEnv + "=" + tc.bad}, ObserveInterval: -1},
				w.decl("bad", selfBin, selfSum))
			require.Equal(t, host.StateRunning, w.status("bad").State, w.status("bad").Reason)
			tc.run(t, w, h)
			assert.Contains(t, w.log.String(), "driver answer rejected: it violates the lock driver contract")
			assert.Positive(t, metric(t, w, "keyward_driver_rejected_total", "lock_system", "bad"))
		})
	}
}

// dispatchOne grants the first identity an entitlement and runs the one
// operation that gives through the dispatcher.
func dispatchOne(t *testing.T, w *world, h *host.Host, opts engine.DispatchOptions) *domain.Operation {
	t.Helper()
	_, err := h.SyncInventory(w.ctx, "bad")
	require.NoError(t, err)
	_, err = w.eng.Execute(w.ctx, engine.Actor{Name: "iga"}, engine.Grant{IdentityID: w.ident[0], EntitlementID: "north"})
	require.NoError(t, err)
	n, err := w.eng.DispatchDue(w.ctx, "bad", h, opts)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	ops := all[domain.Operation](w, store.Eqf("lockSystemId", "bad"))
	require.Len(t, ops, 1)
	return ops[0]
}

func TestHungDriverTimesOutAndRestarts(t *testing.T) {
	w := newWorld(t)
	w.startSim("padlock", nil)
	decl := w.decl("padlock", selfBin, selfSum)
	decl.Timeout = "300ms"
	w.startHost(host.Options{DriverEnv: []string{roleEnv + "=" + roleDriverHang}, HealthInterval: time.Hour}, decl)
	pid0 := w.status("padlock").Pid

	began := time.Now()
	_, err := w.setAccess("padlock", "cr-2", "hang-1", "grp-north")
	took := time.Since(began)
	require.Error(t, err)
	assert.Equal(t, driverport.Transient, driverport.KindOf(err), "a hung call counts as transient: %v", err)
	assert.Less(t, took, 2*time.Second)
	// A restart hashes the (race-built, large) test binary and starts AutoMTLS; on
	// two loaded cores running the whole suite that can take well over 10 s.
	w.waitFor("the hung driver to be replaced", 30*time.Second, func() bool {
		st := w.status("padlock")
		return st.State == host.StateRunning && st.Pid != pid0
	})
	assert.False(t, alive(pid0), "the hung driver process is gone")
	assert.Contains(t, w.log.String(), "driver hangs: restarting it")
	assert.Equal(t, 1.0, metric(t, w, "keyward_driver_restarts_total", "lock_system", "padlock"))
}

func TestCallsToOneLockSystemAreSerialised(t *testing.T) {
	w := newWorld(t)
	var inFlight, most atomic.Int64
	w.startSim("padlock", func(api http.Handler) http.Handler {
		return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodGet {
				n := inFlight.Add(1)
				defer inFlight.Add(-1)
				for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
				}
				time.Sleep(time.Millisecond)
			}
			api.ServeHTTP(rw, r)
		})
	})
	w.startHost(host.Options{}, w.decl("padlock", padlockBin, padlockSum))
	var wg sync.WaitGroup
	for i, key := range []string{"cr-1", "cr-2", "cr-3", "cr-4"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 5 {
				_, err := w.setAccess("padlock", key, fmt.Sprintf("ser-%s-%d", key, j), groups[(i+j)%3])
				assert.NoError(t, err)
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, int64(1), most.Load(), "at most one write reaches the vendor at a time")
	assert.Equal(t, 20.0, metric(t, w, "keyward_driver_call_duration_seconds", "lock_system", "padlock", "call", "SetKeyAccess", "outcome", "ok"))
}
