// Package drivertest is the conformance suite every keyward lock driver
// passes against its vendor simulator.
//
// A driver's test file is about five lines:
//
//	func TestMain(m *testing.M) { drivertest.Main(m, padlock.ServeConfig) }
//
//	func TestConformance(t *testing.T) {
//		drivertest.Run(t, drivertest.Harness{
//			NewDriver:  padlock.New,
//			StartSim:   startSim,
//			Subprocess: drivertest.Reexec(),
//		})
//	}
//
// Run runs every named subtest twice: in-process over a real gRPC connection
// (go-plugin's TestPluginGRPCConn) and with the driver as a real plugin
// subprocess (AutoMTLS, SHA-256 pin, no host environment). Each subtest gets
// a fresh simulator and a freshly configured driver (a new driver instance
// in-process; in subprocess mode one process serves the subtests until a
// subtest kills it, to keep the suite fast). RunHard holds the harder guarantees
// (large batches with repeated kills, following the change stream); a driver
// opts in and says in its doc why if it does not yet.
package drivertest

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/lockdrivers/driver"
	"github.com/keyward/keyward/lockdrivers/simctl"
)

// Harness describes a driver and its simulator to the suite.
type Harness struct {
	// NewDriver returns a new, unconfigured driver; it is the same function
	// the driver's main passes to driver.Serve.
	NewDriver func(log hclog.Logger) driver.Driver
	// StartSim starts a fresh simulator for one subtest and stops it in
	// t.Cleanup.
	StartSim func(t *testing.T) Sim
	// Subprocess says how to start the driver as a real plugin process; nil
	// skips the subprocess mode (with a message). Use Reexec (with Main in
	// TestMain) or Binary.
	Subprocess Launcher
}

// Sim is a running simulator as the suite sees it.
type Sim struct {
	// Control drives the simulated physical world.
	Control simctl.Control
	// Config is the driver configuration that reaches this simulator
	// (settings and secret values).
	Config driver.Config
	// Fixture says what the simulator was seeded with.
	Fixture Fixture
}

// Fixture tells the suite what a fresh simulator holds.
type Fixture struct {
	// Counts of the seeded inventory; each must be at least 3 so paging
	// with small pages is exercised.
	Locks, Keys, Persons, AccessObjects int
	// KeyIDs lists at least 3 keys handed out to persons, not blocked, whose
	// access the suite may change freely. The batch subtests use all of
	// them.
	KeyIDs []string
	// AccessObjectIDs lists at least 2 access objects, each opening at
	// least one lock the others do not open.
	AccessObjectIDs []string
	// Via is how the suite delivers a key's pending update.
	Via simctl.Via
}

// Launcher returns how to start the driver binary for one subtest.
type Launcher func(t testing.TB) driver.LaunchConfig

const helperEnv = "KEYWARD_DRIVERTEST_SERVE"

