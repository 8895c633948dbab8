package cliq

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/keyward/keyward/lockdrivers/cliq/cwm"
	"github.com/keyward/keyward/lockdrivers/driver"
)

// toKey maps a CWM key with its jobs to a driver key.
func toKey(st cwm.KeyState, jobs []cwm.ProgrammingJob, now time.Time) driver.Key {
	planned := driver.KeyAccess{
		AccessObjectIDs: accessIDs(st.Access),
		Window:          windowFromValidity(st.Validity),
		Schedule:        scheduleFromCWM(st.Schedule),
	}
	k := driver.Key{
		ID: st.Identity, Label: st.Marking, Type: keyType(st.Type), State: keyState(st),
		HolderID: st.PersonIdentity, Planned: planned,
	}
	if d := deliveryFor(st, jobs, now); d.State == driver.DeliveryApplied {
		p := planned
		k.Programmed = &p
	} else {
		k.Pending = &d
	}
	return k
}

// keyNow reads a key's state and jobs and maps it.
func (d *Driver) keyNow(ctx context.Context, op string, m cwm.Management, keyID string) (driver.Key, error) {
	st, err := m.GetKeyState(ctx, keyID)
	if err != nil {
		return driver.Key{}, mapErr(op, err)
	}
	jobs, err := m.GetProgrammingJobs(ctx, cwm.JobQuery{KeyIdentity: keyID})
	if err != nil {
		return driver.Key{}, mapErr(op, err)
	}
	return toKey(st, jobs, time.Now().UTC()), nil
}

// liveKey reads a key that must exist and not be deleted.
func liveKey(ctx context.Context, op string, m cwm.Management, keyID string) (cwm.KeyState, error) {
	if keyID == "" {
		return cwm.KeyState{}, driver.Invalid(op, driver.Problem{Field: "keyId", Message: "required"})
	}
	st, err := m.GetKeyState(ctx, keyID)
	if err != nil {
		return st, mapErr(op, err)
	}
	if st.Deleted {
		return st, driver.Errorf(driver.KindNotFound, op, "key %s is deleted in CWM", keyID)
	}
	return st, nil
}

// EnsurePerson implements driver.Driver: it finds the person whose external
// reference is the ExternalID, or creates one.
func (d *Driver) EnsurePerson(ctx context.Context, req driver.EnsurePersonRequest) (driver.Person, error) {
	const op = "cliq: ensure person"
	_, c, m, err := d.conn(op)
	if err != nil {
		return driver.Person{}, err
	}
	if req.IdempotencyKey == "" {
		return driver.Person{}, needIdem(op)
	}
	if req.Person.ExternalID == "" {
		return driver.Person{}, driver.Invalid(op, driver.Problem{Field: "person.externalId", Message: "required"})
	}
	persons, err := c.GetPersons(ctx)
	if err != nil {
		return driver.Person{}, mapErr(op, err)
	}
	first, last := splitName(req.Person.Name)
	for _, p := range persons {
		if !p.Deleted && p.ExternalReference == req.Person.ExternalID {
			return toPerson(p), nil
		}
	}
	in := cwm.PersonInput{FirstName: first, Surname: last, ExternalReference: req.Person.ExternalID}
	if in.FirstName == "" && in.Surname == "" {
		in.Surname = req.Person.ExternalID
	}
	id, err := m.CreatePerson(ctx, in)
	if err != nil {
		return driver.Person{}, mapErr(op, err)
	}
	return toPerson(cwm.Person{Identity: id, FirstName: in.FirstName, Surname: in.Surname,
		ExternalReference: in.ExternalReference}), nil
}

func splitName(name string) (string, string) {
	name = strings.TrimSpace(name)
	if i := strings.LastIndexByte(name, ' '); i > 0 {
		return name[:i], name[i+1:]
	}
	return "", name
}

func toPerson(p cwm.Person) driver.Person {
	return driver.Person{ID: p.Identity, ExternalID: p.ExternalReference,
		Name: strings.TrimSpace(p.FirstName + " " + p.Surname)}
}

