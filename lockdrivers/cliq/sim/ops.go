package sim

import (
	"fmt"
	"slices"
	"time"

	"github.com/keyward/keyward/lockdrivers/cliq/cwm"
)

// opError becomes a SOAP fault.
type opError struct {
	client bool // S:Client (the request is wrong) vs S:Server
	code   string
	msg    string
}

func (e *opError) Error() string { return e.msg }

func errNotFound(what, id string) *opError {
	return &opError{client: true, code: cwm.FaultCodeNotFound, msg: fmt.Sprintf("%s %q not found", what, id)}
}

func errInvalid(format string, args ...any) *opError {
	return &opError{client: true, code: cwm.FaultCodeInvalid, msg: fmt.Sprintf(format, args...)}
}

func errConflict(format string, args ...any) *opError {
	return &opError{client: true, code: cwm.FaultCodeConflict, msg: fmt.Sprintf(format, args...)}
}

// result is what an operation did: its response body, whether it changed
// state, and the object it acted on (for the request log).
type result struct {
	body    any
	changed bool
	target  string
}

func (s *Sim) liveKey(id string) (*key, *opError) {
	if id == "" {
		return nil, errInvalid("keyIdentity is required")
	}
	k, ok := s.keys[id]
	if !ok || k.Deleted {
		return nil, errNotFound("key", id)
	}
	return k, nil
}

// Query API v2.

func (s *Sim) getPersons() result {
	r := cwm.GetPersonsResponse{Persons: make([]cwm.Person, 0, len(s.personIDs))}
	for _, id := range s.personIDs {
		r.Persons = append(r.Persons, s.persons[id].Person)
	}
	return result{body: r}
}

func (s *Sim) getKeysForPerson(req cwm.GetKeysForPersonRequest) (result, *opError) {
	if req.PersonIdentity == "" {
		return result{}, errInvalid("personIdentity is required")
	}
	if _, ok := s.persons[req.PersonIdentity]; !ok {
		return result{}, errNotFound("person", req.PersonIdentity)
	}
	var r cwm.GetKeysForPersonResponse
	for _, id := range s.keyIDs {
		if k := s.keys[id]; k.person == req.PersonIdentity {
			r.Keys = append(r.Keys, k.Key)
		}
	}
	return result{body: r, target: req.PersonIdentity}, nil
}

func (s *Sim) keyDetails(k *key) cwm.KeyDetails {
	d := cwm.KeyDetails{
		Identity:          k.Identity,
		OperationalStatus: k.status,
		LastRemoteUpdate:  cwm.NewDateTime(k.lastRemote),
		LastValidation:    cwm.NewDateTime(k.lastValid),
		PendingUpdate:     s.pendingUpdate(k),
	}
	if k.reval.Enabled {
		d.RevalidationDays = k.reval.PeriodDays
	}
	return d
}

func (s *Sim) getKeyDetails(req cwm.GetKeyDetailsRequest) (result, *opError) {
	if req.KeyIdentity == "" {
		return result{}, errInvalid("keyIdentity is required")
	}
	k, ok := s.keys[req.KeyIdentity]
	if !ok {
		return result{}, errNotFound("key", req.KeyIdentity)
	}
	d := s.keyDetails(k)
	return result{body: cwm.GetKeyDetailsResponse{KeyDetails: &d}, target: k.Identity}, nil
}

func (s *Sim) getAuditTrails(req cwm.GetAuditTrailsRequest) (result, *opError) {
	if req.ImportDateInterval.From == nil {
		return result{}, errInvalid("importDateInterval/from is required")
	}
	from := req.ImportDateInterval.From.Time
	var to time.Time
	if req.ImportDateInterval.To != nil {
		to = req.ImportDateInterval.To.Time
		if !to.After(from) {
			return result{}, errInvalid("importDateInterval/to must be after from")
		}
	}
	first, max := 0, s.maxPage
	if p := req.Pagination; p != nil {
		if p.FirstResult < 0 || p.MaxResults < 0 {
			return result{}, errInvalid("pagination values must not be negative")
		}
		first = p.FirstResult
		if p.MaxResults > 0 && p.MaxResults < max {
			max = p.MaxResults
		}
	}
	// Rows are in import order; find the interval by binary search.
	lo, _ := slices.BinarySearchFunc(s.audit, from, func(a cwm.AuditTrail, t time.Time) int {
		return a.ImportDate.Compare(t)
	})
	hi := len(s.audit)
	if !to.IsZero() {
		hi, _ = slices.BinarySearchFunc(s.audit, to, func(a cwm.AuditTrail, t time.Time) int {
			return a.ImportDate.Compare(t)
		})
	}
	start := lo + first
	end := min(start+max, hi)
	var r cwm.GetAuditTrailsResponse
	if start < end {
		r.AuditTrails = slices.Clone(s.audit[start:end])
	}
	return result{body: r}, nil
}

