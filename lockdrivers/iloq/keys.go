package iloq

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/keyward/keyward/lockdrivers/driver"
	"github.com/keyward/keyward/lockdrivers/iloq/iloqapi"
)

// EnsurePerson finds the person by ExternalPersonId or creates it under a
// GUID derived from the lock system and the external id, so a retried
// create cannot make a second person.
func (d *Driver) EnsurePerson(ctx context.Context, req driver.EnsurePersonRequest) (driver.Person, error) {
	const op = "iloq: ensure person"
	ext := strings.TrimSpace(req.Person.ExternalID)
	if ext == "" {
		return driver.Person{}, driver.Invalid(op, driver.Problem{Field: "person.external_id", Message: "required"})
	}
	c, err := d.client(op)
	if err != nil {
		return driver.Person{}, err
	}
	if p, err := c.PersonByExternalID(ctx, ext); err != nil || p != nil {
		if err != nil {
			return driver.Person{}, err
		}
		return toPerson(*p), nil
	}
	zone, err := d.defaultZone(ctx, c)
	if err != nil {
		return driver.Person{}, err
	}
	d.mu.Lock()
	lockSys := d.lockSys
	d.mu.Unlock()
	first, last := splitName(req.Person.Name, ext)
	p := iloqapi.Person{PersonID: derivedID(lockSys, "person", ext), FirstName: first, LastName: last,
		ExternalPersonID: ext, EMail: req.Person.Email}
	if err := c.InsertPerson(ctx, p, []string{zone}); err != nil {
		if !isAlready(err) {
			return driver.Person{}, err
		}
		if p, err = c.GetPerson(ctx, p.PersonID); err != nil {
			return driver.Person{}, err
		}
	}
	return toPerson(p), nil
}

func splitName(name, fallback string) (first, last string) {
	name = strings.TrimSpace(name)
	if name == "" {
		return "", fallback
	}
	if i := strings.LastIndexByte(name, ' '); i > 0 {
		return name[:i], name[i+1:]
	}
	return "", name
}

// keyOut reads a key as keyward sees it.
func (d *Driver) keyOut(ctx context.Context, c *Client, id string) (driver.Key, error) {
	k, err := c.GetKey(ctx, id)
	if err != nil {
		return driver.Key{}, err
	}
	bl, err := c.Blocklist(ctx)
	if err != nil {
		return driver.Key{}, err
	}
	return d.keyDetail(ctx, c, k, blockedSet(bl))
}

// AssignKey links the key to the person and marks it handed over.
func (d *Driver) AssignKey(ctx context.Context, req driver.AssignKeyRequest) (driver.Key, error) {
	const op = "iloq: assign key"
	c, err := d.client(op)
	if err != nil {
		return driver.Key{}, err
	}
	k, err := c.GetKey(ctx, req.KeyID)
	if err != nil {
		return driver.Key{}, err
	}
	p, err := c.GetPerson(ctx, req.PersonID)
	if err != nil {
		return driver.Key{}, err
	}
	found := strings.Contains(k.InfoText, lostMarker) // a lost key handed out again was found
	if !sameID(k.PersonID, p.PersonID) || k.State != iloqapi.KeyStateHandedOut || found {
		k.PersonID, k.State = p.PersonID, iloqapi.KeyStateHandedOut
		k.InfoText = strings.TrimSpace(strings.ReplaceAll(k.InfoText, lostMarker, ""))
		if err := c.UpdateKey(ctx, k); err != nil {
			return driver.Key{}, err
		}
	}
	return d.keyOut(ctx, c, k.FNKeyID)
}

