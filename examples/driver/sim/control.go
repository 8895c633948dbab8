package sim

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/keyward/keyward/lockdrivers/simctl"
)

var _ simctl.Control = (*Sim)(nil)

// SignatureHeader carries a webhook's signature: "sha256=" + hex HMAC-SHA256
// of the body under the webhook secret.
const SignatureHeader = "X-Padlock-Signature"

// Sign returns the signature header value of body under secret.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// emit appends an event (and its webhook). Callers hold s.mu.
func (s *Sim) emit(ev Event) {
	ev.Seq = int64(len(s.events) + 1)
	if ev.ID == "" {
		ev.ID = "evt-" + strconv.FormatInt(ev.Seq, 10)
	}
	if ev.At.IsZero() {
		ev.At = s.now
	}
	s.events = append(s.events, ev)
	if s.opts.WebhookSecret == "" {
		return
	}
	body, _ := json.Marshal(map[string]any{"events": []Event{ev}})
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set(SignatureHeader, Sign(s.opts.WebhookSecret, body))
	h.Set("X-Padlock-Event", ev.ID)
	s.hooks = append(s.hooks, simctl.Webhook{Seq: int64(len(s.hooks) + 1), Header: h, Body: body})
}

// setOrderState moves an order on and emits its event. Callers hold s.mu.
func (s *Sim) setOrderState(o *Order, state string) {
	o.State = state
	s.emit(Event{Type: "order." + state, Credential: o.Credential, Order: o.ID, Revision: o.Revision, State: state})
}

// DeliverKey implements simctl.Control: the phone syncs or the fob is held to
// a hub. The credential revalidates and picks up its pending order.
func (s *Sim) DeliverKey(_ context.Context, keyID string, via simctl.Via) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.crashed {
		return simctl.ErrCrashed
	}
	c := s.cred(keyID)
	if c == nil {
		return fmt.Errorf("credential %s: %w", keyID, simctl.ErrNotFound)
	}
	switch {
	case via == simctl.ViaPhoneSync && c.Type != "phone":
		return fmt.Errorf("credential %s is a %s, not a phone: %w", keyID, c.Type, simctl.ErrUnsupported)
	case via != simctl.ViaAuto && via != simctl.ViaPhoneSync && via != simctl.ViaProgrammingDevice:
		return fmt.Errorf("delivery via %q: %w", via, simctl.ErrInvalid)
	}
	c.LastSync = s.now
	if o := c.Order; o != nil && o.State == "queued" {
		s.setOrderState(o, "delivered")
		c.Programmed = c.Access
		c.ProgrammedRevision = o.Revision
		s.setOrderState(o, "applied")
		// Feeds re-send: the applied event arrives a second time.
		s.events = append(s.events, s.events[len(s.events)-1])
		s.events[len(s.events)-1].Seq = int64(len(s.events))
	}
	return nil
}

// VisitLock implements simctl.Control: pending blocklist changes reach the
// padlock.
func (s *Sim) VisitLock(_ context.Context, lockID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.crashed {
		return simctl.ErrCrashed
	}
	if s.padlock(lockID) == nil {
		return fmt.Errorf("padlock %s: %w", lockID, simctl.ErrNotFound)
	}
	for _, cid := range s.blockOrder() {
		e := s.blocks[cid][lockID]
		if e == nil || e.State != "pending" {
			continue
		}
		e.State, e.At = "applied", s.now
		s.emit(Event{Type: "block.applied", Credential: cid, Padlock: lockID, Blocked: e.Blocked, State: "applied"})
		if !e.Blocked {
			delete(s.blocks[cid], lockID)
		}
	}
	return nil
}

func (s *Sim) blockOrder() []string {
	ids := make([]string, 0, len(s.blocks))
	for id := range s.blocks {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// UseKey implements simctl.Control.
func (s *Sim) UseKey(_ context.Context, keyID, lockID string) (simctl.UseResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.crashed {
		return simctl.UseResult{}, simctl.ErrCrashed
	}
	c := s.cred(keyID)
	if c == nil {
		return simctl.UseResult{}, fmt.Errorf("credential %s: %w", keyID, simctl.ErrNotFound)
	}
	if s.padlock(lockID) == nil {
		return simctl.UseResult{}, fmt.Errorf("padlock %s: %w", lockID, simctl.ErrNotFound)
	}
	reason := s.refusal(c, lockID)
	ev := Event{Type: "padlock.opened", Credential: keyID, Padlock: lockID, Opened: reason == ""}
	if reason != "" {
		ev.Type, ev.Reason = "padlock.refused", reason
	}
	s.emit(ev)
	last := s.events[len(s.events)-1]
	return simctl.UseResult{Opened: reason == "", Reason: reason, EventID: last.ID}, nil
}

// refusal says why c does not open lockID now, "" if it does.
func (s *Sim) refusal(c *Credential, lockID string) string {
	if e := s.blocks[c.ID][lockID]; e != nil && (e.Blocked == (e.State == "applied")) {
		return "blocklisted"
	}
	if s.now.After(c.LastSync.Add(s.opts.Revalidation)) {
		return "expired: not revalidated"
	}
	a := c.Programmed
	if a.ValidFrom != nil && s.now.Before(*a.ValidFrom) || a.ValidUntil != nil && !s.now.Before(*a.ValidUntil) {
		return "outside validity"
	}
	in := false
	for _, gid := range a.Groups {
		if g := s.group(gid); g != nil && slices.Contains(g.Padlocks, lockID) {
			in = true
		}
	}
	if !in {
		return "no access"
	}
	if len(a.Schedule) > 0 && !inSchedule(a.Schedule, s.now) {
		return "outside schedule"
	}
	return ""
}

func inSchedule(slots []Slot, t time.Time) bool {
	hm := t.Format("15:04")
	for _, sl := range slots {
		if time.Weekday(sl.Day) == t.Weekday() && hm >= sl.From && hm < sl.To {
			return true
		}
	}
	return false
}

// Now implements simctl.Control.
func (s *Sim) Now(context.Context) (time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now, nil
}

// SetTime implements simctl.Control.
func (s *Sim) SetTime(_ context.Context, t time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t.Before(s.now) {
		return fmt.Errorf("set time %s before %s: %w", t, s.now, simctl.ErrInvalid)
	}
	s.now = t.UTC()
	return nil
}

// Advance implements simctl.Control.
func (s *Sim) Advance(_ context.Context, d time.Duration) error {
	if d < 0 {
		return fmt.Errorf("advance by %s: %w", d, simctl.ErrInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = s.now.Add(d)
	return nil
}

// Crash implements simctl.Control: the API answers 503 until Restart.
func (s *Sim) Crash(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.crashed = true
	return nil
}

// Restart implements simctl.Control.
func (s *Sim) Restart(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.crashed = false
	return nil
}

// Requests implements simctl.Control.
func (s *Sim) Requests(_ context.Context, since int64) ([]simctl.Request, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []simctl.Request
	for _, r := range s.reqs {
		if r.Seq >= since {
			out = append(out, r)
		}
	}
	return out, nil
}

// Webhooks implements simctl.Control.
func (s *Sim) Webhooks(_ context.Context, since int64) ([]simctl.Webhook, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []simctl.Webhook
	for _, h := range s.hooks {
		if h.Seq >= since {
			out = append(out, h)
		}
	}
	return out, nil
}
