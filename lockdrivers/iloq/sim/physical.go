package sim

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/keyward/keyward/lockdrivers/iloq/iloqapi"
	"github.com/keyward/keyward/lockdrivers/simctl"
)

// This file is the physical world around the server: phones, hot spots,
// programming keys, people using keys at locks, and time.

// ErrUnknown is returned by the physical-world methods for an unknown id; it
// wraps simctl.ErrNotFound.
var ErrUnknown = fmt.Errorf("iloq sim: unknown id: %w", simctl.ErrNotFound)

func (s *Server) worldKey(id string) (*key, error) {
	k := s.st.keys[canon(id)]
	if k == nil || k.State == iloqapi.KeyStateDeleted {
		return nil, fmt.Errorf("%w: key %q", ErrUnknown, id)
	}
	return k, nil
}

// SyncPhone is "the phone synced": an S50 phone key contacts the server,
// programs itself with the waiting packet (if any), acknowledges it, and
// picks up the ordered blocklist. It reports whether a packet was applied.
func (s *Server) SyncPhone(keyID string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, err := s.worldKey(keyID)
	if err != nil {
		return false, err
	}
	if !iloqapi.IsPhone(k.KeyTypeMask) {
		return false, fmt.Errorf("iloq sim: key %q is not a phone key", keyID)
	}
	had := k.packet != nil
	s.program(k)
	return had, nil
}

// RetrievePacket is a phone or programming device fetching the waiting
// packet without acknowledging it yet (ProgrammingState 2: delivered).
func (s *Server) RetrievePacket(keyID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, err := s.worldKey(keyID)
	if err != nil {
		return err
	}
	if k.packet == nil {
		return fmt.Errorf("iloq sim: key %q has no programming task", keyID)
	}
	k.ProgrammingState = iloqapi.ProgRetrieved
	return nil
}

// ProgramAtHotSpot is "the key was programmed at a hot spot" (or with a
// programming key in iLOQ Manager): a physical key or fob receives its
// waiting packet and the ordered blocklist. It reports whether a packet was
// applied.
func (s *Server) ProgramAtHotSpot(keyID string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, err := s.worldKey(keyID)
	if err != nil {
		return false, err
	}
	had := k.packet != nil
	s.program(k)
	return had, nil
}

// VisitLock is a programming key visiting a lock: the lock learns the
// ordered blocklist and a "lock programmed" log row is written.
func (s *Server) VisitLock(_ context.Context, lockID string) error {
	s.mu.Lock()
	l := s.st.locks[canon(lockID)]
	if l == nil {
		s.mu.Unlock()
		return fmt.Errorf("%w: lock %q", ErrUnknown, lockID)
	}
	if l.blVersion < s.st.blOrdered {
		l.blVersion = s.st.blOrdered
	}
	now := s.now()
	s.addLog(l, nil, now, now, iloqapi.LogLockProgrammed, 0, "")
	s.mu.Unlock()
	s.kickWebhooks()
	return nil
}

// Use is the outcome of a key used at a lock.
type Use struct {
	Opened bool
	Reason string // why the lock refused, empty when it opened
	LogID  string
}

// UseKey is "key used at lock" now; the log row arrives at the server now.
func (s *Server) UseKey(_ context.Context, keyID, lockID string) (simctl.UseResult, error) {
	u, err := s.UseKeyAt(keyID, lockID, time.Time{})
	return simctl.UseResult{Opened: u.Opened, Reason: u.Reason, EventID: u.LogID}, err
}

