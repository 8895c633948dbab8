package sim

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/keyward/keyward/lockdrivers/iloq/iloqapi"
)

// view picks the planned (mode=1, default) or last programmed (mode=2)
// configuration of a key.
func view(c *call, k *key) (keyConfig, *apiError) {
	switch c.r.URL.Query().Get("mode") {
	case "", "1":
		return k.planned, nil
	case "2":
		return k.programmed, nil
	}
	return keyConfig{}, invalid("mode must be 1 (planned) or 2 (last programmed)")
}

func (s *Server) keyAccesses(c *call) (any, *apiError) {
	k, err := s.key(c.id("id"))
	if err != nil {
		return nil, err
	}
	cfg, err := view(c, k)
	if err != nil {
		return nil, err
	}
	out := iloqapi.GetKeySecurityAccessesResult{SecurityAccesses: []iloqapi.SecurityAccess{}}
	for _, id := range cfg.Accesses {
		if a := s.st.accesses[id]; a != nil {
			out.SecurityAccesses = append(out.SecurityAccesses, *a)
		}
	}
	return out, nil
}

func (s *Server) blocklisted(k *key) bool {
	for _, it := range s.st.blocklist {
		if !it.removed && it.keyID == canon(k.FNKeyID) {
			return true
		}
	}
	return false
}

// replaceKeyAccesses is the full-replace PUT: everything omitted is deleted.
// Assumption A5: the PUT validates the slot format (CanAddTimeLimit rules)
// but not the capacity; a key over capacity answers CanOrder 11.
func (s *Server) replaceKeyAccesses(c *call) (any, *apiError) {
	k, err := s.key(c.id("id"))
	if err != nil {
		return nil, err
	}
	var p iloqapi.UpdateKeySecurityAccessesParam
	if err := decode(c.r, &p); err != nil {
		return nil, err
	}
	if s.blocklisted(k) {
		return nil, invalid("key is in block list and cannot be modified")
	}
	cfg := keyConfig{Slots: p.TimeLimitSlots, Scheduler: p.KeyScheduler,
		OfflineExp: p.OfflineExpirationSeconds}
	for _, a := range p.SecurityAccessIDs {
		acc := s.st.accesses[canon(a)]
		if acc == nil {
			return nil, invalid("SecurityAccess_ID %q", a)
		}
		if !slices.Contains(cfg.Accesses, canon(a)) {
			cfg.Accesses = append(cfg.Accesses, canon(a))
		}
	}
	if len(cfg.Accesses) > s.opts.MaxAccessesPerKey {
		return nil, invalid("key has maximum number of security accesses")
	}
	if p.OfflineExpirationSeconds < 0 || p.OfflineExpirationSeconds > maxOffline(k.KeyTypeMask) {
		return nil, invalid("OfflineExpirationSeconds out of range")
	}
	if code := s.validateSlots(k, p.TimeLimitSlots); code != iloqapi.TimeLimitOK {
		return nil, invalid("time limit slots rejected (CanAddTimeLimit %d)", code)
	}
	if sc := p.KeyScheduler; sc != nil && sc.RenewGapType != 0 {
		if sc.RenewMinute < 70 {
			return nil, invalid("KeyScheduler.RenewMinute must be at least 70")
		}
		if !hasSlot(p.TimeLimitSlots, 1) {
			return nil, invalid("time limit slots rejected (CanAddTimeLimit %d)",
				iloqapi.TimeLimitKeySchedulerNoEnd)
		}
	}
	// Assumption A18: a full replace repeating the stored plan changes
	// nothing (the key keeps its programming state).
	if samePlan(cfg, k.planned) {
		c.unchanged()
		return noContent{}, nil
	}
	k.planned = cfg
	s.changed(k)
	return noContent{}, nil
}

func samePlan(a, b keyConfig) bool {
	a.Accesses, b.Accesses = slices.Sorted(slices.Values(a.Accesses)), slices.Sorted(slices.Values(b.Accesses))
	if len(a.Slots) == 0 {
		a.Slots = nil
	}
	if len(b.Slots) == 0 {
		b.Slots = nil
	}
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(ja) == string(jb)
}

