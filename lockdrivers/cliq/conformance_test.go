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
	drivertest.Main(m, driver.ServeConfig{Name: "cliq", New: cliq.New})
}

func TestConformance(t *testing.T) {
	drivertest.Run(t, drivertest.Harness{
		NewDriver:  cliq.New,
		StartSim:   cliqtest.StartSim(sim.ProfileCLIQ),
		Subprocess: drivertest.Reexec(),
	})
}

func TestConformanceHard(t *testing.T) {
	drivertest.RunHard(t, drivertest.Harness{
		NewDriver:  cliq.New,
		StartSim:   cliqtest.StartSim(sim.ProfileCLIQ),
		Subprocess: drivertest.Reexec(),
	})
}
