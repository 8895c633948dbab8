package iloq

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/keyward/keyward/lockdrivers/driver"
	"github.com/keyward/keyward/lockdrivers/iloq/iloqapi"
)

// keyView is what the vendor holds for one key: planned (mode=1) and last
// programmed (mode=2).
type keyView struct {
	key                 iloqapi.Key
	plannedTL, progTL   iloqapi.GetTimeLimitsResult
	planned, programmed driver.KeyAccess
}

// readKey reads a key with its planned and programmed access.
func (d *Driver) readKey(ctx context.Context, c *Client, id string) (keyView, error) {
	var kv keyView
	k, err := c.GetKey(ctx, id)
	if err != nil {
		return kv, err
	}
	kv.key = k
	loc := c.Location()
	var pa, ga []iloqapi.SecurityAccess
	calls := []func() error{
		func() (err error) { pa, err = c.KeyAccesses(ctx, id, iloqapi.ModePlanned); return },
		func() (err error) { kv.plannedTL, err = c.KeyTimeLimits(ctx, id, iloqapi.ModePlanned); return },
		func() (err error) { ga, err = c.KeyAccesses(ctx, id, iloqapi.ModeProgrammed); return },
		func() (err error) { kv.progTL, err = c.KeyTimeLimits(ctx, id, iloqapi.ModeProgrammed); return },
	}
	for _, call := range calls {
		if err := call(); err != nil {
			return kv, err
		}
	}
	kv.planned = fromVendor(pa, kv.plannedTL.KeyTimeLimitSlots, loc)
	kv.programmed = fromVendor(ga, kv.progTL.KeyTimeLimitSlots, loc)
	return kv, nil
}

// checkRequest validates the parts of a request the driver can check alone.
func checkRequest(op string, req driver.SetKeyAccessRequest, needIdem bool) error {
	var problems []driver.Problem
	if needIdem && req.IdempotencyKey == "" {
		problems = append(problems, driver.Problem{Field: "idempotency_key", Message: "required"})
	}
	if strings.TrimSpace(req.KeyID) == "" {
		problems = append(problems, driver.Problem{Field: "key_id", Message: "required"})
	}
	w := req.Access.Window
	if !w.NotBefore.IsZero() && !w.NotAfter.IsZero() && !w.NotBefore.Before(w.NotAfter) {
		problems = append(problems, driver.Problem{Field: "access.window", Message: "not_before must be before not_after"})
	}
	for i, s := range req.Access.Schedule {
		if s.Start < 0 || s.End > 24*time.Hour || s.End <= s.Start || s.Day < 0 || s.Day > 6 {
			problems = append(problems, driver.Problem{Field: fmt.Sprintf("access.schedule[%d]", i),
				Message: "want a weekday and 0 <= start < end <= 24h"})
		}
	}
	if len(problems) > 0 {
		return driver.Invalid(op, problems...)
	}
	return nil
}

// checkAccessObjects resolves the requested access rights; an unknown one is
// KindNotFound.
func (d *Driver) checkAccessObjects(ctx context.Context, c *Client, op string, ids []string) (
	map[string]iloqapi.SecurityAccess, error) {
	rights, err := d.accessRights(ctx, c, false)
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		if _, ok := rights[strings.ToLower(id)]; ok {
			continue
		}
		if rights, err = d.accessRights(ctx, c, true); err != nil {
			return nil, err
		}
		if _, ok := rights[strings.ToLower(id)]; !ok {
			return nil, driver.Errorf(driver.KindNotFound, op, "access right %q does not exist in the locking system", id)
		}
	}
	return rights, nil
}

// SetKeyAccess makes the requested access the key's whole access: a
// read-modify-write of the full-replace PUT Keys/{id}/SecurityAccesses,
// guarded by CanAdd/CanDelete, then CanOrder and Order. A repeated request
// finds the plan already in place and sends nothing again.
func (d *Driver) SetKeyAccess(ctx context.Context, req driver.SetKeyAccessRequest) (driver.Delivery, error) {
	const op = "iloq: set key access"
	if err := checkRequest(op, req, true); err != nil {
		return driver.Delivery{}, err
	}
	c, err := d.client(op)
	if err != nil {
		return driver.Delivery{}, err
	}
	kv, err := d.readKey(ctx, c, req.KeyID)
	if err != nil {
		return driver.Delivery{}, err
	}
	if kv.key.State == iloqapi.KeyStateReturned {
		return driver.Delivery{}, driver.Errorf(driver.KindInvalid, op, "key %s has been returned", req.KeyID)
	}
	if _, err := d.checkAccessObjects(ctx, c, op, req.Access.AccessObjectIDs); err != nil {
		return driver.Delivery{}, err
	}
	loc := c.Location()
	desired := normalize(req.Access, loc)
	cid := changeID(kv.key.FNKeyID, desired)
	ps := kv.key.ProgrammingState
	if !sameAccess(desired, kv.planned) {
		if err := d.precheck(ctx, c, op, kv, desired); err != nil {
			return driver.Delivery{}, err
		}
		if err := d.writeAccess(ctx, c, kv, req.Access, desired); err != nil {
			return driver.Delivery{}, err
		}
		ps = iloqapi.ProgPlanning
	}
	del, err := d.order(ctx, c, kv.key, ps)
	if err != nil {
		return driver.Delivery{}, err
	}
	del.ChangeID = cid
	del.At = c.ServerNow()
	del.Removal = d.removal(kv, desired, del.State, c.ServerNow())
	d.log.Debug("set key access", "key_id", kv.key.FNKeyID, "change_id", cid, "state", del.State)
	return del, nil
}