func hasSlot(slots []iloqapi.KeyTimeLimitSlot, no int) bool {
	return slices.ContainsFunc(slots, func(sl iloqapi.KeyTimeLimitSlot) bool { return sl.SlotNo == no })
}

// validateSlots applies the CanAddTimeLimit rules that do not depend on
// capacity and returns the first failing code.
func (s *Server) validateSlots(k *key, slots []iloqapi.KeyTimeLimitSlot) int {
	if s.blocklisted(k) {
		return iloqapi.TimeLimitBlocklisted
	}
	seen := map[int]bool{}
	for _, sl := range slots {
		if code := s.validateSlot(sl); code != iloqapi.TimeLimitOK {
			return code
		}
		if sl.SlotNo < 2 {
			if seen[sl.SlotNo] {
				return iloqapi.TimeLimitValidation
			}
			seen[sl.SlotNo] = true
		}
	}
	var start, end *iloqapi.LocalTime
	for _, sl := range slots {
		switch sl.SlotNo {
		case 0:
			start = sl.LimitDateLg
		case 1:
			end = sl.LimitDateLg
		}
	}
	if start != nil && end != nil && !start.Before(end.Time) {
		return iloqapi.TimeLimitStartAfterEnd
	}
	return iloqapi.TimeLimitOK
}

func (s *Server) validateSlot(sl iloqapi.KeyTimeLimitSlot) int {
	const quarter = int64(15 * time.Minute / time.Millisecond)
	switch sl.SlotNo {
	case 0, 1:
		if len(sl.TimeLimitData) > 0 || sl.TimeLimitTitleID != "" {
			return iloqapi.TimeLimitS50DatesOnly
		}
		if sl.LimitDateLg == nil {
			return iloqapi.TimeLimitValidation
		}
		if !quarterAligned(sl.LimitDateLg.Time) {
			return iloqapi.TimeLimitNot15Minutes
		}
	case 2:
		if sl.TimeLimitTitleID == "" {
			return iloqapi.TimeLimitTitleRequired
		}
		t := s.st.titles[canon(sl.TimeLimitTitleID)]
		if t == nil {
			return iloqapi.TimeLimitValidation
		}
		if len(sl.TimeLimitData) == 0 {
			return iloqapi.TimeLimitDynamicNeedsData
		}
		for _, d := range sl.TimeLimitData {
			if d.StartTimeMS%quarter != 0 || d.EndTimeMS%quarter != 0 {
				return iloqapi.TimeLimitNot15Minutes
			}
			if d.StartTimeMS < 0 || d.EndTimeMS > 24*60*quarter/15 || d.StartTimeMS >= d.EndTimeMS ||
				d.WeekDayMask <= 0 || d.WeekDayMask > 127 {
				return iloqapi.TimeLimitValidation
			}
		}
		if t.OptionMask&8 == 0 && !sameData(t.data, sl.TimeLimitData) {
			return iloqapi.TimeLimitDataMismatch
		}
		st, en := sl.TimeLimitTitleStartDateLg, sl.TimeLimitTitleEndDateLg
		if st != nil && !quarterAligned(st.Time) || en != nil && !quarterAligned(en.Time) {
			return iloqapi.TimeLimitNot15Minutes
		}
		if st != nil && en != nil && !st.Before(en.Time) {
			return iloqapi.TimeLimitStartAfterEnd
		}
	default:
		return iloqapi.TimeLimitValidation
	}
	return iloqapi.TimeLimitOK
}

func quarterAligned(t time.Time) bool {
	return t.Second() == 0 && t.Nanosecond() == 0 && t.Minute()%15 == 0
}

// sameData compares a fixed time profile's weekly clock with the data sent.
func sameData(title []iloqapi.TimeLimitData, sent []iloqapi.KeyTimeLimitData) bool {
	if len(title) != len(sent) {
		return false
	}
	for i, d := range title {
		st, err1 := clockMS(d.StartTime)
		en, err2 := clockMS(d.EndTime)
		if err1 != nil || err2 != nil || sent[i].WeekDayMask != d.WeekDayMask ||
			sent[i].StartTimeMS != st || sent[i].EndTimeMS != en {
			return false
		}
	}
	return true
}