// Assumed management service.

func (s *Sim) createPerson(req cwm.CreatePersonRequest) (result, *opError) {
	if req.Person.FirstName == "" && req.Person.Surname == "" {
		return result{}, errInvalid("person needs a firstName or surname")
	}
	id := s.newID()
	s.persons[id] = &person{cwm.Person{Identity: id, FirstName: req.Person.FirstName, Surname: req.Person.Surname,
		ExternalReference: req.Person.ExternalReference}}
	s.personIDs = append(s.personIDs, id)
	return result{body: cwm.CreatePersonResponse{PersonIdentity: id}, changed: true, target: id}, nil
}

func (s *Sim) updatePerson(req cwm.UpdatePersonRequest) (result, *opError) {
	p, ok := s.persons[req.PersonIdentity]
	if !ok || p.Deleted {
		return result{}, errNotFound("person", req.PersonIdentity)
	}
	next := p.Person
	next.FirstName, next.Surname, next.ExternalReference = req.Person.FirstName, req.Person.Surname, req.Person.ExternalReference
	changed := next != p.Person
	p.Person = next
	return result{changed: changed, target: p.Identity}, nil
}

func (s *Sim) handOutKey(req cwm.HandOutKeyRequest) (result, *opError) {
	k, e := s.liveKey(req.KeyIdentity)
	if e != nil {
		return result{}, e
	}
	p, ok := s.persons[req.PersonIdentity]
	if !ok || p.Deleted {
		return result{}, errNotFound("person", req.PersonIdentity)
	}
	switch {
	case k.status == cwm.StatusLost || k.status == cwm.StatusBroken:
		return result{}, errConflict("key %s is reported %s and cannot be handed out", k.Marking, k.status)
	case k.status == cwm.StatusHandedOut && k.person == p.Identity:
		return result{target: k.Identity}, nil
	case k.status == cwm.StatusHandedOut:
		return result{}, errConflict("key %s is handed out to another person; hand it in first", k.Marking)
	}
	k.status, k.person = cwm.StatusHandedOut, p.Identity
	return result{changed: true, target: k.Identity}, nil
}

func (s *Sim) handInKey(req cwm.KeyRef) (result, *opError) {
	k, e := s.liveKey(req.KeyIdentity)
	if e != nil {
		return result{}, e
	}
	if k.status == cwm.StatusInStock {
		return result{target: k.Identity}, nil
	}
	k.status, k.person = cwm.StatusInStock, ""
	return result{changed: true, target: k.Identity}, nil
}

func (s *Sim) reportKeyLost(req cwm.KeyRef) (result, *opError) {
	k, e := s.liveKey(req.KeyIdentity)
	if e != nil {
		return result{}, e
	}
	if k.status == cwm.StatusLost {
		return result{target: k.Identity}, nil
	}
	k.status = cwm.StatusLost
	return result{changed: true, target: k.Identity}, nil
}

func checkValidity(v cwm.Validity) *opError {
	switch v.Type {
	case cwm.ValidityAlways, cwm.ValidityNever:
		return nil
	case cwm.ValidityBetween:
		if v.From == nil && v.To == nil {
			return errInvalid("validity VALID_BETWEEN needs from or to")
		}
		if v.From != nil && v.To != nil && !v.To.After(v.From.Time) {
			return errInvalid("validity to must be after from")
		}
		return nil
	}
	return errInvalid("unknown validity type %q", v.Type)
}

