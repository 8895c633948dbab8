package cliq_test

import (
	"testing"

	"github.com/keyward/keyward/lockdrivers/cliq"
	"github.com/keyward/keyward/lockdrivers/cliq/cliqtest"
	"github.com/keyward/keyward/lockdrivers/cliq/sim"
	"github.com/keyward/keyward/lockdrivers/driver"
	"github.com/keyward/keyward/lockdrivers/drivertest"
)

func TestMain(m *testing.M) {
	cliqtest.Main(m, driver.ServeConfig{Name: "cliq", New: cliq.New})
}

func TestConformance(t *testing.T) {
	drivertest.Run(t, drivertest.Harness{
		NewDriver:  cliq.New,
		StartSim:   cliqtest.StartSim(sim.ProfileCLIQ),
		Subprocess: drivertest.Reexec(),
	})
}

// TestConformanceHard runs the harder guarantees with the driver in process
// only: they exercise the driver's idempotency against the simulator, which
// does not depend on the transport, and TestConformance already covers the
// subprocess transport (keeping the package's tests quick under -race).
func TestConformanceHard(t *testing.T) {
	drivertest.RunHard(t, drivertest.Harness{
		NewDriver: cliq.New,
		StartSim:  cliqtest.StartSim(sim.ProfileCLIQ),
	})
}

// TestConformanceSimProcess runs the suite against the simulator running as
// a separate process, seeded from a seed file and driven over its simctl
// admin endpoint (the driver in process; the other tests cover the driver
// as a subprocess).
func TestConformanceSimProcess(t *testing.T) {
	drivertest.Run(t, drivertest.Harness{
		NewDriver: cliq.New,
		StartSim:  cliqtest.StartSimProcess(sim.ProfileCLIQ),
	})
}
