package host_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/core/domain"
	"github.com/keyward/keyward/core/engine"
	"github.com/keyward/keyward/core/estate"
	"github.com/keyward/keyward/core/store"
	"github.com/keyward/keyward/core/store/sqlite"
	"github.com/keyward/keyward/examples/driver/sim"
	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/lockdrivers/driver"
	"github.com/keyward/keyward/lockdrivers/host"
)

// roleEnv makes the test binary play another part when re-executed: a driver
// (well-behaved or not) or a whole host.
const roleEnv = "KEYWARD_HOST_TEST_ROLE"

var (
	// padlockBin is the example driver, built once for the package's tests,
	// and padlockSum its SHA-256.
	padlockBin, padlockSum string
	// selfBin is this test binary (re-executed as a driver), selfSum its SHA-256.
	selfBin, selfSum string
)

func TestMain(m *testing.M) {
	if role := os.Getenv(roleEnv); role != "" {
		os.Exit(playRole(role))
	}
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "keyward-host-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	padlockBin = filepath.Join(dir, "lockdriver-padlock")
	build := exec.Command("go", "build", "-o", padlockBin, "github.com/keyward/keyward/examples/driver/cmd/lockdriver-padlock")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building the example driver:", err)
		return 1
	}
	if padlockSum, err = driver.FileSHA256(padlockBin); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if selfBin, err = os.Executable(); err == nil {
		selfBin, err = filepath.EvalSymlinks(selfBin)
	}
	if err == nil {
		selfSum, err = driver.FileSHA256(selfBin)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

const (
	simToken   = "t0ken"
	hookSecret = "hook-secret"
)

// testEstate declares the padlock lock systems and one entitlement per
// Padlock Cloud group.
const testEstate = `
lockSystems:
  - {id: padlock, name: Padlock Cloud, vendor: padlock, canBlock: true}
  - {id: other, name: Second Padlock Cloud, vendor: padlock, canBlock: true}
  - {id: bad, name: A misbehaving driver, vendor: padlock, canBlock: true}
entitlements:
  - id: north
    name: North gates
    criticality: medium
    bindings: [{lockSystem: padlock, accessObjects: [grp-north]}, {lockSystem: other, accessObjects: [grp-north]}, {lockSystem: bad, accessObjects: [grp-north]}]
  - id: south
    name: South gates
    criticality: medium
    bindings: [{lockSystem: padlock, accessObjects: [grp-south]}, {lockSystem: other, accessObjects: [grp-south]}, {lockSystem: bad, accessObjects: [grp-south]}]
  - id: depot
    name: Depot cabinets
    criticality: medium
    bindings: [{lockSystem: padlock, accessObjects: [grp-depot]}, {lockSystem: other, accessObjects: [grp-depot]}, {lockSystem: bad, accessObjects: [grp-depot]}]
`

var entitlements = []string{"north", "south", "depot"}

// world is a keyward core on a real SQLite store with Padlock Cloud
// simulators and a driver host.
type world struct {
	t     testing.TB
	ctx   context.Context
	st    store.Store
	eng   *engine.Engine
	log   *syncBuffer
	reg   *prometheus.Registry
	h     *host.Host
	sims  map[string]*sim.Server
	ident []string // identity ids of E1001..E1004
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newWorld builds the core and identities holding the simulator's four
// credentials (by employee number E1001..E1004).
func newWorld(t testing.TB) *world {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	st, err := sqlite.Open(ctx, filepath.Join(dbDir(t), "keyward.db"), sqlite.WithRelaxedSync())
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	logBuf := &syncBuffer{}
	var out io.Writer = logBuf
	if os.Getenv("KEYWARD_HOST_TEST_LOG") != "" {
		out = io.MultiWriter(logBuf, os.Stderr)
	}
	log := slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: slog.LevelInfo}))
	w := &world{t: t, ctx: ctx, st: st, eng: engine.New(st, engine.Options{Logger: log}), log: logBuf, reg: prometheus.NewRegistry(), sims: map[string]*sim.Server{}}
	es, err := estate.Parse("test.yaml", []byte(testEstate))
	require.NoError(t, err)
	_, steps, err := estate.Diff(ctx, st, es)
	require.NoError(t, err)
	require.NoError(t, estate.Apply(ctx, w.eng, engine.Actor{Name: "key-manager"}, steps))
	for i := 1; i <= 4; i++ {
		res, err := w.eng.Execute(ctx, engine.Actor{Name: "iga"}, engine.UpsertIdentity{Identity: &domain.Identity{
			UserName: fmt.Sprintf("person%d", i), EmployeeNumber: fmt.Sprintf("E%d", 1000+i), Active: true,
		}})
		require.NoError(t, err)
		w.ident = append(w.ident, res.IDs[0])
	}
	return w
}