// clockMS parses "H:mm" into milliseconds since midnight.
func clockMS(s string) (int64, error) {
	h, m, ok := strings.Cut(s, ":")
	if !ok {
		return 0, fmt.Errorf("clock %q", s)
	}
	hh, err := strconv.Atoi(h)
	if err != nil {
		return 0, err
	}
	mm, err := strconv.Atoi(m)
	if err != nil {
		return 0, err
	}
	return int64(hh*60+mm) * 60_000, nil
}

// MSClock formats milliseconds since midnight as "H:mm".
func MSClock(ms int64) string {
	m := ms / 60_000
	return fmt.Sprintf("%d:%02d", m/60, m%60)
}

func (s *Server) canAddKeyAccess(c *call) (any, *apiError) {
	k, err := s.key(c.id("id"))
	if err != nil {
		return nil, err
	}
	return s.canAddAccessCode(k), nil
}

func (s *Server) canAddAccessCode(k *key) int {
	switch {
	case s.blocklisted(k):
		return iloqapi.LinkUnmodifiable
	case len(k.planned.Accesses) >= s.opts.MaxAccessesPerKey:
		return iloqapi.LinkMaxOrMissing
	}
	return iloqapi.LinkOK
}

// addKeyAccess links an access right to the key's plan. Assumption A6: any
// active access right may be linked (the change is recorded); a right that is
// not of the API type makes CanOrder answer 1 (iLOQ Manager + token needed).
// Linking a right that is already on the key answers 400.
func (s *Server) addKeyAccess(c *call) (any, *apiError) {
	k, err := s.key(c.id("id"))
	if err != nil {
		return nil, err
	}
	var p iloqapi.AddSecurityAccessParam
	if err := decode(c.r, &p); err != nil {
		return nil, err
	}
	a := s.st.accesses[canon(p.SecurityAccessID)]
	if a == nil {
		return nil, invalid("SecurityAccess_ID %q", p.SecurityAccessID)
	}
	if a.Status != iloqapi.AccessActive {
		return nil, invalid("security access is not active")
	}
	if code := s.canAddAccessCode(k); code != iloqapi.LinkOK {
		return nil, invalid("security access cannot be added (CanAddSecurityAccessLink %d)", code)
	}
	if slices.Contains(k.planned.Accesses, canon(a.SecurityAccessID)) {
		return nil, invalid("security access is already linked to the key")
	}
	k.planned.Accesses = append(k.planned.Accesses, canon(a.SecurityAccessID))
	s.changed(k)
	return noContent{}, nil
}

func (s *Server) canDeleteAccessCode(k *key, sa string) int {
	switch {
	case s.blocklisted(k):
		return iloqapi.LinkUnmodifiable
	case !slices.Contains(k.planned.Accesses, canon(sa)):
		return iloqapi.LinkMaxOrMissing
	}
	return iloqapi.LinkOK
}

func (s *Server) canDeleteKeyAccess(c *call) (any, *apiError) {
	k, err := s.key(c.id("id"))
	if err != nil {
		return nil, err
	}
	return s.canDeleteAccessCode(k, c.id("sa")), nil
}

func (s *Server) deleteKeyAccess(c *call) (any, *apiError) {
	k, err := s.key(c.id("id"))
	if err != nil {
		return nil, err
	}
	sa := c.id("sa")
	if code := s.canDeleteAccessCode(k, sa); code != iloqapi.LinkOK {
		return nil, invalid("security access cannot be deleted (CanDeleteSecurityAccessLink %d)", code)
	}
	k.planned.Accesses = slices.DeleteFunc(k.planned.Accesses, func(x string) bool { return x == canon(sa) })
	s.changed(k)
	return noContent{}, nil
}

func (s *Server) keyTimeLimits(c *call) (any, *apiError) {
	k, err := s.key(c.id("id"))
	if err != nil {
		return nil, err
	}
	cfg, err := view(c, k)
	if err != nil {
		return nil, err
	}
	cfg = cfg.clone()
	slots := cfg.Slots
	if slots == nil {
		slots = []iloqapi.KeyTimeLimitSlot{}
	}
	return iloqapi.GetTimeLimitsResult{KeyScheduler: cfg.Scheduler, KeyTimeLimitSlots: slots,
		OfflineExpirationSeconds: cfg.OfflineExp, OutsideUserZoneTimeLimitTitleSlots: []int{}}, nil
}

