package host

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/keyward/keyward/core/domain"
	"github.com/keyward/keyward/core/driverport"
	"github.com/keyward/keyward/lockdrivers/driver"
)

// port is one lock system's driver as core's dispatcher sees it.
type port struct{ s *system }

var _ driverport.Driver = port{}

// SetKeyAccess implements driverport.Driver.
func (p port) SetKeyAccess(ctx context.Context, req driverport.SetKeyAccess) (domain.Delivery, error) {
	const call = "SetKeyAccess"
	if req.KeyVendorID == "" || req.IdempotencyKey == "" {
		return domain.Delivery{}, &driverport.Error{Kind: driverport.Invalid, Driver: p.s.id, Call: call, Message: "a key's vendor id and an idempotency key are required"}
	}
	acc, err := accessToSDK(req.Access)
	if err != nil {
		return domain.Delivery{}, &driverport.Error{Kind: driverport.Invalid, Driver: p.s.id, Call: call, Message: err.Error()}
	}
	var d driver.Delivery
	err = p.s.call(ctx, call, true, func(ctx context.Context, drv driver.Driver) error {
		var err error
		d, err = drv.SetKeyAccess(ctx, driver.SetKeyAccessRequest{IdempotencyKey: req.IdempotencyKey, KeyID: req.KeyVendorID, Access: acc})
		return err
	})
	if err != nil {
		return domain.Delivery{}, p.s.portError(call, err)
	}
	out, err := deliveryToDomain(d)
	if err != nil {
		return domain.Delivery{}, p.s.violation(call, err)
	}
	return out, nil
}

// BlockKey implements driverport.Driver.
func (p port) BlockKey(ctx context.Context, req driverport.BlockKey) (domain.Delivery, error) {
	return p.block(ctx, "BlockKey", req, driver.Driver.BlockKey)
}

// UnblockKey implements driverport.Driver.
func (p port) UnblockKey(ctx context.Context, req driverport.BlockKey) (domain.Delivery, error) {
	return p.block(ctx, "UnblockKey", req, driver.Driver.UnblockKey)
}

func (p port) block(ctx context.Context, call string, req driverport.BlockKey,
	fn func(driver.Driver, context.Context, driver.BlockKeyRequest) (driver.BlockResult, error),
) (domain.Delivery, error) {
	if req.KeyVendorID == "" || req.IdempotencyKey == "" {
		return domain.Delivery{}, &driverport.Error{Kind: driverport.Invalid, Driver: p.s.id, Call: call, Message: "a key's vendor id and an idempotency key are required"}
	}
	var r driver.BlockResult
	err := p.s.call(ctx, call, true, func(ctx context.Context, drv driver.Driver) error {
		var err error
		r, err = fn(drv, ctx, driver.BlockKeyRequest{IdempotencyKey: req.IdempotencyKey, KeyID: req.KeyVendorID, Reason: req.Reason})
		return err
	})
	if err != nil {
		return domain.Delivery{}, p.s.portError(call, err)
	}
	for i, l := range r.Locks {
		if l.LockID == "" || !validPropagation(l.State) {
			return domain.Delivery{}, p.s.violation(call, fmt.Errorf("lock propagation %d: lock id %q, state %q", i, l.LockID, l.State))
		}
	}
	out, err := deliveryToDomain(r.Delivery)
	if err != nil {
		return domain.Delivery{}, p.s.violation(call, err)
	}
	return out, nil
}

func validPropagation(s driver.PropagationState) bool {
	switch s {
	case driver.PropagationPending, driver.PropagationApplied, driver.PropagationFailed:
		return true
	}
	return false
}

// violation reports a malformed or contract-violating driver answer: logged,
// counted, and returned as an error naming the lock system and the call.
// Nothing from the answer is used.
func (s *system) violation(call string, err error) error {
	s.h.metrics.rejected.WithLabelValues(s.id, call).Inc()
	s.log.Error("driver answer rejected: it violates the lock driver contract; nothing from it is stored", "call", call, "vendor", s.status().Vendor, "err", err)
	return &driverport.Error{Kind: driverport.Invalid, Driver: s.id, Call: call, Message: "driver answer rejected (contract violation): " + err.Error()}
}