// AssignKey implements driver.Driver. A key held by someone else is handed
// in first; a lost key is a conflict.
func (d *Driver) AssignKey(ctx context.Context, req driver.AssignKeyRequest) (driver.Key, error) {
	const op = "cliq: assign key"
	_, _, m, err := d.conn(op)
	if err != nil {
		return driver.Key{}, err
	}
	if req.PersonID == "" {
		return driver.Key{}, driver.Invalid(op, driver.Problem{Field: "personId", Message: "required"})
	}
	if req.IdempotencyKey == "" {
		return driver.Key{}, needIdem(op)
	}
	st, err := liveKey(ctx, op, m, req.KeyID)
	if err != nil {
		return driver.Key{}, err
	}
	if st.OperationalStatus == cwm.StatusHandedOut && st.PersonIdentity != req.PersonID {
		if err := m.HandInKey(ctx, req.KeyID); err != nil {
			return driver.Key{}, mapErr(op, err)
		}
	}
	if st.OperationalStatus != cwm.StatusHandedOut || st.PersonIdentity != req.PersonID {
		if err := m.HandOutKey(ctx, req.KeyID, req.PersonID); err != nil {
			return driver.Key{}, mapErr(op, err)
		}
	}
	return d.keyNow(ctx, op, m, req.KeyID)
}

// ReturnKey implements driver.Driver (CWM: hand in).
func (d *Driver) ReturnKey(ctx context.Context, req driver.KeyRequest) (driver.Key, error) {
	return d.custodyChange(ctx, "cliq: return key", req, cwm.Management.HandInKey)
}

// ReportKeyLost implements driver.Driver. It only marks the key lost;
// blocking it in cylinders is BlockKey.
func (d *Driver) ReportKeyLost(ctx context.Context, req driver.KeyRequest) (driver.Key, error) {
	return d.custodyChange(ctx, "cliq: report key lost", req, cwm.Management.ReportKeyLost)
}

// custodyChange runs one custody call on a live key and answers with the key
// as CWM holds it afterwards.
func (d *Driver) custodyChange(ctx context.Context, op string, req driver.KeyRequest, call func(cwm.Management, context.Context, string) error) (driver.Key, error) {
	_, _, m, err := d.conn(op)
	if err != nil {
		return driver.Key{}, err
	}
	if req.IdempotencyKey == "" {
		return driver.Key{}, needIdem(op)
	}
	if _, err := liveKey(ctx, op, m, req.KeyID); err != nil {
		return driver.Key{}, err
	}
	if err := call(m, ctx, req.KeyID); err != nil {
		return driver.Key{}, mapErr(op, err)
	}
	return d.keyNow(ctx, op, m, req.KeyID)
}

// SetKeyAccess implements driver.Driver. It reads the key, writes only the
// parts of its configuration that differ (access, validity, schedule,
// revalidation when the settings enforce it), so a retry writes nothing,
// and answers from CWM's state after the writes.
func (d *Driver) SetKeyAccess(ctx context.Context, req driver.SetKeyAccessRequest) (driver.Delivery, error) {
	const op = "cliq: set key access"
	cfg, _, m, err := d.conn(op)
	if err != nil {
		return driver.Delivery{}, err
	}
	if req.IdempotencyKey == "" {
		return driver.Delivery{}, needIdem(op)
	}
	want, err := parseDesired(op, req.Access)
	if err != nil {
		return driver.Delivery{}, err
	}
	before, err := liveKey(ctx, op, m, req.KeyID)
	if err != nil {
		return driver.Delivery{}, err
	}
	if err := d.write(ctx, m, cfg, before, want); err != nil {
		return driver.Delivery{}, mapErr(op, err)
	}
	after, err := m.GetKeyState(ctx, req.KeyID)
	if err != nil {
		return driver.Delivery{}, mapErr(op, err)
	}
	jobs, err := m.GetProgrammingJobs(ctx, cwm.JobQuery{KeyIdentity: req.KeyID})
	if err != nil {
		return driver.Delivery{}, mapErr(op, err)
	}
	now := time.Now().UTC()
	del := deliveryFor(after, jobs, now)
	if removed := minus(accessIDs(before.Access), accessIDs(want.access)); len(removed) > 0 {
		del.Removal = removal(after, removed, del.State == driver.DeliveryApplied, now)
	}
	d.log.Debug("set key access", "key", req.KeyID, "state", del.State, "change", del.ChangeID)
	return del, nil
}

