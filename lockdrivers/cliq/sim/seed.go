package sim

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/keyward/keyward/lockdrivers/cliq/cwm"
	"github.com/keyward/keyward/lockdrivers/simctl"
)

// Seed is the content of a seed file (YAML or JSON). Objects refer to each
// other by identity, so give identities to whatever is referred to.
// Generate adds a generated estate on top.
type Seed struct {
	Persons   []PersonSeed   `yaml:"persons"`
	Cylinders []CylinderSeed `yaml:"cylinders"`
	Groups    []GroupSeed    `yaml:"groups"`
	Profiles  []ProfileSeed  `yaml:"profiles"`
	Keys      []KeySeed      `yaml:"keys"`
	Generate  *EstateSize    `yaml:"generate,omitempty"`
}

// EstateSize sizes a generated estate.
type EstateSize struct {
	Persons   int `yaml:"persons"`
	Keys      int `yaml:"keys"`
	Cylinders int `yaml:"cylinders"`
	Groups    int `yaml:"groups"`
	AuditRows int `yaml:"auditRows"`
}

// LoadSeedFile reads a seed file.
func LoadSeedFile(path string) (Seed, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Seed{}, fmt.Errorf("sim: seed file: %w", err)
	}
	var s Seed
	if err := yaml.Unmarshal(b, &s); err != nil {
		return Seed{}, fmt.Errorf("sim: seed file %s: %w", path, err)
	}
	return s, nil
}

// Apply seeds the simulator.
func (s *Sim) Apply(seed Seed) {
	for _, p := range seed.Persons {
		s.AddPerson(p)
	}
	for _, c := range seed.Cylinders {
		s.AddCylinder(c)
	}
	for _, g := range seed.Groups {
		s.AddGroup(g)
	}
	for _, p := range seed.Profiles {
		s.AddProfile(p)
	}
	for _, k := range seed.Keys {
		s.AddKey(k)
	}
	if seed.Generate != nil {
		s.Generate(*seed.Generate)
	}
}

// Generate adds a generated estate: cylinders in groups of 20, one access
// profile per group, persons, keys (every fifth one dynamic) handed out to
// persons round-robin with one group each, and audit rows imported now.
func (s *Sim) Generate(n EstateSize) {
	cyl := make([]string, n.Cylinders)
	for i := range cyl {
		cyl[i] = s.AddCylinder(CylinderSeed{Name: fmt.Sprintf("Door %d", i+1), Location: fmt.Sprintf("Building %d", i/100+1)})
	}
	groups := n.Groups
	if groups == 0 && n.Cylinders > 0 {
		groups = (n.Cylinders + 19) / 20
	}
	var gs []string
	for g := 0; g < groups && n.Cylinders > 0; g++ {
		lo := g * n.Cylinders / groups
		hi := (g + 1) * n.Cylinders / groups
		id := s.AddGroup(GroupSeed{Name: fmt.Sprintf("Area %d", g+1), Cylinders: cyl[lo:hi]})
		s.AddProfile(ProfileSeed{Name: fmt.Sprintf("Area %d staff", g+1), Groups: []string{id}})
		gs = append(gs, id)
	}
	ps := make([]string, n.Persons)
	for i := range ps {
		ps[i] = s.AddPerson(PersonSeed{FirstName: "Person", Surname: fmt.Sprint(i + 1), ExternalReference: fmt.Sprintf("E%06d", i+1)})
	}
	keys := make([]string, n.Keys)
	for i := range keys {
		k := KeySeed{Type: cwm.KeyTypeNormal}
		if i%5 == 0 {
			k.Type = cwm.KeyTypeDynamic
		}
		if len(ps) > 0 {
			k.Holder = ps[i%len(ps)]
		}
		if len(gs) > 0 {
			k.Groups = []string{gs[i%len(gs)]}
		}
		keys[i] = s.AddKey(k)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := 0; i < n.AuditRows; i++ {
		row := cwm.AuditTrail{Identity: s.newID(), EventType: cwm.EventAccessGranted, Source: "KEY",
			EventDate:  &cwm.DateTime{Time: s.now.Add(-time.Duration(n.AuditRows-i) * time.Second)},
			ImportDate: &cwm.DateTime{Time: s.now}}
		if len(keys) > 0 {
			row.KeyIdentity = keys[i%len(keys)]
		}
		if len(cyl) > 0 {
			row.CylinderIdentity = cyl[i%len(cyl)]
		}
		s.audit = append(s.audit, row)
	}
}

// RunConfig configures Run.
type RunConfig struct {
	// Addr is the SOAP (TLS) listen address, e.g. "127.0.0.1:8443".
	Addr string
	// AdminAddr is the simctl admin HTTP listen address (plain HTTP,
	// loopback only, no authentication), e.g. "127.0.0.1:8444".
	AdminAddr string
	// SeedFile is an optional seed file.
	SeedFile string
	// CertDir receives ca.pem (trust it for the server), client.p12 and
	// client.p12.b64 (a valid integration certificate) and client.pass.
	CertDir string
	// Options are the simulator options.
	Options Options
}

// RunInfo says where a running simulator listens.
type RunInfo struct {
	URL      string // CWM base URL
	AdminURL string // simctl admin endpoint
}

// Run starts a simulator as a service (for locksim and integrators) and
// serves until ctx ends. ready, if not nil, is called once it listens.
func Run(ctx context.Context, cfg RunConfig, ready func(RunInfo)) error {
	if cfg.Addr == "" || cfg.AdminAddr == "" {
		return errors.New("sim: run: Addr and AdminAddr are required")
	}
	s, err := New(cfg.Options)
	if err != nil {
		return err
	}
	if cfg.SeedFile != "" {
		seed, err := LoadSeedFile(cfg.SeedFile)
		if err != nil {
			return err
		}
		s.Apply(seed)
	}
	if cfg.CertDir != "" {
		if err := s.writeCerts(cfg.CertDir); err != nil {
			return err
		}
	}
	srv, err := s.Start(cfg.Addr)
	if err != nil {
		return err
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", cfg.AdminAddr)
	if err != nil {
		return fmt.Errorf("sim: admin listen %s: %w", cfg.AdminAddr, err)
	}
	admin := &http.Server{Handler: simctl.NewHandler(s), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = admin.Serve(ln) }()
	defer admin.Close()
	if ready != nil {
		ready(RunInfo{URL: srv.URL, AdminURL: "http://" + ln.Addr().String()})
	}
	<-ctx.Done()
	return nil
}

func (s *Sim) writeCerts(dir string) error {
	const pass = "cwm-sim"
	pfx, err := s.ca.ValidClientPKCS12(pass)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	files := map[string][]byte{
		"ca.pem":         s.ca.PEM(),
		"client.p12":     pfx,
		"client.p12.b64": []byte(base64.StdEncoding.EncodeToString(pfx)),
		"client.pass":    []byte(pass),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			return fmt.Errorf("sim: write %s: %w", name, err)
		}
	}
	return nil
}
