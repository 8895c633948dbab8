// Package driverport is core's side of the lock drivers: the interface the
// dispatcher calls, and the error kinds it branches on. lockdrivers/host implements
// it over gRPC plugins; core's own tests use an in-memory lock system.
package driverport

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/keyward/keyward/core/domain"
)

// SetKeyAccess asks a lock system to make one key carry exactly Access.
type SetKeyAccess struct {
	LockSystemID string
	KeyID        string // keyward's key id
	KeyVendorID  string // the lock system's id for the key
	HolderRef    string // the holder's correlation key in the lock system
	// IdempotencyKey is the same for every attempt of the same change: a driver
	// that sees it again answers as before and changes nothing.
	IdempotencyKey string
	Access         domain.KeyAccess
	// Removed lists access objects the previous planned access had and this one
	// has not, so the driver can tell when their removal becomes effective.
	Removed []string
}

// BlockKey asks a lock system to block (or unblock) a key at its locks.
type BlockKey struct {
	LockSystemID   string
	KeyID          string
	KeyVendorID    string
	IdempotencyKey string
	Reason         string
}

// Driver is what the dispatcher needs from a lock system. Calls to one lock system
// are made one at a time.
type Driver interface {
	SetKeyAccess(ctx context.Context, req SetKeyAccess) (domain.Delivery, error)
	BlockKey(ctx context.Context, req BlockKey) (domain.Delivery, error)
	UnblockKey(ctx context.Context, req BlockKey) (domain.Delivery, error)
}

// Drivers finds the driver of a lock system.
type Drivers interface {
	// Driver returns the lock system's driver, or ok=false when it has none
	// (not configured, or refused to start).
	Driver(lockSystemID string) (d Driver, ok bool)
}

// Map is a fixed set of drivers by lock system id.
type Map map[string]Driver

// Driver implements Drivers.
func (m Map) Driver(id string) (Driver, bool) {
	d, ok := m[id]
	return d, ok
}

// ErrorKind classifies a driver error; the dispatcher retries only Transient and
// Conflict.
type ErrorKind string

// The error kinds, the same as the driver contract's.
const (
	Invalid     ErrorKind = "invalid"
	NotFound    ErrorKind = "not-found"
	Permission  ErrorKind = "permission"
	Transient   ErrorKind = "transient"
	Conflict    ErrorKind = "conflict"
	NeedsAction ErrorKind = "needs-action"
)

// Error is a driver error with its kind.
type Error struct {
	Kind           ErrorKind
	Driver         string // which lock system or driver
	Call           string // which call
	Message        string
	ReasonCode     string // needs-action: the vendor's code
	RequiredAction string // needs-action: what a person must do
	RetryAfter     time.Duration
}

func (e *Error) Error() string {
	return fmt.Sprintf("driver %s: %s: %s: %s", e.Driver, e.Call, e.Kind, e.Message)
}

// KindOf returns the kind of a driver error; an error of unknown shape is
// Transient (a dropped connection, a timeout), a cancelled context too.
func KindOf(err error) ErrorKind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Transient
}

// Retryable tells whether the dispatcher should try again.
func Retryable(err error) bool {
	k := KindOf(err)
	return k == Transient || k == Conflict
}
