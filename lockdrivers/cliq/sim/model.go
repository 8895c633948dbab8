package sim

import (
	"slices"
	"strings"
	"time"

	"github.com/keyward/keyward/lockdrivers/cliq/cwm"
)

// Physical limits of a CLIQ cylinder (ASSA UK CLIQ FAQ).
const (
	// BlacklistCapacity is the most keys one cylinder's blacklist holds.
	BlacklistCapacity = 3000
	// CylinderEventMemory is how many events a cylinder keeps; older ones
	// are overwritten, and lost if no programming key collected them.
	CylinderEventMemory = 1000
)

type person struct {
	cwm.Person
}

// program is what a key carries after its last update at a programming
// device: the key-side settings, and for dynamic keys the access list.
type program struct {
	Validity  cwm.Validity
	Schedule  cwm.Schedule
	RevalDays int
	Cylinders []string // dynamic keys: sorted cylinder identities
	Groups    []string // dynamic keys: sorted group identities
}

func (p program) equal(q program) bool {
	return validityEqual(p.Validity, q.Validity) &&
		slices.Equal(p.Schedule.Intervals, q.Schedule.Intervals) &&
		p.RevalDays == q.RevalDays &&
		slices.Equal(p.Cylinders, q.Cylinders) && slices.Equal(p.Groups, q.Groups)
}

func validityEqual(a, b cwm.Validity) bool {
	return a.Type == b.Type && dtEqual(a.From, b.From) && dtEqual(a.To, b.To)
}

func dtEqual(a, b *cwm.DateTime) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Equal(b.Time)
}

type event struct {
	row cwm.AuditTrail
	seq int64 // per-cylinder sequence, for the 1,000-event ring
}

type key struct {
	cwm.Key
	person       string
	status       string
	validity     cwm.Validity
	schedule     cwm.Schedule
	reval        cwm.Revalidation
	access       cwm.KeyAccess
	programmed   program
	lastValid    time.Time
	lastRemote   time.Time
	memory       []cwm.AuditTrail // events on the key not yet uploaded
	programmedAt time.Time
}

func (k *key) dynamic() bool { return k.Type == cwm.KeyTypeDynamic || k.Type == cwm.KeyTypeConnect }

type cylinder struct {
	cwm.Cylinder
	accepts   map[string]bool // normal keys programmed into the cylinder
	blacklist map[string]bool
	events    []event // ring of the last CylinderEventMemory events
	eventSeq  int64
	uploaded  int64  // highest event seq already collected
	jobs      []*job // jobs for this cylinder, pending ones executed at a visit
	pendingBL int    // pending blacklist jobs
}

type group struct{ cwm.CylinderGroup }

type profile struct{ cwm.AccessProfile }

type job struct{ cwm.ProgrammingJob }

// want returns what the key should carry given CWM's configuration.
func (s *Sim) want(k *key) program {
	p := program{
		Validity:  normValidity(k.validity),
		Schedule:  cwm.Schedule{Intervals: slices.Clone(k.schedule.Intervals)},
		RevalDays: 0,
	}
	if k.reval.Enabled {
		p.RevalDays = k.reval.PeriodDays
	}
	if k.dynamic() {
		cyl, grp := s.expandForKey(k.access)
		p.Cylinders, p.Groups = cyl, grp
	}
	return p
}

func normValidity(v cwm.Validity) cwm.Validity {
	if v.Type == "" {
		v.Type = cwm.ValidityAlways
	}
	if v.Type != cwm.ValidityBetween {
		v.From, v.To = nil, nil
	}
	return v
}

// expandForKey resolves access profiles into the cylinders and groups a
// dynamic key's access list holds (a group costs one slot).
func (s *Sim) expandForKey(a cwm.KeyAccess) (cyl, grp []string) {
	cs := map[string]bool{}
	gs := map[string]bool{}
	for _, c := range a.Cylinders {
		cs[c] = true
	}
	for _, g := range a.CylinderGroups {
		gs[g] = true
	}
	for _, pid := range a.AccessProfiles {
		if p, ok := s.profiles[pid]; ok {
			for _, c := range p.Cylinders {
				cs[c] = true
			}
			for _, g := range p.CylinderGroups {
				gs[g] = true
			}
		}
	}
	return sortedKeys(cs), sortedKeys(gs)
}

