package protec2_test

import (
	"testing"

	"github.com/keyward/keyward/lockdrivers/cliq/cliqtest"
	"github.com/keyward/keyward/lockdrivers/cliq/sim"
	"github.com/keyward/keyward/lockdrivers/driver"
	"github.com/keyward/keyward/lockdrivers/drivertest"
	"github.com/keyward/keyward/lockdrivers/protec2"
)

func TestMain(m *testing.M) {
	drivertest.Main(m, driver.ServeConfig{Name: "protec2", New: protec2.New})
}

func TestConformance(t *testing.T) {
	drivertest.Run(t, drivertest.Harness{
		NewDriver:  protec2.New,
		StartSim:   cliqtest.StartSim(sim.ProfilePROTEC2),
		Subprocess: drivertest.Reexec(),
	})
}
