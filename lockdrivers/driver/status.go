package driver

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/keyward/keyward/lockdrivers/proto/lockdriver/v1"
)

var kindCodes = map[Kind]codes.Code{
	KindUnknown:         codes.Unknown,
	KindInvalid:         codes.InvalidArgument,
	KindNotFound:        codes.NotFound,
	KindPermission:      codes.PermissionDenied,
	KindTransient:       codes.Unavailable,
	KindConflict:        codes.Aborted,
	KindNeedsAction:     codes.FailedPrecondition,
	KindUnauthenticated: codes.Unauthenticated,
}

// kindFromCode guesses a kind for a status without ErrorDetail (an error
// raised by gRPC itself: deadline, cancelled, connection lost).
var kindFromCode = map[codes.Code]Kind{
	codes.InvalidArgument:    KindInvalid,
	codes.OutOfRange:         KindInvalid,
	codes.NotFound:           KindNotFound,
	codes.PermissionDenied:   KindPermission,
	codes.Unavailable:        KindTransient,
	codes.DeadlineExceeded:   KindTransient,
	codes.ResourceExhausted:  KindTransient,
	codes.Canceled:           KindTransient,
	codes.Aborted:            KindConflict,
	codes.AlreadyExists:      KindConflict,
	codes.FailedPrecondition: KindNeedsAction,
	codes.Unauthenticated:    KindUnauthenticated,
}

// toStatus turns a driver error into a gRPC status error carrying an
// ErrorDetail. Context errors count as transient.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if !errors.As(err, &e) {
		k := KindUnknown
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			k = KindTransient
		}
		e = &Error{Kind: k, Err: err}
	}
	detail := &pb.ErrorDetail{
		Kind:        pb.ErrorKind(e.Kind),
		Op:          e.Op,
		Problems:    mapList(e.Problems, func(p Problem) *pb.Problem { return &pb.Problem{Field: p.Field, Message: p.Message} }),
		NeedsAction: needsActionToPB(e.NeedsAction),
		RetryAfter:  durToPB(e.RetryAfter),
	}
	if e.Err != nil {
		detail.Message = e.Err.Error()
	}
	code, ok := kindCodes[e.Kind]
	if !ok {
		code = codes.Unknown
	}
	st, derr := status.New(code, err.Error()).WithDetails(detail)
	if derr != nil {
		return status.Error(code, err.Error())
	}
	return st.Err()
}

// fromStatus restores a driver error from a gRPC status error. The op of the
// restored error is the driver's op; callers name the call around it.
func fromStatus(err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			return &Error{Kind: KindTransient, Err: err}
		}
		return err
	}
	for _, d := range st.Details() {
		detail, ok := d.(*pb.ErrorDetail)
		if !ok {
			continue
		}
		out := &Error{
			Kind:        Kind(detail.GetKind()),
			Op:          detail.GetOp(),
			Problems:    mapList(detail.GetProblems(), func(p *pb.Problem) Problem { return Problem{Field: p.GetField(), Message: p.GetMessage()} }),
			NeedsAction: needsActionFromPB(detail.GetNeedsAction()),
			RetryAfter:  durFromPB(detail.GetRetryAfter()),
		}
		if m := detail.GetMessage(); m != "" {
			out.Err = errors.New(m)
		}
		return out
	}
	return &Error{Kind: kindFromCode[st.Code()], Err: errors.New(st.Message())}
}
