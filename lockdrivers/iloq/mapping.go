package iloq

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/keyward/keyward/lockdrivers/driver"
	"github.com/keyward/keyward/lockdrivers/iloq/iloqapi"
)

// quarter is iLOQ's time granularity.
const quarter = 15 * time.Minute

// keyType maps a KeyTypeMask to keyward's key type.
func keyType(mask int) driver.KeyType {
	switch {
	case iloqapi.IsPhone(mask):
		return driver.KeyPhone
	case iloqapi.IsExternalTag(mask):
		return driver.KeyTag
	case mask&iloqapi.KeyILOQ != 0 || mask&iloqapi.KeyS10 != 0:
		return driver.KeyPhysical
	}
	return driver.KeyFob
}

// lostMarker in a key's InfoText records that keyward reported the key lost:
// iLOQ has no "lost" state, only the blocklist, which also serves keys
// blocked for other reasons.
const lostMarker = "[keyward:lost]"

// keyState maps iLOQ's key state (and the blocklist) to custody.
func keyState(k iloqapi.Key, blocked bool) driver.KeyState {
	switch {
	case strings.Contains(k.InfoText, lostMarker):
		return driver.KeyLost
	case blocked:
		return driver.KeyBlocked
	case k.State == iloqapi.KeyStateReturned || k.State == iloqapi.KeyStateDeleted:
		return driver.KeyReturned
	case k.State == iloqapi.KeyStatePlanning:
		return driver.KeyPlanning
	}
	return driver.KeyHandedOut
}

// deliveryState maps Key.ProgrammingState (PniLogicalState, assumption A3).
func deliveryState(ps int) driver.DeliveryState {
	switch ps {
	case iloqapi.ProgOrdered:
		return driver.DeliveryQueued
	case iloqapi.ProgRetrieved, iloqapi.ProgOnProgramming:
		return driver.DeliveryDelivered
	case iloqapi.ProgProgrammed:
		return driver.DeliveryApplied
	case iloqapi.ProgError:
		return driver.DeliveryFailed
	}
	return driver.DeliveryRecorded
}

// toSlots turns a keyward access window and schedule into iLOQ time-limit
// slots in the locking system's zone. Windows are narrowed to the 15-minute
// grid (start rounded up, end rounded down), never widened.
func toSlots(a driver.KeyAccess, loc *time.Location, profileID string) []iloqapi.KeyTimeLimitSlot {
	var slots []iloqapi.KeyTimeLimitSlot
	if !a.Window.NotBefore.IsZero() {
		t := iloqapi.NewLocal(a.Window.NotBefore, loc)
		if r := t.Truncate(quarter); !r.Equal(t.Time) {
			t.Time = r.Add(quarter)
		}
		slots = append(slots, iloqapi.KeyTimeLimitSlot{SlotNo: 0, LimitDateLg: &t,
			TimeLimitData: []iloqapi.KeyTimeLimitData{}})
	}
	if !a.Window.NotAfter.IsZero() {
		t := iloqapi.NewLocal(a.Window.NotAfter, loc)
		t.Time = t.Truncate(quarter)
		slots = append(slots, iloqapi.KeyTimeLimitSlot{SlotNo: 1, LimitDateLg: &t,
			TimeLimitData: []iloqapi.KeyTimeLimitData{}})
	}
	if len(a.Schedule) > 0 && profileID != "" {
		slots = append(slots, iloqapi.KeyTimeLimitSlot{SlotNo: 2, TimeLimitTitleID: profileID,
			TimeLimitData: weekClock(a.Schedule)})
	}
	return slots
}

