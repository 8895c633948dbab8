// Package engine is keyward's governance engine: the one transactional entry point
// for changes (Execute), the planner that turns grants into per-key desired access
// and outbox operations, the dispatcher that runs them through the driver port, the
// observer inputs (deliveries, lock events, inventory), and the scheduler.
package engine

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/keyward/keyward/core/audit"
	"github.com/keyward/keyward/core/domain"
	"github.com/keyward/keyward/core/store"
)

// Clock tells the time. The engine never calls time.Now itself.
type Clock interface{ Now() time.Time }

// SystemClock is the real clock.
type SystemClock struct{}

// Now implements Clock.
func (SystemClock) Now() time.Time { return time.Now().UTC() }

// Options configure an Engine.
type Options struct {
	Clock  Clock
	Logger *slog.Logger
	// DefaultExposure is the allowed exposure for a criticality the estate does not
	// set: how long a revoked right may stay on a key before escalation.
	DefaultExposure map[domain.Criticality]time.Duration
}

// Engine runs commands against a store.
type Engine struct {
	st    store.Store
	clock Clock
	log   *slog.Logger
	chain *audit.Chain

	defaultExposure map[domain.Criticality]time.Duration

	mu      sync.Mutex
	waiters map[string][]chan struct{} // lock system id → dispatchers to wake
}

// New builds an engine on a store.
func New(st store.Store, opts Options) *Engine {
	if opts.Clock == nil {
		opts.Clock = SystemClock{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	exp := map[domain.Criticality]time.Duration{
		domain.CriticalityLow: 30 * 24 * time.Hour, domain.CriticalityMedium: 7 * 24 * time.Hour,
		domain.CriticalityHigh: 72 * time.Hour, domain.CriticalityCritical: 24 * time.Hour,
	}
	for c, d := range opts.DefaultExposure {
		exp[c] = d
	}
	return &Engine{st: st, clock: opts.Clock, log: opts.Logger, chain: audit.NewChain(), defaultExposure: exp, waiters: map[string][]chan struct{}{}}
}

// Store returns the engine's store, for read paths.
func (e *Engine) Store() store.Store { return e.st }

// Now is the engine's time.
func (e *Engine) Now() time.Time { return e.clock.Now().UTC() }

// Execute applies the steps in one store transaction: the changes, their audit
// events, the recomputed desired state of every affected key and the resulting
// outbox operations commit together, or nothing does.
func (e *Engine) Execute(ctx context.Context, actor Actor, steps ...Step) (Result, error) {
	var res Result
	err := e.st.Update(ctx, func(tx store.Tx) error {
		t := e.begin(ctx, tx, actor)
		res = Result{IDs: make([]string, len(steps))}
		for i, s := range steps {
			id, err := t.apply(s)
			if err != nil {
				if len(steps) > 1 {
					return stepError(i, err)
				}
				return err
			}
			res.IDs[i] = id
		}
		n, err := t.finish()
		res.Operations = n
		return err
	})
	if err != nil {
		return Result{}, err
	}
	e.wakeAll()
	return res, nil
}

// Subscribe returns a channel that receives a value whenever operations for the lock
// system may be waiting. The dispatcher uses it.
func (e *Engine) subscribe(lockSystemID string) chan struct{} {
	ch := make(chan struct{}, 1)
	e.mu.Lock()
	e.waiters[lockSystemID] = append(e.waiters[lockSystemID], ch)
	e.mu.Unlock()
	return ch
}

func (e *Engine) wakeAll() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, chs := range e.waiters {
		for _, ch := range chs {
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}
}

// ReplanAll recomputes the desired access of every key of every identity from facts,
// batch identities per transaction, and returns how many operations it wrote. It is
// planning from cold: what a new keyward does after an import, or an operator after
// a restore.
//
// TODO: each planned key costs an operation, a key state and an audit event, each
// written through the generic store with its indexed attributes; 100,000 identities
// with 3 keys each take minutes on 2 cores, not the 30 s aimed at. A bulk path
// (one audit event per identity, batched inserts) is missing.
func (e *Engine) ReplanAll(ctx context.Context, batch int) (int, error) {
	if batch <= 0 {
		batch = 500
	}
	var ids []string
	err := e.st.View(ctx, func(tx store.Tx) error {
		page, err := tx.List(ctx, domain.KindIdentity, store.Query{Limit: -1})
		for _, r := range page.Records {
			ids = append(ids, r.ID)
		}
		return err
	})
	if err != nil {
		return 0, err
	}
	total := 0
	for start := 0; start < len(ids); start += batch {
		part := ids[start:min(start+batch, len(ids))]
		err := e.st.Update(ctx, func(tx store.Tx) error {
			t := e.begin(ctx, tx, Actor{Name: "planner"})
			for _, id := range part {
				t.identities[id] = true
			}
			if err := t.replan(); err != nil {
				return err
			}
			total += t.ops
			return nil
		})
		if err != nil {
			return total, err
		}
	}
	e.wakeAll()
	return total, nil
}
