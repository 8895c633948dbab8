package engine

import (
	"context"
	"time"

	"github.com/keyward/keyward/core/domain"
	"github.com/keyward/keyward/core/store"
)

// Tick runs the scheduler once at the engine's current time: it opens validity
// windows that have started, expires grants whose window closed or whose holder's
// contract ended, and closes exposures whose effective-by has passed. It returns how
// many grants and exposures it changed.
func (e *Engine) Tick(ctx context.Context) (int, error) {
	n := 0
	err := e.st.Update(ctx, func(tx store.Tx) error {
		n = 0
		t := e.begin(ctx, tx, Actor{Name: "scheduler", Source: domain.Source{Kind: domain.SourceManual, Name: "scheduler"}})
		now := domain.FormatTime(t.now)
		// The first term of each conjunction is the selective one the store looks up
		// by; the others are checked on what it finds.
		opening, err := store.All[domain.Grant](ctx, tx, store.And{store.Eqf("opened", "false"), store.Eqf("state", string(domain.GrantActive)),
			store.Compare{Attr: "validFrom", Op: store.Le, Value: now, CaseExact: true}})
		if err != nil {
			return err
		}
		for _, g := range opening {
			g.Opened = true
			if err := store.Put(ctx, tx, g, g.Version); err != nil {
				return err
			}
			if err := t.grantEvent("grant.window-opened", g, "validity window opened"); err != nil {
				return err
			}
			t.identities[g.IdentityID] = true
			n++
		}
		closing, err := store.All[domain.Grant](ctx, tx, store.And{store.Compare{Attr: "validUntil", Op: store.Le, Value: now, CaseExact: true},
			store.Eqf("state", string(domain.GrantActive))})
		if err != nil {
			return err
		}
		for _, g := range closing {
			if err := t.endGrant(g, domain.GrantExpired, "validity window closed"); err != nil {
				return err
			}
			n++
		}
		ended, err := store.All[domain.Identity](ctx, tx, store.Compare{Attr: "contractEnd", Op: store.Le, Value: now, CaseExact: true})
		if err != nil {
			return err
		}
		for _, in := range ended {
			grants, err := store.All[domain.Grant](ctx, tx, store.And{store.Eqf("identityId", in.ID),
				store.Or{store.Eqf("state", string(domain.GrantActive)), store.Eqf("state", string(domain.GrantRequested))}})
			if err != nil {
				return err
			}
			for _, g := range grants {
				if err := t.endGrant(g, domain.GrantExpired, "contract ended"); err != nil {
					return err
				}
				n++
			}
		}
		exposed, err := store.All[domain.KeyState](ctx, tx, store.Eqf("exposed", "true"))
		if err != nil {
			return err
		}
		for _, ks := range exposed {
			var keep, over []domain.Exposure
			for _, x := range ks.Exposures {
				if x.EffectiveBy != nil && !x.EffectiveBy.After(t.now) {
					over = append(over, x)
				} else {
					keep = append(keep, x)
				}
			}
			if len(over) == 0 {
				continue
			}
			ks.Exposures = keep
			if err := store.Put(ctx, tx, ks, ks.Version); err != nil {
				return err
			}
			for _, x := range over {
				if err := t.revocationEffective(ks, x, "its effective-by time passed"); err != nil {
					return err
				}
				n++
			}
		}
		_, err = t.finish()
		return err
	})
	if err == nil && n > 0 {
		e.wakeAll()
	}
	return n, err
}

// RunScheduler ticks every interval until ctx ends.
func (e *Engine) RunScheduler(ctx context.Context, every time.Duration) error {
	tk := time.NewTicker(every)
	defer tk.Stop()
	for {
		if _, err := e.Tick(ctx); err != nil && ctx.Err() == nil {
			e.log.Error("scheduler tick failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tk.C:
		}
	}
}

// ManualClock is a clock that only moves when told: the test-only clock control.
type ManualClock struct {
	ch chan time.Time
}

// NewManualClock starts a manual clock at t.
func NewManualClock(t time.Time) *ManualClock {
	c := &ManualClock{ch: make(chan time.Time, 1)}
	c.ch <- t.UTC()
	return c
}

// Now implements Clock.
func (c *ManualClock) Now() time.Time {
	t := <-c.ch
	c.ch <- t
	return t
}

// Set moves the clock to t (it may go forward only; an earlier t is ignored).
func (c *ManualClock) Set(t time.Time) time.Time {
	cur := <-c.ch
	if t.After(cur) {
		cur = t.UTC()
	}
	c.ch <- cur
	return cur
}

// Advance moves the clock forward by d.
func (c *ManualClock) Advance(d time.Duration) time.Time {
	cur := <-c.ch
	if d > 0 {
		cur = cur.Add(d)
	}
	c.ch <- cur
	return cur
}
