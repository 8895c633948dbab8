package host_test

import (
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/go-plugin"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/core/domain"
	"github.com/keyward/keyward/core/driverport"
	"github.com/keyward/keyward/examples/driver/padlock"
	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/lockdrivers/driver"
	"github.com/keyward/keyward/lockdrivers/host"
)

func benchWorld(b *testing.B) *world {
	b.Helper()
	return newWorld(b)
}

// quantiles reports p50 and p99 of ds in microseconds.
func quantiles(b *testing.B, ds []time.Duration) {
	if len(ds) == 0 {
		return
	}
	slices.Sort(ds)
	b.ReportMetric(float64(ds[len(ds)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(ds[len(ds)*99/100].Microseconds()), "p99-µs")
}

// minCalls is the fewest calls a latency benchmark times, so that its
// quantiles mean something under make bench's -benchtime 1x.
const minCalls = 2000

// timeCalls times max(b.N, minCalls) calls of fn and reports ns/op and the
// quantiles over all of them.
func timeCalls(b *testing.B, fn func() error) {
	n := max(b.N, minCalls)
	ds := make([]time.Duration, 0, n)
	b.ResetTimer()
	began := time.Now()
	for range n {
		t0 := time.Now()
		if err := fn(); err != nil {
			b.Fatal(err)
		}
		ds = append(ds, time.Since(t0))
	}
	b.StopTimer()
	b.ReportMetric(float64(time.Since(began).Nanoseconds())/float64(n), "ns/op")
	quantiles(b, ds)
}

// BenchmarkUnary is one SetKeyAccess answered by a driver without a vendor
// behind it: through the host (plugin process, AutoMTLS, per-call timeout,
// serialisation, metrics, mapping to core's types), and in-process over a
// real gRPC connection with go-plugin's test server for comparison.
func BenchmarkUnary(b *testing.B) {
	b.Run("host-subprocess-automtls", func(b *testing.B) {
		w := benchWorld(b)
		w.startSim("padlock", nil)
		w.startHost(host.Options{DriverEnv: []string{roleEnv + "=" + roleDriverEcho}, ObserveInterval: -1}, w.decl("padlock", selfBin, selfSum))
		d, ok := w.h.Driver("padlock")
		require.True(b, ok)
		req := driverport.SetKeyAccess{LockSystemID: "padlock", KeyVendorID: "cr-2", IdempotencyKey: "bench", Access: domain.KeyAccess{AccessObjects: []string{"grp-north"}}}
		timeCalls(b, func() error {
			_, err := d.SetKeyAccess(w.ctx, req)
			return err
		})
	})
	b.Run("in-process", func(b *testing.B) {
		client, _ := plugin.TestPluginGRPCConn(b, false, driver.PluginSet(echoDriver{padlock.New(nil)}))
		b.Cleanup(func() { _ = client.Close() })
		raw, err := client.Dispense(driver.PluginName)
		require.NoError(b, err)
		d := raw.(*driver.Client)
		req := driver.SetKeyAccessRequest{IdempotencyKey: "bench", KeyID: "cr-2", Access: driver.KeyAccess{AccessObjectIDs: []string{"grp-north"}}}
		timeCalls(b, func() error {
			_, err := d.SetKeyAccess(b.Context(), req)
			return err
		})
	})
}

// BenchmarkSetKeyAccessPadlock is one idempotent SetKeyAccess through the
// host to the example driver and its simulator (one vendor read per call).
func BenchmarkSetKeyAccessPadlock(b *testing.B) {
	w := benchWorld(b)
	w.startSim("padlock", nil)
	w.startHost(host.Options{ObserveInterval: -1}, w.decl("padlock", padlockBin, padlockSum))
	d, ok := w.h.Driver("padlock")
	require.True(b, ok)
	req := driverport.SetKeyAccess{LockSystemID: "padlock", KeyVendorID: "cr-2", IdempotencyKey: "bench", Access: domain.KeyAccess{AccessObjects: []string{"grp-north"}}}
	timeCalls(b, func() error {
		_, err := d.SetKeyAccess(w.ctx, req)
		return err
	})
}

// BenchmarkDriverStart is the time from Start to a running, configured
// driver (process start, SHA-256 check, AutoMTLS handshake, Info, Configure).
func BenchmarkDriverStart(b *testing.B) {
	w := benchWorld(b)
	w.startSim("padlock", nil)
	decl := w.decl("padlock", padlockBin, padlockSum)
	ds := make([]time.Duration, 0, b.N)
	for range b.N {
		b.StopTimer()
		h, err := host.New(host.Options{Engine: w.eng, ObserveInterval: -1, InventoryInterval: time.Hour}, []config.Driver{decl})
		require.NoError(b, err)
		b.StartTimer()
		t0 := time.Now()
		h.Start(w.ctx)
		ds = append(ds, time.Since(t0))
		b.StopTimer()
		require.Equal(b, host.StateRunning, h.Status()[0].State)
		h.Close()
		b.StartTimer()
	}
	b.StopTimer()
	quantiles(b, ds)
}

// BenchmarkObserve takes lock events from a driver's change stream into the
// engine (SQLite) and persists the cursor, 10,000 per call.
func BenchmarkObserve(b *testing.B) {
	const batch = 10_000
	w := benchWorld(b)
	w.startSim("padlock", nil)
	w.startHost(host.Options{DriverEnv: []string{roleEnv + "=" + roleDriverEcho}, ObserveInterval: -1, ChangesLimit: batch},
		w.decl("padlock", selfBin, selfSum))
	b.ResetTimer()
	t0 := time.Now()
	for range b.N {
		n, err := w.h.Observe(w.ctx, "padlock")
		if err != nil || n != batch {
			b.Fatalf("observed %d: %v", n, err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*batch)/time.Since(t0).Seconds(), "events/s")
}

// BenchmarkChangesStream reads lock events from a driver process's change
// stream into this process over AutoMTLS (the SDK client the host uses),
// without recording them: the transport's share of BenchmarkObserve.
func BenchmarkChangesStream(b *testing.B) {
	cfg, err := driver.NewClientConfig(driver.LaunchConfig{Binary: selfBin, SHA256: selfSum, Env: []string{roleEnv + "=" + roleDriverEcho}})
	require.NoError(b, err)
	pc := plugin.NewClient(cfg)
	b.Cleanup(pc.Kill)
	d, err := driver.Dispense(pc)
	require.NoError(b, err)
	const batch = 100_000
	b.ResetTimer()
	t0 := time.Now()
	for range b.N {
		n := 0
		err := d.Changes(b.Context(), driver.ChangesRequest{Limit: batch}, func(driver.Change) error {
			n++
			return nil
		})
		if err != nil || n != batch {
			b.Fatalf("streamed %d: %v", n, err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*batch)/time.Since(t0).Seconds(), "events/s")
}
