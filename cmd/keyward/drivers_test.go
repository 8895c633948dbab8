package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/examples/driver/sim"
	"github.com/keyward/keyward/lockdrivers/driver"
)

// TestServeRefusesTamperedDriverAndKeepsServing runs keyward serve with two
// lock systems: the example driver, and a copy of it changed by one byte
// under the original's pin. keyward refuses the tampered one, says why, and
// serves on with the other.
func TestServeRefusesTamperedDriverAndKeepsServing(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "lockdriver-padlock")
	build := exec.Command("go", "build", "-o", bin, "github.com/keyward/keyward/examples/driver/cmd/lockdriver-padlock")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)
	sum, err := driver.FileSHA256(bin)
	require.NoError(t, err)
	b, err := os.ReadFile(bin)
	require.NoError(t, err)
	tampered := filepath.Join(dir, "lockdriver-tampered")
	require.NoError(t, os.WriteFile(tampered, append(b, '\n'), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "token"), []byte("t0ken\n"), 0o600))

	srv, err := sim.Start("127.0.0.1:0", sim.Options{Token: "t0ken", WebhookSecret: "hook-secret"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	t.Setenv("KEYWARD_TEST_PADLOCK_HOOK_SECRET", "hook-secret")

	addr := freeAddr(t)
	lockSystem := func(id, binary string) string {
		return fmt.Sprintf(`  - id: %s
    binary: %s
    sha256: %s
    config: {url: %q}
    secrets:
      api_token: {file: %s}
      webhook_secret: {env: KEYWARD_TEST_PADLOCK_HOOK_SECRET}
`, id, binary, sum, srv.URL, filepath.Join(dir, "token"))
	}
	cfg := writeConfig(t, fmt.Sprintf("store: {path: data/k.db}\nhttp: {addr: %q}\nlock_systems:\n%s%s", addr,
		lockSystem("padlock", bin), lockSystem("tampered", tampered)))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan string)
	go func() {
		out, _ := run(t, ctx, "-c", cfg, "serve")
		done <- out
	}()
	base := "http://" + addr
	require.Eventually(t, func() bool {
		r, err := http.Get(base + "/readyz")
		if err != nil {
			return false
		}
		r.Body.Close()
		return r.StatusCode == http.StatusOK
	}, 30*time.Second, 20*time.Millisecond, "keyward serves")

	r, err := http.Get(base + "/metrics")
	require.NoError(t, err)
	var metrics bytes.Buffer
	_, _ = metrics.ReadFrom(r.Body)
	r.Body.Close()
	assert.Contains(t, metrics.String(), `keyward_driver_state{lock_system="tampered",state="refused"} 1`)
	assert.Contains(t, metrics.String(), `keyward_driver_up{lock_system="padlock"} 1`)

	// The running driver handles its webhooks; a bad signature is refused.
	r, err = http.Post(base+"/hooks/padlock", "application/json", strings.NewReader(`{"events":[]}`))
	require.NoError(t, err)
	r.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, r.StatusCode)
	r, err = http.Post(base+"/hooks/tampered", "application/json", strings.NewReader(`{"events":[]}`))
	require.NoError(t, err)
	r.Body.Close()
	assert.Equal(t, http.StatusServiceUnavailable, r.StatusCode, "a refused driver takes no webhooks")

	cancel()
	select {
	case logs := <-done:
		assert.Contains(t, logs, "driver refused")
		assert.Contains(t, logs, "lock_system=tampered")
		assert.Contains(t, logs, "does not match its pinned sha256")
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop on cancel")
	}
}