func (d *Driver) write(ctx context.Context, m cwm.Management, cfg *settings, st cwm.KeyState, want desired) error {
	if !validityEqual(st.Validity, want.validity) {
		if err := m.SetKeyValidity(ctx, st.Identity, want.validity); err != nil {
			return err
		}
	}
	if !scheduleEqual(st.Schedule, want.schedule) {
		if err := m.SetKeySchedule(ctx, st.Identity, want.schedule); err != nil {
			return err
		}
	}
	if r := (cwm.Revalidation{Enabled: true, PeriodDays: cfg.RevalidationDays}); cfg.RevalidationDays > 0 && st.Revalidation != r {
		if err := m.SetKeyRevalidation(ctx, st.Identity, r); err != nil {
			return err
		}
	}
	if !accessEqual(st.Access, want.access) {
		if _, err := m.SetKeyAccess(ctx, st.Identity, want.access); err != nil {
			return err
		}
	}
	return nil
}

// Plan implements driver.Driver: SetKeyAccess without writing.
func (d *Driver) Plan(ctx context.Context, req driver.SetKeyAccessRequest) (driver.Plan, error) {
	const op = "cliq: plan"
	cfg, _, m, err := d.conn(op)
	if err != nil {
		return driver.Plan{}, err
	}
	want, err := parseDesired(op, req.Access)
	if err != nil {
		return driver.Plan{}, err
	}
	st, err := liveKey(ctx, op, m, req.KeyID)
	if err != nil {
		return driver.Plan{}, err
	}
	jobs, err := m.GetProgrammingJobs(ctx, cwm.JobQuery{KeyIdentity: req.KeyID})
	if err != nil {
		return driver.Plan{}, mapErr(op, err)
	}
	now := time.Now().UTC()
	have, wantIDs := accessIDs(st.Access), accessIDs(want.access)
	p := driver.Plan{Added: minus(wantIDs, have), Removed: minus(have, wantIDs)}
	configSame := accessEqual(st.Access, want.access) && validityEqual(st.Validity, want.validity) &&
		scheduleEqual(st.Schedule, want.schedule) &&
		(cfg.RevalidationDays == 0 || st.Revalidation == cwm.Revalidation{Enabled: true, PeriodDays: cfg.RevalidationDays})
	current := deliveryFor(st, jobs, now)
	switch {
	case configSame:
		// Nothing to send: CWM holds this access already. Whether it has
		// reached the key is the current delivery state.
		p.NoChange, p.Expected, p.NeedsAction = true, current.State, current.NeedsAction
		if current.State != driver.DeliveryApplied {
			p.Notes = append(p.Notes, "CWM already holds this access; it has not reached the key or its cylinders yet")
		}
	case !cfg.dynamic[st.Type] && !accessEqual(st.Access, want.access):
		cyl, err := d.cylindersToProgram(ctx, m, st, want.access)
		if err != nil {
			return driver.Plan{}, mapErr(op, err)
		}
		p.Expected = driver.DeliveryNeedsAction
		p.NeedsAction = &driver.NeedsAction{ReasonCode: "CWM_PROGRAMMING_JOBS", Action: driver.ActionVisitLock,
			LockIDs: cyl, Reason: "a normal key's access changes only by programming its cylinders"}
	default:
		p.Expected = driver.DeliveryQueued
		p.Notes = append(p.Notes, "the key takes the change at its next update at a programming device or CLIQ Connect")
	}
	if len(p.Removed) > 0 {
		p.Removal = removal(st, p.Removed, false, now)
	}
	return p, nil
}