// precheck runs the vendor's Can… checks for the links a change adds or
// removes; a refusal is KindNeedsAction.
func (d *Driver) precheck(ctx context.Context, c *Client, op string, kv keyView, desired driver.KeyAccess) error {
	if len(diff(desired.AccessObjectIDs, kv.planned.AccessObjectIDs)) > 0 {
		code, err := c.CanAddAccess(ctx, kv.key.FNKeyID)
		if err != nil {
			return err
		}
		if code != iloqapi.LinkOK {
			return &driver.Error{Kind: driver.KindNeedsAction, Op: op,
				Err:         fmt.Errorf("iLOQ refuses new access rights on key %s (CanAdd %d)", kv.key.FNKeyID, code),
				NeedsAction: linkAction("CanAdd", code)}
		}
	}
	for _, id := range diff(kv.planned.AccessObjectIDs, desired.AccessObjectIDs) {
		code, err := c.CanDeleteAccess(ctx, kv.key.FNKeyID, id)
		if err != nil {
			return err
		}
		if code == iloqapi.LinkUnmodifiable {
			return &driver.Error{Kind: driver.KindNeedsAction, Op: op,
				Err:         fmt.Errorf("iLOQ refuses to remove %s from key %s (CanDelete %d)", id, kv.key.FNKeyID, code),
				NeedsAction: linkAction("CanDelete", code)}
		}
	}
	return nil
}

func linkAction(check string, code int) *driver.NeedsAction {
	na := &driver.NeedsAction{ReasonCode: fmt.Sprintf("iloq.%s.%d", check, code), Action: driver.ActionUseVendorTool}
	switch code {
	case iloqapi.LinkUnmodifiable:
		na.Reason = "the key cannot be modified (for example it is on the blocklist)"
	case iloqapi.LinkMaxOrMissing:
		na.Reason = "the key already has the maximum number of access rights"
	default:
		na.Reason = fmt.Sprintf("iLOQ answered %s %d", check, code)
	}
	return na
}

// writeAccess sends the full replace: every access right and slot the key
// should hold, keeping what keyward does not manage (key scheduler, offline
// expiration, slots outside the user's zones).
func (d *Driver) writeAccess(ctx context.Context, c *Client, kv keyView, req, desired driver.KeyAccess) error {
	profile := ""
	if len(desired.Schedule) > 0 {
		var err error
		if profile, err = d.scheduleProfile(ctx, c); err != nil {
			return err
		}
	}
	p := iloqapi.UpdateKeySecurityAccessesParam{
		SecurityAccessIDs:                  desired.AccessObjectIDs,
		TimeLimitSlots:                     toSlots(req, c.Location(), profile),
		OutsideUserZoneTimeLimitTitleSlots: kv.plannedTL.OutsideUserZoneTimeLimitTitleSlots,
		KeyScheduler:                       kv.plannedTL.KeyScheduler,
		OfflineExpirationSeconds:           kv.plannedTL.OfflineExpirationSeconds,
	}
	if p.TimeLimitSlots == nil {
		p.TimeLimitSlots = []iloqapi.KeyTimeLimitSlot{}
	}
	if p.OutsideUserZoneTimeLimitTitleSlots == nil {
		p.OutsideUserZoneTimeLimitTitleSlots = []int{}
	}
	return c.PutKeyAccesses(ctx, kv.key.FNKeyID, p)
}

