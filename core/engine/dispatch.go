package engine

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/keyward/keyward/core/domain"
	"github.com/keyward/keyward/core/driverport"
	"github.com/keyward/keyward/core/store"
)

// DispatchOptions tune a dispatcher.
type DispatchOptions struct {
	// CallTimeout bounds one driver call (default 30 s); a call that times out is
	// transient.
	CallTimeout time.Duration
	// MaxAttempts before an operation is given up as failed (default 12).
	MaxAttempts int
	// BaseBackoff and MaxBackoff shape the retry delays (default 1 s and 5 min).
	BaseBackoff, MaxBackoff time.Duration
	// Poll is how often an idle dispatcher looks for due retries (default 1 s).
	Poll time.Duration
}

func (o *DispatchOptions) defaults() {
	if o.CallTimeout == 0 {
		o.CallTimeout = 30 * time.Second
	}
	if o.MaxAttempts == 0 {
		o.MaxAttempts = 12
	}
	if o.BaseBackoff == 0 {
		o.BaseBackoff = time.Second
	}
	if o.MaxBackoff == 0 {
		o.MaxBackoff = 5 * time.Minute
	}
	if o.Poll == 0 {
		o.Poll = time.Second
	}
}

// Backoff is the delay before attempt n+1 (n ≥ 1): exponential from base, capped,
// with up to 20% jitter so that lock systems recovering together are not hit at once.
func Backoff(n int, base, maxDelay time.Duration) time.Duration {
	d := base
	for i := 1; i < n && d < maxDelay; i++ {
		d *= 2
	}
	d = min(d, maxDelay)
	return d - time.Duration(rand.Int64N(int64(d)/5+1))
}

// RunDispatcher runs the lock system's operations in order until ctx ends. Calls
// to one lock system are never made concurrently.
func (e *Engine) RunDispatcher(ctx context.Context, lockSystemID string, drivers driverport.Drivers, opts DispatchOptions) error {
	opts.defaults()
	wake := e.subscribe(lockSystemID)
	tick := time.NewTicker(opts.Poll)
	defer tick.Stop()
	for {
		if _, err := e.DispatchDue(ctx, lockSystemID, drivers, opts); err != nil && ctx.Err() == nil {
			e.log.Error("dispatch failed", "lock_system", lockSystemID, "err", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-wake:
		case <-tick.C:
		}
	}
}

// DispatchDue runs every operation of the lock system that is due now, in order,
// and returns how many it ran. Tests call it directly.
func (e *Engine) DispatchDue(ctx context.Context, lockSystemID string, drivers driverport.Drivers, opts DispatchOptions) (int, error) {
	opts.defaults()
	n := 0
	for ctx.Err() == nil {
		op, err := e.nextDue(ctx, lockSystemID)
		if err != nil || op == nil {
			return n, err
		}
		drv, ok := drivers.Driver(lockSystemID)
		if !ok {
			return n, nil // the lock system has no running driver: operations wait
		}
		d, callErr := e.call(ctx, drv, op, opts)
		if err := e.recordAttempt(ctx, op, d, callErr, opts); err != nil {
			return n, err
		}
		n++
	}
	return n, ctx.Err()
}

func (e *Engine) nextDue(ctx context.Context, lockSystemID string) (*domain.Operation, error) {
	var due *domain.Operation
	now := e.Now()
	err := e.st.View(ctx, func(tx store.Tx) error {
		ops, _, err := store.List[domain.Operation](ctx, tx, store.Query{
			Filter: store.And{store.Eqf("state", string(domain.OpPending)), store.Eqf("lockSystemId", lockSystemID)}, Limit: -1})
		if err != nil {
			return err
		}
		for _, op := range ops {
			if !op.NextAttempt.After(now) {
				due = op
				return nil
			}
		}
		return nil
	})
	return due, err
}

func (e *Engine) call(ctx context.Context, drv driverport.Driver, op *domain.Operation, opts DispatchOptions) (domain.Delivery, error) {
	cctx, cancel := context.WithTimeout(ctx, opts.CallTimeout)
	defer cancel()
	switch op.OpKind {
	case domain.OpSetKeyAccess:
		return drv.SetKeyAccess(cctx, driverport.SetKeyAccess{LockSystemID: op.LockSystemID, KeyID: op.KeyID, KeyVendorID: op.KeyVendorID,
			HolderRef: op.HolderRef, IdempotencyKey: op.IdempotencyKey, Access: op.Access, Removed: op.Removed})
	case domain.OpBlockKey:
		return drv.BlockKey(cctx, driverport.BlockKey{LockSystemID: op.LockSystemID, KeyID: op.KeyID, KeyVendorID: op.KeyVendorID,
			IdempotencyKey: op.IdempotencyKey, Reason: op.Reason})
	case domain.OpUnblockKey:
		return drv.UnblockKey(cctx, driverport.BlockKey{LockSystemID: op.LockSystemID, KeyID: op.KeyID, KeyVendorID: op.KeyVendorID,
			IdempotencyKey: op.IdempotencyKey, Reason: op.Reason})
	}
	return domain.Delivery{}, &driverport.Error{Kind: driverport.Invalid, Call: string(op.OpKind), Message: "unknown operation kind"}
}

// recordAttempt stores what one call gave: the delivery state on success, a retry
// time on a transient error, failure or needs-action otherwise.
func (e *Engine) recordAttempt(ctx context.Context, op *domain.Operation, d domain.Delivery, callErr error, opts DispatchOptions) error {
	return e.st.Update(ctx, func(tx store.Tx) error {
		t := e.begin(ctx, tx, Actor{Name: "dispatcher", Source: domain.Source{Kind: domain.SourceManual, Name: "dispatcher"}})
		cur, err := store.Get[domain.Operation](ctx, tx, op.ID)
		if err != nil {
			return err
		}
		cur.Attempts++
		now := t.now
		if callErr == nil {
			if d.At.IsZero() {
				d.At = now
			}
			cur.State, cur.Delivery, cur.LastError = domain.OpDone, &d, ""
		} else {
			cur.LastError = callErr.Error()
			kind := driverport.KindOf(callErr)
			switch {
			case driverport.Retryable(callErr) && cur.Attempts < opts.MaxAttempts:
				cur.NextAttempt = now.Add(Backoff(cur.Attempts, opts.BaseBackoff, opts.MaxBackoff))
				if err := store.Put(ctx, tx, cur, cur.Version); err != nil {
					return err
				}
				e.log.Warn("driver call failed, will retry", "lock_system", op.LockSystemID, "operation", op.ID, "attempt", cur.Attempts, "err", callErr)
				return t.event("operation.retry", domain.KindOperation, op.ID, map[string]any{"attempt": cur.Attempts, "error": callErr.Error()}, func(ev *domain.AuditEvent) { ev.KeyID = op.KeyID })
			case kind == driverport.NeedsAction:
				var de *driverport.Error
				errors.As(callErr, &de)
				d = domain.Delivery{State: domain.DeliveryNeedsAction, ReasonCode: de.ReasonCode, Reason: de.Message, RequiredAction: de.RequiredAction, At: now}
				cur.State, cur.Delivery = domain.OpDone, &d
			default:
				d = domain.Delivery{State: domain.DeliveryFailed, Reason: callErr.Error(), At: now}
				cur.State, cur.Delivery = domain.OpFailed, &d
			}
		}
		if err := store.Put(ctx, tx, cur, cur.Version); err != nil {
			return err
		}
		if err := t.applyDelivery(cur.KeyID, cur.ID, d); err != nil {
			return err
		}
		_, err = t.finish()
		return err
	})
}
