package cliq_test

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/lockdrivers/cliq"
	"github.com/keyward/keyward/lockdrivers/cliq/cliqtest"
	"github.com/keyward/keyward/lockdrivers/cliq/sim"
	"github.com/keyward/keyward/lockdrivers/driver"
)

// cpuTime is the CPU time (user + system) of this process: driver, client
// and simulator together. Unlike wall time it does not grow when other
// processes compete for the machine.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkInventoryAndAuditSync reads a full inventory (3,000 cylinders,
// 5,000 keys, 4,000 persons, 150 groups and 150 profiles) and 100,000 audit
// rows from the simulator through the driver, over TLS with a client
// certificate. Goal: under 15 s. The phases are reported as metrics, in
// wall seconds and in CPU seconds of the process (client, driver and
// simulator share it).
func BenchmarkInventoryAndAuditSync(b *testing.B) {
	env := cliqtest.NewEnv(b, sim.ProfileCLIQ)
	env.Sim.Generate(sim.EstateSize{Persons: 4000, Keys: 5000, Cylinders: 3000, AuditRows: 100000})
	ctx := context.Background()
	for b.Loop() {
		d := cliq.New(hclog.NewNullLogger())
		require.NoError(b, d.Configure(ctx, env.Config))
		phase := func(name string, want int, run func(count func(int)) error) {
			n := 0
			t0, c0 := time.Now(), cpuTime()
			require.NoError(b, run(func(k int) { n += k }))
			b.ReportMetric(time.Since(t0).Seconds(), name+"-s")
			b.ReportMetric((cpuTime() - c0).Seconds(), name+"-cpu-s")
			require.Equal(b, want, n, name)
		}
		phase("locks", 3000, func(count func(int)) error {
			return d.ListLocks(ctx, driver.ListRequest{}, func(p driver.Page[driver.Lock]) error { count(len(p.Items)); return nil })
		})
		phase("keys", 5000, func(count func(int)) error {
			return d.ListKeys(ctx, driver.ListRequest{}, func(p driver.Page[driver.Key]) error { count(len(p.Items)); return nil })
		})
		phase("persons", 4000, func(count func(int)) error {
			return d.ListPersons(ctx, driver.ListRequest{}, func(p driver.Page[driver.Person]) error { count(len(p.Items)); return nil })
		})
		phase("access-objects", 300, func(count func(int)) error {
			return d.ListAccessObjects(ctx, driver.ListRequest{}, func(p driver.Page[driver.AccessObject]) error {
				count(len(p.Items))
				return nil
			})
		})
		phase("audit", 100000, func(count func(int)) error {
			return d.Changes(ctx, driver.ChangesRequest{}, func(c driver.Change) error {
				if c.LockEvent != nil {
					count(1)
				}
				return nil
			})
		})
	}
}