func (s *Sim) setKeyValidity(req cwm.SetKeyValidityRequest) (result, *opError) {
	k, e := s.liveKey(req.KeyIdentity)
	if e != nil {
		return result{}, e
	}
	if e := checkValidity(req.Validity); e != nil {
		return result{}, e
	}
	v := normValidity(req.Validity)
	changed := !validityEqual(normValidity(k.validity), v)
	k.validity = v
	return result{changed: changed, target: k.Identity}, nil
}

func (s *Sim) setKeySchedule(req cwm.SetKeyScheduleRequest) (result, *opError) {
	k, e := s.liveKey(req.KeyIdentity)
	if e != nil {
		return result{}, e
	}
	if msg := validSchedule(req.Schedule); msg != "" {
		return result{}, errInvalid("schedule: %s", msg)
	}
	changed := !slices.Equal(k.schedule.Intervals, req.Schedule.Intervals)
	k.schedule = cwm.Schedule{Intervals: slices.Clone(req.Schedule.Intervals)}
	return result{changed: changed, target: k.Identity}, nil
}

func (s *Sim) setKeyRevalidation(req cwm.SetKeyRevalidationRequest) (result, *opError) {
	k, e := s.liveKey(req.KeyIdentity)
	if e != nil {
		return result{}, e
	}
	r := req.Revalidation
	if r.Enabled && (r.PeriodDays < 1 || r.PeriodDays > 365) {
		return result{}, errInvalid("revalidation periodDays must be 1..365, got %d", r.PeriodDays)
	}
	if !r.Enabled {
		r.PeriodDays = 0
	}
	changed := r != k.reval
	k.reval = r
	return result{changed: changed, target: k.Identity}, nil
}

func (s *Sim) checkAccessRefs(a cwm.KeyAccess) *opError {
	for _, id := range a.AccessProfiles {
		if p, ok := s.profiles[id]; !ok || p.Deleted {
			return errNotFound("access profile", id)
		}
	}
	for _, id := range a.Cylinders {
		if c, ok := s.cylinders[id]; !ok || c.Deleted {
			return errNotFound("cylinder", id)
		}
	}
	for _, id := range a.CylinderGroups {
		if g, ok := s.groups[id]; !ok || g.Deleted {
			return errNotFound("cylinder group", id)
		}
	}
	return nil
}

func normAccess(a cwm.KeyAccess) cwm.KeyAccess {
	sortU := func(in []string) []string {
		out := slices.Clone(in)
		slices.Sort(out)
		return slices.Compact(out)
	}
	return cwm.KeyAccess{AccessProfiles: sortU(a.AccessProfiles), Cylinders: sortU(a.Cylinders),
		CylinderGroups: sortU(a.CylinderGroups)}
}

func accessEqual(a, b cwm.KeyAccess) bool {
	a, b = normAccess(a), normAccess(b)
	return slices.Equal(a.AccessProfiles, b.AccessProfiles) && slices.Equal(a.Cylinders, b.Cylinders) &&
		slices.Equal(a.CylinderGroups, b.CylinderGroups)
}

func (s *Sim) setKeyAccess(req cwm.SetKeyAccessRequest) (result, *opError) {
	k, e := s.liveKey(req.KeyIdentity)
	if e != nil {
		return result{}, e
	}
	if e := s.checkAccessRefs(req.Access); e != nil {
		return result{}, e
	}
	changed := !accessEqual(k.access, req.Access)
	k.access = normAccess(req.Access)
	if !k.dynamic() && s.syncAccessJobs(k) {
		changed = true
	}
	upd := cwm.AccessUpdate{RemoteUpdatePending: s.pendingUpdate(k), Jobs: s.pendingJobsFor(k.Identity, true)}
	return result{body: cwm.SetKeyAccessResponse{Update: upd}, changed: changed, target: k.Identity}, nil
}

