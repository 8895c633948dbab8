package sim

import (
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/keyward/keyward/lockdrivers/cliq/cwm"
	"github.com/keyward/keyward/lockdrivers/simctl"
)

// Profile holds the defaults that differ between CWM installations.
type Profile struct {
	// Name is "cliq" or "protec2".
	Name string
	// Domain is the CWM domain new cylinders are put in.
	Domain string
	// CylinderModel is the model shown on cylinders.
	CylinderModel string
	// KeyName is the name shown on keys.
	KeyName string
}

// The two profiles.
var (
	ProfileCLIQ = Profile{Name: "cliq", Domain: "ASSA", CylinderModel: "CLIQ Cylinder", KeyName: "CLIQ KEY"}
	// ProfilePROTEC2 is an ABLOY-hosted CWM with PROTEC2 CLIQ hardware.
	ProfilePROTEC2 = Profile{Name: "protec2", Domain: "ABLOY", CylinderModel: "PROTEC2 CLIQ", KeyName: "PROTEC2 CLIQ KEY"}
)

// Options configures a simulator.
type Options struct {
	// Profile selects the installation's defaults; zero means ProfileCLIQ.
	Profile Profile
	// Start is the simulator clock's initial time; zero means now (UTC,
	// whole milliseconds).
	Start time.Time
	// MaxAuditPage caps maxResults of getAuditTrails; zero means 1000.
	MaxAuditPage int
}

// Sim is a CWM simulator. Its methods are safe for concurrent use.
type Sim struct {
	mu      sync.Mutex
	profile Profile
	now     time.Time
	maxPage int
	crashed bool

	persons    map[string]*person
	personIDs  []string
	keys       map[string]*key
	keyIDs     []string
	cylinders  map[string]*cylinder
	cylIDs     []string
	groups     map[string]*group
	groupIDs   []string
	profiles   map[string]*profile
	profileIDs []string
	jobs       map[string]*job
	jobIDs     []string
	pending    map[string]*job  // see pendingKey
	audit      []cwm.AuditTrail // ordered by import date (clock is monotone)

	requests []simctl.Request
	reqSeq   int64
	idSeq    int64

	ca      *CA
	handler http.Handler
}

var _ simctl.Control = (*Sim)(nil)

// New returns an empty simulator with its own test CA.
func New(opts Options) (*Sim, error) {
	if opts.Profile.Name == "" {
		opts.Profile = ProfileCLIQ
	}
	if opts.Start.IsZero() {
		opts.Start = time.Now().UTC().Truncate(time.Millisecond)
	}
	if opts.MaxAuditPage == 0 {
		opts.MaxAuditPage = cwm.MaxAuditPage
	}
	ca, err := NewCA("CWM simulator test CA (" + opts.Profile.Name + ")")
	if err != nil {
		return nil, fmt.Errorf("sim: create test CA: %w", err)
	}
	s := &Sim{
		profile:   opts.Profile,
		now:       opts.Start,
		maxPage:   opts.MaxAuditPage,
		persons:   map[string]*person{},
		keys:      map[string]*key{},
		cylinders: map[string]*cylinder{},
		groups:    map[string]*group{},
		profiles:  map[string]*profile{},
		jobs:      map[string]*job{},
		pending:   map[string]*job{},
		ca:        ca,
	}
	s.handler = s.newHandler()
	return s, nil
}

// CA returns the simulator's test CA (trust it for the server certificate;
// it also issues client certificates).
func (s *Sim) CA() *CA { return s.ca }

// Profile returns the simulator's profile.
func (s *Sim) Profile() Profile { return s.profile }

// newID returns a fresh identity; the simulator uses UUIDs as CWM does.
func (s *Sim) newID() string { return uuid.NewString() }

// Seeding API. Seeded objects get an identity when theirs is empty.

// PersonSeed is a person to seed.
type PersonSeed struct {
	Identity          string `json:"identity,omitempty" yaml:"identity,omitempty"`
	FirstName         string `json:"firstName" yaml:"firstName"`
	Surname           string `json:"surname" yaml:"surname"`
	ExternalReference string `json:"externalReference,omitempty" yaml:"externalReference,omitempty"`
	Deleted           bool   `json:"deleted,omitempty" yaml:"deleted,omitempty"`
}

// KeySeed is a key to seed. Type defaults to NORMAL_KEY. A key with a
// Holder is handed out; its programming starts equal to its configuration
// (no pending update) and its last validation is the simulator's start.
type KeySeed struct {
	Identity         string   `json:"identity,omitempty" yaml:"identity,omitempty"`
	Type             string   `json:"type,omitempty" yaml:"type,omitempty"`
	Marking          string   `json:"marking,omitempty" yaml:"marking,omitempty"`
	Name             string   `json:"name,omitempty" yaml:"name,omitempty"`
	Holder           string   `json:"holder,omitempty" yaml:"holder,omitempty"`
	RevalidationDays int      `json:"revalidationDays,omitempty" yaml:"revalidationDays,omitempty"`
	Cylinders        []string `json:"cylinders,omitempty" yaml:"cylinders,omitempty"`
	Groups           []string `json:"groups,omitempty" yaml:"groups,omitempty"`
	Profiles         []string `json:"profiles,omitempty" yaml:"profiles,omitempty"`
	Deleted          bool     `json:"deleted,omitempty" yaml:"deleted,omitempty"`
}

// CylinderSeed is a cylinder to seed.
type CylinderSeed struct {
	Identity string `json:"identity,omitempty" yaml:"identity,omitempty"`
	Name     string `json:"name" yaml:"name"`
	Marking  string `json:"marking,omitempty" yaml:"marking,omitempty"`
	Location string `json:"location,omitempty" yaml:"location,omitempty"`
	Deleted  bool   `json:"deleted,omitempty" yaml:"deleted,omitempty"`
}