// scheduleProfile returns keyward's dynamic time profile (created once per
// locking system under a derived id): a dynamic profile lets each key carry
// its own weekly clock.
func (d *Driver) scheduleProfile(ctx context.Context, c *Client) (string, error) {
	d.cacheMu.Lock()
	id := d.scheduleTLT
	d.cacheMu.Unlock()
	if id != "" {
		return id, nil
	}
	id = derivedID(c.LockGroup().LockGroupID, "keyward-schedule")
	titles, err := c.ListTitles(ctx)
	if err != nil {
		return "", err
	}
	found := slices.ContainsFunc(titles, func(t iloqapi.TimeLimitTitle) bool { return sameID(t.TimeLimitTitleID, id) })
	if !found {
		err := c.InsertTitle(ctx, iloqapi.TimeLimitTitle{TimeLimitTitleID: id, Name: "keyward weekly schedule",
			Description: "Dynamic time profile; each key carries the weekly clock keyward wrote",
			OptionMask:  2 | 8}, []iloqapi.TimeLimitData{})
		if err != nil && !isAlready(err) {
			return "", err
		}
	}
	d.cacheMu.Lock()
	d.scheduleTLT = id
	d.cacheMu.Unlock()
	return id, nil
}

// order orders the key when its plan is not ordered yet and maps the state
// to a delivery.
func (d *Driver) order(ctx context.Context, c *Client, k iloqapi.Key, ps int) (driver.Delivery, error) {
	if ps != iloqapi.ProgPlanning {
		return d.progress(k, ps), nil
	}
	code, err := c.CanOrder(ctx, k.FNKeyID)
	if err != nil {
		return driver.Delivery{}, err
	}
	if code == iloqapi.CanOrderMainZoneRequired {
		if fixed, err := d.fixMainZone(ctx, c, k.FNKeyID); err != nil {
			return driver.Delivery{}, err
		} else if fixed {
			if code, err = c.CanOrder(ctx, k.FNKeyID); err != nil {
				return driver.Delivery{}, err
			}
		}
	}
	if code != iloqapi.CanOrderOK {
		return driver.Delivery{State: driver.DeliveryNeedsAction, NeedsAction: canOrderAction(code)}, nil
	}
	if err := c.Order(ctx, k.FNKeyID); err != nil {
		// A retried Order whose first attempt took effect is refused
		// (CanOrder 4); the key's state tells.
		nk, rerr := c.GetKey(ctx, k.FNKeyID)
		if rerr != nil || nk.ProgrammingState == iloqapi.ProgPlanning {
			return driver.Delivery{}, err
		}
		return d.progress(nk, nk.ProgrammingState), nil
	}
	if iloqapi.IsExternalTag(k.KeyTypeMask) {
		// Tags are programmed on the server at once; read the outcome.
		if nk, err := c.GetKey(ctx, k.FNKeyID); err == nil {
			return d.progress(nk, nk.ProgrammingState), nil
		}
	}
	return d.progress(k, iloqapi.ProgOrdered), nil
}

// progress maps an ordered key's state; physical keys and fobs wait for
// their holder at a hot spot.
func (d *Driver) progress(k iloqapi.Key, ps int) driver.Delivery {
	st := deliveryState(ps)
	physical := !iloqapi.IsPhone(k.KeyTypeMask) && !iloqapi.IsExternalTag(k.KeyTypeMask)
	if physical && (st == driver.DeliveryQueued || st == driver.DeliveryRecorded) {
		return driver.Delivery{State: driver.DeliveryNeedsAction, NeedsAction: physicalDelivery()}
	}
	return driver.Delivery{State: st}
}

// fixMainZone sets the configured (or default) zone as the key's main zone
// when iLOQ requires one and still allows it.
func (d *Driver) fixMainZone(ctx context.Context, c *Client, keyID string) (bool, error) {
	if code, err := c.CanUpdateMainZone(ctx, keyID); err != nil || code != 0 {
		return false, err
	}
	zone, err := d.defaultZone(ctx, c)
	if err != nil || zone == "" {
		return false, err
	}
	return true, c.UpdateMainZone(ctx, keyID, zone)
}

// defaultZone is the configured zone or the locking system's zone of type 4.
func (d *Driver) defaultZone(ctx context.Context, c *Client) (string, error) {
	if s, _ := d.config(); s.DefaultZone != "" {
		return s.DefaultZone, nil
	}
	zones, err := c.ListZones(ctx)
	if err != nil {
		return "", err
	}
	for _, z := range zones {
		if z.Type == 4 {
			return z.ZoneID, nil
		}
	}
	if len(zones) > 0 {
		return zones[0].ZoneID, nil
	}
	return "", nil
}