// Main is a TestMain for driver packages: when the suite started this test
// binary as a driver subprocess (Reexec), it serves the driver and never
// returns; otherwise it runs the tests.
func Main(m *testing.M, serve driver.ServeConfig) {
	if os.Getenv(helperEnv) == "1" {
		driver.Serve(serve)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// Reexec launches the running test binary itself as the driver (see Main):
// no separately built binary is needed, and the SHA-256 pin is computed from
// the test binary.
func Reexec() Launcher {
	return func(t testing.TB) driver.LaunchConfig {
		exe, err := os.Executable()
		require.NoError(t, err)
		exe, err = filepath.EvalSymlinks(exe)
		require.NoError(t, err)
		return Binary(exe)(t)
	}
}

// Binary launches a built driver binary at path.
func Binary(path string, env ...string) Launcher {
	return func(t testing.TB) driver.LaunchConfig {
		sum, err := driver.FileSHA256(path)
		require.NoError(t, err)
		return driver.LaunchConfig{
			Binary: path,
			SHA256: sum,
			Env:    append([]string{helperEnv + "=1"}, env...),
			Logger: testLogger("driver"),
		}
	}
}

// testLogger discards logs unless KEYWARD_DRIVERTEST_LOG is set.
func testLogger(name string) hclog.Logger {
	var out io.Writer = io.Discard
	if os.Getenv("KEYWARD_DRIVERTEST_LOG") != "" {
		out = os.Stderr
	}
	return hclog.New(&hclog.LoggerOptions{Name: name, Output: out, Level: hclog.Debug})
}

// Conn is a driver as the suite reaches it.
type Conn struct {
	// Driver is the host-side client.
	Driver driver.Driver
	// Kill kills the driver abruptly (SIGKILL for a subprocess, a closed
	// connection for an in-process driver); calls in flight fail.
	Kill func()
}

// mode is a way to reach a driver: in-process or subprocess.
type mode struct {
	name    string
	connect func(t testing.TB) Conn
}

// InProcess serves a new driver over a real gRPC connection in this process.
func InProcess(t testing.TB, newDriver func(hclog.Logger) driver.Driver) Conn {
	impl := newDriver(testLogger("driver"))
	client, _ := plugin.TestPluginGRPCConn(t, false, driver.PluginSet(impl))
	raw, err := client.Dispense(driver.PluginName)
	require.NoError(t, err)
	closed := false
	kill := func() {
		if !closed {
			closed = true
			_ = client.Close()
		}
	}
	// Only Close the client: Stop on the server races with it (go-plugin).
	// TODO: so the in-process gRPC server of each subtest is never stopped;
	// a run leaks a few idle goroutines per subtest, harmless in tests.
	t.Cleanup(kill)
	return Conn{Driver: raw.(*driver.Client), Kill: kill}
}

// Subprocess starts the driver as a real plugin process with AutoMTLS and
// the SHA-256 pin.
func Subprocess(t testing.TB, lc driver.LaunchConfig) Conn {
	cfg, err := driver.NewClientConfig(lc)
	require.NoError(t, err)
	pc := plugin.NewClient(cfg)
	c, err := driver.Dispense(pc)
	if err != nil {
		pc.Kill()
	}
	require.NoError(t, err)
	killed := false
	kill := func() {
		if killed {
			return
		}
		killed = true
		if cfg.Cmd.Process != nil {
			_ = cfg.Cmd.Process.Kill()
		}
		pc.Kill()
	}
	t.Cleanup(func() {
		if !killed {
			killed = true
			pc.Kill()
		}
	})
	return Conn{Driver: c, Kill: kill}
}

// modes returns the ways to reach the driver. mt is the test of the whole
// mode: a driver subprocess lives as long as it (one process serves the
// mode's subtests, each configuring it against its own fresh simulator) or
// until a subtest kills it, after which the next subtest starts a new one.
// In-process drivers are fresh per subtest.
func (h Harness) modes(t *testing.T) map[string]func(mt *testing.T) mode {
	require.NotNil(t, h.NewDriver, "Harness.NewDriver")
	require.NotNil(t, h.StartSim, "Harness.StartSim")
	ms := map[string]func(*testing.T) mode{"in-process": func(*testing.T) mode {
		return mode{name: "in-process", connect: func(t testing.TB) Conn { return InProcess(t, h.NewDriver) }}
	}}
	if h.Subprocess != nil {
		ms["subprocess"] = func(mt *testing.T) mode {
			var live *Conn
			return mode{name: "subprocess", connect: func(t testing.TB) Conn {
				if live != nil {
					return *live
				}
				c := Subprocess(mt, h.Subprocess(t))
				kill := c.Kill
				c.Kill = func() {
					live = nil
					kill()
				}
				live = &c
				return c
			}}
		}
	}
	return ms
}

// env is what one subtest works with.
type env struct {
	t    *testing.T
	ctx  context.Context
	sim  Sim
	mode mode
	conn Conn
	d    driver.Driver
	info driver.Info
}

// setup starts a simulator and a configured driver for one subtest.
func setup(t *testing.T, h Harness, m mode) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	sim := h.StartSim(t)
	e := &env{t: t, ctx: ctx, sim: sim, mode: m}
	e.reconnect()
	info, err := e.d.Info(ctx)
	require.NoError(t, err, "Info")
	e.info = info
	return e
}

// with returns a copy of e for a nested subtest.
func (e *env) with(t *testing.T) *env {
	c := *e
	c.t = t
	return &c
}

// reconnect starts a new driver and configures it.
func (e *env) reconnect() {
	e.t.Helper()
	e.conn = e.mode.connect(e.t)
	e.d = e.conn.Driver
	require.NoError(e.t, e.d.Configure(e.ctx, e.sim.Config), "Configure")
}

type subtest struct {
	name string
	run  func(e *env)
}

func runAll(t *testing.T, h Harness, tests []subtest) {
	modes := h.modes(t)
	for _, name := range []string{"in-process", "subprocess"} {
		newMode, ok := modes[name]
		if !ok {
			continue
		}
		t.Run(name, func(mt *testing.T) {
			m := newMode(mt)
			for _, st := range tests {
				mt.Run(st.name, func(t *testing.T) {
					st.run(setup(t, h, m))
				})
			}
		})
	}
	if h.Subprocess == nil {
		t.Log("drivertest: Harness.Subprocess is nil; subprocess mode skipped")
	}
}

// Run runs the conformance suite in both modes.
func Run(t *testing.T, h Harness) {
	runAll(t, h, []subtest{
		{"info", testInfo},
		{"configure-invalid", testConfigureInvalid},
		{"inventory-paging", testInventoryPaging},
		{"set-key-access-idempotent", testSetKeyAccessIdempotent},
		{"plan", testPlan},
		{"delivery-progression", testDeliveryProgression},
		{"revocation-effective-by", testRevocationEffectiveBy},
		{"block", testBlock},
		{"changes-resume", testChangesResume},
		{"webhook", testWebhook},
		{"error-kinds", testErrorKinds},
		{"restart-mid-batch", testRestartMidBatch},
		{"custody", testCustody},
	})
}

// RunHard runs the harder guarantees in both modes: a batch of many
// operations with the driver killed several times in the middle, a
// simulator crash in the middle of a batch, and following the change stream.
func RunHard(t *testing.T, h Harness) {
	runAll(t, h, []subtest{
		{"batch-repeated-kills", testBatchRepeatedKills},
		{"batch-sim-crash", testBatchSimCrash},
		{"changes-follow", testChangesFollow},
	})
}
