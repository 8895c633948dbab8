// Package simctl is the simulator-control interface every vendor simulator
// implements, so tests stand in for the physical world the same way for
// every vendor: deliver a key's pending update (phone sync, key at a
// programming device), visit a lock with a programming key, use a key at a
// lock, move the simulator's clock, crash and restart the simulator, and read
// its request log to show that no change was applied twice.
//
// A simulator running in the test process implements Control directly. A
// simulator running as a separate process (locksim) serves Control over a
// small admin HTTP endpoint with NewHandler; tests reach it with NewClient.
//
// This package must not import anything under core/ or lockdrivers/driver:
// simulators are vendor stand-ins and know nothing of keyward.
package simctl

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// Control drives a vendor simulator from a test.
//
// IDs are the vendor IDs the simulator's API shows (the same IDs the driver
// reports in its inventory). Methods naming an unknown key or lock return an
// error wrapping ErrNotFound; methods that make no sense for the vendor (a
// phone sync in a system without phones) return an error wrapping
// ErrUnsupported.
type Control interface {
	// DeliverKey delivers a key's pending update the way the vendor does it:
	// Via says how (phone sync, key at a programming device or hot spot, or
	// the vendor's usual way). The simulator then reports the change as
	// delivered and, once programmed, applied, as the real system would.
	DeliverKey(ctx context.Context, keyID string, via Via) error

	// VisitLock visits a lock with a programming key: pending lock-side
	// changes (blocklists, cylinder programming jobs) reach the lock.
	VisitLock(ctx context.Context, lockID string) error

	// UseKey presents a key at a lock at the simulator's current time and
	// reports whether it opened; the attempt appears as a lock event.
	UseKey(ctx context.Context, keyID, lockID string) (UseResult, error)

	// Now returns the simulator's clock.
	Now(ctx context.Context) (time.Time, error)
	// SetTime sets the simulator's clock; Advance moves it forward. Time
	// never moves backwards: SetTime to an earlier time is an error wrapping ErrInvalid.
	SetTime(ctx context.Context, t time.Time) error
	Advance(ctx context.Context, d time.Duration) error

	// Crash makes the simulator fail like a crashed vendor server: its API
	// refuses connections or answers 503, and volatile state (sessions,
	// in-flight requests) is lost. Durable state is kept.
	Crash(ctx context.Context) error
	// Restart brings a crashed simulator back with its durable state.
	Restart(ctx context.Context) error

	// Requests returns the simulator's request log from sequence number
	// since on (0 for all), oldest first.
	Requests(ctx context.Context, since int64) ([]Request, error)

	// Webhooks returns the webhooks the simulator has emitted from sequence
	// number since on, oldest first, as a vendor would POST them to keyward,
	// correctly signed. A simulator of a vendor without webhooks returns
	// none.
	Webhooks(ctx context.Context, since int64) ([]Webhook, error)
}

// Via says how a key's pending update reaches the key.
type Via string

// The delivery channels.
const (
	// ViaAuto: the vendor's usual way for that key type.
	ViaAuto Via = ""
	// ViaPhoneSync: the phone app syncs.
	ViaPhoneSync Via = "phone-sync"
	// ViaProgrammingDevice: the key is put in a programming device, wall
	// hot spot or remote-update station.
	ViaProgrammingDevice Via = "programming-device"
)

// UseResult is the outcome of presenting a key at a lock.
type UseResult struct {
	Opened bool `json:"opened"`
	// Reason says why the lock refused ("no access", "outside schedule",
	// "expired", "blocklisted").
	Reason string `json:"reason,omitempty"`
	// EventID is the vendor id of the resulting lock event.
	EventID string `json:"event_id,omitempty"`
}

// Request is one entry of a simulator's request log.
//
// Changed marks a request that changed the simulator's state. A simulator
// must log a request that repeats an already applied change as Changed only
// when the real vendor would act on it again (a second programming order for
// the same content, a second job): that is what the conformance suite counts
// as "applied twice". Op names the vendor operation in the simulator's words
// ("put-security-accesses", "order-key", "create-job"); Target names the key
// (or lock, person) the request acted on.
type Request struct {
	Seq     int64     `json:"seq"`
	At      time.Time `json:"at"`
	Method  string    `json:"method"`
	Path    string    `json:"path"`
	Op      string    `json:"op"`
	Target  string    `json:"target,omitempty"`
	Changed bool      `json:"changed"`
	Status  int       `json:"status"`
}

// Webhook is one webhook a simulator emitted.
type Webhook struct {
	Seq    int64       `json:"seq"`
	Header http.Header `json:"header"`
	Body   []byte      `json:"body"`
}

// The error sentinels.
var (
	ErrNotFound    = errors.New("simctl: not found")
	ErrUnsupported = errors.New("simctl: not supported by this simulator")
	ErrCrashed     = errors.New("simctl: simulator is crashed")
	// ErrInvalid marks a malformed control request (time moving backwards,
	// a negative duration).
	ErrInvalid = errors.New("simctl: invalid request")
)
