package padlock_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/examples/driver/padlock"
	"github.com/keyward/keyward/examples/driver/sim"
	"github.com/keyward/keyward/lockdrivers/driver"
	"github.com/keyward/keyward/lockdrivers/drivertest"
	"github.com/keyward/keyward/lockdrivers/simctl"
)

func TestMain(m *testing.M) { drivertest.Main(m, padlock.ServeConfig) }

// harness starts a fresh Padlock Cloud simulator per subtest.
var harness = drivertest.Harness{
	NewDriver:  padlock.New,
	StartSim:   startSim,
	Subprocess: drivertest.Reexec(),
}

func startSim(t *testing.T) drivertest.Sim {
	srv, err := sim.Start("127.0.0.1:0", sim.Options{Token: "t0ken", WebhookSecret: "hook-secret"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	settings, err := json.Marshal(map[string]any{"url": srv.URL, "page_size": 2, "timeout": "5s"})
	require.NoError(t, err)
	return drivertest.Sim{
		// Reach the simulator the way an out-of-process simulator is
		// reached: over its admin HTTP endpoint.
		Control: simctl.NewClient(srv.URL+"/admin", nil),
		Config: driver.Config{
			LockSystem: "padlock-test",
			Settings:   settings,
			Secrets:    map[string]string{"api_token": "t0ken", "webhook_secret": "hook-secret"},
		},
		Fixture: drivertest.Fixture{
			Locks: 6, Keys: 5, Persons: 4, AccessObjects: 3,
			KeyIDs:          sim.KeyIDs,
			AccessObjectIDs: sim.GroupIDs,
		},
	}
}

func TestConformance(t *testing.T) { drivertest.Run(t, harness) }

func TestConformanceHard(t *testing.T) { drivertest.RunHard(t, harness) }
