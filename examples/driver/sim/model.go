// Package sim simulates "Padlock Cloud", the imaginary online padlock system
// of the example driver: a small REST API (bearer token, JSON, offset
// paging) over padlocks, groups of padlocks, users and credentials (phone
// keys and fobs), with programming orders, a blocklist, an event feed and
// signed webhooks. It implements simctl.Control so the conformance suite can
// stand in for the physical world.
//
// The physical model: a credential carries the access of the last order it
// received (programmed). It opens a padlock in one of its programmed groups,
// within its validity window and schedule, while it is revalidated (synced
// within Options.Revalidation) and not blocklisted at that padlock. Online
// padlocks receive blocklist changes at once; the others when visited.
//
// What a driver must get right, and the simulator checks: an access change is
// PUT declaratively (the same content again is no change), but a programming
// order is not idempotent — each POST creates a new order, and the request
// log shows it as Changed, so a duplicate order is visible. The event feed
// re-sends "order.applied" events (same id, later sequence number), as real
// feeds deliver duplicates.
package sim

import (
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/keyward/keyward/lockdrivers/simctl"
)

// Options configure a simulator.
type Options struct {
	// Token is the API bearer token; default "padlock-token".
	Token string
	// WebhookSecret signs webhooks (HMAC-SHA256); "" emits none.
	WebhookSecret string
	// Start is the initial clock; default 2026-01-05T08:00:00Z (a Monday).
	Start time.Time
	// Revalidation is how long a credential works after its last sync;
	// default 24h.
	Revalidation time.Duration
}

// Access is the access of a credential.
type Access struct {
	Groups     []string   `json:"groups"`
	ValidFrom  *time.Time `json:"valid_from,omitempty"`
	ValidUntil *time.Time `json:"valid_until,omitempty"`
	Schedule   []Slot     `json:"schedule,omitempty"`
}

// Slot is a weekly time slot, "HH:MM" local (UTC) times.
type Slot struct {
	Day  int    `json:"day"` // 0 = Sunday
	From string `json:"from"`
	To   string `json:"to"`
}

func (a Access) equal(b Access) bool {
	return slices.Equal(a.Groups, b.Groups) && timeEq(a.ValidFrom, b.ValidFrom) &&
		timeEq(a.ValidUntil, b.ValidUntil) && slices.Equal(a.Schedule, b.Schedule)
}

func timeEq(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Equal(*b)
}

// Padlock is a lock.
type Padlock struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Online bool   `json:"online"`
	Site   string `json:"site"`
}

// Group is a group of padlocks (the access object).
type Group struct {
	ID       string   `json:"id"`
	Name     string   `json:"name"`
	Padlocks []string `json:"padlocks"`
}

// User is a person.
type User struct {
	ID         string `json:"id"`
	ExternalID string `json:"external_id"`
	Name       string `json:"name"`
	Email      string `json:"email,omitempty"`
}

// Order is a programming order for one credential revision.
type Order struct {
	ID         string    `json:"id"`
	Credential string    `json:"credential"`
	Revision   int       `json:"revision"`
	State      string    `json:"state"` // queued, delivered, applied, superseded
	Created    time.Time `json:"created"`
}

// Credential is a key: a phone key or a fob.
type Credential struct {
	ID       string `json:"id"`
	Label    string `json:"label"`
	Type     string `json:"type"` // phone, fob
	Holder   string `json:"holder,omitempty"`
	State    string `json:"state"` // unassigned, active, returned, lost
	Blocked  bool   `json:"blocked"`
	Access   Access `json:"access"`
	Revision int    `json:"revision"`
	// Programmed is what the credential carries.
	Programmed         Access    `json:"programmed"`
	ProgrammedRevision int       `json:"programmed_revision"`
	LastSync           time.Time `json:"last_sync"`
	RevalidateBy       time.Time `json:"revalidate_by"`
	Order              *Order    `json:"order,omitempty"`

	blockChange string
}

// BlockEntry is the blocklist state of one credential at one padlock.
type BlockEntry struct {
	Padlock string    `json:"padlock"`
	Blocked bool      `json:"blocked"`
	State   string    `json:"state"` // pending, applied
	At      time.Time `json:"at"`
}

