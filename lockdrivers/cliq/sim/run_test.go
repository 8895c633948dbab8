package sim_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/lockdrivers/cliq/cwm"
	"github.com/keyward/keyward/lockdrivers/cliq/sim"
	"github.com/keyward/keyward/lockdrivers/simctl"
)

const seedYAML = `
persons:
  - {identity: p1, firstName: Ada, surname: Lovelace, externalReference: E1}
cylinders:
  - {identity: c1, name: Main door}
groups:
  - {identity: g1, name: Main, cylinders: [c1]}
keys:
  - {identity: k1, type: DYNAMIC_KEY, holder: p1, groups: [g1], revalidationDays: 7}
generate: {persons: 2, keys: 3, cylinders: 4, auditRows: 5}
`

func TestRunAsAService(t *testing.T) {
	dir := t.TempDir()
	seed := filepath.Join(dir, "seed.yaml")
	require.NoError(t, os.WriteFile(seed, []byte(seedYAML), 0o600))
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan sim.RunInfo, 1)
	done := make(chan error, 1)
	go func() {
		done <- sim.Run(ctx, sim.RunConfig{Addr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0", SeedFile: seed,
			CertDir: filepath.Join(dir, "certs"), Options: sim.Options{Start: start}}, func(i sim.RunInfo) { ready <- i })
	}()
	var info sim.RunInfo
	select {
	case info = <-ready:
	case err := <-done:
		t.Fatalf("Run ended: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not get ready")
	}
	defer func() {
		cancel()
		assert.NoError(t, <-done)
	}()

	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, "certs", name))
		require.NoError(t, err)
		return b
	}
	pool := sim.CAPoolFromPEM(read("ca.pem"))
	require.NotNil(t, pool)
	c, err := cwm.New(cwm.Config{BaseURL: info.URL, PKCS12: read("client.p12"), Passphrase: string(read("client.pass")), RootCAs: pool})
	require.NoError(t, err)
	defer c.Close()
	persons, err := c.GetPersons(ctx)
	require.NoError(t, err)
	assert.Len(t, persons, 3, "one seeded, two generated")
	rows, err := c.GetAuditTrails(ctx, start.Add(-time.Hour), time.Time{}, 0, 100)
	require.NoError(t, err)
	assert.Len(t, rows, 5)

	admin := simctl.NewClient(info.AdminURL, nil)
	r, err := admin.UseKey(ctx, "k1", "c1")
	require.NoError(t, err)
	assert.True(t, r.Opened)
	require.NoError(t, admin.Advance(ctx, 8*24*time.Hour))
	r, err = admin.UseKey(ctx, "k1", "c1")
	require.NoError(t, err)
	assert.False(t, r.Opened)
	assert.Equal(t, "expired", r.Reason)
	require.NoError(t, admin.DeliverKey(ctx, "k1", simctl.ViaProgrammingDevice))
	d, err := c.GetKeyDetails(ctx, "k1")
	require.NoError(t, err)
	require.NotNil(t, d.LastRemoteUpdate)
	assert.True(t, d.LastRemoteUpdate.Equal(start.Add(8*24*time.Hour)))
	_, err = admin.UseKey(ctx, "nope", "c1")
	assert.ErrorIs(t, err, simctl.ErrNotFound)
	reqs, err := admin.Requests(ctx, 0)
	require.NoError(t, err)
	assert.NotEmpty(t, reqs)
}