// expandToCylinders resolves access into the set of cylinders it opens.
func (s *Sim) expandToCylinders(a cwm.KeyAccess) map[string]bool {
	cyl, grp := s.expandForKey(a)
	out := map[string]bool{}
	for _, c := range cyl {
		out[c] = true
	}
	for _, g := range grp {
		if gr, ok := s.groups[g]; ok {
			for _, c := range gr.Cylinders {
				out[c] = true
			}
		}
	}
	return out
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		if v {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// pendingUpdate reports whether a key waits for a remote update.
func (s *Sim) pendingUpdate(k *key) bool { return !s.want(k).equal(k.programmed) }

// opens reports which cylinders the key can open by its programming
// (ignoring validity, schedule and blacklists).
func (s *Sim) opens(k *key) map[string]bool {
	out := map[string]bool{}
	if k.dynamic() {
		for _, c := range k.programmed.Cylinders {
			out[c] = true
		}
		for _, g := range k.programmed.Groups {
			if gr, ok := s.groups[g]; ok {
				for _, c := range gr.Cylinders {
					out[c] = true
				}
			}
		}
		return out
	}
	for id, c := range s.cylinders {
		if c.accepts[k.Identity] {
			out[id] = true
		}
	}
	return out
}

// revalidationExpiry is when the key stops working unless revalidated;
// zero when revalidation is off.
func (k *key) revalidationExpiry() time.Time {
	if k.programmed.RevalDays <= 0 {
		return time.Time{}
	}
	return k.lastValid.AddDate(0, 0, k.programmed.RevalDays)
}

// decide says whether the key opens the cylinder at now, and why not.
func (s *Sim) decide(k *key, c *cylinder, now time.Time) (bool, string, string) {
	if c.blacklist[k.Identity] {
		return false, "blocklisted", cwm.EventBlacklisted
	}
	if exp := k.revalidationExpiry(); !exp.IsZero() && !now.Before(exp) {
		return false, "expired", cwm.EventKeyExpired
	}
	switch v := k.programmed.Validity; v.Type {
	case cwm.ValidityNever:
		return false, "expired", cwm.EventKeyExpired
	case cwm.ValidityBetween:
		if (v.From != nil && now.Before(v.From.Time)) || (v.To != nil && !now.Before(v.To.Time)) {
			return false, "expired", cwm.EventKeyExpired
		}
	}
	if !inSchedule(k.programmed.Schedule, now) {
		return false, "outside schedule", cwm.EventOutOfSchedule
	}
	if !s.opens(k)[c.Identity] {
		return false, "no access", cwm.EventAccessDenied
	}
	return true, "", cwm.EventAccessGranted
}

var weekdays = map[string]time.Weekday{
	"SUNDAY": time.Sunday, "MONDAY": time.Monday, "TUESDAY": time.Tuesday, "WEDNESDAY": time.Wednesday,
	"THURSDAY": time.Thursday, "FRIDAY": time.Friday, "SATURDAY": time.Saturday,
}

// inSchedule reports whether now (in the simulator's UTC lock-system time)
// falls in one of the weekly intervals; no intervals means any time.
// TODO: CLIQ keys apply schedules in the lock system's local time; the
// simulator has no time zone setting, so schedules are evaluated in UTC.
func inSchedule(s cwm.Schedule, now time.Time) bool {
	if len(s.Intervals) == 0 {
		return true
	}
	hm := now.UTC().Format("15:04")
	for _, iv := range s.Intervals {
		if weekdays[strings.ToUpper(iv.Day)] == now.UTC().Weekday() && hm >= iv.From && hm < iv.To {
			return true
		}
	}
	return false
}

// validSchedule checks a schedule's intervals.
func validSchedule(s cwm.Schedule) string {
	for _, iv := range s.Intervals {
		if _, ok := weekdays[strings.ToUpper(iv.Day)]; !ok {
			return "unknown day " + iv.Day
		}
		if !validHM(iv.From) || !validHM(iv.To) || iv.To <= iv.From {
			return "interval " + iv.From + "-" + iv.To + " is not HH:MM-HH:MM with to after from"
		}
	}
	return ""
}

func validHM(s string) bool {
	if s == "24:00" {
		return true
	}
	_, err := time.Parse("15:04", s)
	return err == nil && len(s) == 5
}
