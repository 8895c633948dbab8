package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// run executes the CLI in-process and returns its output and exit status.
func run(t *testing.T, ctx context.Context, args ...string) (string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := newRoot(&out, &errOut)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	code := 0
	if err != nil {
		code = exitCode(err)
		errOut.WriteString(err.Error())
	}
	return out.String() + errOut.String(), code
}

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "keyward.yaml")
	require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
	return p
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

const estateFile = "../../examples/quickstart/estate.yaml"

func TestInvalidConfigListsEveryProblemAndExits2(t *testing.T) {
	cfg := writeConfig(t, `
store: {driver: oracle, path: ""}
log: {format: xml, level: loud}
scheduler: {interval: never}
colour: blue
lock_systems:
  - {id: "Bad Id", binary: "", sha256: abc, secrets: {password: {}}}
`)
	out, code := run(t, context.Background(), "-c", cfg, "migrate")
	assert.Equal(t, 2, code)
	for _, want := range []string{"store.driver", "store.path", "log.format", "log.level", "scheduler.interval", "colour: unknown setting",
		"lock_systems[0].id", "lock_systems[0].binary", "lock_systems[0].sha256", "secrets.password"} {
		assert.Contains(t, out, want)
	}
}

func TestApplyDryRunThenTwice(t *testing.T) {
	cfg := writeConfig(t, "store: {path: data/k.db}\n")
	ctx := context.Background()
	out, code := run(t, ctx, "-c", cfg, "apply", "-f", estateFile, "--dry-run")
	require.Equal(t, 0, code, out)
	assert.Contains(t, out, "+ entitlement north-substations")
	assert.Contains(t, out, "dry run, nothing applied")

	out, code = run(t, ctx, "-c", cfg, "apply", "-f", estateFile, "--by", "kim")
	require.Equal(t, 0, code, out)
	assert.Contains(t, out, "change(s) applied")
	out, code = run(t, ctx, "-c", cfg, "apply", "-f", estateFile)
	require.Equal(t, 0, code, out)
	assert.Contains(t, out, "no changes")

	out, code = run(t, ctx, "-c", cfg, "audit", "verify")
	require.Equal(t, 0, code, out)
	assert.Contains(t, out, "audit chain intact")

	bad := filepath.Join(t.TempDir(), "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("lockSystems:\n  - {id: x}\n"), 0o600))
	out, code = run(t, ctx, "-c", cfg, "apply", "-f", bad)
	assert.Equal(t, 2, code)
	assert.Contains(t, out, "vendor is required")
}

func TestWhyAndGrantCommandsOnBadInput(t *testing.T) {
	cfg := writeConfig(t, "store: {path: data/k.db}\n")
	ctx := context.Background()
	out, code := run(t, ctx, "-c", cfg, "why", "--identity", "nobody", "--entitlement", "x", "--at", "yesterday")
	assert.Equal(t, 2, code)
	assert.Contains(t, out, "RFC 3339")
	out, code = run(t, ctx, "-c", cfg, "why", "--identity", "nobody", "--entitlement", "x", "--json")
	assert.Equal(t, 1, code, "an unknown identity is an error, not \"no access\"")
	assert.Contains(t, out, "not in keyward's history")
	out, code = run(t, ctx, "-c", cfg, "grant", "approve", "g1")
	assert.Equal(t, 2, code)
	assert.Contains(t, out, "--by")
	out, code = run(t, ctx, "-c", cfg, "grant", "approve", "g1", "--by", "olga")
	assert.Equal(t, 1, code)
	assert.Contains(t, out, "does not exist")
	out, code = run(t, ctx, "-c", cfg, "key", "lost", "k1")
	assert.Equal(t, 1, code)
	assert.Contains(t, out, "does not exist")
}

func TestServeHealthMetricsAndTestClock(t *testing.T) {
	addr := freeAddr(t)
	cfg := writeConfig(t, fmt.Sprintf("store: {path: data/k.db}\nhttp: {addr: %q}\n", addr))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan string)
	go func() {
		out, _ := run(t, ctx, "-c", cfg, "serve", "--test-clock-control", "--test-clock-start", "2026-12-01T08:00:00Z")
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
	}, 10*time.Second, 20*time.Millisecond)

	r, err := http.Get(base + "/metrics")
	require.NoError(t, err)
	var body bytes.Buffer
	_, _ = body.ReadFrom(r.Body)
	r.Body.Close()
	assert.Contains(t, body.String(), "go_goroutines")

	r, err = http.Post(base+"/test/clock", "application/json", strings.NewReader(`{"advance": "2h"}`))
	require.NoError(t, err)
	var clock struct{ Now time.Time }
	require.NoError(t, json.NewDecoder(r.Body).Decode(&clock))
	r.Body.Close()
	assert.True(t, clock.Now.Equal(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)))

	r, err = http.Post(base+"/test/clock", "application/json", strings.NewReader(`{"advance": "soon"}`))
	require.NoError(t, err)
	r.Body.Close()
	assert.Equal(t, http.StatusBadRequest, r.StatusCode)

	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop on cancel")
	}
}

func TestProductionRefusesTestClock(t *testing.T) {
	cfg := writeConfig(t, "production: true\nstore: {path: data/k.db}\n")
	out, code := run(t, context.Background(), "-c", cfg, "serve", "--test-clock-control")
	assert.Equal(t, 2, code)
	assert.Contains(t, out, "refused by a production configuration")
}

func TestUsageErrorsExit2(t *testing.T) {
	for _, args := range [][]string{{"bogus"}, {"report", "nosuch"}, {"report", "review"}, {"why", "--bogus"}, {"key", "assign", "k1"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			_, code := run(t, context.Background(), args...)
			assert.Equal(t, 2, code)
		})
	}
}
