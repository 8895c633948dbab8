package iloqapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// LocalLayout is the format of the `…Lg` date-time fields: wall-clock time of
// the locking system's time zone, without an offset ("yyyy-MM-ddTHH:mm:ss").
const LocalLayout = "2006-01-02T15:04:05"

// UTCLayout is the format the simulator writes for `…Utc` fields.
const UTCLayout = "2006-01-02T15:04:05.000Z"

// LocalTime is a wall-clock date-time in the locking system's time zone. The
// value's Location is meaningless; use In to place it in a zone.
type LocalTime struct{ time.Time }

// NewLocal returns the wall clock of t in loc as a LocalTime.
func NewLocal(t time.Time, loc *time.Location) LocalTime {
	w := t.In(loc)
	return LocalTime{time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(),
		w.Second(), 0, time.UTC)}
}

// In returns the instant this wall-clock time denotes in loc.
func (l LocalTime) In(loc *time.Location) time.Time {
	t := l.Time
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(),
		t.Nanosecond(), loc)
}

// MarshalJSON writes the iLOQ local format.
func (l LocalTime) MarshalJSON() ([]byte, error) {
	return []byte(`"` + l.Time.Format(LocalLayout) + `"`), nil
}

// UnmarshalJSON reads the local format; an offset, if present, is dropped
// after converting nothing (the wall clock is kept as written).
func (l *LocalTime) UnmarshalJSON(b []byte) error {
	t, err := parseTime(b)
	if err != nil {
		return err
	}
	l.Time = time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(),
		t.Nanosecond(), time.UTC)
	return nil
}

// UTCTime is an instant written in UTC (`…Utc` fields, `ExpireDate`).
type UTCTime struct{ time.Time }

// NewUTC wraps t.
func NewUTC(t time.Time) UTCTime { return UTCTime{t.UTC()} }

// MarshalJSON writes UTC with milliseconds and a Z.
func (u UTCTime) MarshalJSON() ([]byte, error) {
	return []byte(`"` + u.Time.UTC().Format(UTCLayout) + `"`), nil
}

// UnmarshalJSON accepts RFC 3339 with or without fraction, and without an
// offset (then UTC is assumed, as the .NET server writes it).
func (u *UTCTime) UnmarshalJSON(b []byte) error {
	t, err := parseTime(b)
	if err != nil {
		return err
	}
	u.Time = t.UTC()
	return nil
}

var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.9999999",
	"2006-01-02T15:04:05",
	"2006-01-02",
}

func parseTime(b []byte) (time.Time, error) {
	if bytes.Equal(b, []byte("null")) {
		return time.Time{}, nil
	}
	var s string
	if n := len(b); n >= 2 && b[0] == '"' && b[n-1] == '"' && bytes.IndexByte(b, '\\') < 0 {
		s = string(b[1 : n-1]) // the common case, without a second JSON pass
	} else if err := json.Unmarshal(b, &s); err != nil {
		return time.Time{}, fmt.Errorf("date-time: want a string, got %s", truncate(b))
	}
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("date-time: cannot parse %q", s)
}

func truncate(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "…"
	}
	return string(b)
}