// canAddTimeLimitCode checks one time profile to be added to slot 2.
func (s *Server) canAddTimeLimitCode(k *key, sl iloqapi.KeyTimeLimitSlot) int {
	if s.blocklisted(k) {
		return iloqapi.TimeLimitBlocklisted
	}
	if sl.SlotNo != 2 {
		// Start and end dates are written only through the full PUT.
		return iloqapi.TimeLimitValidation
	}
	if code := s.validateSlot(sl); code != iloqapi.TimeLimitOK {
		return code
	}
	for _, cur := range k.planned.Slots {
		if cur.SlotNo == 2 && canon(cur.TimeLimitTitleID) == canon(sl.TimeLimitTitleID) {
			return iloqapi.TimeLimitTooMany
		}
	}
	if slotsUsed(append(slices.Clone(k.planned.Slots), sl)) > s.slotCapacity(k) {
		return iloqapi.TimeLimitNoSpace
	}
	return iloqapi.TimeLimitOK
}

func (s *Server) canAddKeyTimeLimit(c *call) (any, *apiError) {
	k, err := s.key(c.id("id"))
	if err != nil {
		return nil, err
	}
	var p iloqapi.InsertKeyTimeLimitSlotParam
	if err := decode(c.r, &p); err != nil {
		return nil, err
	}
	return s.canAddTimeLimitCode(k, p.TimeLimitSlot), nil
}

func (s *Server) addKeyTimeLimit(c *call) (any, *apiError) {
	k, err := s.key(c.id("id"))
	if err != nil {
		return nil, err
	}
	var p iloqapi.InsertKeyTimeLimitSlotParam
	if err := decode(c.r, &p); err != nil {
		return nil, err
	}
	if code := s.canAddTimeLimitCode(k, p.TimeLimitSlot); code != iloqapi.TimeLimitOK {
		return nil, invalid("time limit cannot be added (CanAddTimeLimit %d)", code)
	}
	k.planned.Slots = append(k.planned.Slots, p.TimeLimitSlot)
	s.changed(k)
	return noContent{}, nil
}

func findProfile(slots []iloqapi.KeyTimeLimitSlot, tlt string) int {
	return slices.IndexFunc(slots, func(sl iloqapi.KeyTimeLimitSlot) bool {
		return sl.SlotNo == 2 && canon(sl.TimeLimitTitleID) == canon(tlt)
	})
}

func (s *Server) getKeyTimeLimit(c *call) (any, *apiError) {
	k, err := s.key(c.id("id"))
	if err != nil {
		return nil, err
	}
	i := findProfile(k.planned.Slots, c.id("tlt"))
	if i < 0 {
		return nil, invalid("TimeLimitTitle_ID %q is not on the key", c.id("tlt"))
	}
	return k.planned.Slots[i], nil
}

func (s *Server) updateKeyTimeLimit(c *call) (any, *apiError) {
	k, err := s.key(c.id("id"))
	if err != nil {
		return nil, err
	}
	var p iloqapi.InsertKeyTimeLimitSlotParam
	if err := decode(c.r, &p); err != nil {
		return nil, err
	}
	i := findProfile(k.planned.Slots, c.id("tlt"))
	if i < 0 {
		return nil, invalid("TimeLimitTitle_ID %q is not on the key", c.id("tlt"))
	}
	if code := s.validateSlot(p.TimeLimitSlot); code != iloqapi.TimeLimitOK {
		return nil, invalid("time limit rejected (CanAddTimeLimit %d)", code)
	}
	k.planned.Slots[i] = p.TimeLimitSlot
	s.changed(k)
	return noContent{}, nil
}

func (s *Server) deleteKeyTimeLimit(c *call) (any, *apiError) {
	k, err := s.key(c.id("id"))
	if err != nil {
		return nil, err
	}
	i := findProfile(k.planned.Slots, c.id("tlt"))
	if i < 0 {
		return nil, invalid("TimeLimitTitle_ID %q is not on the key", c.id("tlt"))
	}
	k.planned.Slots = slices.Delete(k.planned.Slots, i, i+1)
	s.changed(k)
	return noContent{}, nil
}