// syncAccessJobs makes the pending ADD/REMOVE jobs of a normal key match
// its configured access: a job per cylinder whose acceptance must change; a
// pending job that is no longer needed is cancelled.
func (s *Sim) syncAccessJobs(k *key) bool {
	target := s.expandToCylinders(k.access)
	changed := false
	for _, cid := range s.cylIDs {
		c := s.cylinders[cid]
		pj := s.pendingJob(cid, k.Identity, cwm.JobAddKey, cwm.JobRemoveKey)
		eff := c.accepts[k.Identity]
		if pj != nil {
			eff = pj.Action == cwm.JobAddKey
		}
		want := target[cid] && !c.Deleted
		if want == eff {
			continue
		}
		changed = true
		if pj != nil {
			s.finishJob(pj, cwm.JobCancelled)
			continue
		}
		action := cwm.JobRemoveKey
		if want {
			action = cwm.JobAddKey
		}
		s.addJob(c, k.Identity, action)
	}
	return changed
}

func (s *Sim) addJob(c *cylinder, keyID, action string) *job {
	j := &job{cwm.ProgrammingJob{Identity: s.newID(), CylinderIdentity: c.Identity, CylinderMarking: c.Marking,
		KeyIdentity: keyID, Action: action, State: cwm.JobPending, Created: &cwm.DateTime{Time: s.now}}}
	s.jobs[j.Identity] = j
	s.jobIDs = append(s.jobIDs, j.Identity)
	s.pending[pendingKey(c.Identity, keyID, action)] = j
	c.jobs = append(c.jobs, j)
	if action == cwm.JobBlacklistKey {
		c.pendingBL++
	}
	return j
}

// finishJob moves a pending job to state (done or cancelled).
func (s *Sim) finishJob(j *job, state string) {
	j.State = state
	if state == cwm.JobDone {
		j.Executed = &cwm.DateTime{Time: s.now}
	}
	delete(s.pending, pendingKey(j.CylinderIdentity, j.KeyIdentity, j.Action))
	if j.Action == cwm.JobBlacklistKey {
		s.cylinders[j.CylinderIdentity].pendingBL--
	}
}

// pendingKey indexes pending jobs: at most one access job (add/remove) and
// one blacklist job (blacklist/unblacklist) per cylinder and key.
func pendingKey(cylID, keyID, action string) string {
	class := "access"
	if action == cwm.JobBlacklistKey || action == cwm.JobUnblacklistKey {
		class = "blacklist"
	}
	return cylID + "|" + keyID + "|" + class
}

// pendingJob returns the pending job for (cylinder, key) with one of the
// actions, or nil.
func (s *Sim) pendingJob(cylID, keyID string, actions ...string) *job {
	j := s.pending[pendingKey(cylID, keyID, actions[0])]
	if j != nil && slices.Contains(actions, j.Action) {
		return j
	}
	return nil
}

// pendingJobsFor lists a key's pending jobs (access jobs only, or all).
func (s *Sim) pendingJobsFor(keyID string, accessOnly bool) []cwm.ProgrammingJob {
	var out []cwm.ProgrammingJob
	for _, id := range s.jobIDs {
		j := s.jobs[id]
		if j.State != cwm.JobPending || j.KeyIdentity != keyID {
			continue
		}
		if accessOnly && j.Action != cwm.JobAddKey && j.Action != cwm.JobRemoveKey {
			continue
		}
		out = append(out, j.ProgrammingJob)
	}
	return out
}

func (s *Sim) blacklistSize(c *cylinder) int { return len(c.blacklist) + c.pendingBL }

func (s *Sim) blacklistTargets(k *key, ids []string) ([]*cylinder, *opError) {
	if len(ids) == 0 {
		for _, cid := range s.cylIDs {
			if s.opens(k)[cid] || s.pendingJob(cid, k.Identity, cwm.JobAddKey) != nil {
				ids = append(ids, cid)
			}
		}
	}
	out := make([]*cylinder, 0, len(ids))
	for _, id := range ids {
		c, ok := s.cylinders[id]
		if !ok || c.Deleted {
			return nil, errNotFound("cylinder", id)
		}
		out = append(out, c)
	}
	return out, nil
}

