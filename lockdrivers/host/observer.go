package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/keyward/keyward/core/domain"
	"github.com/keyward/keyward/core/engine"
	"github.com/keyward/keyward/core/store"
	"github.com/keyward/keyward/lockdrivers/driver"
)

// cursorSetting names the setting that holds a lock system's change-stream
// cursor.
func cursorSetting(lockSystemID string) string { return "driver-cursor/" + lockSystemID }

// runObserver reads the driver's change stream from the persisted cursor
// while the driver runs.
func (s *system) runObserver(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.whenRunning():
		}
		n, err := s.observeOnce(ctx)
		if err != nil && ctx.Err() == nil {
			s.log.Warn("reading the change stream failed", "err", err)
		}
		if err != nil || n < s.h.opts.ChangesLimit {
			if !sleep(ctx, s.h.opts.ObserveInterval) {
				return
			}
		}
	}
}

// Observe reads the lock system's change stream once from the persisted
// cursor up to where the driver has caught up (at most ChangesLimit changes)
// and records what it says; it returns how many changes it took.
func (h *Host) Observe(ctx context.Context, lockSystemID string) (int, error) {
	s, ok := h.systems[lockSystemID]
	if !ok {
		return 0, fmt.Errorf("lock system %s has no driver configured", lockSystemID)
	}
	return s.observeOnce(ctx)
}

func (s *system) observeOnce(ctx context.Context) (int, error) {
	s.observing.Lock()
	defer s.observing.Unlock()
	cursor, err := s.loadCursor(ctx)
	if err != nil {
		return 0, err
	}
	var got []driver.Change
	var bad error
	callErr := s.call(ctx, "Changes", false, func(ctx context.Context, d driver.Driver) error {
		return d.Changes(ctx, driver.ChangesRequest{Cursor: cursor, Limit: s.h.opts.ChangesLimit}, func(c driver.Change) error {
			if err := checkChange(c, true); err != nil {
				bad = fmt.Errorf("change %q after cursor %q: %w", c.ID, cursor, err)
				return bad
			}
			got = append(got, c)
			return nil
		})
	})
	// What arrived before a failure is good and keeps its cursors; a
	// malformed change stops the stream before it, and nothing of it is
	// stored.
	// TODO: a malformed change blocks this lock system's change stream until
	// the driver is fixed (every read stops at it again); there is no way for
	// an operator to skip it.
	n, err := s.record(ctx, got, true)
	if err != nil {
		return n, err
	}
	if bad != nil {
		return n, s.violation("Changes", bad)
	}
	if callErr != nil {
		return n, s.portError("Changes", callErr)
	}
	return n, nil
}

