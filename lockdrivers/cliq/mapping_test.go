package cliq

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/keyward/keyward/lockdrivers/cliq/cwm"
	"github.com/keyward/keyward/lockdrivers/driver"
)

func TestVisitLocksReason(t *testing.T) {
	jobs := func(n int) []cwm.ProgrammingJob {
		var out []cwm.ProgrammingJob
		for i := 0; i < n; i++ {
			out = append(out, cwm.ProgrammingJob{CylinderIdentity: fmt.Sprintf("c%02d", i), Action: cwm.JobAddKey})
		}
		return out
	}
	cases := []struct {
		name  string
		n     int
		split bool
	}{
		{"a few jobs", 3, false},
		{"thirty jobs", 30, false},
		{"more than one programming key should carry", 31, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			na := visitLocks("X", jobs(tc.n))
			assert.Len(t, na.LockIDs, tc.n)
			assert.Equal(t, driver.ActionVisitLock, na.Action)
			assert.Equal(t, tc.split, strings.Contains(na.Reason, "split the round"), na.Reason)
		})
	}
}

func TestScheduleAndWindowMapping(t *testing.T) {
	in := []driver.ScheduleInterval{
		{Day: time.Tuesday, Start: 8 * time.Hour, End: 17*time.Hour + 30*time.Minute},
		{Day: time.Monday, Start: 0, End: 24 * time.Hour},
	}
	s, problems := scheduleToCWM(in)
	assert.Empty(t, problems)
	assert.Equal(t, []cwm.Interval{{Day: "MONDAY", From: "00:00", To: "24:00"}, {Day: "TUESDAY", From: "08:00", To: "17:30"}}, s.Intervals)
	assert.Equal(t, []driver.ScheduleInterval{in[1], in[0]}, scheduleFromCWM(s))

	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name string
		w    driver.Window
		typ  string
	}{
		{"open", driver.Window{}, cwm.ValidityAlways},
		{"from only", driver.Window{NotBefore: from}, cwm.ValidityBetween},
		{"until only", driver.Window{NotAfter: from}, cwm.ValidityBetween},
		{"both", driver.Window{NotBefore: from, NotAfter: from.AddDate(0, 1, 0)}, cwm.ValidityBetween},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := validityFromWindow(tc.w)
			assert.Equal(t, tc.typ, v.Type)
			assert.Equal(t, tc.w, windowFromValidity(v))
		})
	}
	assert.Equal(t, driver.Window{NotAfter: neverValid}, windowFromValidity(cwm.Validity{Type: cwm.ValidityNever}))
}
