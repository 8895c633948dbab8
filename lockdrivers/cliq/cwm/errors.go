package cwm

import (
	"errors"
	"fmt"
)

// Kind classifies an error so that callers can branch without reading text.
type Kind int

// Kinds of CWM errors.
const (
	// KindOther is an error that fits no other kind.
	KindOther Kind = iota
	// KindInvalid is a request CWM refused as malformed or unacceptable (SOAP
	// Client fault, unmarshalling error). Retrying it unchanged fails again.
	KindInvalid
	// KindNotFound is an unknown person, key, cylinder or job identity.
	KindNotFound
	// KindPermission is a refused TLS client certificate or an HTTP 401/403.
	KindPermission
	// KindTransient is a network error, timeout, HTTP 5xx without a SOAP
	// fault, or a SOAP Server fault; retrying later may succeed.
	KindTransient
	// KindConflict is a request that contradicts the current state (for
	// example handing out a key that is reported lost).
	KindConflict
	// KindCapacity is a physical limit of the lock system, such as a
	// cylinder blacklist that already holds its maximum of entries.
	KindCapacity
	// KindMalformed is a response the client could not understand: not XML,
	// not a SOAP envelope, or not the expected response element.
	KindMalformed
)

var kindNames = map[Kind]string{
	KindOther:      "other",
	KindInvalid:    "invalid",
	KindNotFound:   "not found",
	KindPermission: "permission",
	KindTransient:  "transient",
	KindConflict:   "conflict",
	KindCapacity:   "capacity",
	KindMalformed:  "malformed response",
}

// String names the kind.
func (k Kind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Error is the error every Client and Management method returns.
type Error struct {
	// Op is the SOAP operation, such as "getAuditTrails".
	Op string
	// Kind classifies the error.
	Kind Kind
	// Fault is the SOAP fault CWM returned, if any.
	Fault *Fault
	// Err is the underlying cause, if any.
	Err error
}

// Error formats the error as "cwm: <op>: <cause>".
func (e *Error) Error() string {
	switch {
	case e.Fault != nil:
		return fmt.Sprintf("cwm: %s: %s fault: %s", e.Op, e.Kind, e.Fault.String)
	case e.Err != nil:
		return fmt.Sprintf("cwm: %s: %s: %v", e.Op, e.Kind, e.Err)
	default:
		return fmt.Sprintf("cwm: %s: %s", e.Op, e.Kind)
	}
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the kind of err if it is (or wraps) an *Error, else KindOther.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindOther
}

// Fault codes the assumed detail element carries (see [FaultDetail]); the
// simulator uses them and the client maps them to kinds. Real CWM fault codes
// are not public.
const (
	FaultCodeNotFound   = "NOT_FOUND"
	FaultCodeInvalid    = "INVALID"
	FaultCodePermission = "PERMISSION"
	FaultCodeConflict   = "CONFLICT"
	FaultCodeCapacity   = "CAPACITY"
)

func kindOfFault(f *Fault) Kind {
	if f.Detail != nil {
		switch f.Detail.Code {
		case FaultCodeNotFound:
			return KindNotFound
		case FaultCodeInvalid:
			return KindInvalid
		case FaultCodePermission:
			return KindPermission
		case FaultCodeConflict:
			return KindConflict
		case FaultCodeCapacity:
			return KindCapacity
		}
	}
	// SOAP 1.1 §4.4.1: Client = the message was wrong, Server = processing
	// failed for reasons not tied to the message.
	switch localPart(f.Code) {
	case "Client":
		return KindInvalid
	case "Server":
		return KindTransient
	}
	return KindOther
}

func localPart(qname string) string {
	for i := len(qname) - 1; i >= 0; i-- {
		if qname[i] == ':' {
			return qname[i+1:]
		}
	}
	return qname
}
