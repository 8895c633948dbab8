// Package cliqtest starts CWM simulators seeded for keyward's driver
// conformance suite (drivertest) and for scenario tests of the cliq and
// protec2 drivers.
package cliqtest

import (
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"

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

// SeedFixture seeds the conformance fixture: 6 cylinders, 3 cylinder groups
// and 1 access profile (4 access objects), 4 persons (and a deleted one), 5
// keys (and a deleted one).
func SeedFixture(s *sim.Sim) Fixture {
	var f Fixture
	for i := 0; i < 4; i++ {
		f.Persons = append(f.Persons, s.AddPerson(sim.PersonSeed{FirstName: "Person", Surname: string(rune('A' + i)),
			ExternalReference: "E" + string(rune('1'+i))}))
	}
	s.AddPerson(sim.PersonSeed{FirstName: "Former", Surname: "Employee", Deleted: true})
	for i := 0; i < 6; i++ {
		f.Cylinders = append(f.Cylinders, s.AddCylinder(sim.CylinderSeed{Name: "Door " + string(rune('1'+i))}))
	}
	c := f.Cylinders
	f.Groups = []string{
		s.AddGroup(sim.GroupSeed{Name: "North", Cylinders: []string{c[0], c[1]}}),
		s.AddGroup(sim.GroupSeed{Name: "South", Cylinders: []string{c[2], c[3]}}),
		s.AddGroup(sim.GroupSeed{Name: "Vault", Cylinders: []string{c[4]}}),
	}
	f.Profile = s.AddProfile(sim.ProfileSeed{Name: "Control room", Cylinders: []string{c[5]}, Groups: []string{f.Groups[2]}})
	for i := 0; i < 3; i++ {
		f.ConnectKeys = append(f.ConnectKeys, s.AddKey(sim.KeySeed{Type: cwm.KeyTypeConnect, Holder: f.Persons[i],
			RevalidationDays: 7}))
	}
	f.NormalKey = s.AddKey(sim.KeySeed{Type: cwm.KeyTypeNormal, Holder: f.Persons[3], Groups: []string{f.Groups[0]}})
	f.StockKey = s.AddKey(sim.KeySeed{Type: cwm.KeyTypeDynamic})
	s.AddKey(sim.KeySeed{Deleted: true})
	f.Fixture = drivertest.Fixture{
		Locks: 6, Keys: 5, Persons: 4, AccessObjects: 4,
		KeyIDs:          f.ConnectKeys,
		AccessObjectIDs: []string{"group:" + f.Groups[0], "group:" + f.Groups[1], "profile:" + f.Profile},
		Via:             simctl.ViaAuto,
	}
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
