package iloq_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/lockdrivers/driver"
	"github.com/keyward/keyward/lockdrivers/iloq"
	"github.com/keyward/keyward/lockdrivers/iloq/sim"
	"github.com/keyward/keyward/lockdrivers/simctl"
)

// bigEstate is 10,000 keys, 2,000 locks and 50,000 lock-log rows: 400 API
// access rights each opening 5 locks, 5,000 persons with two keys each
// (phone and 5 Series key), every key carrying 3 access rights.
func bigEstate() sim.Seed {
	const (
		locks, rights, persons, logs = 2000, 400, 5000, 50000
	)
	var sd sim.Seed
	id := func(kind, i int) string { return fmt.Sprintf("%08x-0000-4000-8000-%012x", kind, i) }
	for r := range rights {
		sd.AccessRights = append(sd.AccessRights, sim.SeedAccessRight{ID: id(1, r), Name: fmt.Sprintf("Area %d", r)})
	}
	for l := range locks {
		sd.Locks = append(sd.Locks, sim.SeedLock{ID: id(2, l), Description: fmt.Sprintf("Door %d", l),
			AccessRights: []string{id(1, l%rights)}})
	}
	for p := range persons {
		sd.Persons = append(sd.Persons, sim.SeedPerson{ID: id(3, p), ExternalPersonID: fmt.Sprintf("E%06d", p),
			FirstName: "P", LastName: fmt.Sprint(p)})
		for j, typ := range []string{"phone", "s5"} {
			k := sim.SeedKey{ID: id(4, 2*p+j), Type: typ, Person: id(3, p), Programmed: true,
				AccessRights: []string{id(1, p%rights), id(1, (p+1)%rights), id(1, (p+2)%rights)},
				EndDate:      "2027-12-31T18:00:00"}
			if typ == "phone" {
				k.PhoneNo = fmt.Sprintf("+358%09d", p)
				k.OfflineExpirationSeconds = 86400
			}
			sd.Keys = append(sd.Keys, k)
		}
	}
	base := epoch.Add(-30 * 24 * time.Hour)
	for i := range logs {
		at := base.Add(time.Duration(i) * 30 * time.Second)
		sd.Logs = append(sd.Logs, sim.SeedLog{Key: id(4, i%(2*persons)), Lock: id(2, i%locks), At: at,
			Arrival: at.Add(time.Duration(i%7) * time.Minute)})
	}
	return sd
}

// cpuSelf is this process's CPU time (user + system).
func cpuSelf() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuOf is another process's CPU time from /proc/<pid>/stat (Linux).
func cpuOf(pid int) time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ
}

// BenchmarkInventorySync reads the whole inventory and the lock-log change
// stream of a large estate (10,000 keys, 2,000 locks, 50,000 lock-log rows)
// from the simulator running as a separate process. Reported per sync: wall
// time, requests, and the CPU time of the driver (this process: driver and
// its HTTP client) and of the simulator process, which split the work
// independently of other load on the machine.
func BenchmarkInventorySync(b *testing.B) {
	url, pid := startSimProcessPID(b, bigEstate())
	s, err := sim.New(sim.Options{})
	require.NoError(b, err)
	code, user, pw := s.Credentials()
	for _, conc := range []int{1, 8} {
		b.Run(fmt.Sprintf("readConcurrency=%d", conc), func(b *testing.B) {
			settings, _ := json.Marshal(iloq.Settings{ManagerURL: url, CustomerCode: code, UserName: user,
				ReadConcurrency: conc})
			d := iloq.NewDriver(nil)
			ctx := context.Background()
			require.NoError(b, d.Configure(ctx, driver.Config{LockSystem: "bench", Settings: settings,
				Secrets: map[string]string{iloq.SecretPassword: pw}}))
			ctl := simctl.NewClient(url+sim.AdminPrefix, nil)
			var counts [5]int
			var wall, drv, sm time.Duration
			var reqs int64
			for b.Loop() {
				seq0 := lastSimSeq(b, ctl)
				start, c0, s0 := time.Now(), cpuSelf(), cpuOf(pid)
				counts = syncAll(b, ctx, d)
				wall += time.Since(start)
				drv += cpuSelf() - c0
				sm += cpuOf(pid) - s0
				reqs += lastSimSeq(b, ctl) - seq0
			}
			require.Equal(b, [5]int{2000, 10000, 5000, 400, 50000}, counts)
			n := float64(b.N)
			b.ReportMetric(wall.Seconds()/n, "s/sync")
			b.ReportMetric(float64(reqs)/n, "requests/sync")
			b.ReportMetric(drv.Seconds()/n, "driver-cpu-s/sync")
			b.ReportMetric(sm.Seconds()/n, "sim-cpu-s/sync")
			b.ReportMetric(100*drv.Seconds()/(drv+sm).Seconds(), "driver-cpu-%")
		})
	}
}

func lastSimSeq(b *testing.B, ctl *simctl.Client) int64 {
	b.StopTimer()
	defer b.StartTimer()
	reqs, err := ctl.Requests(context.Background(), 0)
	require.NoError(b, err)
	if len(reqs) == 0 {
		return 0
	}
	return reqs[len(reqs)-1].Seq
}

// syncAll is a full inventory sync: locks, keys, persons, access objects,
// and every change (lock events) from the beginning.
func syncAll(b *testing.B, ctx context.Context, d *iloq.Driver) [5]int {
	var n [5]int
	require.NoError(b, d.ListLocks(ctx, driver.ListRequest{}, func(p driver.Page[driver.Lock]) error {
		n[0] += len(p.Items)
		return nil
	}))
	require.NoError(b, d.ListKeys(ctx, driver.ListRequest{}, func(p driver.Page[driver.Key]) error {
		n[1] += len(p.Items)
		return nil
	}))
	require.NoError(b, d.ListPersons(ctx, driver.ListRequest{}, func(p driver.Page[driver.Person]) error {
		n[2] += len(p.Items)
		return nil
	}))
	require.NoError(b, d.ListAccessObjects(ctx, driver.ListRequest{}, func(p driver.Page[driver.AccessObject]) error {
		n[3] += len(p.Items)
		return nil
	}))
	cursor := ""
	for {
		got := 0
		require.NoError(b, d.Changes(ctx, driver.ChangesRequest{Cursor: cursor}, func(c driver.Change) error {
			if c.LockEvent != nil {
				n[4]++
			}
			cursor = c.Cursor
			got++
			return nil
		}))
		if got == 0 {
			break
		}
	}
	return n
}