func (s *Sim) blacklistKey(req cwm.BlacklistRequest) (result, *opError) {
	k, ok := s.keys[req.KeyIdentity]
	if !ok {
		return result{}, errNotFound("key", req.KeyIdentity)
	}
	cyls, e := s.blacklistTargets(k, req.CylinderIdentities)
	if e != nil {
		return result{}, e
	}
	// Check every cylinder first: the request creates all jobs or none.
	for _, c := range cyls {
		if c.blacklist[k.Identity] || s.pendingJob(c.Identity, k.Identity, cwm.JobBlacklistKey) != nil {
			continue
		}
		if s.pendingJob(c.Identity, k.Identity, cwm.JobUnblacklistKey) != nil {
			continue
		}
		if s.blacklistSize(c) >= BlacklistCapacity {
			return result{}, &opError{client: true, code: cwm.FaultCodeCapacity, msg: fmt.Sprintf(
				"blacklist of cylinder %s (%s) is full: %d of %d entries", c.Marking, c.Identity,
				s.blacklistSize(c), BlacklistCapacity)}
		}
	}
	changed := false
	var jobs []cwm.ProgrammingJob
	for _, c := range cyls {
		if j := s.pendingJob(c.Identity, k.Identity, cwm.JobBlacklistKey); j != nil {
			jobs = append(jobs, j.ProgrammingJob)
			continue
		}
		if j := s.pendingJob(c.Identity, k.Identity, cwm.JobUnblacklistKey); j != nil {
			s.finishJob(j, cwm.JobCancelled)
			changed = true
			continue
		}
		if c.blacklist[k.Identity] {
			continue
		}
		jobs = append(jobs, s.addJob(c, k.Identity, cwm.JobBlacklistKey).ProgrammingJob)
		changed = true
	}
	return result{body: cwm.JobsResponse{Jobs: jobs}, changed: changed, target: k.Identity}, nil
}

func (s *Sim) unblacklistKey(req cwm.BlacklistRequest) (result, *opError) {
	k, ok := s.keys[req.KeyIdentity]
	if !ok {
		return result{}, errNotFound("key", req.KeyIdentity)
	}
	ids := req.CylinderIdentities
	if len(ids) == 0 {
		for _, cid := range s.cylIDs {
			if s.cylinders[cid].blacklist[k.Identity] || s.pendingJob(cid, k.Identity, cwm.JobBlacklistKey) != nil {
				ids = append(ids, cid)
			}
		}
	}
	changed := false
	var jobs []cwm.ProgrammingJob
	for _, id := range ids {
		c, ok := s.cylinders[id]
		if !ok {
			return result{}, errNotFound("cylinder", id)
		}
		if j := s.pendingJob(id, k.Identity, cwm.JobBlacklistKey); j != nil {
			s.finishJob(j, cwm.JobCancelled)
			changed = true
			continue
		}
		if j := s.pendingJob(id, k.Identity, cwm.JobUnblacklistKey); j != nil {
			jobs = append(jobs, j.ProgrammingJob)
			continue
		}
		if !c.blacklist[k.Identity] {
			continue
		}
		jobs = append(jobs, s.addJob(c, k.Identity, cwm.JobUnblacklistKey).ProgrammingJob)
		changed = true
	}
	return result{body: cwm.JobsResponse{Jobs: jobs}, changed: changed, target: k.Identity}, nil
}

func (s *Sim) keyState(k *key) cwm.KeyState {
	st := cwm.KeyState{
		Key:                 k.Key,
		PersonIdentity:      k.person,
		OperationalStatus:   k.status,
		Validity:            normValidity(k.validity),
		Schedule:            k.schedule,
		Revalidation:        k.reval,
		Access:              k.access,
		ProgrammedValidity:  k.programmed.Validity,
		ProgrammedCylinders: k.programmed.Cylinders,
		LastValidation:      cwm.NewDateTime(k.lastValid),
		LastRemoteUpdate:    cwm.NewDateTime(k.lastRemote),
		PendingUpdate:       s.pendingUpdate(k),
	}
	opens := s.opens(k)
	for _, cid := range s.cylIDs {
		c := s.cylinders[cid]
		if !k.dynamic() && opens[cid] {
			st.AuthorisedCylinders = append(st.AuthorisedCylinders, cid)
		}
		if c.blacklist[k.Identity] {
			st.BlacklistedIn = append(st.BlacklistedIn, cid)
		}
	}
	return st
}

func (s *Sim) getKeyState(req cwm.KeyRef) (result, *opError) {
	k, ok := s.keys[req.KeyIdentity]
	if !ok {
		return result{}, errNotFound("key", req.KeyIdentity)
	}
	st := s.keyState(k)
	return result{body: cwm.KeyStateResponse{Key: &st}, target: k.Identity}, nil
}