// GroupSeed is a cylinder group to seed.
type GroupSeed struct {
	Identity  string   `json:"identity,omitempty" yaml:"identity,omitempty"`
	Name      string   `json:"name" yaml:"name"`
	Cylinders []string `json:"cylinders" yaml:"cylinders"`
}

// ProfileSeed is an access profile to seed.
type ProfileSeed struct {
	Identity  string   `json:"identity,omitempty" yaml:"identity,omitempty"`
	Name      string   `json:"name" yaml:"name"`
	Cylinders []string `json:"cylinders,omitempty" yaml:"cylinders,omitempty"`
	Groups    []string `json:"groups,omitempty" yaml:"groups,omitempty"`
}

// AddPerson seeds a person and returns its identity.
func (s *Sim) AddPerson(p PersonSeed) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p.Identity == "" {
		p.Identity = s.newID()
	}
	s.persons[p.Identity] = &person{cwm.Person{Identity: p.Identity, FirstName: p.FirstName, Surname: p.Surname,
		ExternalReference: p.ExternalReference, Deleted: p.Deleted}}
	s.personIDs = append(s.personIDs, p.Identity)
	return p.Identity
}

// AddCylinder seeds a cylinder and returns its identity.
func (s *Sim) AddCylinder(c CylinderSeed) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.Identity == "" {
		c.Identity = s.newID()
	}
	if c.Marking == "" {
		s.idSeq++
		c.Marking = fmt.Sprintf("C%05d", s.idSeq)
	}
	s.cylinders[c.Identity] = &cylinder{
		Cylinder: cwm.Cylinder{Identity: c.Identity, Name: c.Name, Marking: c.Marking, PlannedLocation: c.Location,
			Model: s.profile.CylinderModel, Domain: s.profile.Domain, Deleted: c.Deleted},
		accepts:   map[string]bool{},
		blacklist: map[string]bool{},
	}
	s.cylIDs = append(s.cylIDs, c.Identity)
	return c.Identity
}

// AddGroup seeds a cylinder group and returns its identity.
func (s *Sim) AddGroup(g GroupSeed) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if g.Identity == "" {
		g.Identity = s.newID()
	}
	s.groups[g.Identity] = &group{cwm.CylinderGroup{Identity: g.Identity, Name: g.Name, Cylinders: g.Cylinders}}
	s.groupIDs = append(s.groupIDs, g.Identity)
	for _, c := range g.Cylinders {
		if cy, ok := s.cylinders[c]; ok {
			cy.Groups = append(cy.Groups, g.Identity)
		}
	}
	return g.Identity
}

// AddProfile seeds an access profile and returns its identity.
func (s *Sim) AddProfile(p ProfileSeed) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p.Identity == "" {
		p.Identity = s.newID()
	}
	s.profiles[p.Identity] = &profile{cwm.AccessProfile{Identity: p.Identity, Name: p.Name, Cylinders: p.Cylinders,
		CylinderGroups: p.Groups}}
	s.profileIDs = append(s.profileIDs, p.Identity)
	return p.Identity
}

// AddKey seeds a key and returns its identity. Its access is programmed
// already: into the key for dynamic keys, into the cylinders for normal
// keys.
func (s *Sim) AddKey(k KeySeed) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k.Identity == "" {
		k.Identity = s.newID()
	}
	if k.Type == "" {
		k.Type = cwm.KeyTypeNormal
	}
	if k.Marking == "" {
		s.idSeq++
		k.Marking = fmt.Sprintf("%09d", 100000000+s.idSeq)
	}
	if k.Name == "" {
		k.Name = s.profile.KeyName
	}
	nk := &key{
		Key:      cwm.Key{Identity: k.Identity, Type: k.Type, Name: k.Name, Marking: k.Marking, Deleted: k.Deleted},
		person:   k.Holder,
		status:   cwm.StatusInStock,
		validity: cwm.Validity{Type: cwm.ValidityAlways},
		reval:    cwm.Revalidation{Enabled: k.RevalidationDays > 0, PeriodDays: k.RevalidationDays},
		access: cwm.KeyAccess{AccessProfiles: k.Profiles, Cylinders: k.Cylinders,
			CylinderGroups: k.Groups},
		lastValid: s.now,
	}
	if k.Holder != "" {
		nk.status = cwm.StatusHandedOut
	}
	nk.programmed = s.want(nk)
	if !nk.dynamic() {
		for c := range s.expandToCylinders(nk.access) {
			if cy, ok := s.cylinders[c]; ok {
				cy.accepts[nk.Identity] = true
			}
		}
	}
	s.keys[k.Identity] = nk
	s.keyIDs = append(s.keyIDs, k.Identity)
	return k.Identity
}

// AddAuditTrail appends an audit row as if CWM had imported it now (for
// seeding large audit histories); its identity and import date are filled
// in when empty.
func (s *Sim) AddAuditTrail(a cwm.AuditTrail) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a.Identity == "" {
		a.Identity = s.newID()
	}
	if a.ImportDate == nil {
		a.ImportDate = &cwm.DateTime{Time: s.now}
	}
	if a.EventDate == nil {
		a.EventDate = &cwm.DateTime{Time: s.now}
	}
	s.audit = append(s.audit, a)
}

// logRequest appends to the request log; callers hold s.mu.
func (s *Sim) logRequest(method, path, op, target string, changed bool, status int) {
	s.reqSeq++
	s.requests = append(s.requests, simctl.Request{Seq: s.reqSeq, At: s.now, Method: method, Path: path,
		Op: op, Target: target, Changed: changed, Status: status})
}