// Access rights.

func (s *Server) listAccesses(*call) (any, *apiError) {
	out := make([]iloqapi.SecurityAccess, 0, len(s.st.accOrder))
	for _, id := range s.st.accOrder {
		out = append(out, *s.st.accesses[id])
	}
	return out, nil
}

func (s *Server) insertAccess(c *call) (any, *apiError) {
	var p iloqapi.InsertSecurityAccessParam
	if err := decode(c.r, &p); err != nil {
		return nil, err
	}
	a := p.SecurityAccess
	if err := s.addAccess(a); err != nil {
		return nil, err
	}
	return iloqapi.InsertSecurityAccessResult{SecurityAccess: a}, nil
}

func (s *Server) addAccess(a iloqapi.SecurityAccess) *apiError {
	if !validGUID(a.SecurityAccessID) {
		return invalid("SecurityAccess_ID must be a GUID generated by the integrator")
	}
	if s.st.accesses[canon(a.SecurityAccessID)] != nil {
		return invalid("SecurityAccess_ID %q already exists", a.SecurityAccessID)
	}
	if a.Type != iloqapi.AccessTypeStandard && a.Type != iloqapi.AccessTypeAPI {
		return invalid("only standard (1) and API (3) access rights can be added")
	}
	if a.Status != iloqapi.AccessActive {
		return invalid("only active access rights can be created")
	}
	if a.Name == "" {
		return invalid("Name is required")
	}
	s.st.accesses[canon(a.SecurityAccessID)] = &a
	s.st.accOrder = append(s.st.accOrder, canon(a.SecurityAccessID))
	return nil
}

func (s *Server) updateAccess(c *call) (any, *apiError) {
	var p iloqapi.InsertSecurityAccessParam
	if err := decode(c.r, &p); err != nil {
		return nil, err
	}
	cur := s.st.accesses[canon(p.SecurityAccess.SecurityAccessID)]
	if cur == nil {
		return nil, invalid("SecurityAccess_ID %q", p.SecurityAccess.SecurityAccessID)
	}
	// Standard rights cannot be converted to API rights (and back).
	if p.SecurityAccess.Type != cur.Type {
		return nil, invalid("the type of an access right cannot be changed")
	}
	cur.Name, cur.Description = p.SecurityAccess.Name, p.SecurityAccess.Description
	return noContent{}, nil
}

func (s *Server) deleteAccess(c *call) (any, *apiError) {
	id := canon(c.id("id"))
	if s.st.accesses[id] == nil {
		return nil, invalid("SecurityAccess_ID %q", c.id("id"))
	}
	for _, k := range s.st.keys {
		if slices.Contains(k.planned.Accesses, id) || slices.Contains(k.programmed.Accesses, id) {
			return nil, invalid("access right is linked to keys")
		}
	}
	delete(s.st.accesses, id)
	s.st.accOrder = slices.DeleteFunc(s.st.accOrder, func(x string) bool { return x == id })
	return noContent{}, nil
}

// Locks.

func (s *Server) listLocks(*call) (any, *apiError) {
	out := make([]iloqapi.Lock, 0, len(s.st.lockOrder))
	for _, id := range s.st.lockOrder {
		out = append(out, s.st.locks[id].Lock)
	}
	return out, nil
}

func (s *Server) lock(id string) (*lock, *apiError) {
	l := s.st.locks[canon(id)]
	if l == nil {
		return nil, invalid("FLock_ID %q", id)
	}
	return l, nil
}

func (s *Server) getLock(c *call) (any, *apiError) {
	l, err := s.lock(c.id("id"))
	if err != nil {
		return nil, err
	}
	return l.Lock, nil
}

func (s *Server) lockAccesses(c *call) (any, *apiError) {
	l, err := s.lock(c.id("id"))
	if err != nil {
		return nil, err
	}
	out := iloqapi.GetLockSecurityAccessesResult{SecurityAccesses: []iloqapi.SecurityAccess{}}
	for _, id := range l.accesses {
		if a := s.st.accesses[id]; a != nil {
			out.SecurityAccesses = append(out.SecurityAccesses, *a)
		}
	}
	return out, nil
}