// portError maps a driver call's error to core's error kinds. An error
// without a kind, a crashed driver and a timeout are transient, so the
// outbox retries them with the same idempotency key.
func (s *system) portError(call string, err error) error {
	var pe *driverport.Error
	if errors.As(err, &pe) {
		return pe
	}
	out := &driverport.Error{Kind: driverport.Transient, Driver: s.id, Call: call, Message: err.Error()}
	var de *driver.Error
	if !errors.As(err, &de) {
		return out
	}
	out.RetryAfter = de.RetryAfter
	switch de.Kind {
	case driver.KindInvalid:
		out.Kind = driverport.Invalid
	case driver.KindNotFound:
		out.Kind = driverport.NotFound
	case driver.KindPermission, driver.KindUnauthenticated:
		out.Kind = driverport.Permission
	case driver.KindTransient:
		out.Kind = driverport.Transient
	case driver.KindConflict:
		out.Kind = driverport.Conflict
	case driver.KindNeedsAction:
		out.Kind = driverport.NeedsAction
		if na := de.NeedsAction; na != nil {
			out.ReasonCode, out.RequiredAction = na.ReasonCode, string(na.Action)
			if na.Reason != "" {
				out.Message = na.Reason
			}
		}
	default:
		s.log.Error("driver returned an error without a kind; treated as transient", "call", call, "err", err)
	}
	return out
}

// deliveryToDomain maps and checks a delivery.
func deliveryToDomain(d driver.Delivery) (domain.Delivery, error) {
	out := domain.Delivery{ChangeID: d.ChangeID, Reason: d.Reason}
	if !d.At.IsZero() {
		out.At = d.At.UTC()
	}
	switch d.State {
	case driver.DeliveryRecorded:
		out.State = domain.DeliveryRecorded
	case driver.DeliveryQueued:
		out.State = domain.DeliveryQueued
	case driver.DeliveryDelivered:
		out.State = domain.DeliveryDelivered
	case driver.DeliveryApplied:
		out.State = domain.DeliveryApplied
	case driver.DeliveryFailed:
		out.State = domain.DeliveryFailed
	case driver.DeliveryNeedsAction:
		out.State = domain.DeliveryNeedsAction
		if d.NeedsAction == nil {
			return domain.Delivery{}, errors.New("delivery state needs-action without saying what a person must do")
		}
	default:
		return domain.Delivery{}, fmt.Errorf("delivery state %q is not a contract state", d.State)
	}
	if na := d.NeedsAction; na != nil {
		out.ReasonCode, out.RequiredAction = na.ReasonCode, string(na.Action)
		if out.Reason == "" {
			out.Reason = na.Reason
		}
	}
	if r := d.Removal; r != nil {
		switch {
		case r.Unbounded && !r.EffectiveBy.IsZero():
			return domain.Delivery{}, errors.New("removal both unbounded and effective by a time")
		case !r.Unbounded && r.EffectiveBy.IsZero():
			return domain.Delivery{}, errors.New("removal with neither an effective-by time nor unbounded")
		case r.Unbounded:
			out.Unbounded = true
		default:
			t := r.EffectiveBy.UTC()
			out.EffectiveBy = &t
		}
	}
	return out, nil
}

