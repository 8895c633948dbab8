// Package cliqtest starts CWM simulators seeded for keyward's driver
// conformance suite (drivertest) and for scenario tests of the cliq and
// protec2 drivers.
package cliqtest

import (
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/lockdrivers/cliq"
	"github.com/keyward/keyward/lockdrivers/cliq/cwm"
	"github.com/keyward/keyward/lockdrivers/cliq/sim"
	"github.com/keyward/keyward/lockdrivers/driver"
	"github.com/keyward/keyward/lockdrivers/drivertest"
	"github.com/keyward/keyward/lockdrivers/simctl"
)

// Start is the simulator clock's start in tests: Monday 2 March 2026, 09:00 UTC.
var Start = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// Env is a running simulator with a driver configuration for it.
type Env struct {
	Sim    *sim.Sim
	Server *sim.Server
	Config driver.Config
}

// NewEnv starts an empty simulator with the profile and returns a driver
// configuration (settings, client certificate) that reaches it.
func NewEnv(t testing.TB, profile sim.Profile) *Env {
	t.Helper()
	s, err := sim.New(sim.Options{Profile: profile, Start: Start})
	require.NoError(t, err)
	srv, err := s.Start("127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	cc, err := s.ClientConfig(srv)
	require.NoError(t, err)
	settings, err := json.Marshal(cliq.Settings{URL: srv.URL, CACertificatePEM: string(s.CA().PEM())})
	require.NoError(t, err)
	return &Env{Sim: s, Server: srv, Config: driver.Config{
		LockSystem: profile.Name,
		Settings:   settings,
		Secrets: map[string]string{
			cliq.SecretClientCertificate:           base64.StdEncoding.EncodeToString(cc.PKCS12),
			cliq.SecretClientCertificatePassphrase: cc.Passphrase,
		},
	}}
}

// Fixture is what SeedFixture put in a simulator.
type Fixture struct {
	drivertest.Fixture
	Persons   []string
	Cylinders []string // c1..c6
	// ConnectKeys are CLIQ Connect keys (revalidation 7 days) handed out;
	// NormalKey is a handed-out normal key opening group 1; StockKey a
	// dynamic key in stock.
	ConnectKeys []string
	NormalKey   string
	StockKey    string
	Groups      []string // g1 {c1,c2}, g2 {c3,c4}, g3 {c5}
	Profile     string   // p1 {c6, g3}
}

// NewFixture builds the conformance fixture with fresh identities: 6
// cylinders, 3 cylinder groups and 1 access profile (4 access objects), 4
// persons (and a deleted one), 5 keys (and a deleted one). Seed returns it as
// a simulator seed.
func NewFixture() Fixture {
	var f Fixture
	id := func() string { return uuid.NewString() }
	for range 4 {
		f.Persons = append(f.Persons, id())
	}
	for range 6 {
		f.Cylinders = append(f.Cylinders, id())
	}
	f.Groups = []string{id(), id(), id()}
	f.Profile = id()
	f.ConnectKeys = []string{id(), id(), id()}
	f.NormalKey, f.StockKey = id(), id()
	f.Fixture = drivertest.Fixture{
		Locks: 6, Keys: 5, Persons: 4, AccessObjects: 4,
		KeyIDs:          f.ConnectKeys,
		AccessObjectIDs: []string{"group:" + f.Groups[0], "group:" + f.Groups[1], "profile:" + f.Profile},
		Via:             simctl.ViaAuto,
	}
	return f
}

// Seed returns the fixture as a simulator seed.
func (f Fixture) Seed() sim.Seed {
	var s sim.Seed
	for i, p := range f.Persons {
		s.Persons = append(s.Persons, sim.PersonSeed{Identity: p, FirstName: "Person", Surname: string(rune('A' + i)),
			ExternalReference: "E" + string(rune('1'+i))})
	}
	s.Persons = append(s.Persons, sim.PersonSeed{FirstName: "Former", Surname: "Employee", Deleted: true})
	for i, c := range f.Cylinders {
		s.Cylinders = append(s.Cylinders, sim.CylinderSeed{Identity: c, Name: "Door " + string(rune('1'+i))})
	}
	c := f.Cylinders
	s.Groups = []sim.GroupSeed{
		{Identity: f.Groups[0], Name: "North", Cylinders: []string{c[0], c[1]}},
		{Identity: f.Groups[1], Name: "South", Cylinders: []string{c[2], c[3]}},
		{Identity: f.Groups[2], Name: "Vault", Cylinders: []string{c[4]}},
	}
	s.Profiles = []sim.ProfileSeed{{Identity: f.Profile, Name: "Control room", Cylinders: []string{c[5]},
		Groups: []string{f.Groups[2]}}}
	for i, k := range f.ConnectKeys {
		s.Keys = append(s.Keys, sim.KeySeed{Identity: k, Type: cwm.KeyTypeConnect, Holder: f.Persons[i], RevalidationDays: 7})
	}
	s.Keys = append(s.Keys,
		sim.KeySeed{Identity: f.NormalKey, Type: cwm.KeyTypeNormal, Holder: f.Persons[3], Groups: []string{f.Groups[0]}},
		sim.KeySeed{Identity: f.StockKey, Type: cwm.KeyTypeDynamic},
		sim.KeySeed{Deleted: true})
	return s
}

// SeedFixture seeds a new conformance fixture into s and returns it.
func SeedFixture(s *sim.Sim) Fixture {
	f := NewFixture()
	s.Apply(f.Seed())
	return f
}

// StartSim returns a drivertest StartSim for the profile.
func StartSim(profile sim.Profile) func(t *testing.T) drivertest.Sim {
	return func(t *testing.T) drivertest.Sim {
		e := NewEnv(t, profile)
		f := SeedFixture(e.Sim)
		return drivertest.Sim{Control: e.Sim, Config: e.Config, Fixture: f.Fixture}
	}
}
