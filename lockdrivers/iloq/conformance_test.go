package iloq_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/lockdrivers/drivertest"
	"github.com/keyward/keyward/lockdrivers/iloq"
	"github.com/keyward/keyward/lockdrivers/iloq/iloqtest"
	"github.com/keyward/keyward/lockdrivers/iloq/sim"
	"github.com/keyward/keyward/lockdrivers/simctl"
)

// simProcessEnv makes the test binary run the simulator (sim.Run) instead
// of the tests, so the suite can also reach the simulator as a separate
// process through its admin HTTP endpoint.
const simProcessEnv = "KEYWARD_ILOQ_SIM_SEED"

func TestMain(m *testing.M) {
	if seed := os.Getenv(simProcessEnv); seed != "" {
		err := sim.Run(context.Background(), "127.0.0.1:0", seed, sim.Options{}, func(addr string) {
			fmt.Printf("ILOQ_SIM_ADDR=%s\n", addr)
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	drivertest.Main(m, iloq.ServeConfig)
}

func TestConformance(t *testing.T) {
	drivertest.Run(t, iloqtest.Harness(drivertest.Reexec()))
}

// TestConformanceHard runs the harder guarantees in-process; with
// KEYWARD_ILOQ_FULL=1 also with the driver as a subprocess (slow under -race).
func TestConformanceHard(t *testing.T) {
	if testing.Short() {
		t.Skip("hard guarantees skipped in -short mode")
	}
	var sub drivertest.Launcher
	if os.Getenv("KEYWARD_ILOQ_FULL") != "" {
		sub = drivertest.Reexec()
	}
	drivertest.RunHard(t, iloqtest.Harness(sub))
}

// TestConformanceSimProcess runs the suite against the simulator running as
// a separate process (sim.Run), driven through its admin endpoint.
func TestConformanceSimProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("simulator subprocess skipped in -short mode")
	}
	h := iloqtest.Harness(nil) // driver in-process; the simulator is the subprocess
	inner := h.StartSim
	h.StartSim = func(t *testing.T) drivertest.Sim {
		s := inner(t) // for the fixture and the configuration shape
		url := startSimProcess(t, iloqtest.Estate())
		var settings iloq.Settings
		require.NoError(t, json.Unmarshal(s.Config.Settings, &settings))
		settings.ManagerURL = url
		raw, err := json.Marshal(settings)
		require.NoError(t, err)
		s.Config.Settings = raw
		s.Control = simctl.NewClient(url+sim.AdminPrefix, nil)
		return s
	}
	drivertest.Run(t, h)
}

func startSimProcess(t testing.TB, seed sim.Seed) string {
	url, _ := startSimProcessPID(t, seed)
	return url
}

// startSimProcessPID starts the simulator process and returns its URL and
// process id.
func startSimProcessPID(t testing.TB, seed sim.Seed) (string, int) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "seed.json")
	raw, err := json.Marshal(seed)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, raw, 0o600))
	exe, err := os.Executable()
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), simProcessEnv+"="+path)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
	})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "ILOQ_SIM_ADDR="); ok {
				addr <- a
			}
		}
	}()
	select {
	case a := <-addr:
		return "http://" + a, cmd.Process.Pid
	case <-time.After(60 * time.Second):
		t.Fatal("the simulator process did not start")
		return "", 0
	}
}