// cylindersToProgram lists the cylinders whose acceptance of a normal key
// would change.
func (d *Driver) cylindersToProgram(ctx context.Context, m cwm.Management, st cwm.KeyState, want cwm.KeyAccess) ([]string, error) {
	groups, err := m.GetCylinderGroups(ctx)
	if err != nil {
		return nil, err
	}
	profiles, err := m.GetAccessProfiles(ctx)
	if err != nil {
		return nil, err
	}
	members := map[string][]string{}
	for _, g := range groups {
		members[g.Identity] = g.Cylinders
	}
	target := map[string]bool{}
	addGroup := func(g string) {
		for _, c := range members[g] {
			target[c] = true
		}
	}
	for _, c := range want.Cylinders {
		target[c] = true
	}
	for _, g := range want.CylinderGroups {
		addGroup(g)
	}
	for _, p := range profiles {
		if slices.Contains(want.AccessProfiles, p.Identity) {
			for _, c := range p.Cylinders {
				target[c] = true
			}
			for _, g := range p.CylinderGroups {
				addGroup(g)
			}
		}
	}
	var out []string
	for c := range target {
		if !slices.Contains(st.AuthorisedCylinders, c) {
			out = append(out, c)
		}
	}
	for _, c := range st.AuthorisedCylinders {
		if !target[c] {
			out = append(out, c)
		}
	}
	slices.Sort(out)
	return out, nil
}

// BlockKey implements driver.Driver: the key is blacklisted in every
// cylinder it can open, by programming jobs a programming key carries to
// each cylinder. A full blacklist is a needs-action error.
func (d *Driver) BlockKey(ctx context.Context, req driver.BlockKeyRequest) (driver.BlockResult, error) {
	return d.block(ctx, "cliq: block key", req, true)
}

// UnblockKey implements driver.Driver.
func (d *Driver) UnblockKey(ctx context.Context, req driver.BlockKeyRequest) (driver.BlockResult, error) {
	return d.block(ctx, "cliq: unblock key", req, false)
}

func (d *Driver) block(ctx context.Context, op string, req driver.BlockKeyRequest, blocked bool) (driver.BlockResult, error) {
	_, _, m, err := d.conn(op)
	if err != nil {
		return driver.BlockResult{}, err
	}
	if req.KeyID == "" {
		return driver.BlockResult{}, driver.Invalid(op, driver.Problem{Field: "keyId", Message: "required"})
	}
	if req.IdempotencyKey == "" {
		return driver.BlockResult{}, needIdem(op)
	}
	if _, err := m.GetKeyState(ctx, req.KeyID); err != nil {
		return driver.BlockResult{}, mapErr(op, err)
	}
	if blocked {
		_, err = m.BlacklistKey(ctx, req.KeyID, nil)
	} else {
		_, err = m.UnblacklistKey(ctx, req.KeyID, nil)
	}
	if err != nil {
		return driver.BlockResult{}, mapErr(op, err)
	}
	st, err := m.GetKeyState(ctx, req.KeyID)
	if err != nil {
		return driver.BlockResult{}, mapErr(op, err)
	}
	jobs, err := m.GetProgrammingJobs(ctx, cwm.JobQuery{KeyIdentity: req.KeyID})
	if err != nil {
		return driver.BlockResult{}, mapErr(op, err)
	}
	return blockResult(st, jobs, blocked, time.Now().UTC()), nil
}

func blockResult(st cwm.KeyState, jobs []cwm.ProgrammingJob, blocked bool, now time.Time) driver.BlockResult {
	action := cwm.JobUnblacklistKey
	if blocked {
		action = cwm.JobBlacklistKey
	}
	var pending []cwm.ProgrammingJob
	var res driver.BlockResult
	for _, j := range jobs {
		if j.Action == action && j.State == cwm.JobPending {
			pending = append(pending, j)
			res.Locks = append(res.Locks, driver.LockPropagation{LockID: j.CylinderIdentity, State: driver.PropagationPending, At: now})
		}
	}
	if blocked {
		for _, c := range st.BlacklistedIn {
			res.Locks = append(res.Locks, driver.LockPropagation{LockID: c, State: driver.PropagationApplied, At: now})
		}
	}
	verb := "unblock:"
	if blocked {
		verb = "block:"
	}
	res.Delivery = driver.Delivery{ChangeID: verb + st.Identity, At: now, State: driver.DeliveryApplied}
	if len(pending) > 0 {
		res.Delivery.State = driver.DeliveryNeedsAction
		res.Delivery.NeedsAction = visitLocks("CWM_BLACKLIST_JOBS", pending)
	}
	return res
}

func needIdem(op string) error {
	return driver.Invalid(op, driver.Problem{Field: "idempotencyKey", Message: "required: the host sends one with every write"})
}