// ReturnKey returns a phone key or tag through the API (the phone is
// emptied when it next syncs, a tag at once). A key never programmed is
// deleted instead, as iLOQ asks. Physical keys need iLOQ Manager.
func (d *Driver) ReturnKey(ctx context.Context, req driver.KeyRequest) (driver.Key, error) {
	const op = "iloq: return key"
	c, err := d.client(op)
	if err != nil {
		return driver.Key{}, err
	}
	k, err := c.GetKey(ctx, req.KeyID)
	if err != nil {
		return driver.Key{}, err
	}
	if k.State == iloqapi.KeyStateReturned {
		return d.keyOut(ctx, c, k.FNKeyID)
	}
	code, err := c.CanReturn(ctx, k.FNKeyID)
	if err != nil {
		return driver.Key{}, err
	}
	switch code {
	case iloqapi.CanReturnOK:
		if err := c.Return(ctx, k.FNKeyID); err != nil {
			return driver.Key{}, err
		}
		return d.keyOut(ctx, c, k.FNKeyID)
	case iloqapi.CanReturnNeverProgrammed:
		del, err := c.CanDeleteKey(ctx, k.FNKeyID)
		if err != nil {
			return driver.Key{}, err
		}
		if del == iloqapi.CanDeleteKeyOK {
			if err := c.DeleteKey(ctx, k.FNKeyID); err != nil {
				return driver.Key{}, err
			}
			return driver.Key{ID: strings.ToLower(k.FNKeyID), Label: keyLabel(k), Type: keyType(k.KeyTypeMask),
				State: driver.KeyReturned, Planned: driver.KeyAccess{AccessObjectIDs: []string{}}}, nil
		}
	}
	return driver.Key{}, &driver.Error{Kind: driver.KindNeedsAction, Op: op,
		Err: fmt.Errorf("key %s cannot be returned through the API (CanReturn %d)", k.FNKeyID, code), NeedsAction: canReturnAction(code)}
}

// ReportKeyLost marks the key lost (a marker in its InfoText, as iLOQ has
// no such state) and blocklists it when it carries access rights (the
// escalation iLOQ offers for a key that will never be reprogrammed). A key
// without rights opens nothing and is only marked.
func (d *Driver) ReportKeyLost(ctx context.Context, req driver.KeyRequest) (driver.Key, error) {
	const op = "iloq: report key lost"
	if req.IdempotencyKey == "" || req.KeyID == "" {
		return driver.Key{}, driver.Invalid(op, driver.Problem{Field: "idempotency_key, key_id", Message: "required"})
	}
	c, err := d.client(op)
	if err != nil {
		return driver.Key{}, err
	}
	k, err := c.GetKey(ctx, req.KeyID)
	if err != nil {
		return driver.Key{}, err
	}
	if !strings.Contains(k.InfoText, lostMarker) {
		k.InfoText = strings.TrimSpace(k.InfoText + " " + lostMarker)
		if err := c.UpdateKey(ctx, k); err != nil {
			return driver.Key{}, err
		}
	}
	if _, err := d.BlockKey(ctx, driver.BlockKeyRequest{IdempotencyKey: req.IdempotencyKey, KeyID: req.KeyID,
		Reason: "lost"}); err != nil && driver.KindOf(err) != driver.KindNeedsAction {
		return driver.Key{}, err
	}
	return d.keyOut(ctx, c, req.KeyID)
}

// BlockKey adds the key to the blocklist and orders the blocklist. Locks
// learn it lazily: from phones and keys that carry the newer blocklist, or
// from a programming key's visit. Every lock the key opens is reported
// pending until a lock log shows it learnt the blocklist.
func (d *Driver) BlockKey(ctx context.Context, req driver.BlockKeyRequest) (driver.BlockResult, error) {
	return d.block(ctx, req, true)
}

// UnblockKey removes the key from the blocklist and orders the blocklist.
func (d *Driver) UnblockKey(ctx context.Context, req driver.BlockKeyRequest) (driver.BlockResult, error) {
	return d.block(ctx, req, false)
}

