package driver

import "fmt"

// The Validate methods check what a driver answered against the contract,
// so the host can refuse malformed or contract-violating data before storing
// any of it. They return a KindInvalid *Error listing every problem. An enum
// value the SDK does not know (from a newer or broken driver) reads as "" and
// fails validation.

// errs collects problems.
type errs []Problem

func (e *errs) add(field, format string, args ...any) {
	*e = append(*e, Problem{Field: field, Message: fmt.Sprintf(format, args...)})
}

func (e errs) err(op string) error {
	if len(e) == 0 {
		return nil
	}
	return Invalid(op, e...)
}

// Validate checks a delivery answer.
func (d Delivery) Validate() error {
	var e errs
	d.check(&e, "delivery")
	return e.err("contract: delivery")
}

func (d Delivery) check(e *errs, field string) {
	if _, ok := deliveryStates[d.State]; !ok {
		e.add(field+".state", "unknown delivery state %q", d.State)
	}
	if d.ChangeID == "" && d.State != DeliveryApplied && d.State != DeliveryFailed {
		// A pending change must be named so later Change events can refer
		// to it; an answer that nothing needed doing may have no id.
		e.add(field+".change_id", "missing vendor change id of a pending change")
	}
	if d.State == DeliveryNeedsAction && (d.NeedsAction == nil || d.NeedsAction.Reason == "") {
		e.add(field+".needs_action", "needs-action without a reason")
	}
	if na := d.NeedsAction; na != nil && na.Action != ActionNone {
		if _, ok := actions[na.Action]; !ok {
			e.add(field+".needs_action.action", "unknown action %q", na.Action)
		}
	}
	if r := d.Removal; r != nil {
		if len(r.AccessObjectIDs) == 0 {
			e.add(field+".removal", "removal names no access object")
		}
		if r.Unbounded == !r.EffectiveBy.IsZero() {
			e.add(field+".removal", "exactly one of effective_by and unbounded must be set")
		}
	}
}

// Validate checks a key from the inventory.
func (k Key) Validate() error {
	var e errs
	if k.ID == "" {
		e.add("key.id", "missing")
	}
	if _, ok := keyTypes[k.Type]; !ok {
		e.add("key.type", "unknown key type %q", k.Type)
	}
	if _, ok := keyStates[k.State]; !ok {
		e.add("key.state", "unknown key state %q", k.State)
	}
	if k.Pending != nil {
		k.Pending.check(&e, "key.pending")
	}
	return e.err("contract: key " + k.ID)
}

// Validate checks a change from the change stream or a webhook.
func (c Change) Validate() error {
	var e errs
	if c.ID == "" {
		e.add("change.id", "missing vendor id")
	}
	set := 0
	for _, p := range []bool{c.Delivery != nil, c.LockEvent != nil, c.KeyState != nil, c.Block != nil} {
		if p {
			set++
		}
	}
	if set != 1 {
		e.add("change", "exactly one event must be set, got %d", set)
	}
	want := map[ChangeKind]bool{
		ChangeDelivery: c.Delivery != nil, ChangeLockEvent: c.LockEvent != nil,
		ChangeKeyState: c.KeyState != nil, ChangeBlock: c.Block != nil,
	}
	if !want[c.Kind] {
		e.add("change.kind", "kind %q does not match the event set", c.Kind)
	}
	switch {
	case c.Delivery != nil:
		if c.Delivery.KeyID == "" {
			e.add("change.delivery.key_id", "missing")
		}
		c.Delivery.Delivery.check(&e, "change.delivery")
	case c.LockEvent != nil:
		if c.LockEvent.LockID == "" {
			e.add("change.lock_event.lock_id", "missing")
		}
	case c.KeyState != nil:
		if _, ok := keyStates[c.KeyState.State]; !ok || c.KeyState.KeyID == "" {
			e.add("change.key_state", "needs a key id and a known state, got %q %q", c.KeyState.KeyID, c.KeyState.State)
		}
	case c.Block != nil:
		if _, ok := propagationStates[c.Block.Lock.State]; !ok || c.Block.KeyID == "" || c.Block.Lock.LockID == "" {
			e.add("change.block", "needs a key id, a lock id and a known propagation state")
		}
	}
	return e.err("contract: change " + c.ID)
}

// Validate checks a block answer.
func (r BlockResult) Validate() error {
	var e errs
	r.Delivery.check(&e, "block.delivery")
	for i, l := range r.Locks {
		if _, ok := propagationStates[l.State]; !ok || l.LockID == "" {
			e.add(fmt.Sprintf("block.locks[%d]", i), "needs a lock id and a known propagation state")
		}
	}
	return e.err("contract: block result")
}

// Validate checks driver information.
func (i Info) Validate() error {
	var e errs
	if i.Vendor == "" {
		e.add("info.vendor", "missing")
	}
	if i.DriverVersion == "" {
		e.add("info.driver_version", "missing")
	}
	found := false
	for _, v := range i.ContractVersions {
		found = found || v == ContractVersion
	}
	if !found {
		e.add("info.contract_versions", "driver does not speak contract version %d (speaks %v)", ContractVersion, i.ContractVersions)
	}
	return e.err("contract: info")
}
