package iloq_test

import (
	"testing"

	"github.com/keyward/keyward/lockdrivers/drivertest"
	"github.com/keyward/keyward/lockdrivers/iloq"
	"github.com/keyward/keyward/lockdrivers/iloq/iloqtest"
)

func TestMain(m *testing.M) { drivertest.Main(m, iloq.ServeConfig) }

func TestConformance(t *testing.T) {
	drivertest.Run(t, iloqtest.Harness(drivertest.Reexec()))
}

func TestConformanceHard(t *testing.T) {
	if testing.Short() {
		t.Skip("hard guarantees skipped in -short mode")
	}
	drivertest.RunHard(t, iloqtest.Harness(drivertest.Reexec()))
}
