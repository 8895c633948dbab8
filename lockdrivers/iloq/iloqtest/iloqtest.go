// Package iloqtest starts an iLOQ simulator with a small estate for driver
// tests: the conformance suite, the scenario tests and the benchmark.
package iloqtest

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/lockdrivers/driver"
	"github.com/keyward/keyward/lockdrivers/drivertest"
	"github.com/keyward/keyward/lockdrivers/iloq"
	"github.com/keyward/keyward/lockdrivers/iloq/sim"
	"github.com/keyward/keyward/lockdrivers/simctl"
)

// Fixed ids of the conformance estate.
const (
	AccessA  = "a0000000-0000-4000-8000-00000000000a"
	AccessB  = "a0000000-0000-4000-8000-00000000000b"
	AccessC  = "a0000000-0000-4000-8000-00000000000c"
	Standard = "a0000000-0000-4000-8000-0000000000f1"
	LockA    = "10000000-0000-4000-8000-00000000000a"
	LockB    = "10000000-0000-4000-8000-00000000000b"
	LockC    = "10000000-0000-4000-8000-00000000000c"
	LockD    = "10000000-0000-4000-8000-00000000000d"
	Phone1   = "c0000000-0000-4000-8000-000000000001"
	Phone2   = "c0000000-0000-4000-8000-000000000002"
	S5Key    = "c0000000-0000-4000-8000-000000000003"
	Tag      = "c0000000-0000-4000-8000-000000000004"
	Unissued = "c0000000-0000-4000-8000-000000000005"
)

// OfflineExpiration of the phone keys.
const OfflineExpiration = 24 * time.Hour

// Estate is the conformance seed: three API access rights each with a lock
// of its own, a standard right, two phone keys (offline expiration one day),
// a 5 Series key, an external tag and an unissued phone key.
func Estate() sim.Seed {
	person := func(i int) sim.SeedPerson {
		return sim.SeedPerson{ID: fmt.Sprintf("e0000000-0000-4000-8000-00000000000%d", i),
			ExternalPersonID: fmt.Sprintf("E%04d", i), FirstName: "Person", LastName: fmt.Sprint(i)}
	}
	return sim.Seed{
		AccessRights: []sim.SeedAccessRight{{ID: AccessA, Name: "Site A"}, {ID: AccessB, Name: "Site B"},
			{ID: AccessC, Name: "Site C"}, {ID: Standard, Name: "Master (standard)", Type: "standard"}},
		Locks: []sim.SeedLock{{ID: LockA, Description: "A door", AccessRights: []string{AccessA, Standard}},
			{ID: LockB, Description: "B door", AccessRights: []string{AccessB, Standard}},
			{ID: LockC, Description: "C door", AccessRights: []string{AccessC}},
			{ID: LockD, Description: "D door", AccessRights: []string{Standard}}},
		Persons: []sim.SeedPerson{person(1), person(2), person(3), person(4)},
		Keys: []sim.SeedKey{
			{ID: Phone1, Type: "phone", Person: "E0001", PhoneNo: "+3584000001", Description: "phone 1",
				OfflineExpirationSeconds: int64(OfflineExpiration / time.Second), Programmed: true},
			{ID: Phone2, Type: "phone", Person: "E0002", PhoneNo: "+3584000002", Description: "phone 2",
				OfflineExpirationSeconds: int64(OfflineExpiration / time.Second), Programmed: true},
			{ID: S5Key, Type: "s5", Person: "E0003", Description: "S5 key", Stamp: "0003", Programmed: true},
			{ID: Tag, Type: "tag", Person: "E0004", Description: "tag", TagKey: "04AABBCCDD", Programmed: true},
			{ID: Unissued, Type: "phone", Person: "E0001", Description: "spare phone"},
		},
	}
}

// Sim is a running simulator with the driver configuration reaching it.
type Sim struct {
	Server *sim.Server
	URL    string
	Config driver.Config
}

// Start starts a simulator seeded with seed on 127.0.0.1, stopped at the
// end of the test.
func Start(t testing.TB, opts sim.Options, seed sim.Seed) Sim {
	t.Helper()
	s, err := sim.New(opts)
	require.NoError(t, err)
	require.NoError(t, s.Seed(seed))
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	code, user, pw := s.Credentials()
	settings, err := json.Marshal(iloq.Settings{ManagerURL: srv.URL, CustomerCode: code, UserName: user,
		RequestAttempts: 2})
	require.NoError(t, err)
	return Sim{Server: s, URL: srv.URL, Config: driver.Config{LockSystem: "iloq-test", Settings: settings,
		Secrets: map[string]string{iloq.SecretPassword: pw, iloq.SecretWebhookSignKey: sim.DefaultWebhookSignKey}}}
}

// Harness is the conformance harness: a fresh simulator per subtest.
func Harness(sub drivertest.Launcher) drivertest.Harness {
	return drivertest.Harness{
		NewDriver:  iloq.New,
		Subprocess: sub,
		StartSim: func(t *testing.T) drivertest.Sim {
			s := Start(t, sim.Options{}, Estate())
			return drivertest.Sim{Control: s.Server, Config: s.Config, Fixture: drivertest.Fixture{
				Locks: 4, Keys: 5, Persons: 4, AccessObjects: 4,
				KeyIDs:          []string{Phone1, Phone2, S5Key, Tag},
				AccessObjectIDs: []string{AccessA, AccessB, AccessC},
				Via:             simctl.ViaAuto,
			}}
		},
	}
}
