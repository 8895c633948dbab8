package sim

import (
	"slices"
	"time"

	"github.com/keyward/keyward/lockdrivers/iloq/iloqapi"
)

// state is everything the simulated iLOQ server stores. Guarded by Server.mu.
type state struct {
	sessions   map[string]*session
	persons    map[string]*person
	extIndex   map[string]string // lower(ExternalPersonId) -> canon person id
	keys       map[string]*key
	keyOrder   []string // canon key ids in insertion order
	accesses   map[string]*iloqapi.SecurityAccess
	accOrder   []string
	locks      map[string]*lock
	lockOrder  []string
	zones      []iloqapi.Zone
	estates    []iloqapi.RealEstate
	titles     map[string]*title
	titleOrder []string
	phones     map[string]string // lower(phone no) -> canon key id

	blocklist  []*blItem
	blVersion  int // bumped on every blocklist change
	blOrdered  int // version of the last ordered blocklist packet
	blPacketID string

	logs      []*logRow // sorted by arrival
	logSeq    int
	everOrder int // keys ever ordered (licence count)

	subs     map[string]*subscription
	subOrder []string
	payloads []*payload
}

func newState() *state {
	return &state{
		sessions: map[string]*session{},
		persons:  map[string]*person{},
		extIndex: map[string]string{},
		keys:     map[string]*key{},
		accesses: map[string]*iloqapi.SecurityAccess{},
		locks:    map[string]*lock{},
		titles:   map[string]*title{},
		phones:   map[string]string{},
		subs:     map[string]*subscription{},
	}
}

type session struct {
	id        string
	lockGroup string
	lastUsed  time.Time
}

type person struct {
	iloqapi.Person
	zones []string
}

// keyConfig is what a key carries (or will carry): its access rights and
// its time-limit slots.
type keyConfig struct {
	Accesses   []string // canon security access ids
	Slots      []iloqapi.KeyTimeLimitSlot
	Scheduler  *iloqapi.KeyScheduler
	OfflineExp int64
}

func (c keyConfig) clone() keyConfig {
	out := keyConfig{Accesses: slices.Clone(c.Accesses), OfflineExp: c.OfflineExp}
	for _, sl := range c.Slots {
		sl.TimeLimitData = slices.Clone(sl.TimeLimitData)
		out.Slots = append(out.Slots, sl)
	}
	if c.Scheduler != nil {
		sc := *c.Scheduler
		out.Scheduler = &sc
	}
	return out
}

type key struct {
	iloqapi.Key
	zones    []string
	mainZone string
	phone    *iloqapi.KeyPhone

	planned    keyConfig  // mode=1
	programmed keyConfig  // mode=2
	packet     *keyConfig // ordered programming packet waiting on the server
	returning  bool       // the packet is a return task

	everOrdered bool
	lastSync    time.Time // last time the key talked to the server / a hot spot
	blVersion   int       // blocklist version the key carries
	location    bool      // LocationReporting
	num         int       // numeric key id (KeyId in logs)
}

type lock struct {
	iloqapi.Lock
	accesses  []string // canon security access ids the lock accepts
	allowAPI  bool     // "Allow API Access Rights"
	blVersion int      // blocklist version the lock knows
	counter   int
}

type title struct {
	iloqapi.TimeLimitTitle
	data []iloqapi.TimeLimitData
}

type blItem struct {
	keyID   string
	date    time.Time
	version int
	change  int
	removed bool
}

type logRow struct {
	iloqapi.LockLogData
	typeMask int
}

type subscription struct {
	iloqapi.Subscription
	event string
}

type payload struct {
	iloqapi.Payload
	event   string
	body    []byte // the event's Data; the body is built per attempt
	target  string
	signKey string
	custom  string
	next    time.Time // next attempt
	busy    bool
}

// slotsUsed counts memory slots: start and end date take one each; a time
// profile takes one per weekly entry plus one per own start or end date.
func slotsUsed(slots []iloqapi.KeyTimeLimitSlot) int {
	n := 0
	for _, sl := range slots {
		switch sl.SlotNo {
		case 0, 1:
			n++
		default:
			n += len(sl.TimeLimitData)
			if sl.TimeLimitTitleStartDateLg != nil {
				n++
			}
			if sl.TimeLimitTitleEndDateLg != nil {
				n++
			}
		}
	}
	return n
}

// slotCapacity is the number of time-limit memory slots of a key type.
// Assumption A5: 5 Series keys and tags have 23 slots when the locking system
// enables 23-slot mode, 10 otherwise; S50 phone keys and fobs have 10.
func (s *Server) slotCapacity(k *key) int {
	if k.KeyTypeMask&iloqapi.Key5Series != 0 && s.opts.OptionMask&iloqapi.Option23TimeSlots != 0 {
		return 23
	}
	return 10
}