// Time profiles.

func (s *Server) listTitles(*call) (any, *apiError) {
	out := make([]iloqapi.TimeLimitTitle, 0, len(s.st.titleOrder))
	for _, id := range s.st.titleOrder {
		out = append(out, s.st.titles[id].TimeLimitTitle)
	}
	return out, nil
}

func (s *Server) title(id string) (*title, *apiError) {
	t := s.st.titles[canon(id)]
	if t == nil {
		return nil, invalid("TimeLimitTitle_ID %q", id)
	}
	return t, nil
}

func (s *Server) getTitle(c *call) (any, *apiError) {
	t, err := s.title(c.id("id"))
	if err != nil {
		return nil, err
	}
	return t.TimeLimitTitle, nil
}

func (s *Server) getTitleData(c *call) (any, *apiError) {
	t, err := s.title(c.id("id"))
	if err != nil {
		return nil, err
	}
	return append([]iloqapi.TimeLimitData{}, t.data...), nil
}

func (s *Server) insertTitle(c *call) (any, *apiError) {
	var p iloqapi.InsertTimeLimitTitlesParam
	if err := decode(c.r, &p); err != nil {
		return nil, err
	}
	if err := s.addTitle(p.TimeLimitTitle, p.TimeLimitData); err != nil {
		return nil, err
	}
	return noContent{}, nil
}

func (s *Server) addTitle(t iloqapi.TimeLimitTitle, data []iloqapi.TimeLimitData) *apiError {
	if !validGUID(t.TimeLimitTitleID) {
		return invalid("TimeLimitTitle_ID must be a GUID generated by the integrator")
	}
	if s.st.titles[canon(t.TimeLimitTitleID)] != nil {
		return invalid("TimeLimitTitle_ID %q already exists", t.TimeLimitTitleID)
	}
	if t.Name == "" {
		return invalid("Name is required")
	}
	if len(data) > 10 {
		return invalid("a time limit title has at most 10 time limit data")
	}
	for i := range data {
		st, err1 := clockMS(data[i].StartTime)
		en, err2 := clockMS(data[i].EndTime)
		if err1 != nil || err2 != nil || st%(15*60_000) != 0 || en%(15*60_000) != 0 || st >= en {
			return invalid("time limit data %d: times must be H:mm, divisible by 15 minutes, start before end", i)
		}
		data[i].TimeLimitTitleID = t.TimeLimitTitleID
	}
	if t.OptionMask == 0 {
		t.OptionMask = 2 // S50 and 5 Series compatible
	}
	s.st.titles[canon(t.TimeLimitTitleID)] = &title{TimeLimitTitle: t, data: data}
	s.st.titleOrder = append(s.st.titleOrder, canon(t.TimeLimitTitleID))
	return nil
}

func (s *Server) canDeleteTitleCode(id string) int {
	for _, k := range s.st.keys {
		if k.State == iloqapi.KeyStateDeleted || k.State == iloqapi.KeyStateReturned {
			continue
		}
		if findProfile(k.planned.Slots, id) >= 0 || findProfile(k.programmed.Slots, id) >= 0 {
			return 1
		}
	}
	return 0
}

func (s *Server) canDeleteTitle(c *call) (any, *apiError) {
	if _, err := s.title(c.id("id")); err != nil {
		return nil, err
	}
	return s.canDeleteTitleCode(c.id("id")), nil
}

func (s *Server) deleteTitle(c *call) (any, *apiError) {
	if _, err := s.title(c.id("id")); err != nil {
		return nil, err
	}
	if code := s.canDeleteTitleCode(c.id("id")); code != 0 {
		return nil, invalid("time limit title cannot be deleted (CanDeleteTimeLimitTitleResult %d)", code)
	}
	id := canon(c.id("id"))
	delete(s.st.titles, id)
	s.st.titleOrder = slices.DeleteFunc(s.st.titleOrder, func(x string) bool { return x == id })
	return noContent{}, nil
}