// Event is one entry of the event feed.
type Event struct {
	Seq        int64     `json:"seq"`
	ID         string    `json:"id"`
	Type       string    `json:"type"`
	At         time.Time `json:"at"`
	Credential string    `json:"credential,omitempty"`
	Padlock    string    `json:"padlock,omitempty"`
	Order      string    `json:"order,omitempty"`
	Revision   int       `json:"revision,omitempty"`
	State      string    `json:"state,omitempty"`
	Opened     bool      `json:"opened,omitempty"`
	Reason     string    `json:"reason,omitempty"`
	Blocked    bool      `json:"blocked,omitempty"`
}

// Sim is the simulator's state. All methods are safe for concurrent use.
type Sim struct {
	mu      sync.Mutex
	opts    Options
	now     time.Time
	crashed bool

	padlocks []*Padlock
	groups   []*Group
	users    []*User
	creds    []*Credential
	orders   map[string]*Order
	blocks   map[string]map[string]*BlockEntry // credential → padlock → entry
	nOrders  int
	nBlocks  int
	nUsers   int
	events   []Event
	reqs     []simctl.Request
	hooks    []simctl.Webhook
}

// New returns a simulator seeded with six padlocks in three groups, four
// users and five credentials (four handed out, one unassigned).
func New(opts Options) *Sim {
	if opts.Token == "" {
		opts.Token = "padlock-token"
	}
	if opts.Start.IsZero() {
		opts.Start = time.Date(2026, 1, 5, 8, 0, 0, 0, time.UTC)
	}
	if opts.Revalidation == 0 {
		opts.Revalidation = 24 * time.Hour
	}
	s := &Sim{opts: opts, now: opts.Start.UTC(), orders: map[string]*Order{}, blocks: map[string]map[string]*BlockEntry{}}
	for i := 1; i <= 6; i++ {
		site := []string{"north", "south", "depot"}[(i-1)/2]
		s.padlocks = append(s.padlocks, &Padlock{
			ID: fmt.Sprintf("pl-%d", i), Name: fmt.Sprintf("Padlock %d (%s)", i, site), Online: i == 1, Site: site,
		})
	}
	s.groups = []*Group{
		{ID: "grp-north", Name: "North gates", Padlocks: []string{"pl-1", "pl-2"}},
		{ID: "grp-south", Name: "South gates", Padlocks: []string{"pl-3", "pl-4"}},
		{ID: "grp-depot", Name: "Depot cabinets", Padlocks: []string{"pl-5", "pl-6"}},
	}
	for i := 1; i <= 4; i++ {
		s.users = append(s.users, &User{
			ID: fmt.Sprintf("u-%d", i), ExternalID: fmt.Sprintf("E%d", 1000+i),
			Name: fmt.Sprintf("Person %d", i), Email: fmt.Sprintf("person%d@example.com", i),
		})
	}
	s.nUsers = 4
	for i := 1; i <= 5; i++ {
		c := &Credential{
			ID: fmt.Sprintf("cr-%d", i), Label: fmt.Sprintf("Credential %d", i),
			Type: []string{"phone", "fob"}[i%2], State: "active",
			Access: Access{Groups: []string{}}, Programmed: Access{Groups: []string{}},
			LastSync: s.now,
		}
		if i <= 4 {
			c.Holder = fmt.Sprintf("u-%d", i)
		} else {
			c.State = "unassigned"
		}
		s.creds = append(s.creds, c)
	}
	return s
}

// Fixture facts, for tests.
var (
	// KeyIDs are the credentials handed out in a fresh simulator.
	KeyIDs = []string{"cr-1", "cr-2", "cr-3", "cr-4"}
	// GroupIDs are the groups of a fresh simulator.
	GroupIDs = []string{"grp-north", "grp-south", "grp-depot"}
)

func (s *Sim) cred(id string) *Credential {
	for _, c := range s.creds {
		if c.ID == id {
			return c
		}
	}
	return nil
}

func (s *Sim) padlock(id string) *Padlock {
	for _, p := range s.padlocks {
		if p.ID == id {
			return p
		}
	}
	return nil
}

func (s *Sim) group(id string) *Group {
	for _, g := range s.groups {
		if g.ID == id {
			return g
		}
	}
	return nil
}

func (s *Sim) user(id string) *User {
	for _, u := range s.users {
		if u.ID == id {
			return u
		}
	}
	return nil
}

// view returns a copy of c for the API, with its current order.
func (s *Sim) view(c *Credential) Credential {
	v := *c
	v.RevalidateBy = c.LastSync.Add(s.opts.Revalidation)
	if c.Order != nil {
		o := *c.Order
		v.Order = &o
	}
	return v
}