func (d *Driver) block(ctx context.Context, req driver.BlockKeyRequest, on bool) (driver.BlockResult, error) {
	op := "iloq: block key"
	if !on {
		op = "iloq: unblock key"
	}
	if req.IdempotencyKey == "" || req.KeyID == "" {
		return driver.BlockResult{}, driver.Invalid(op, driver.Problem{Field: "idempotency_key, key_id", Message: "required"})
	}
	c, err := d.client(op)
	if err != nil {
		return driver.BlockResult{}, err
	}
	kv, err := d.readKey(ctx, c, req.KeyID)
	if err != nil {
		return driver.BlockResult{}, err
	}
	id := kv.key.FNKeyID
	bl, err := c.Blocklist(ctx)
	if err != nil {
		return driver.BlockResult{}, err
	}
	if listed := blockedSet(bl)[strings.ToLower(id)]; listed != on {
		if err := d.changeBlocklist(ctx, c, op, id, on); err != nil {
			return driver.BlockResult{}, err
		}
		if bl, err = c.Blocklist(ctx); err != nil {
			return driver.BlockResult{}, err
		}
	}
	del := driver.Delivery{State: driver.DeliveryQueued, At: c.ServerNow()}
	code, err := c.CanOrderBlocklist(ctx)
	if err != nil {
		return driver.BlockResult{}, err
	}
	switch code {
	case iloqapi.BlocklistOrderOK:
		if err := c.OrderBlocklist(ctx); err != nil {
			if again, rerr := c.CanOrderBlocklist(ctx); rerr != nil || again != iloqapi.BlocklistOrderNothing {
				return driver.BlockResult{}, err
			}
		}
		if bl, err = c.Blocklist(ctx); err != nil {
			return driver.BlockResult{}, err
		}
	case iloqapi.BlocklistOrderNothing: // already ordered
	case iloqapi.BlocklistOrderNeedsManager:
		del.State, del.NeedsAction = driver.DeliveryNeedsAction, &driver.NeedsAction{ReasonCode: "iloq.CanOrderS40Blacklist.1",
			Action: driver.ActionUseVendorTool, Reason: "the blocklist has changes only iLOQ Manager with a programming token can order"}
	default:
		del.State, del.NeedsAction = driver.DeliveryNeedsAction, &driver.NeedsAction{ReasonCode: fmt.Sprintf("iloq.CanOrderS40Blacklist.%d", code),
			Action: driver.ActionOther, Reason: "the blocklist is full (too many blocked keys); remove returned keys from it"}
	}
	version := 0
	if bl.BlacklistPacket != nil {
		version = bl.BlacklistPacket.SoftDataVersion
	}
	verb := "block"
	if !on {
		verb = "unblock"
	}
	del.ChangeID = fmt.Sprintf("%s:%s:%d", verb, strings.ToLower(id), version)
	locks, err := d.locksOpenedBy(ctx, c, union(kv.planned.AccessObjectIDs, kv.programmed.AccessObjectIDs))
	if err != nil {
		return driver.BlockResult{}, err
	}
	res := driver.BlockResult{Delivery: del}
	for _, l := range locks {
		res.Locks = append(res.Locks, driver.LockPropagation{LockID: l, State: driver.PropagationPending})
	}
	return res, nil
}

func (d *Driver) changeBlocklist(ctx context.Context, c *Client, op, id string, on bool) error {
	if on {
		ok, err := c.CanBlocklistKey(ctx, id)
		if err != nil {
			return err
		}
		if !ok {
			return &driver.Error{Kind: driver.KindNeedsAction, Op: op,
				Err: fmt.Errorf("iLOQ cannot blocklist key %s (only S50 and 5 Series keys that carry access rights)", id),
				NeedsAction: &driver.NeedsAction{ReasonCode: "iloq.CanAddKey.false", Action: driver.ActionUseVendorTool,
					Reason: "iLOQ cannot blocklist this key through the API; handle it in iLOQ Manager"}}
		}
		if err := c.BlocklistKey(ctx, id); err != nil {
			// A retried AddKey whose first attempt took effect is refused.
			if bl, rerr := c.Blocklist(ctx); rerr == nil && blockedSet(bl)[strings.ToLower(id)] {
				return nil
			}
			return err
		}
		return nil
	}
	ok, err := c.CanUnblocklistKey(ctx, id)
	if err != nil {
		return err
	}
	if !ok {
		return driver.Errorf(driver.KindConflict, op, "iLOQ cannot remove key %s from the blocklist", id)
	}
	if err := c.UnblocklistKey(ctx, id); err != nil {
		if bl, rerr := c.Blocklist(ctx); rerr == nil && !blockedSet(bl)[strings.ToLower(id)] {
			return nil
		}
		return err
	}
	return nil
}

// locksOpenedBy lists the locks accepting any of the access rights.
func (d *Driver) locksOpenedBy(ctx context.Context, c *Client, accesses []string) ([]string, error) {
	m, err := d.lockAccessMap(ctx, c, false)
	if err != nil {
		return nil, err
	}
	var out []string
	for lock, accs := range m {
		for _, a := range accs {
			if slices.Contains(accesses, a) {
				out = append(out, strings.ToLower(lock))
				break
			}
		}
	}
	slices.Sort(out)
	return out, nil
}