// removal says by when the access a change removes stops working, from what
// the key really carries (its last programmed state): at once when the key
// never carried it or is already reprogrammed; otherwise at the earliest of
// its programmed end date and its offline expiration (counted from now, as
// the phone may have synced a moment ago); unbounded when it has neither.
func (d *Driver) removal(kv keyView, desired driver.KeyAccess, state driver.DeliveryState, now time.Time) *driver.Removal {
	gone := diff(union(kv.planned.AccessObjectIDs, kv.programmed.AccessObjectIDs), desired.AccessObjectIDs)
	if len(gone) == 0 {
		return nil
	}
	r := &driver.Removal{AccessObjectIDs: gone}
	onKey := diff(kv.programmed.AccessObjectIDs, desired.AccessObjectIDs)
	if len(onKey) == 0 || state == driver.DeliveryApplied {
		r.EffectiveBy = now
		return r
	}
	var bounds []time.Time
	if end := kv.programmed.Window.NotAfter; !end.IsZero() {
		bounds = append(bounds, end)
	}
	if s := kv.progTL.OfflineExpirationSeconds; s > 0 {
		bounds = append(bounds, now.Add(time.Duration(s)*time.Second))
	}
	if len(bounds) == 0 {
		r.Unbounded = true
		return r
	}
	r.EffectiveBy = slices.MinFunc(bounds, func(a, b time.Time) int { return a.Compare(b) })
	if r.EffectiveBy.Before(now) {
		r.EffectiveBy = now
	}
	return r
}

func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, x := range b {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	sort.Strings(out)
	return out
}

// Plan is a dry run of SetKeyAccess with the vendor's pre-checks.
func (d *Driver) Plan(ctx context.Context, req driver.SetKeyAccessRequest) (driver.Plan, error) {
	const op = "iloq: plan"
	if err := checkRequest(op, req, false); err != nil {
		return driver.Plan{}, err
	}
	c, err := d.client(op)
	if err != nil {
		return driver.Plan{}, err
	}
	kv, err := d.readKey(ctx, c, req.KeyID)
	if err != nil {
		return driver.Plan{}, err
	}
	rights, err := d.checkAccessObjects(ctx, c, op, req.Access.AccessObjectIDs)
	if err != nil {
		return driver.Plan{}, err
	}
	desired := normalize(req.Access, c.Location())
	p := driver.Plan{
		NoChange: sameAccess(desired, kv.planned),
		Added:    diff(desired.AccessObjectIDs, kv.planned.AccessObjectIDs),
		Removed:  diff(kv.planned.AccessObjectIDs, desired.AccessObjectIDs),
	}
	if p.NoChange {
		del := d.progress(kv.key, kv.key.ProgrammingState)
		if kv.key.ProgrammingState == iloqapi.ProgPlanning {
			del = d.orderOutlook(ctx, c, kv.key, &p)
		}
		p.Expected, p.NeedsAction = del.State, del.NeedsAction
		return p, nil
	}
	for _, id := range p.Added {
		if a := rights[id]; a.Type != iloqapi.AccessTypeAPI {
			p.Notes = append(p.Notes, fmt.Sprintf("access right %q is not an API access right", a.Name))
			na := canOrderAction(iloqapi.CanOrderNeedsManager)
			p.Expected, p.NeedsAction = driver.DeliveryNeedsAction, na
		}
	}
	if p.NeedsAction == nil {
		if code, err := c.CanAddAccess(ctx, kv.key.FNKeyID); err != nil {
			return p, err
		} else if len(p.Added) > 0 && code != iloqapi.LinkOK {
			p.Expected, p.NeedsAction = driver.DeliveryNeedsAction, linkAction("CanAdd", code)
		}
	}
	if p.NeedsAction == nil {
		del := d.orderOutlook(ctx, c, kv.key, &p)
		p.Expected, p.NeedsAction = del.State, del.NeedsAction
	}
	p.Removal = d.removal(kv, desired, driver.DeliveryQueued, c.ServerNow())
	return p, nil
}

// orderOutlook predicts the delivery after a change: CanOrder answers for
// the key as it is; "wrong state" only means it is ordered already.
func (d *Driver) orderOutlook(ctx context.Context, c *Client, k iloqapi.Key, p *driver.Plan) driver.Delivery {
	code, err := c.CanOrder(ctx, k.FNKeyID)
	if err != nil {
		p.Notes = append(p.Notes, "CanOrder: "+err.Error())
	}
	switch {
	case err != nil, code == iloqapi.CanOrderOK, code == iloqapi.CanOrderWrongState,
		code == iloqapi.CanOrderMainZoneRequired:
		if iloqapi.IsExternalTag(k.KeyTypeMask) {
			return driver.Delivery{State: driver.DeliveryApplied}
		}
		return d.progress(k, iloqapi.ProgOrdered)
	}
	p.Notes = append(p.Notes, fmt.Sprintf("CanOrder answers %d", code))
	return driver.Delivery{State: driver.DeliveryNeedsAction, NeedsAction: canOrderAction(code)}
}
