package main_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/examples/driver/sim"
	"github.com/keyward/keyward/lockdrivers/driver"
	"github.com/keyward/keyward/lockdrivers/drivertest"
)

// binary is the lockdriver-padlock binary built by TestMain.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "lockdriver-padlock")
	if err != nil {
		os.Stderr.WriteString("temp dir: " + err.Error() + "\n")
		os.Exit(1)
	}
	binary = filepath.Join(dir, "lockdriver-padlock")
	args := []string{"build", "-o", binary}
	if raceEnabled {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, ".")...)
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		_ = os.RemoveAll(dir)
		os.Stderr.WriteString("build lockdriver-padlock: " + err.Error() + "\n")
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// TestBinary starts the built main the way keyward does (AutoMTLS, SHA-256
// pin, no host environment) and drives one access change through it.
func TestBinary(t *testing.T) {
	srv, err := sim.Start("127.0.0.1:0", sim.Options{Token: "tok"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })

	conn := drivertest.Subprocess(t, drivertest.Binary(binary)(t))
	ctx := context.Background()
	info, err := conn.Driver.Info(ctx)
	require.NoError(t, err)
	assert.Equal(t, "padlock", info.Vendor)

	settings, err := json.Marshal(map[string]string{"url": srv.URL})
	require.NoError(t, err)
	require.NoError(t, conn.Driver.Configure(ctx, driver.Config{
		LockSystem: "depot", Settings: settings, Secrets: map[string]string{"api_token": "tok"},
	}))
	d, err := conn.Driver.SetKeyAccess(ctx, driver.SetKeyAccessRequest{
		IdempotencyKey: "op-1", KeyID: "cr-2", Access: driver.KeyAccess{AccessObjectIDs: []string{"grp-north"}},
	})
	require.NoError(t, err)
	assert.Equal(t, driver.DeliveryQueued, d.State, "a phone key gets the change remotely")
}

func TestTamperedBinaryRefused(t *testing.T) {
	lc := drivertest.Binary(binary)(t)
	lc.SHA256 = "0000000000000000000000000000000000000000000000000000000000000000"
	cfg, err := driver.NewClientConfig(lc)
	require.NoError(t, err)
	pc := plugin.NewClient(cfg)
	defer pc.Kill()
	_, err = driver.Dispense(pc)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "checksums did not match")
}

// BenchmarkDriverStart measures starting the real driver binary with
// AutoMTLS and the SHA-256 check up to its first answered call. Goal: p50
// under 150 ms.
func BenchmarkDriverStart(b *testing.B) {
	ctx := context.Background()
	sum, err := driver.FileSHA256(binary)
	require.NoError(b, err)
	n := max(b.N, 10)
	samples := make([]time.Duration, n)
	b.ResetTimer()
	for i := range n {
		start := time.Now()
		cfg, err := driver.NewClientConfig(driver.LaunchConfig{Binary: binary, SHA256: sum, Logger: hclog.NewNullLogger()})
		require.NoError(b, err)
		pc := plugin.NewClient(cfg)
		c, err := driver.Dispense(pc)
		if err == nil {
			_, err = c.Info(ctx)
		}
		samples[i] = time.Since(start)
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