func pageBounds(p cwm.Pagination, n, maxPage int) (int, int, *opError) {
	if p.FirstResult < 0 || p.MaxResults < 0 {
		return 0, 0, errInvalid("pagination values must not be negative")
	}
	max := p.MaxResults
	if max == 0 || max > maxPage {
		max = maxPage
	}
	start := min(p.FirstResult, n)
	return start, min(start+max, n), nil
}

func (s *Sim) getKeys(req cwm.KeysRequest) (result, *opError) {
	ids := s.keyIDs
	if req.UpdatedSince != nil {
		ids = nil
		for _, id := range s.keyIDs {
			if k := s.keys[id]; !k.lastRemote.IsZero() && !k.lastRemote.Before(req.UpdatedSince.Time) {
				ids = append(ids, id)
			}
		}
	}
	start, end, e := pageBounds(req.Pagination, len(ids), s.maxPage)
	if e != nil {
		return result{}, e
	}
	r := cwm.KeysResponse{}
	// One pass over cylinders for all keys of the page, not one per key.
	blacklisted := map[string][]string{}
	for _, cid := range s.cylIDs {
		c := s.cylinders[cid]
		for k := range c.blacklist {
			blacklisted[k] = append(blacklisted[k], cid)
		}
	}
	for _, id := range ids[start:end] {
		k := s.keys[id]
		r.Keys = append(r.Keys, cwm.KeyState{
			BlacklistedIn: blacklisted[id],
			Key:           k.Key, PersonIdentity: k.person, OperationalStatus: k.status,
			Validity: normValidity(k.validity), Schedule: k.schedule, Revalidation: k.reval, Access: k.access,
			ProgrammedValidity: k.programmed.Validity, ProgrammedCylinders: k.programmed.Cylinders,
			LastValidation: cwm.NewDateTime(k.lastValid), LastRemoteUpdate: cwm.NewDateTime(k.lastRemote),
			PendingUpdate: s.pendingUpdate(k),
		})
	}
	return result{body: r}, nil
}

func (s *Sim) getCylinders(req cwm.PageRequest) (result, *opError) {
	start, end, e := pageBounds(req.Pagination, len(s.cylIDs), s.maxPage)
	if e != nil {
		return result{}, e
	}
	pending := map[string]int{}
	for _, id := range s.jobIDs {
		if j := s.jobs[id]; j.State == cwm.JobPending {
			pending[j.CylinderIdentity]++
		}
	}
	r := cwm.CylindersResponse{}
	for _, id := range s.cylIDs[start:end] {
		c := s.cylinders[id]
		cy := c.Cylinder
		cy.BlacklistSize = len(c.blacklist)
		cy.PendingJobs = pending[id]
		r.Cylinders = append(r.Cylinders, cy)
	}
	return result{body: r}, nil
}

func (s *Sim) getCylinderGroups() result {
	r := cwm.CylinderGroupsResponse{}
	for _, id := range s.groupIDs {
		r.Groups = append(r.Groups, s.groups[id].CylinderGroup)
	}
	return result{body: r}
}

func (s *Sim) getAccessProfiles() result {
	r := cwm.AccessProfilesResponse{}
	for _, id := range s.profileIDs {
		r.Profiles = append(r.Profiles, s.profiles[id].AccessProfile)
	}
	return result{body: r}
}

func (s *Sim) getProgrammingJobs(req cwm.JobsRequest) result {
	r := cwm.JobsResponse{}
	recent := func(j *job) bool {
		if req.PendingOnly {
			return false
		}
		if req.Since == nil {
			return true
		}
		return !j.Created.Before(req.Since.Time) || (j.Executed != nil && !j.Executed.Before(req.Since.Time))
	}
	for _, id := range s.jobIDs {
		j := s.jobs[id]
		if req.KeyIdentity != "" && j.KeyIdentity != req.KeyIdentity {
			continue
		}
		if j.State == cwm.JobPending || recent(j) {
			r.Jobs = append(r.Jobs, j.ProgrammingJob)
		}
	}
	return result{body: r, target: req.KeyIdentity}
}