// weekClock groups schedule intervals with the same hours into one entry
// with a weekday mask (Monday = 1 … Sunday = 64), on the 15-minute grid
// (start rounded up, end rounded down).
func weekClock(sched []driver.ScheduleInterval) []iloqapi.KeyTimeLimitData {
	type span struct{ start, end int64 }
	masks := map[span]int{}
	var order []span
	for _, iv := range sched {
		st := iv.Start.Truncate(quarter)
		if st < iv.Start {
			st += quarter
		}
		sp := span{st.Milliseconds(), iv.End.Truncate(quarter).Milliseconds()}
		if sp.end <= sp.start {
			continue
		}
		if _, ok := masks[sp]; !ok {
			order = append(order, sp)
		}
		masks[sp] |= 1 << ((int(iv.Day) + 6) % 7)
	}
	sort.Slice(order, func(i, j int) bool {
		return order[i].start < order[j].start || order[i].start == order[j].start && order[i].end < order[j].end
	})
	out := make([]iloqapi.KeyTimeLimitData, 0, len(order))
	for _, sp := range order {
		out = append(out, iloqapi.KeyTimeLimitData{WeekDayMask: masks[sp], StartTimeMS: sp.start, EndTimeMS: sp.end})
	}
	return out
}

// fromVendor builds keyward's view of a key's access from iLOQ's answers.
func fromVendor(acc []iloqapi.SecurityAccess, slots []iloqapi.KeyTimeLimitSlot, loc *time.Location) driver.KeyAccess {
	var a driver.KeyAccess
	a.AccessObjectIDs = make([]string, 0, len(acc))
	for _, x := range acc {
		a.AccessObjectIDs = append(a.AccessObjectIDs, strings.ToLower(x.SecurityAccessID))
	}
	sort.Strings(a.AccessObjectIDs)
	for _, sl := range slots {
		switch sl.SlotNo {
		case 0:
			if sl.LimitDateLg != nil {
				a.Window.NotBefore = sl.LimitDateLg.In(loc).UTC()
			}
		case 1:
			if sl.LimitDateLg != nil {
				a.Window.NotAfter = sl.LimitDateLg.In(loc).UTC()
			}
		case 2:
			for _, d := range sl.TimeLimitData {
				for day := range 7 {
					if d.WeekDayMask&(1<<day) != 0 {
						a.Schedule = append(a.Schedule, driver.ScheduleInterval{
							Day:   time.Weekday((day + 1) % 7),
							Start: time.Duration(d.StartTimeMS) * time.Millisecond,
							End:   time.Duration(d.EndTimeMS) * time.Millisecond})
					}
				}
			}
		}
	}
	sortSchedule(a.Schedule)
	return a
}

func sortSchedule(s []driver.ScheduleInterval) {
	sort.Slice(s, func(i, j int) bool {
		if s[i].Day != s[j].Day {
			return s[i].Day < s[j].Day
		}
		if s[i].Start != s[j].Start {
			return s[i].Start < s[j].Start
		}
		return s[i].End < s[j].End
	})
}

// normalize is what the vendor will hold for a requested access: ids in
// lower case and sorted, the window and schedule on the 15-minute grid.
func normalize(a driver.KeyAccess, loc *time.Location) driver.KeyAccess {
	ids := make([]string, 0, len(a.AccessObjectIDs))
	for _, id := range a.AccessObjectIDs {
		ids = append(ids, strings.ToLower(strings.TrimSpace(id)))
	}
	sort.Strings(ids)
	ids = slices.Compact(ids)
	n := fromVendor(nil, toSlots(a, loc, "schedule"), loc)
	n.AccessObjectIDs = ids
	return n
}

func sameAccess(a, b driver.KeyAccess) bool {
	return slices.Equal(a.AccessObjectIDs, b.AccessObjectIDs) && a.Window.NotBefore.Equal(b.Window.NotBefore) &&
		a.Window.NotAfter.Equal(b.Window.NotAfter) && slices.Equal(a.Schedule, b.Schedule)
}

// changeID names a key's desired access: the same access on the same key
// is the same change, whichever request or driver process sent it.
func changeID(keyID string, a driver.KeyAccess) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s|%s|%d|%d", strings.ToLower(keyID), strings.Join(a.AccessObjectIDs, ","),
		a.Window.NotBefore.Unix(), a.Window.NotAfter.Unix())
	for _, s := range a.Schedule {
		fmt.Fprintf(h, "|%d/%d/%d", s.Day, s.Start, s.End)
	}
	return "access:" + strings.ToLower(keyID) + ":" + hex.EncodeToString(h.Sum(nil))[:16]
}

