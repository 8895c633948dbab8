package sim

import (
	"slices"
	"sort"
	"time"

	"github.com/keyward/keyward/lockdrivers/iloq/iloqapi"
)

// MaxLogRows is the documented cap of one lock-log answer.
const MaxLogRows = 2000

// logCap is the row cap of one lock-log answer.
func (s *Server) logCap() int {
	if s.opts.LogRowCap > 0 {
		return s.opts.LogRowCap
	}
	return MaxLogRows
}

// insertLog keeps s.st.logs sorted by arrival time (stable for equal times).
func (s *Server) insertLog(row *logRow) {
	at := row.TimestampUtc.Time
	i := sort.Search(len(s.st.logs), func(i int) bool { return s.st.logs[i].TimestampUtc.After(at) })
	s.st.logs = slices.Insert(s.st.logs, i, row)
}

// lockLogsByTimestamp answers by server arrival time, [StartDateUtc,
// EndDateUtc), oldest first, at most 2000 rows. Assumption A7: this query is
// capped like POST LockLogs and carries TotalCount.
func (s *Server) lockLogsByTimestamp(c *call) (any, *apiError) {
	var p iloqapi.GetLockLogDataParam
	if err := decode(c.r, &p); err != nil {
		return nil, err
	}
	lo, hi := 0, len(s.st.logs)
	if p.StartDateUtc != nil {
		st := p.StartDateUtc.Time
		lo = sort.Search(len(s.st.logs), func(i int) bool { return !s.st.logs[i].TimestampUtc.Before(st) })
	}
	if p.EndDateUtc != nil {
		en := p.EndDateUtc.Time
		hi = sort.Search(len(s.st.logs), func(i int) bool { return !s.st.logs[i].TimestampUtc.Before(en) })
	}
	if hi < lo {
		hi = lo
	}
	out := iloqapi.GetLockLogDataResult{StartDateUtc: p.StartDateUtc, EndDateUtc: p.EndDateUtc,
		LockLogs: make([]iloqapi.LockLogData, 0, min(hi-lo, s.logCap())), TotalCount: hi - lo}
	rows := s.st.logs[lo:hi]
	if s.opts.LogsByGoingDate {
		rows = slices.Clone(rows)
		sort.SliceStable(rows, func(i, j int) bool { return rows[i].GoingDate.Before(rows[j].GoingDate.Time) })
	}
	for _, row := range rows[:min(len(rows), s.logCap())] {
		out.LockLogs = append(out.LockLogs, row.LockLogData)
	}
	return out, nil
}

// lockLogsByGoingDates answers by access time (GoingDate).
func (s *Server) lockLogsByGoingDates(c *call) (any, *apiError) {
	var p iloqapi.GetLockLogDataParam
	if err := decode(c.r, &p); err != nil {
		return nil, err
	}
	var rows []*logRow
	for _, row := range s.st.logs {
		if inRange(row.GoingDate.Time, p.StartDateUtc, p.EndDateUtc) {
			rows = append(rows, row)
		}
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].GoingDate.Before(rows[j].GoingDate.Time) })
	out := iloqapi.GetLockLogDataResult{StartDateUtc: p.StartDateUtc, EndDateUtc: p.EndDateUtc,
		LockLogs: []iloqapi.LockLogData{}, TotalCount: len(rows)}
	for _, row := range rows[:min(len(rows), s.logCap())] {
		out.LockLogs = append(out.LockLogs, row.LockLogData)
	}
	return out, nil
}

func inRange(t time.Time, start, end *iloqapi.UTCTime) bool {
	return (start == nil || !t.Before(start.Time)) && (end == nil || t.Before(end.Time))
}

// lockLogs is POST LockLogs: filter by keys and/or locks (at least one),
// going dates and type mask; at most 2000 rows with TotalCount.
func (s *Server) lockLogs(c *call) (any, *apiError) {
	var p iloqapi.GetLockLogsParam
	if err := decode(c.r, &p); err != nil {
		return nil, err
	}
	if len(p.FLockIDs) == 0 && len(p.FNKeyIDs) == 0 {
		return nil, invalid("either FNKeyIds or FLockIds must be given")
	}
	locks, keys := canonSet(p.FLockIDs), canonSet(p.FNKeyIDs)
	out := iloqapi.GetLockLogsResult{LockLogs: []iloqapi.DeviceLogData{}}
	for _, row := range s.st.logs {
		if len(locks) > 0 && !locks[canon(row.FLockID)] || len(keys) > 0 && !keys[canon(row.FNKeyID)] {
			continue
		}
		if p.TypeMask != 0 && row.typeMask&p.TypeMask == 0 {
			continue
		}
		if !inRange(row.GoingDate.Time, p.GoingStartDateUtc, p.GoingEndDateUtc) {
			continue
		}
		out.TotalCount++
		if len(out.LockLogs) < s.logCap() {
			out.LockLogs = append(out.LockLogs, s.deviceLog(row))
		}
	}
	return out, nil
}

func canonSet(ids []string) map[string]bool {
	m := make(map[string]bool, len(ids))
	for _, id := range ids {
		m[canon(id)] = true
	}
	return m
}

func (s *Server) deviceLog(row *logRow) iloqapi.DeviceLogData {
	d := iloqapi.DeviceLogData{DeviceLogID: row.DeviceLogID, GoingDateUtc: row.GoingDate,
		TypeMask: row.typeMask, ErrCode: row.ErrorCode, ErrorDescription: row.ErrorDescription}
	if l := s.st.locks[canon(row.FLockID)]; l != nil {
		d.FLock = &iloqapi.DeviceLogFLock{FlockID: l.FLockID, LockType: l.LockType,
			LocationCode: l.LocationCode, LockingObject: l.LockingObject, GoingCounter: row.GoingCounter}
	}
	if k := s.st.keys[canon(row.FNKeyID)]; k != nil {
		d.FNKey = &iloqapi.DeviceLogFNKey{FNKeyID: k.FNKeyID, Description: k.Description,
			KeyTypeMask: k.KeyTypeMask, Stamp: k.Stamp, KeyID: row.KeyID}
		if p := s.st.persons[canon(k.PersonID)]; p != nil {
			d.FNKey.PersonName = p.FirstName + " " + p.LastName
		}
	}
	return d
}