// UseKeyAt is a key used at a lock at time at (zero: now) whose log row
// arrives at the server now: late arrival for at in the past.
func (s *Server) UseKeyAt(keyID, lockID string, at time.Time) (Use, error) {
	s.mu.Lock()
	k, err := s.worldKey(keyID)
	if err != nil {
		s.mu.Unlock()
		return Use{}, err
	}
	l := s.st.locks[canon(lockID)]
	if l == nil {
		s.mu.Unlock()
		return Use{}, fmt.Errorf("%w: lock %q", ErrUnknown, lockID)
	}
	now := s.now()
	if at.IsZero() {
		at = now
	}
	// Assumption A11: blocklist versions spread both ways on every contact
	// between a key and a lock.
	l.blVersion = max(l.blVersion, k.blVersion)
	k.blVersion = max(k.blVersion, l.blVersion)
	reason := s.refusal(k, l, at)
	flags := iloqapi.LogKeyAccessed
	switch {
	case iloqapi.IsPhone(k.KeyTypeMask):
		flags = 8 // documented example: 12 is a successful phone access
	case k.KeyTypeMask&iloqapi.Key5Series != 0:
		flags = iloqapi.Log5SeriesKey
	}
	mask, code := flags|iloqapi.LogSuccess, 0
	if reason != "" {
		mask, code = flags|iloqapi.LogFailed, 1
	}
	if !k.IsProgrammed {
		mask = iloqapi.LogUnknownKey | iloqapi.LogFailed
	}
	id := s.addLog(l, k, at, now, mask, code, reason)
	s.mu.Unlock()
	s.kickWebhooks()
	return Use{Opened: reason == "", Reason: reason, LogID: id}, nil
}

// refusal says why lock l refuses key k at time at ("" = opens), from what
// the key really carries (its last programmed state). Assumption A16:
// Key.ExpireDate is descriptive; the end date that locks enforce is slot 1.
// Assumption A17: the offline expiration counts from the key's last contact
// with the server (phone sync, hot spot).
func (s *Server) refusal(k *key, l *lock, at time.Time) string {
	if !k.IsProgrammed {
		return "key has never been programmed"
	}
	if s.blockedAt(k, l) {
		return "key is blocklisted at this lock"
	}
	cfg := k.programmed
	if cfg.OfflineExp > 0 && at.After(k.lastSync.Add(time.Duration(cfg.OfflineExp)*time.Second)) {
		return "key has been offline longer than its offline expiration"
	}
	local := iloqapi.NewLocal(at, s.loc).Time
	var profiles []iloqapi.KeyTimeLimitSlot
	for _, sl := range cfg.Slots {
		switch {
		case sl.SlotNo == 0 && sl.LimitDateLg != nil && local.Before(sl.LimitDateLg.Time):
			return "key is not valid yet (start date)"
		case sl.SlotNo == 1 && sl.LimitDateLg != nil && !local.Before(sl.LimitDateLg.Time):
			return "key has expired (end date)"
		case sl.SlotNo == 2:
			profiles = append(profiles, sl)
		}
	}
	if len(profiles) > 0 && !slices.ContainsFunc(profiles, func(sl iloqapi.KeyTimeLimitSlot) bool {
		return profileAllows(sl, local)
	}) {
		return "outside the key's time profiles"
	}
	for _, id := range cfg.Accesses {
		a := s.st.accesses[id]
		if a == nil || a.Status != iloqapi.AccessActive || !slices.Contains(l.accesses, id) {
			continue
		}
		if a.Type == iloqapi.AccessTypeAPI && !l.allowAPI {
			continue
		}
		return ""
	}
	return "key has no access right for this lock"
}

func profileAllows(sl iloqapi.KeyTimeLimitSlot, local time.Time) bool {
	if sl.TimeLimitTitleStartDateLg != nil && local.Before(sl.TimeLimitTitleStartDateLg.Time) {
		return false
	}
	if sl.TimeLimitTitleEndDateLg != nil && !local.Before(sl.TimeLimitTitleEndDateLg.Time) {
		return false
	}
	bit := 1 << ((int(local.Weekday()) + 6) % 7) // Monday = 1 … Sunday = 64
	ms := int64(local.Hour()*3600+local.Minute()*60+local.Second()) * 1000
	for _, d := range sl.TimeLimitData {
		if d.WeekDayMask&bit != 0 && ms >= d.StartTimeMS && ms < d.EndTimeMS {
			return true
		}
	}
	return false
}

