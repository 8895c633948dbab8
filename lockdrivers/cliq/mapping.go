package cliq

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/keyward/keyward/lockdrivers/cliq/cwm"
	"github.com/keyward/keyward/lockdrivers/driver"
)

// Access object ID prefixes.
const (
	prefixProfile  = "profile:"
	prefixGroup    = "group:"
	prefixCylinder = "cylinder:"
)

// accessIDs returns the access object IDs of a CWM key access, sorted.
func accessIDs(a cwm.KeyAccess) []string {
	out := make([]string, 0, len(a.AccessProfiles)+len(a.CylinderGroups)+len(a.Cylinders))
	for _, id := range a.AccessProfiles {
		out = append(out, prefixProfile+id)
	}
	for _, id := range a.CylinderGroups {
		out = append(out, prefixGroup+id)
	}
	for _, id := range a.Cylinders {
		out = append(out, prefixCylinder+id)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// parseAccessIDs turns access object IDs into a CWM key access.
func parseAccessIDs(ids []string) (cwm.KeyAccess, []driver.Problem) {
	var a cwm.KeyAccess
	var problems []driver.Problem
	for i, id := range ids {
		switch {
		case strings.HasPrefix(id, prefixProfile) && len(id) > len(prefixProfile):
			a.AccessProfiles = append(a.AccessProfiles, id[len(prefixProfile):])
		case strings.HasPrefix(id, prefixGroup) && len(id) > len(prefixGroup):
			a.CylinderGroups = append(a.CylinderGroups, id[len(prefixGroup):])
		case strings.HasPrefix(id, prefixCylinder) && len(id) > len(prefixCylinder):
			a.Cylinders = append(a.Cylinders, id[len(prefixCylinder):])
		default:
			problems = append(problems, driver.Problem{Field: fmt.Sprintf("access.accessObjectIds[%d]", i),
				Message: fmt.Sprintf("%q is not profile:<id>, group:<id> or cylinder:<id>", id)})
		}
	}
	return normAccess(a), problems
}

func normAccess(a cwm.KeyAccess) cwm.KeyAccess {
	n := func(in []string) []string {
		out := slices.Clone(in)
		slices.Sort(out)
		return slices.Compact(out)
	}
	return cwm.KeyAccess{AccessProfiles: n(a.AccessProfiles), Cylinders: n(a.Cylinders), CylinderGroups: n(a.CylinderGroups)}
}

func accessEqual(a, b cwm.KeyAccess) bool { return slices.Equal(accessIDs(a), accessIDs(b)) }

// neverValid is how a NEVER_VALID key's window reads: ended at the epoch.
var neverValid = time.Unix(0, 0).UTC()

// windowFromValidity maps CWM validity to a window.
func windowFromValidity(v cwm.Validity) driver.Window {
	switch v.Type {
	case cwm.ValidityNever:
		return driver.Window{NotAfter: neverValid}
	case cwm.ValidityBetween:
		var w driver.Window
		if v.From != nil {
			w.NotBefore = v.From.UTC()
		}
		if v.To != nil {
			w.NotAfter = v.To.UTC()
		}
		return w
	}
	return driver.Window{}
}

// validityFromWindow maps a window to CWM validity.
func validityFromWindow(w driver.Window) cwm.Validity {
	if w.NotBefore.IsZero() && w.NotAfter.IsZero() {
		return cwm.Validity{Type: cwm.ValidityAlways}
	}
	return cwm.Validity{Type: cwm.ValidityBetween, From: cwm.NewDateTime(w.NotBefore), To: cwm.NewDateTime(w.NotAfter)}
}

func validityEqual(a, b cwm.Validity) bool {
	wa, wb := windowFromValidity(a), windowFromValidity(b)
	return a.Type == b.Type && wa.NotBefore.Equal(wb.NotBefore) && wa.NotAfter.Equal(wb.NotAfter)
}

var dayNames = []string{"SUNDAY", "MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY"}

func hhmm(d time.Duration) string {
	return fmt.Sprintf("%02d:%02d", int(d/time.Hour), int(d%time.Hour/time.Minute))
}

// scheduleToCWM maps weekly intervals to a CWM schedule, sorted.
func scheduleToCWM(in []driver.ScheduleInterval) (cwm.Schedule, []driver.Problem) {
	var problems []driver.Problem
	sorted := slices.Clone(in)
	slices.SortFunc(sorted, func(a, b driver.ScheduleInterval) int {
		if a.Day != b.Day {
			return int(a.Day) - int(b.Day)
		}
		return int(a.Start - b.Start)
	})
	var s cwm.Schedule
	for i, iv := range sorted {
		field := fmt.Sprintf("access.schedule[%d]", i)
		switch {
		case iv.Day < time.Sunday || iv.Day > time.Saturday:
			problems = append(problems, driver.Problem{Field: field, Message: "day must be Sunday..Saturday"})
		case iv.Start < 0 || iv.End > 24*time.Hour || iv.End <= iv.Start:
			problems = append(problems, driver.Problem{Field: field, Message: "need 0 <= start < end <= 24h"})
		case iv.Start%time.Minute != 0 || iv.End%time.Minute != 0:
			problems = append(problems, driver.Problem{Field: field, Message: "CWM schedules have minute granularity"})
		default:
			s.Intervals = append(s.Intervals, cwm.Interval{Day: dayNames[iv.Day], From: hhmm(iv.Start), To: hhmm(iv.End)})
		}
	}
	return s, problems
}

// scheduleFromCWM maps a CWM schedule to weekly intervals.
func scheduleFromCWM(s cwm.Schedule) []driver.ScheduleInterval {
	var out []driver.ScheduleInterval
	for _, iv := range s.Intervals {
		day := slices.Index(dayNames, strings.ToUpper(iv.Day))
		from, err1 := parseHM(iv.From)
		to, err2 := parseHM(iv.To)
		if day < 0 || err1 != nil || err2 != nil {
			continue
		}
		out = append(out, driver.ScheduleInterval{Day: time.Weekday(day), Start: from, End: to})
	}
	return out
}

func parseHM(s string) (time.Duration, error) {
	var h, m int
	if _, err := fmt.Sscanf(s, "%d:%d", &h, &m); err != nil {
		return 0, err
	}
	return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute, nil
}

func scheduleEqual(a, b cwm.Schedule) bool { return slices.Equal(a.Intervals, b.Intervals) }

// desired is a key's wanted CWM configuration.
type desired struct {
	access   cwm.KeyAccess
	validity cwm.Validity
	schedule cwm.Schedule
}

func parseDesired(op string, a driver.KeyAccess) (desired, error) {
	acc, problems := parseAccessIDs(a.AccessObjectIDs)
	sched, p2 := scheduleToCWM(a.Schedule)
	problems = append(problems, p2...)
	w := a.Window
	if !w.NotBefore.IsZero() && !w.NotAfter.IsZero() && !w.NotAfter.After(w.NotBefore) {
		problems = append(problems, driver.Problem{Field: "access.window", Message: "notAfter must be after notBefore"})
	}
	if len(problems) > 0 {
		return desired{}, driver.Invalid(op, problems...)
	}
	return desired{access: acc, validity: validityFromWindow(w), schedule: sched}, nil
}

// changeID names a key's configuration: the same configuration gives the
// same id, so retries and later change-stream entries agree.
func changeID(keyID string, a cwm.KeyAccess, v cwm.Validity, s cwm.Schedule) string {
	h := sha256.New()
	fmt.Fprintf(h, "%v|%s|", accessIDs(a), v.Type)
	w := windowFromValidity(v)
	fmt.Fprintf(h, "%d|%d|", w.NotBefore.UnixMilli(), w.NotAfter.UnixMilli())
	for _, iv := range s.Intervals {
		fmt.Fprintf(h, "%s %s %s;", iv.Day, iv.From, iv.To)
	}
	return keyID + "@" + hex.EncodeToString(h.Sum(nil)[:6])
}

func stateChangeID(st cwm.KeyState) string {
	return changeID(st.Identity, normAccess(st.Access), st.Validity, st.Schedule)
}

// keyType maps a CWM key type.
func keyType(t string) driver.KeyType {
	if t == cwm.KeyTypeProgramming {
		return driver.KeyProgramming
	}
	return driver.KeyPhysical
}

// keyState maps custody.
func keyState(st cwm.KeyState) driver.KeyState {
	switch {
	case len(st.BlacklistedIn) > 0:
		return driver.KeyBlocked
	case st.OperationalStatus == cwm.StatusLost || st.OperationalStatus == cwm.StatusBroken:
		return driver.KeyLost
	case st.OperationalStatus == cwm.StatusHandedOut:
		return driver.KeyHandedOut
	}
	// In stock: CWM does not say whether it was ever handed out.
	return driver.KeyReturned
}

// pendingAccessJobs returns the key's pending add/remove jobs.
func pendingAccessJobs(jobs []cwm.ProgrammingJob, keyID string) []cwm.ProgrammingJob {
	var out []cwm.ProgrammingJob
	for _, j := range jobs {
		if j.KeyIdentity == keyID && j.State == cwm.JobPending &&
			(j.Action == cwm.JobAddKey || j.Action == cwm.JobRemoveKey) {
			out = append(out, j)
		}
	}
	return out
}

func jobCylinders(jobs []cwm.ProgrammingJob) []string {
	var out []string
	for _, j := range jobs {
		out = append(out, j.CylinderIdentity)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// maxJobsPerProgrammingKey is ASSA ABLOY's recommended maximum of jobs
// assigned to one programming key (CLIQ software FAQ).
const maxJobsPerProgrammingKey = 30

// visitLocks is the needs-action of pending cylinder programming jobs.
func visitLocks(code string, jobs []cwm.ProgrammingJob) *driver.NeedsAction {
	cyl := jobCylinders(jobs)
	reason := fmt.Sprintf("%d programming job(s) in CLIQ Web Manager: carry a programming key to %d cylinder(s)",
		len(jobs), len(cyl))
	if len(jobs) > maxJobsPerProgrammingKey {
		reason += fmt.Sprintf("; ASSA ABLOY recommends at most %d jobs per programming key, so split the round",
			maxJobsPerProgrammingKey)
	}
	return &driver.NeedsAction{ReasonCode: code, Reason: reason, Action: driver.ActionVisitLock, LockIDs: cyl}
}

// deliveryFor says how far a key's current configuration got.
func deliveryFor(st cwm.KeyState, jobs []cwm.ProgrammingJob, now time.Time) driver.Delivery {
	d := driver.Delivery{ChangeID: stateChangeID(st), At: now}
	if pj := pendingAccessJobs(jobs, st.Identity); len(pj) > 0 {
		d.State = driver.DeliveryNeedsAction
		d.NeedsAction = visitLocks("CWM_PROGRAMMING_JOBS", pj)
		return d
	}
	if st.PendingUpdate {
		d.State = driver.DeliveryQueued
		return d
	}
	d.State = driver.DeliveryApplied
	if st.LastRemoteUpdate != nil {
		d.At = st.LastRemoteUpdate.UTC()
	}
	return d
}

// effectiveBy is the latest moment a key can still use what was removed:
// now if the removal is applied, else the earliest of the validity end the
// key carries and its revalidation deadline; unbounded without either.
func effectiveBy(st cwm.KeyState, applied bool, now time.Time) (time.Time, bool) {
	if applied {
		return cwmTime(st, now), false
	}
	var bound time.Time
	consider := func(t time.Time) {
		if bound.IsZero() || t.Before(bound) {
			bound = t
		}
	}
	switch pv := st.ProgrammedValidity; pv.Type {
	case cwm.ValidityNever:
		consider(cwmTime(st, now))
	case cwm.ValidityBetween:
		if pv.To != nil {
			consider(pv.To.UTC())
		}
	}
	if st.Revalidation.Enabled && st.Revalidation.PeriodDays > 0 && st.LastValidation != nil {
		// TODO: this uses the period configured in CWM; a key that has not
		// yet received a changed period still runs on its old one, so the
		// bound can be early or late by the difference until its next update.
		consider(st.LastValidation.UTC().AddDate(0, 0, st.Revalidation.PeriodDays))
	}
	return bound, bound.IsZero()
}

// cwmTime is the latest CWM timestamp known for a key (its last update or
// validation); removals are dated in CWM's clock, not the driver's. now is
// the fallback for a key CWM has no timestamp for.
func cwmTime(st cwm.KeyState, now time.Time) time.Time {
	var t time.Time
	for _, d := range []*cwm.DateTime{st.LastRemoteUpdate, st.LastValidation} {
		if d != nil && d.After(t) {
			t = d.UTC()
		}
	}
	if t.IsZero() {
		return now
	}
	return t
}

func removal(st cwm.KeyState, removed []string, applied bool, now time.Time) *driver.Removal {
	by, unbounded := effectiveBy(st, applied, now)
	return &driver.Removal{AccessObjectIDs: removed, EffectiveBy: by, Unbounded: unbounded}
}

// minus returns the items of a not in b.
func minus(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}
