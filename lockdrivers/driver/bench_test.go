package driver_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/lockdrivers/driver"
)

// startSubprocess starts this test binary as an echo driver plugin process
// with AutoMTLS, the SHA-256 pin and no host environment.
func startSubprocess(tb testing.TB, env ...string) (*plugin.Client, *driver.Client) {
	exe, err := os.Executable()
	require.NoError(tb, err)
	sum, err := driver.FileSHA256(exe)
	require.NoError(tb, err)
	cfg, err := driver.NewClientConfig(driver.LaunchConfig{
		Binary: exe, SHA256: sum, Env: append([]string{"KEYWARD_DRIVERTEST_SERVE=1"}, env...),
		Logger: hclog.NewNullLogger(),
	})
	require.NoError(tb, err)
	pc := plugin.NewClient(cfg)
	c, err := driver.Dispense(pc)
	if err != nil {
		pc.Kill()
	}
	require.NoError(tb, err)
	return pc, c
}

// latencies runs call n times (at least min) and reports p50 and p99.
func latencies(b *testing.B, least int, call func() error) {
	n := max(b.N, least)
	samples := make([]time.Duration, n)
	b.ResetTimer()
	start := time.Now()
	for i := range n {
		t := time.Now()
		if err := call(); err != nil {
			b.Fatal(err)
		}
		samples[i] = time.Since(t)
	}
	total := time.Since(start)
	b.StopTimer()
	slices.Sort(samples)
	b.ReportMetric(float64(samples[n/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(samples[n*99/100].Microseconds()), "p99-µs")
	b.ReportMetric(float64(n)/total.Seconds(), "calls/s")
}

// BenchmarkUnary measures one unary call (Health of the echo driver, which
// does no work) in process over a real gRPC connection and through a plugin
// subprocess with AutoMTLS. Goal: subprocess p50 <= 250 µs.
func BenchmarkUnary(b *testing.B) {
	ctx := context.Background()
	b.Run("in-process", func(b *testing.B) {
		c := connect(b, sample())
		latencies(b, 5000, func() error { _, err := c.Health(ctx); return err })
	})
	b.Run("subprocess-automtls", func(b *testing.B) {
		pc, c := startSubprocess(b)
		defer pc.Kill()
		latencies(b, 5000, func() error { _, err := c.Health(ctx); return err })
	})
}

// BenchmarkChangesStream measures how fast a Changes stream of small lock
// events arrives in the host-side client. Goal: >= 200,000 events/s.
func BenchmarkChangesStream(b *testing.B) {
	const events = 200_000
	ctx := context.Background()
	run := func(b *testing.B, c *driver.Client) {
		b.ResetTimer()
		start := time.Now()
		got := 0
		for range max(b.N, 1) {
			err := c.Changes(ctx, driver.ChangesRequest{}, func(driver.Change) error { got++; return nil })
			if err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		if got < events {
			b.Fatalf("got %d events, want at least %d", got, events)
		}
		b.ReportMetric(float64(got)/time.Since(start).Seconds(), "events/s")
	}
	b.Run("in-process", func(b *testing.B) {
		d := sample()
		d.addChanges(events)
		run(b, connect(b, d))
	})
	b.Run("subprocess-automtls", func(b *testing.B) {
		pc, c := startSubprocess(b, fmt.Sprintf("ECHO_CHANGES=%d", events))
		defer pc.Kill()
		run(b, c)
	})
}

// BenchmarkDriverStart measures starting a driver process with AutoMTLS and
// the SHA-256 check of its binary, up to its first answered call (stopping
// it is not counted). Goal: p50 under 150 ms.
func BenchmarkDriverStart(b *testing.B) {
	ctx := context.Background()
	n := max(b.N, 10)
	samples := make([]time.Duration, n)
	b.ResetTimer()
	for i := range n {
		t := time.Now()
		pc, c := startSubprocess(b)
		_, err := c.Info(ctx)
		samples[i] = time.Since(t)
		b.StopTimer()
		pc.Kill()
		b.StartTimer()
		require.NoError(b, err)
	}
	b.StopTimer()
	slices.Sort(samples)
	b.ReportMetric(float64(samples[n/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(samples[n-1].Microseconds())/1000, "max-ms")
}