// addLog stores a log row (arriving at arrival) and emits device_log_arrived.
func (s *Server) addLog(l *lock, k *key, going, arrival time.Time, mask, code int, desc string) string {
	s.st.logSeq++
	row := &logRow{typeMask: mask, LockLogData: iloqapi.LockLogData{
		DeviceLogID: uuid.NewString(), AccessTypeMask: mask, ErrorCode: code, ErrorDescription: desc,
		GoingDate: iloqapi.NewUTC(going), LockGroupID: s.opts.LockGroupID,
		ReadingDate: iloqapi.NewUTC(arrival), TimestampUtc: iloqapi.NewUTC(arrival)}}
	data := iloqapi.WebhookDeviceLogData{DeviceLogTypeMask: mask}
	if l != nil {
		l.counter++
		row.FLockID, row.GoingCounter = l.FLockID, l.counter
		row.LocationCode, row.LockingObject = l.LocationCode, l.LockingObject
		data.FLockID, data.LockSerialNumber, data.RealEstateID = l.FLockID, l.SerialNumber, l.RealEstateID
	}
	if k != nil {
		row.FNKeyID = k.FNKeyID
		row.KeyID = k.num
		g := iloqapi.NewUTC(going)
		data.FNKeyID, data.GoingDateUtc, data.KeyTypeMask, data.PersonID = k.FNKeyID, &g, k.KeyTypeMask, k.PersonID
		if p := s.st.persons[canon(k.PersonID)]; p != nil {
			data.PersonFullName, data.LanguageCode = p.FirstName+" "+p.LastName, p.LanguageCode
		}
		if k.phone != nil {
			data.PhoneNo, data.PhoneEmail = k.phone.PhoneNo, k.phone.Email
		}
	}
	s.insertLog(row)
	s.emit(iloqapi.EventDeviceLogArrived, data)
	return row.DeviceLogID
}

// TODO: the KeyScheduler (automatic end-date renewal) is stored but not run
// when time passes; a key relying on it expires in the simulator.

// Advance moves the simulated clock forward and delivers webhooks that have
// become due (retries).
func (s *Server) Advance(_ context.Context, d time.Duration) error {
	if d < 0 {
		return fmt.Errorf("iloq sim: advance by %v: %w", d, simctl.ErrInvalid)
	}
	s.mu.Lock()
	s.offset += d
	s.mu.Unlock()
	s.kickWebhooks()
	return nil
}

// SetTime sets the simulated clock; it never moves backwards.
func (s *Server) SetTime(ctx context.Context, t time.Time) error {
	s.mu.Lock()
	d := t.Sub(s.now())
	s.mu.Unlock()
	if d < 0 {
		return fmt.Errorf("iloq sim: set time to %v: before now: %w", t, simctl.ErrInvalid)
	}
	return s.Advance(ctx, d)
}

// DeliverKey delivers a key's pending update: ViaPhoneSync (phone keys),
// ViaProgrammingDevice (physical keys, fobs and tags at a hot spot), or
// ViaAuto (the usual way for the key type).
func (s *Server) DeliverKey(_ context.Context, keyID string, via simctl.Via) error {
	s.mu.Lock()
	k, err := s.worldKey(keyID)
	var phone bool
	if err == nil {
		phone = iloqapi.IsPhone(k.KeyTypeMask)
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	switch {
	case via == simctl.ViaPhoneSync && !phone, via == simctl.ViaProgrammingDevice && phone:
		return fmt.Errorf("iloq sim: deliver %q via %q: %w", keyID, via, simctl.ErrUnsupported)
	case phone:
		_, err = s.SyncPhone(keyID)
	default:
		_, err = s.ProgramAtHotSpot(keyID)
	}
	return err
}

// BlocklistSpread reports, per lock id, whether the lock knows the blocklist
// version last ordered (true) or still an older one (false).
func (s *Server) BlocklistSpread() map[string]bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]bool, len(s.st.locks))
	for _, l := range s.st.locks {
		out[l.FLockID] = s.st.blOrdered == 0 || l.blVersion >= s.st.blOrdered
	}
	return out
}

// KeyCarries returns what key keyID really carries: its access right ids,
// its end date (zero if none) and its offline expiration.
func (s *Server) KeyCarries(keyID string) (accesses []string, end time.Time, offline time.Duration,
	err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, err := s.worldKey(keyID)
	if err != nil {
		return nil, time.Time{}, 0, err
	}
	for _, id := range k.programmed.Accesses {
		if a := s.st.accesses[id]; a != nil {
			accesses = append(accesses, a.SecurityAccessID)
		}
	}
	for _, sl := range k.programmed.Slots {
		if sl.SlotNo == 1 && sl.LimitDateLg != nil {
			end = sl.LimitDateLg.In(s.loc)
		}
	}
	return accesses, end, time.Duration(k.programmed.OfflineExp) * time.Second, nil
}
