package padlock

import (
	"fmt"
	"slices"
	"time"

	"github.com/keyward/keyward/lockdrivers/driver"
)

// The Padlock Cloud API's JSON shapes, and their conversion to the SDK's
// types. A real driver keeps its vendor's wire types in one file like this.

type wirePadlock struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Online bool   `json:"online"`
	Site   string `json:"site"`
}

type wireGroup struct {
	ID       string   `json:"id"`
	Name     string   `json:"name"`
	Padlocks []string `json:"padlocks"`
}

type wireUser struct {
	ID         string `json:"id,omitempty"`
	ExternalID string `json:"external_id"`
	Name       string `json:"name"`
	Email      string `json:"email,omitempty"`
}

type wireSlot struct {
	Day  int    `json:"day"`
	From string `json:"from"`
	To   string `json:"to"`
}

type wireAccess struct {
	Groups     []string   `json:"groups"`
	ValidFrom  *time.Time `json:"valid_from,omitempty"`
	ValidUntil *time.Time `json:"valid_until,omitempty"`
	Schedule   []wireSlot `json:"schedule,omitempty"`
}

type wireOrder struct {
	ID       string    `json:"id"`
	Revision int       `json:"revision"`
	State    string    `json:"state"`
	Created  time.Time `json:"created"`
}

type wireCredential struct {
	ID                 string     `json:"id"`
	Label              string     `json:"label"`
	Type               string     `json:"type"`
	Holder             string     `json:"holder"`
	State              string     `json:"state"`
	Blocked            bool       `json:"blocked"`
	Access             wireAccess `json:"access"`
	Revision           int        `json:"revision"`
	Programmed         wireAccess `json:"programmed"`
	ProgrammedRevision int        `json:"programmed_revision"`
	LastSync           time.Time  `json:"last_sync"`
	RevalidateBy       time.Time  `json:"revalidate_by"`
	Order              *wireOrder `json:"order"`
}

type wireBlockEntry struct {
	Padlock string    `json:"padlock"`
	Blocked bool      `json:"blocked"`
	State   string    `json:"state"`
	At      time.Time `json:"at"`
}

type wireBlock struct {
	ChangeID string           `json:"change_id"`
	Blocked  bool             `json:"blocked"`
	Locks    []wireBlockEntry `json:"locks"`
	At       time.Time        `json:"at"`
}

type wireEvent struct {
	Seq        int64     `json:"seq"`
	ID         string    `json:"id"`
	Type       string    `json:"type"`
	At         time.Time `json:"at"`
	Credential string    `json:"credential"`
	Padlock    string    `json:"padlock"`
	Order      string    `json:"order"`
	Revision   int       `json:"revision"`
	State      string    `json:"state"`
	Opened     bool      `json:"opened"`
	Reason     string    `json:"reason"`
	Blocked    bool      `json:"blocked"`
}

func lockOf(p wirePadlock) driver.Lock {
	return driver.Lock{ID: p.ID, Name: p.Name, Kind: "padlock", Online: p.Online, Attributes: map[string]string{"site": p.Site}}
}

func accessObjectOf(g wireGroup) driver.AccessObject {
	return driver.AccessObject{ID: g.ID, Name: g.Name, Kind: "padlock-group", LockIDs: g.Padlocks}
}

func personOf(u wireUser) driver.Person {
	return driver.Person{ID: u.ID, ExternalID: u.ExternalID, Name: u.Name, Email: u.Email}
}

func keyOf(c wireCredential) driver.Key {
	k := driver.Key{
		ID: c.ID, Label: c.Label, Type: driver.KeyFob, HolderID: c.Holder,
		State: keyState(c.State, c.Blocked), Planned: accessOf(c.Access),
	}
	if c.Type == "phone" {
		k.Type = driver.KeyPhone
	}
	prog := accessOf(c.Programmed)
	k.Programmed = &prog
	if o := c.Order; o != nil && o.Revision == c.Revision && o.State != "applied" {
		d := deliveryOf(c, o)
		k.Pending = &d
	}
	return k
}

func keyState(state string, blocked bool) driver.KeyState {
	if blocked {
		return driver.KeyBlocked
	}
	switch state {
	case "active":
		return driver.KeyHandedOut
	case "returned":
		return driver.KeyReturned
	case "lost":
		return driver.KeyLost
	default:
		return driver.KeyPlanning
	}
}

