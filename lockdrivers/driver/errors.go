package driver

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Kind is the kind of a driver error. It survives the plugin boundary (it is
// carried in the gRPC status details as lockdriver.v1.ErrorDetail) and tells
// the host what to do. Kinds are only ever appended.
type Kind int

// The error kinds and what the host does with them.
const (
	// KindUnknown: an error without a kind; the host treats it as
	// transient but logs it loudly.
	KindUnknown Kind = iota
	// KindInvalid: the request or configuration is wrong; retrying the same
	// request cannot help.
	KindInvalid
	// KindNotFound: a named key, lock, person or access object does not
	// exist in the lock system.
	KindNotFound
	// KindPermission: the vendor refused the driver's credentials or rights.
	KindPermission
	// KindTransient: the vendor is unreachable, overloaded or timed out;
	// the host retries with backoff.
	KindTransient
	// KindConflict: the vendor's state conflicts with the request (a
	// concurrent edit, an idempotency key reused for a different request).
	KindConflict
	// KindNeedsAction: a person must act first (see Error.NeedsAction).
	KindNeedsAction
	// KindUnauthenticated: a webhook's signature or credentials are wrong;
	// keyward answers the vendor 401.
	KindUnauthenticated
)

var kindNames = [...]string{
	KindUnknown:         "unknown",
	KindInvalid:         "invalid",
	KindNotFound:        "not_found",
	KindPermission:      "permission",
	KindTransient:       "transient",
	KindConflict:        "conflict",
	KindNeedsAction:     "needs_action",
	KindUnauthenticated: "unauthenticated",
}

// String returns the kind's name as written in logs and the contract.
func (k Kind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Problem is one problem found in a request or configuration.
type Problem struct {
	// Field is a JSON pointer or dotted path to the offending field.
	Field   string
	Message string
}

// Error is a driver error with a kind. Create it with E or Errorf; test it
// with errors.Is against the Err* sentinels or with KindOf.
type Error struct {
	Kind Kind
	// Op names the operation, lower-case, e.g. "padlock: set key access".
	Op string
	// Err is the underlying error, or nil.
	Err error
	// Problems lists every problem for KindInvalid.
	Problems []Problem
	// NeedsAction says what a person must do for KindNeedsAction.
	NeedsAction *NeedsAction
	// RetryAfter hints when a KindTransient error is worth retrying.
	RetryAfter time.Duration
}

// The sentinels, one per kind: errors.Is(err, ErrNotFound) holds for every
// *Error of that kind.
var (
	ErrInvalid         = &Error{Kind: KindInvalid}
	ErrNotFound        = &Error{Kind: KindNotFound}
	ErrPermission      = &Error{Kind: KindPermission}
	ErrTransient       = &Error{Kind: KindTransient}
	ErrConflict        = &Error{Kind: KindConflict}
	ErrNeedsAction     = &Error{Kind: KindNeedsAction}
	ErrUnauthenticated = &Error{Kind: KindUnauthenticated}
)

// E returns an *Error of kind k for operation op wrapping err.
func E(k Kind, op string, err error) *Error {
	return &Error{Kind: k, Op: op, Err: err}
}

// Errorf returns an *Error of kind k for operation op with a formatted
// message; %w wraps as in fmt.Errorf.
func Errorf(k Kind, op, format string, args ...any) *Error {
	return &Error{Kind: k, Op: op, Err: fmt.Errorf(format, args...)}
}

// Invalid returns a KindInvalid *Error listing problems.
func Invalid(op string, problems ...Problem) *Error {
	return &Error{Kind: KindInvalid, Op: op, Problems: problems}
}

// Error renders "op: err" with the kind when there is no message.
func (e *Error) Error() string {
	var b strings.Builder
	if e.Op != "" {
		b.WriteString(e.Op)
	}
	msg := ""
	if e.Err != nil {
		msg = e.Err.Error()
	}
	if msg == "" && len(e.Problems) == 0 {
		msg = e.Kind.String()
	}
	if msg != "" {
		if b.Len() > 0 {
			b.WriteString(": ")
		}
		b.WriteString(msg)
	}
	for i, p := range e.Problems {
		if i == 0 && b.Len() > 0 {
			b.WriteString(": ")
		} else if i > 0 {
			b.WriteString("; ")
		}
		if p.Field != "" {
			b.WriteString(p.Field)
			b.WriteString(": ")
		}
		b.WriteString(p.Message)
	}
	return b.String()
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is the sentinel of e's kind.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	if !ok {
		return false
	}
	return t.Op == "" && t.Err == nil && t.Problems == nil && t.Kind == e.Kind
}

// KindOf returns the kind of the first *Error in err's chain, KindUnknown if
// there is none.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindUnknown
}