func (s *system) loadCursor(ctx context.Context) (string, error) {
	var cursor string
	err := s.h.eng.Store().View(ctx, func(tx store.Tx) error {
		set, err := store.Get[domain.Setting](ctx, tx, cursorSetting(s.id))
		if errors.Is(err, domain.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		cursor = set.Value
		return nil
	})
	return cursor, err
}

func (s *system) saveCursor(ctx context.Context, cursor string) error {
	_, err := s.h.eng.Execute(ctx, engine.Actor{Name: "observer:" + s.id},
		engine.PutResource{Resource: &domain.Setting{Meta: domain.Meta{ID: cursorSetting(s.id)}, Value: cursor}, Expect: store.AnyVersion})
	return err
}

// checkChange checks one change against the contract; stream changes must
// carry a cursor.
func checkChange(c driver.Change, stream bool) error {
	if c.ID == "" {
		return errors.New("no id")
	}
	if stream && c.Cursor == "" {
		return errors.New("no cursor")
	}
	set := 0
	for _, p := range []bool{c.Delivery != nil, c.LockEvent != nil, c.KeyState != nil, c.Block != nil} {
		if p {
			set++
		}
	}
	if set != 1 {
		return fmt.Errorf("kind %q with %d payloads, want exactly one", c.Kind, set)
	}
	switch c.Kind {
	case driver.ChangeDelivery:
		if c.Delivery == nil || c.Delivery.KeyID == "" {
			return errors.New("delivery change without a key id")
		}
		if _, err := deliveryToDomain(c.Delivery.Delivery); err != nil {
			return err
		}
	case driver.ChangeLockEvent:
		if c.LockEvent == nil || c.LockEvent.LockID == "" {
			return errors.New("lock event without a lock id")
		}
		if c.At.IsZero() {
			return errors.New("lock event without a time")
		}
	case driver.ChangeKeyState:
		if c.KeyState == nil || c.KeyState.KeyID == "" {
			return errors.New("key-state change without a key id")
		}
		if _, ok := custodies[c.KeyState.State]; !ok {
			return fmt.Errorf("key state %q is not a contract key state", c.KeyState.State)
		}
	case driver.ChangeBlock:
		if c.Block == nil || c.Block.KeyID == "" || c.Block.Lock.LockID == "" || !validPropagation(c.Block.Lock.State) {
			return errors.New("block change without key, lock or a contract propagation state")
		}
	default:
		return fmt.Errorf("kind %q is not a contract change kind", c.Kind)
	}
	return nil
}

// record stores checked changes: lock events (de-duplicated by vendor id by
// the engine), delivery transitions, and, for the stream, the cursor after
// the last one. A key-state change asks for an inventory sync.
//
// A key's new programmed access (drift) reaches the engine through that
// sync, which carries every key's programmed access.
//
// TODO: block propagation per lock (ChangeBlock) is only logged, so a key's
// block shows as delivered before every lock has learnt it.
func (s *system) record(ctx context.Context, changes []driver.Change, stream bool) (int, error) {
	if len(changes) == 0 {
		return 0, nil
	}
	var evs []engine.LockEventIn
	resync := false
	for _, c := range changes {
		s.h.metrics.changes.WithLabelValues(s.id, string(c.Kind)).Inc()
		switch c.Kind {
		case driver.ChangeLockEvent:
			e := c.LockEvent
			evs = append(evs, engine.LockEventIn{VendorEventID: c.ID, KeyVendorID: e.KeyID, LockVendorID: e.LockID, At: c.At, Opened: e.Opened, Reason: e.Reason})
		case driver.ChangeKeyState:
			resync = true
		case driver.ChangeBlock:
			s.log.Debug("block propagation", "key", c.Block.KeyID, "lock", c.Block.Lock.LockID, "blocked", c.Block.Blocked, "state", c.Block.Lock.State)
		}
	}
	if len(evs) > 0 {
		if _, err := s.h.eng.RecordLockEvents(ctx, s.id, evs); err != nil {
			return 0, fmt.Errorf("recording lock events: %w", err)
		}
	}
	for _, c := range changes {
		if c.Kind != driver.ChangeDelivery {
			continue
		}
		d, _ := deliveryToDomain(c.Delivery.Delivery)
		if stale, err := s.staleDelivery(ctx, c.Delivery.KeyID, d); err != nil {
			return 0, err
		} else if stale {
			continue
		}
		if err := s.h.eng.RecordDelivery(ctx, s.id, c.Delivery.KeyID, d); err != nil {
			return 0, fmt.Errorf("recording delivery of key %s: %w", c.Delivery.KeyID, err)
		}
	}
	if resync {
		select {
		case s.syncNow <- struct{}{}:
		default:
		}
	}
	if stream {
		if err := s.saveCursor(ctx, changes[len(changes)-1].Cursor); err != nil {
			return 0, fmt.Errorf("saving the change cursor: %w", err)
		}
	}
	return len(changes), nil
}

// staleDelivery tells whether a delivery transition is about an earlier
// change than the key's latest one (an order since superseded), or arrives
// while keyward's newest change has not been answered yet: it must not move
// the key's delivery state.
//
// TODO: the check reads the key state outside the transaction that records
// the delivery, and a transition that arrives while its own change is still
// being sent is dropped; the key then waits for its next transition.
func (s *system) staleDelivery(ctx context.Context, keyVendorID string, d domain.Delivery) (bool, error) {
	stale := false
	err := s.h.eng.Store().View(ctx, func(tx store.Tx) error {
		ks, err := store.Get[domain.KeyState](ctx, tx, engine.KeyID(s.id, keyVendorID))
		if errors.Is(err, domain.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		switch {
		case ks.Delivery.State == domain.DeliveryPlanned:
			stale = true
		case ks.Delivery.ChangeID != "" && d.ChangeID != "" && ks.Delivery.ChangeID != d.ChangeID:
			stale = true
		}
		return nil
	})
	return stale, err
}

// maxWebhookBody bounds a webhook's body.
const maxWebhookBody = 1 << 20

// Webhooks returns the handler of vendor webhooks at /hooks/{lockSystem}: the
// driver verifies and decodes them; a bad signature is answered 401 and
// changes nothing.
func (h *Host) Webhooks() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("lockSystem")
		s, ok := h.systems[id]
		if !ok {
			http.Error(w, "no lock system "+id, http.StatusNotFound)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxWebhookBody))
		if err != nil {
			http.Error(w, "webhook body too large or unreadable", http.StatusRequestEntityTooLarge)
			return
		}
		if s.current() == nil {
			w.Header().Set("Retry-After", "10")
			http.Error(w, "the lock system's driver is not running", http.StatusServiceUnavailable)
			return
		}
		var changes []driver.Change
		err = s.call(r.Context(), "HandleWebhook", false, func(ctx context.Context, d driver.Driver) error {
			var err error
			changes, err = d.HandleWebhook(ctx, driver.Webhook{Header: r.Header.Clone(), Body: body})
			return err
		})
		if err != nil {
			switch driver.KindOf(err) {
			case driver.KindUnauthenticated, driver.KindPermission:
				s.log.Warn("webhook rejected: signature or credentials wrong; nothing changed", "remote", r.RemoteAddr, "err", err)
				http.Error(w, "webhook signature rejected", http.StatusUnauthorized)
			case driver.KindInvalid:
				s.log.Warn("webhook rejected as invalid", "remote", r.RemoteAddr, "err", err)
				http.Error(w, "webhook invalid: "+err.Error(), http.StatusBadRequest)
			default:
				s.log.Warn("webhook not handled, the vendor should retry", "err", err)
				w.Header().Set("Retry-After", "10")
				http.Error(w, "webhook not handled now", http.StatusServiceUnavailable)
			}
			return
		}
		for i, c := range changes {
			if err := checkChange(c, false); err != nil {
				_ = s.violation("HandleWebhook", fmt.Errorf("change %d (%q): %w", i, c.ID, err))
				http.Error(w, "the lock system's driver decoded the webhook into invalid data", http.StatusInternalServerError)
				return
			}
		}
		n, err := s.record(r.Context(), changes, false)
		if err != nil {
			s.log.Error("webhook changes not recorded", "err", err)
			http.Error(w, "webhook not recorded", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = fmt.Fprintf(w, "{\"accepted\":%d}\n", n)
	})
}