// accessToSDK maps a key's desired access to the contract's form.
//
// TODO: a schedule's time zone is not passed: the contract's intervals are in
// the lock system's local time, so an entitlement whose schedule names a
// different zone than the lock system's opens at shifted hours.
func accessToSDK(a domain.KeyAccess) (driver.KeyAccess, error) {
	out := driver.KeyAccess{AccessObjectIDs: slices.Clone(a.AccessObjects)}
	if out.AccessObjectIDs == nil {
		out.AccessObjectIDs = []string{}
	}
	slices.Sort(out.AccessObjectIDs)
	out.AccessObjectIDs = slices.Compact(out.AccessObjectIDs)
	if a.ValidFrom != nil {
		out.Window.NotBefore = a.ValidFrom.UTC()
	}
	if a.ValidUntil != nil {
		out.Window.NotAfter = a.ValidUntil.UTC()
	}
	if a.Schedule != nil {
		for _, w := range a.Schedule.Windows {
			from, err1 := clock(w.From)
			to, err2 := clock(w.To)
			if err := errors.Join(err1, err2); err != nil {
				return driver.KeyAccess{}, fmt.Errorf("schedule window %s-%s: %v", w.From, w.To, err)
			}
			if to <= from {
				return driver.KeyAccess{}, fmt.Errorf("schedule window %s-%s ends before it starts", w.From, w.To)
			}
			for _, day := range w.Days {
				out.Schedule = append(out.Schedule, driver.ScheduleInterval{Day: day, Start: from, End: to})
			}
		}
	}
	return out, nil
}

// clock parses "HH:MM" (up to 24:00) as an offset from midnight.
func clock(s string) (time.Duration, error) {
	h, m, ok := strings.Cut(s, ":")
	var hh, mm int
	if !ok || len(h) != 2 || len(m) != 2 {
		return 0, fmt.Errorf("%q is not HH:MM", s)
	}
	if _, err := fmt.Sscanf(h+" "+m, "%d %d", &hh, &mm); err != nil || hh > 24 || mm > 59 || (hh == 24 && mm != 0) || hh < 0 || mm < 0 {
		return 0, fmt.Errorf("%q is not HH:MM", s)
	}
	return time.Duration(hh)*time.Hour + time.Duration(mm)*time.Minute, nil
}

// accessToDomain maps the access a lock system reports a key carries (for
// the drift report), checking it against the contract.
func accessToDomain(a driver.KeyAccess) (domain.KeyAccess, error) {
	out := domain.KeyAccess{AccessObjects: slices.Clone(a.AccessObjectIDs)}
	if out.AccessObjects == nil {
		out.AccessObjects = []string{}
	}
	for _, id := range out.AccessObjects {
		if id == "" {
			return domain.KeyAccess{}, errors.New("an access object without id")
		}
	}
	slices.Sort(out.AccessObjects)
	if !a.Window.NotBefore.IsZero() {
		t := a.Window.NotBefore.UTC()
		out.ValidFrom = &t
	}
	if !a.Window.NotAfter.IsZero() {
		t := a.Window.NotAfter.UTC()
		out.ValidUntil = &t
	}
	if out.ValidFrom != nil && out.ValidUntil != nil && !out.ValidUntil.After(*out.ValidFrom) {
		return domain.KeyAccess{}, errors.New("validity window ends before it starts")
	}
	if len(a.Schedule) == 0 {
		return out, nil
	}
	// Intervals with the same hours become one window over their days.
	sched := &domain.Schedule{}
	index := map[[2]time.Duration]int{}
	for _, iv := range a.Schedule {
		if iv.Day < time.Sunday || iv.Day > time.Saturday || iv.Start < 0 || iv.End <= iv.Start || iv.End > 24*time.Hour {
			return domain.KeyAccess{}, fmt.Errorf("schedule interval %v %s-%s is not a contract interval", iv.Day, iv.Start, iv.End)
		}
		k := [2]time.Duration{iv.Start, iv.End}
		i, ok := index[k]
		if !ok {
			i = len(sched.Windows)
			index[k] = i
			sched.Windows = append(sched.Windows, domain.Window{From: hhmm(iv.Start), To: hhmm(iv.End)})
		}
		if !slices.Contains(sched.Windows[i].Days, iv.Day) {
			sched.Windows[i].Days = append(sched.Windows[i].Days, iv.Day)
		}
	}
	for i := range sched.Windows {
		slices.Sort(sched.Windows[i].Days)
	}
	out.Schedule = sched
	return out, nil
}

func hhmm(d time.Duration) string {
	return fmt.Sprintf("%02d:%02d", int(d/time.Hour), int(d%time.Hour/time.Minute))
}
