package domain

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinels the edges branch on with errors.Is. Every *Error matches the sentinel of
// its Kind, so callers never compare messages.
var (
	// ErrNotFound: the resource does not exist. SCIM 404, LDAP noSuchObject.
	ErrNotFound = errors.New("not found")
	// ErrConflict: a uniqueness clash or a stale expected version. SCIM 409 (412 with
	// If-Match), LDAP entryAlreadyExists or busy.
	ErrConflict = errors.New("conflict")
	// ErrInvalid: the request itself is wrong (missing field, window ending before it
	// starts, unknown reference). SCIM 400, LDAP constraintViolation.
	ErrInvalid = errors.New("invalid")
	// ErrPrecondition: the request is well formed but the state forbids it (a grant
	// on an inactive identity, approving a grant that is not requested). SCIM 400
	// with scimType mutability/invalidValue, LDAP unwillingToPerform.
	ErrPrecondition = errors.New("precondition failed")
)

// Error is keyward's typed error. Kind is one of the sentinels above.
type Error struct {
	Kind     error
	Resource Kind   // which kind of resource, if any
	ID       string // which resource, if any
	Field    string // which field, if any
	Message  string // a sentence a person understands
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Resource != "" {
		b.WriteString(string(e.Resource))
		if e.ID != "" {
			fmt.Fprintf(&b, " %q", e.ID)
		}
		b.WriteString(": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	if e.Message != "" {
		b.WriteString(e.Message)
	} else if e.Kind != nil {
		b.WriteString(e.Kind.Error())
	}
	return b.String()
}

// Is makes errors.Is(err, ErrNotFound) and friends work on *Error.
func (e *Error) Is(target error) bool { return e.Kind == target }

// NotFound builds an ErrNotFound error for a resource.
func NotFound(kind Kind, id string) error {
	return &Error{Kind: ErrNotFound, Resource: kind, ID: id, Message: "does not exist"}
}

// Conflict builds an ErrConflict error.
func Conflict(kind Kind, id, format string, args ...any) error {
	return &Error{Kind: ErrConflict, Resource: kind, ID: id, Message: fmt.Sprintf(format, args...)}
}

// Invalid builds an ErrInvalid error naming a field.
func Invalid(field, format string, args ...any) error {
	return &Error{Kind: ErrInvalid, Field: field, Message: fmt.Sprintf(format, args...)}
}

// Precondition builds an ErrPrecondition error.
func Precondition(kind Kind, id, format string, args ...any) error {
	return &Error{Kind: ErrPrecondition, Resource: kind, ID: id, Message: fmt.Sprintf(format, args...)}
}

// Problems collects every problem of a validation, so a user sees them all at once.
type Problems []string

// Addf records one problem.
func (p *Problems) Addf(format string, args ...any) { *p = append(*p, fmt.Sprintf(format, args...)) }

// Err returns nil when there is no problem, or an ErrInvalid error listing all.
func (p Problems) Err() error {
	if len(p) == 0 {
		return nil
	}
	return &Error{Kind: ErrInvalid, Message: strings.Join(p, "; ")}
}
