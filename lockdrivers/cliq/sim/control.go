package sim

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/keyward/keyward/lockdrivers/cliq/cwm"
	"github.com/keyward/keyward/lockdrivers/simctl"
)

// DeliverKey puts a key in a programming device (remote Wall/Mobile PD or
// a local PD) or, for CONNECT_KEY keys, syncs it through the CLIQ Connect
// app. The key takes what CWM holds for it (validity, schedule,
// revalidation period and, for dynamic keys, the access list), is
// revalidated, and uploads the events in its memory, which CWM imports now.
func (s *Sim) DeliverKey(_ context.Context, keyID string, via simctl.Via) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.crashed {
		return simctl.ErrCrashed
	}
	k, ok := s.keys[keyID]
	if !ok || k.Deleted {
		return fmt.Errorf("sim: deliver key %q: %w", keyID, simctl.ErrNotFound)
	}
	switch via {
	case simctl.ViaAuto, simctl.ViaProgrammingDevice:
	case simctl.ViaPhoneSync:
		if k.Type != cwm.KeyTypeConnect {
			return fmt.Errorf("sim: deliver key %s: only CLIQ Connect keys sync through a phone: %w",
				k.Marking, simctl.ErrUnsupported)
		}
	default:
		return fmt.Errorf("sim: deliver key %s via %q: %w", k.Marking, via, simctl.ErrUnsupported)
	}
	k.programmed = s.want(k)
	k.lastValid = s.now
	k.lastRemote = s.now
	k.programmedAt = s.now
	for _, ev := range k.memory {
		ev.ImportDate = &cwm.DateTime{Time: s.now}
		s.audit = append(s.audit, ev)
	}
	k.memory = nil
	return nil
}

// VisitLock carries a programming key to a cylinder: the cylinder's pending
// programming jobs are executed in order, and the programming key collects
// the cylinder's events not yet collected, which CWM imports now.
func (s *Sim) VisitLock(_ context.Context, lockID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.crashed {
		return simctl.ErrCrashed
	}
	c, ok := s.cylinders[lockID]
	if !ok || c.Deleted {
		return fmt.Errorf("sim: visit cylinder %q: %w", lockID, simctl.ErrNotFound)
	}
	for _, j := range c.jobs {
		if j.State != cwm.JobPending {
			continue
		}
		switch j.Action {
		case cwm.JobAddKey:
			c.accepts[j.KeyIdentity] = true
		case cwm.JobRemoveKey:
			delete(c.accepts, j.KeyIdentity)
		case cwm.JobBlacklistKey:
			c.blacklist[j.KeyIdentity] = true
		case cwm.JobUnblacklistKey:
			delete(c.blacklist, j.KeyIdentity)
		}
		s.finishJob(j, cwm.JobDone)
	}
	c.jobs = nil // all executed; cancelled ones need no visit
	for _, ev := range c.events {
		if ev.seq <= c.uploaded {
			continue
		}
		row := ev.row
		row.ImportDate = &cwm.DateTime{Time: s.now}
		s.audit = append(s.audit, row)
	}
	c.uploaded = c.eventSeq
	return nil
}

// UseKey presents a key at a cylinder at the simulator's time. The event
// goes into the key's memory and the cylinder's ring; CWM sees it only
// after DeliverKey or VisitLock.
func (s *Sim) UseKey(_ context.Context, keyID, lockID string) (simctl.UseResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.crashed {
		return simctl.UseResult{}, simctl.ErrCrashed
	}
	k, ok := s.keys[keyID]
	if !ok || k.Deleted {
		return simctl.UseResult{}, fmt.Errorf("sim: use key %q: %w", keyID, simctl.ErrNotFound)
	}
	c, ok := s.cylinders[lockID]
	if !ok || c.Deleted {
		return simctl.UseResult{}, fmt.Errorf("sim: use key at cylinder %q: %w", lockID, simctl.ErrNotFound)
	}
	opened, reason, evType := s.decide(k, c, s.now)
	row := cwm.AuditTrail{
		Identity: s.newID(), EventType: evType, EventDate: &cwm.DateTime{Time: s.now},
		KeyIdentity: k.Identity, KeyMarking: k.Marking, CylinderIdentity: c.Identity, CylinderMarking: c.Marking,
		PersonIdentity: k.person,
	}
	kr := row
	kr.Source = "KEY"
	if k.Type == cwm.KeyTypeConnect {
		// A CLIQ Connect key opens through the app, which reports at once.
		kr.ImportDate = &cwm.DateTime{Time: s.now}
		s.audit = append(s.audit, kr)
	} else {
		// TODO: a real key's audit memory is bounded (size not public);
		// here it keeps every event until the key's next update.
		k.memory = append(k.memory, kr)
	}
	cr := row
	cr.Source = "CYLINDER"
	c.eventSeq++
	c.events = append(c.events, event{row: cr, seq: c.eventSeq})
	if len(c.events) > CylinderEventMemory {
		c.events = c.events[len(c.events)-CylinderEventMemory:]
	}
	return simctl.UseResult{Opened: opened, Reason: reason, EventID: row.Identity}, nil
}

// Now returns the simulator's clock.
func (s *Sim) Now(context.Context) (time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now, nil
}

// SetTime sets the clock; it never moves backwards.
func (s *Sim) SetTime(_ context.Context, t time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t.Before(s.now) {
		return fmt.Errorf("sim: set time %s: before the simulator's time %s", t.Format(time.RFC3339), s.now.Format(time.RFC3339))
	}
	s.now = t.UTC()
	return nil
}

// Advance moves the clock forward by d.
func (s *Sim) Advance(_ context.Context, d time.Duration) error {
	if d < 0 {
		return errors.New("sim: advance: negative duration")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = s.now.Add(d)
	return nil
}

// Crash makes the SOAP endpoints answer 503 until Restart; state is kept
// (CWM keeps its state in a database).
func (s *Sim) Crash(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.crashed = true
	return nil
}

// Restart ends a crash.
func (s *Sim) Restart(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.crashed = false
	return nil
}

// Requests returns the request log from sequence number since on.
func (s *Sim) Requests(_ context.Context, since int64) ([]simctl.Request, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []simctl.Request
	for _, r := range s.requests {
		if r.Seq >= since {
			out = append(out, r)
		}
	}
	return out, nil
}

// Webhooks returns nothing: CWM sends no webhooks.
func (s *Sim) Webhooks(context.Context, int64) ([]simctl.Webhook, error) { return nil, nil }

// KeyState returns CWM's view of a key (for tests).
func (s *Sim) KeyState(keyID string) (cwm.KeyState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.keys[keyID]
	if !ok {
		return cwm.KeyState{}, false
	}
	return s.keyState(k), true
}

// BlacklistSize returns the number of keys in a cylinder's blacklist and
// pending blacklist jobs (for tests).
func (s *Sim) BlacklistSize(cylID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.cylinders[cylID]
	if !ok {
		return 0
	}
	return s.blacklistSize(c)
}

// FillBlacklist puts n generated key identities straight into a cylinder's
// blacklist, as if blacklisting jobs had run (for capacity tests).
func (s *Sim) FillBlacklist(cylID string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.cylinders[cylID]
	if !ok {
		return
	}
	for i := 0; i < n; i++ {
		c.blacklist[s.newID()] = true
	}
}