func diff(a, b []string) []string {
	out := []string{}
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

// canOrderAction explains a CanOrderKeyResultType that stops an order.
func canOrderAction(code int) *driver.NeedsAction {
	na := &driver.NeedsAction{ReasonCode: fmt.Sprintf("iloq.CanOrder.%d", code)}
	switch code {
	case iloqapi.CanOrderNeedsManager:
		na.Action, na.Reason = driver.ActionUseVendorTool,
			"the key has changes to standard (non-API) access rights; only iLOQ Manager with a programming token can order them"
	case iloqapi.CanOrderNotAPIKeyType:
		na.Action, na.Reason = driver.ActionUseVendorTool,
			"this key type cannot be ordered through the iLOQ API (only S50 phone keys and 5 Series keys); program it in iLOQ Manager"
	case iloqapi.CanOrderLicenceLimit:
		na.Action, na.Reason = driver.ActionBuyLicences,
			"the iLOQ licence limit is reached; return keys or acquire more licences from iLOQ"
	case iloqapi.CanOrderWrongState:
		na.Action, na.Reason = driver.ActionOther, "the key is not in planning state"
	case iloqapi.CanOrderIDTooLarge:
		na.Action, na.Reason = driver.ActionUseVendorTool, "the key's id is too large for the API; use iLOQ Manager"
	case iloqapi.CanOrderAccessOutsideZones, iloqapi.CanOrderLimitsOutsideZones:
		na.Action, na.Reason = driver.ActionUseVendorTool,
			"the new key has access rights or time limits outside its zones; fix the zones in iLOQ Manager"
	case iloqapi.CanOrderBlocklisted:
		na.Action, na.Reason = driver.ActionUseVendorTool, "the key is on the blocklist; remove it there first"
	case iloqapi.CanOrderNoPhoneNumber:
		na.Action, na.Reason = driver.ActionOther, "the phone key has no phone number for its registration message"
	case iloqapi.CanOrderNoEmail:
		na.Action, na.Reason = driver.ActionOther,
			"the phone key sends registration by email but has no email address"
	case iloqapi.CanOrderTooManyTimeLimits:
		na.Action, na.Reason = driver.ActionOther,
			"the key's memory cannot hold this many time limits; simplify the validity window or schedule"
	case iloqapi.CanOrderMainZoneRequired:
		na.Action, na.Reason = driver.ActionUseVendorTool, "the key needs a main zone; set it in iLOQ Manager or configure defaultZone"
	case iloqapi.CanOrderNoPerson:
		na.Action, na.Reason = driver.ActionHandOverKey, "the key is not linked to a person; hand it over first"
	case iloqapi.CanOrderExternalWithoutTag:
		na.Action, na.Reason = driver.ActionOther, "the external RFID tag has no tag number (TagKey)"
	default:
		na.Action, na.Reason = driver.ActionUseVendorTool, fmt.Sprintf("iLOQ refused to order the key (CanOrder %d)", code)
	}
	return na
}

// canReturnAction explains a CanReturnKeyResultType that stops a return.
func canReturnAction(code int) *driver.NeedsAction {
	na := &driver.NeedsAction{ReasonCode: fmt.Sprintf("iloq.CanReturn.%d", code)}
	switch code {
	case iloqapi.CanReturnNeedsManager:
		na.Action, na.Reason = driver.ActionUseVendorTool,
			"the key carries non-API access rights; return it in iLOQ Manager with a programming token"
	case iloqapi.CanReturnNotPhoneOrTag:
		na.Action, na.Reason = driver.ActionUseVendorTool,
			"physical keys are returned in iLOQ Manager with a programming token (the API returns phone keys and tags only)"
	case iloqapi.CanReturnBlocklisted:
		na.Action, na.Reason = driver.ActionUseVendorTool, "the key is on the blocklist; remove it there before returning"
	default:
		na.Action, na.Reason = driver.ActionOther, fmt.Sprintf("iLOQ refused the return (CanReturn %d)", code)
	}
	return na
}

// physicalDelivery is the action for keys that only a hot spot or a
// programming device can update.
func physicalDelivery() *driver.NeedsAction {
	return &driver.NeedsAction{ReasonCode: "iloq.ordered.physical", Action: driver.ActionUpdateKey,
		Reason: "the programming task is ordered; the key holder must put the key in a hot spot or an iLOQ programming device"}
}