func accessOf(a wireAccess) driver.KeyAccess {
	out := driver.KeyAccess{AccessObjectIDs: slices.Clone(a.Groups)}
	if a.ValidFrom != nil {
		out.Window.NotBefore = a.ValidFrom.UTC()
	}
	if a.ValidUntil != nil {
		out.Window.NotAfter = a.ValidUntil.UTC()
	}
	for _, s := range a.Schedule {
		out.Schedule = append(out.Schedule, driver.ScheduleInterval{
			Day: time.Weekday(s.Day), Start: clockOffset(s.From), End: clockOffset(s.To),
		})
	}
	return out
}

func clockOffset(hhmm string) time.Duration {
	var h, m int
	_, _ = fmt.Sscanf(hhmm, "%d:%d", &h, &m)
	return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute
}

// wireAccessOf converts desired access to the API's form, listing every
// problem: Padlock Cloud schedules have minute granularity within one day.
func wireAccessOf(a driver.KeyAccess) (wireAccess, []driver.Problem) {
	var problems []driver.Problem
	out := wireAccess{Groups: slices.Clone(a.AccessObjectIDs)}
	if out.Groups == nil {
		out.Groups = []string{}
	}
	slices.Sort(out.Groups)
	out.Groups = slices.Compact(out.Groups)
	if t := a.Window.NotBefore; !t.IsZero() {
		t = t.UTC()
		out.ValidFrom = &t
	}
	if t := a.Window.NotAfter; !t.IsZero() {
		t = t.UTC()
		out.ValidUntil = &t
	}
	if out.ValidFrom != nil && out.ValidUntil != nil && !out.ValidFrom.Before(*out.ValidUntil) {
		problems = append(problems, driver.Problem{Field: "access.window", Message: "not_before must lie before not_after"})
	}
	for i, s := range a.Schedule {
		field := fmt.Sprintf("access.schedule[%d]", i)
		switch {
		case s.Day < time.Sunday || s.Day > time.Saturday:
			problems = append(problems, driver.Problem{Field: field, Message: "day must be Sunday..Saturday"})
		case s.Start < 0 || s.End > 24*time.Hour || s.Start >= s.End:
			problems = append(problems, driver.Problem{Field: field, Message: "need 0 <= start < end <= 24h"})
		case s.Start%time.Minute != 0 || s.End%time.Minute != 0:
			problems = append(problems, driver.Problem{Field: field, Message: "start and end must be whole minutes"})
		default:
			out.Schedule = append(out.Schedule, wireSlot{Day: int(s.Day), From: hhmm(s.Start), To: hhmm(s.End)})
		}
	}
	return out, problems
}

func hhmm(d time.Duration) string {
	return fmt.Sprintf("%02d:%02d", int(d/time.Hour), int(d%time.Hour/time.Minute))
}

func (a wireAccess) equal(b wireAccess) bool {
	return slices.Equal(a.Groups, b.Groups) && timeEq(a.ValidFrom, b.ValidFrom) &&
		timeEq(a.ValidUntil, b.ValidUntil) && slices.Equal(a.Schedule, b.Schedule)
}

func timeEq(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Equal(*b)
}

var orderStates = map[string]driver.DeliveryState{
	"queued":     driver.DeliveryQueued,
	"delivered":  driver.DeliveryDelivered,
	"applied":    driver.DeliveryApplied,
	"superseded": driver.DeliveryFailed,
}

// deliveryOf is the delivery of order o on credential c. A fob's queued
// order needs a person: the fob must be held to a Padlock hub; a phone picks
// it up on its own.
func deliveryOf(c wireCredential, o *wireOrder) driver.Delivery {
	d := driver.Delivery{State: orderStates[o.State], ChangeID: o.ID, At: o.Created}
	switch {
	case o.State == "superseded":
		d.Reason = "superseded by a newer order"
	case o.State == "queued" && c.Type == "fob":
		d.State = driver.DeliveryNeedsAction
		d.NeedsAction = &driver.NeedsAction{
			ReasonCode: "fob-awaits-hub", Action: driver.ActionUpdateKey,
			Reason: "the holder must hold fob " + c.ID + " to a Padlock hub",
		}
	}
	return d
}

// removalOf says what the key still carries beyond want and by when that
// stops working: at once when the change is programmed, otherwise at the
// credential's revalidation deadline or its validity end, whichever is first.
func removalOf(c wireCredential, want wireAccess, applied bool) *driver.Removal {
	var removed []string
	for _, g := range c.Programmed.Groups {
		if !slices.Contains(want.Groups, g) {
			removed = append(removed, g)
		}
	}
	if len(removed) == 0 {
		return nil
	}
	by := c.RevalidateBy
	if applied {
		by = c.LastSync
	} else if u := c.Programmed.ValidUntil; u != nil && u.Before(by) {
		by = *u
	}
	return &driver.Removal{AccessObjectIDs: removed, EffectiveBy: by.UTC()}
}
