// Package memlock is a working in-memory lock system behind core's driver port, for
// core's own tests: keys carry access, changes wait until the key is synced, removals
// say when they become effective, and repeated idempotency keys change nothing.
package memlock

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/keyward/keyward/core/domain"
	"github.com/keyward/keyward/core/driverport"
)

// Key is one key's state in the lock system.
type Key struct {
	// Carried is what the key really carries; Pending what waits for its next sync.
	Carried *domain.KeyAccess
	Pending *domain.KeyAccess
	Blocked bool
	// Expiry is the key's offline expiry (revalidation deadline): removals are
	// effective by then even without a sync. Zero: none (unbounded).
	Expiry time.Time
}

// System is an in-memory lock system.
type System struct {
	ID string
	// CanBlock tells whether BlockKey works.
	CanBlock bool
	// Immediate keys apply changes at once (online keys).
	Immediate bool

	mu    sync.Mutex
	keys  map[string]*Key
	seen  map[string]domain.Delivery
	calls []string
	// Fail, if set, is returned by the next calls (and cleared after Times calls).
	Fail      error
	FailTimes int
}

// New returns an empty lock system.
func New(id string) *System {
	return &System{ID: id, keys: map[string]*Key{}, seen: map[string]domain.Delivery{}}
}

var _ driverport.Driver = (*System)(nil)

func (s *System) key(id string) *Key {
	k := s.keys[id]
	if k == nil {
		k = &Key{}
		s.keys[id] = k
	}
	return k
}

// SetExpiry gives a key an offline expiry.
func (s *System) SetExpiry(vendorID string, t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.key(vendorID).Expiry = t
}

func (s *System) fail(call string) error {
	s.calls = append(s.calls, call)
	if s.Fail != nil && s.FailTimes > 0 {
		s.FailTimes--
		err := s.Fail
		if s.FailTimes == 0 {
			s.Fail = nil
		}
		return err
	}
	return nil
}

// SetKeyAccess implements driverport.Driver.
func (s *System) SetKeyAccess(_ context.Context, req driverport.SetKeyAccess) (domain.Delivery, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.fail("SetKeyAccess " + req.KeyVendorID); err != nil {
		return domain.Delivery{}, err
	}
	if d, ok := s.seen[req.IdempotencyKey]; ok {
		return d, nil
	}
	k := s.key(req.KeyVendorID)
	acc := req.Access
	var d domain.Delivery
	if s.Immediate {
		k.Carried, k.Pending = &acc, nil
		d = domain.Delivery{State: domain.DeliveryApplied}
	} else {
		k.Pending = &acc
		d = domain.Delivery{State: domain.DeliveryQueued}
		if len(req.Removed) > 0 {
			d.EffectiveBy, d.Unbounded = effectiveBy(k), k.Expiry.IsZero() && (k.Carried == nil || k.Carried.ValidUntil == nil)
		}
	}
	s.seen[req.IdempotencyKey] = d
	return d, nil
}

func effectiveBy(k *Key) *time.Time {
	var out *time.Time
	if k.Carried != nil && k.Carried.ValidUntil != nil {
		t := *k.Carried.ValidUntil
		out = &t
	}
	if !k.Expiry.IsZero() && (out == nil || k.Expiry.Before(*out)) {
		t := k.Expiry
		out = &t
	}
	return out
}

// BlockKey implements driverport.Driver.
func (s *System) BlockKey(_ context.Context, req driverport.BlockKey) (domain.Delivery, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.fail("BlockKey " + req.KeyVendorID); err != nil {
		return domain.Delivery{}, err
	}
	if !s.CanBlock {
		return domain.Delivery{}, &driverport.Error{Kind: driverport.NeedsAction, Driver: s.ID, Call: "BlockKey", Message: "this lock system has no blocklist", RequiredAction: "retrieve the key"}
	}
	if d, ok := s.seen[req.IdempotencyKey]; ok {
		return d, nil
	}
	s.key(req.KeyVendorID).Blocked = true
	d := domain.Delivery{State: domain.DeliveryQueued, Reason: "blocklist ordered"}
	s.seen[req.IdempotencyKey] = d
	return d, nil
}

// UnblockKey implements driverport.Driver.
func (s *System) UnblockKey(_ context.Context, req driverport.BlockKey) (domain.Delivery, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.fail("UnblockKey " + req.KeyVendorID); err != nil {
		return domain.Delivery{}, err
	}
	s.key(req.KeyVendorID).Blocked = false
	return domain.Delivery{State: domain.DeliveryApplied}, nil
}

// Sync delivers a key's pending change (a phone sync, a key at a programming
// device) and returns the delivery the observer would report.
func (s *System) Sync(vendorID string) (domain.Delivery, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.key(vendorID)
	if k.Pending == nil {
		return domain.Delivery{}, false
	}
	k.Carried, k.Pending = k.Pending, nil
	return domain.Delivery{State: domain.DeliveryApplied}, true
}

// Carries returns the access objects a key really carries (sorted).
func (s *System) Carries(vendorID string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.key(vendorID)
	if k.Carried == nil {
		return nil
	}
	out := slices.Clone(k.Carried.AccessObjects)
	slices.Sort(out)
	return out
}

// Blocked tells whether a key is blocked.
func (s *System) Blocked(vendorID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.key(vendorID).Blocked
}

// Calls returns the calls made, in order.
func (s *System) Calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}
