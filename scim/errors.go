package scim

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	scimerr "github.com/elimity-com/scim/errors"

	"github.com/keyward/keyward/core/domain"
	"github.com/keyward/keyward/core/engine"
)

func errInvalidFilter(detail string) error {
	return scimerr.ScimError{ScimType: scimerr.ScimTypeInvalidFilter, Detail: detail, Status: http.StatusBadRequest}
}

func errInvalidValue(format string, args ...any) error {
	return scimerr.ScimError{ScimType: scimerr.ScimTypeInvalidValue, Detail: fmt.Sprintf(format, args...), Status: http.StatusBadRequest}
}

func errInvalidPath(format string, args ...any) error {
	return scimerr.ScimError{ScimType: scimerr.ScimTypeInvalidPath, Detail: fmt.Sprintf(format, args...), Status: http.StatusBadRequest}
}

func errNoTarget(format string, args ...any) error {
	return scimerr.ScimError{ScimType: scimerr.ScimTypeNoTarget, Detail: fmt.Sprintf(format, args...), Status: http.StatusBadRequest}
}

func errMutability(format string, args ...any) error {
	return scimerr.ScimError{ScimType: scimerr.ScimTypeMutability, Detail: fmt.Sprintf(format, args...), Status: http.StatusBadRequest}
}

func errNotFound(kind, id string) error {
	return scimerr.ScimError{Detail: fmt.Sprintf("%s %q does not exist", kind, id), Status: http.StatusNotFound}
}

func errPrecondition() error {
	return scimerr.ScimError{Detail: "the resource changed since the version named in If-Match", Status: http.StatusPreconditionFailed}
}

// statusOverride carries a status the library cannot express (it rewrites 429
// and 503 from handlers to 500) to the outer handler, which restores it.
type statusOverride struct {
	status     int
	retryAfter string
	detail     string
}

// toSCIM maps a core error to a SCIM error: domain errors by their kind, store
// busy/cancelled to 503 with Retry-After, anything else to a 500 whose detail
// says nothing about internals (the cause is logged).
func (s *server) toSCIM(r *http.Request, err error, method string) error {
	var se scimerr.ScimError
	if errors.As(err, &se) {
		return se
	}
	var pe *scimerr.ScimError
	if errors.As(err, &pe) {
		return *pe
	}
	var stepErr *engine.StepError
	detail := err.Error()
	if errors.As(err, &stepErr) {
		detail = stepErr.Err.Error()
	}
	var de *domain.Error
	if errors.As(err, &de) {
		detail = de.Error()
	}
	switch {
	case errors.Is(err, domain.ErrNotFound):
		if method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch {
			// The resource itself was found before the change: what is
			// missing is one it refers to (a member, an entitlement).
			return scimerr.ScimError{ScimType: scimerr.ScimTypeInvalidValue, Detail: detail, Status: http.StatusBadRequest}
		}
		return scimerr.ScimError{Detail: detail, Status: http.StatusNotFound}
	case errors.Is(err, domain.ErrConflict):
		if r.Header.Get("If-Match") != "" {
			return errPrecondition()
		}
		return scimerr.ScimError{ScimType: scimerr.ScimTypeUniqueness, Detail: detail, Status: http.StatusConflict}
	case errors.Is(err, domain.ErrInvalid):
		return scimerr.ScimError{ScimType: scimerr.ScimTypeInvalidValue, Detail: detail, Status: http.StatusBadRequest}
	case errors.Is(err, domain.ErrPrecondition):
		return scimerr.ScimError{ScimType: scimerr.ScimTypeMutability, Detail: detail, Status: http.StatusBadRequest}
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled), isBusy(err):
		if o := overrideFrom(r); o != nil {
			o.status, o.retryAfter, o.detail = http.StatusServiceUnavailable, "1", "keyward is busy; retry shortly"
		}
		return scimerr.ScimError{Detail: "keyward is busy; retry shortly", Status: http.StatusInternalServerError}
	}
	s.log.ErrorContext(r.Context(), "scim: internal error", "method", method, "path", r.URL.Path, "err", err)
	return scimerr.ScimError{Detail: "internal error; the cause is in keyward's log", Status: http.StatusInternalServerError}
}

// isBusy tells a store that could not get its write lock in time (SQLite's
// SQLITE_BUSY) without importing the driver.
func isBusy(err error) bool {
	for e := err; e != nil; e = errors.Unwrap(e) {
		switch e.Error() {
		case "database is locked", "database table is locked":
			return true
		}
	}
	return false
}

func errInvalidSyntax(format string, args ...any) error {
	return scimerr.ScimError{ScimType: scimerr.ScimTypeInvalidSyntax, Detail: fmt.Sprintf(format, args...), Status: http.StatusBadRequest}
}

func asScim(err error) (scimerr.ScimError, bool) {
	var se scimerr.ScimError
	if errors.As(err, &se) {
		return se, true
	}
	var pe *scimerr.ScimError
	if errors.As(err, &pe) {
		return *pe, true
	}
	return scimerr.ScimError{}, false
}