// startSim starts a Padlock Cloud simulator for a lock system; wrap, if set,
// stands between the driver and the simulator's API.
func (w *world) startSim(lockSystem string, wrap func(http.Handler) http.Handler) *sim.Server {
	w.t.Helper()
	srv, err := sim.Start("127.0.0.1:0", sim.Options{Token: simToken, WebhookSecret: hookSecret})
	require.NoError(w.t, err)
	w.t.Cleanup(func() { _ = srv.Close() })
	if wrap != nil {
		front := &http.Server{Handler: wrap(srv.Handler()), ReadHeaderTimeout: 5 * time.Second}
		ln := listen(w.t)
		go func() { _ = front.Serve(ln) }()
		w.t.Cleanup(func() { _ = front.Close() })
		srv.URL = "http://" + ln.Addr().String()
	}
	w.sims[lockSystem] = srv
	return srv
}

// decl declares a lock system whose driver reaches its simulator; the API
// token comes from a file and the webhook secret from an environment
// variable, both resolved by the host.
func (w *world) decl(lockSystem, binary, sum string) config.Driver {
	w.t.Helper()
	srv := w.sims[lockSystem]
	require.NotNil(w.t, srv, "start the simulator of %s first", lockSystem)
	tokenFile := filepath.Join(w.t.TempDir(), "token")
	require.NoError(w.t, os.WriteFile(tokenFile, []byte(simToken+"\n"), 0o600))
	w.t.Setenv("KEYWARD_TEST_HOOK_SECRET", hookSecret)
	return config.Driver{
		ID: lockSystem, Binary: binary, SHA256: sum,
		Config: map[string]any{"url": srv.URL, "page_size": 2, "timeout": "5s"},
		Secrets: map[string]config.Secret{
			"api_token":      {File: tokenFile},
			"webhook_secret": {Env: "KEYWARD_TEST_HOOK_SECRET"},
		},
		Timeout: "5s",
	}
}

// startHost starts a host for decls.
func (w *world) startHost(opts host.Options, decls ...config.Driver) *host.Host {
	w.t.Helper()
	opts.Engine = w.eng
	opts.Registerer = w.reg
	opts.Logger = slog.New(slog.NewTextHandler(logWriter(w.log), &slog.HandlerOptions{Level: slog.LevelInfo}))
	if opts.RestartMin == 0 {
		opts.RestartMin, opts.RestartMax = 20*time.Millisecond, 200*time.Millisecond
	}
	if opts.StartWait == 0 {
		opts.StartWait = 20 * time.Second
	}
	h, err := host.New(opts, decls)
	require.NoError(w.t, err)
	h.Start(w.ctx)
	w.t.Cleanup(h.Close)
	w.h = h
	return h
}

func logWriter(b *syncBuffer) io.Writer {
	if os.Getenv("KEYWARD_HOST_TEST_LOG") != "" {
		return io.MultiWriter(b, os.Stderr)
	}
	return b
}

// status returns a lock system's driver status.
func (w *world) status(lockSystem string) host.Status {
	w.t.Helper()
	for _, s := range w.h.Status() {
		if s.LockSystem == lockSystem {
			return s
		}
	}
	w.t.Fatalf("no status for %s", lockSystem)
	return host.Status{}
}

// waitFor polls cond until it holds or the deadline passes.
func (w *world) waitFor(what string, d time.Duration, cond func() bool) {
	w.t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			w.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// all lists every stored resource of a kind matching filter.
func all[T any, P store.Resource[T]](w *world, filter store.Expr) []P {
	w.t.Helper()
	var out []P
	require.NoError(w.t, w.st.View(w.ctx, func(tx store.Tx) error {
		var err error
		out, err = store.All[T, P](w.ctx, tx, filter)
		return err
	}))
	return out
}

// credential reads a credential from a simulator's API.
func (w *world) credential(lockSystem, id string) sim.Credential {
	w.t.Helper()
	req, err := http.NewRequestWithContext(w.ctx, http.MethodGet, w.sims[lockSystem].URL+"/v1/credentials/"+id, nil)
	require.NoError(w.t, err)
	req.Header.Set("Authorization", "Bearer "+simToken)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(w.t, err)
	defer resp.Body.Close()
	require.Equal(w.t, http.StatusOK, resp.StatusCode)
	var c sim.Credential
	require.NoError(w.t, json.NewDecoder(resp.Body).Decode(&c))
	return c
}

// dbDir is a folder for a test's SQLite file: on tmpfs where there is one, so
// that the tests measure keyward rather than the disk's flushes.
func dbDir(t testing.TB) string {
	t.Helper()
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		if dir, err := os.MkdirTemp("/dev/shm", "keyward-host-test-"); err == nil {
			t.Cleanup(func() { _ = os.RemoveAll(dir) })
			return dir
		}
	}
	return t.TempDir()
}

// keyState reads one key's state.
func (w *world) keyState(id string) *domain.KeyState {
	w.t.Helper()
	var ks *domain.KeyState
	require.NoError(w.t, w.st.View(w.ctx, func(tx store.Tx) error {
		var err error
		ks, err = store.Get[domain.KeyState](w.ctx, tx, id)
		return err
	}))
	return ks
}
