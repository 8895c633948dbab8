package domain

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// DeliveryState is how far a change has got on the hardware (design.md §2).
type DeliveryState string

// The delivery states. Everything short of applied is pending.
const (
	DeliveryPlanned     DeliveryState = "planned" // in the outbox, not yet sent
	DeliveryRecorded    DeliveryState = "recorded"
	DeliveryQueued      DeliveryState = "queued"
	DeliveryDelivered   DeliveryState = "delivered"
	DeliveryApplied     DeliveryState = "applied"
	DeliveryNeedsAction DeliveryState = "needs-action"
	DeliveryFailed      DeliveryState = "failed"
	// DeliveryAwaitingKey: the identity holds no key in the lock system.
	DeliveryAwaitingKey DeliveryState = "awaiting-key"
)

// Pending tells whether the change has not reached the hardware yet.
func (s DeliveryState) Pending() bool { return s != DeliveryApplied }

// Delivery is a driver's answer for one change, and what the observer learns later.
type Delivery struct {
	State          DeliveryState `json:"state"`
	ReasonCode     string        `json:"reasonCode,omitempty"`
	Reason         string        `json:"reason,omitempty"`
	RequiredAction string        `json:"requiredAction,omitempty"`
	// EffectiveBy is, for a change that removes access, the latest moment the key
	// can still open what was removed; nil with Unbounded when the key has no bound.
	EffectiveBy *time.Time `json:"effectiveBy,omitempty"`
	Unbounded   bool       `json:"unbounded,omitempty"`
	ChangeID    string     `json:"changeId,omitempty"`
	At          time.Time  `json:"at"`
}

// KeyAccess is the whole desired access of one key: what SetKeyAccess takes.
type KeyAccess struct {
	AccessObjects []string   `json:"accessObjects"`
	ValidFrom     *time.Time `json:"validFrom,omitempty"`
	ValidUntil    *time.Time `json:"validUntil,omitempty"`
	Schedule      *Schedule  `json:"schedule,omitempty"`
}

// Empty tells whether the access opens nothing.
func (a KeyAccess) Empty() bool { return len(a.AccessObjects) == 0 }

// Fingerprint is a stable text form of the access, used to tell whether it changed
// and to build idempotency keys.
func (a KeyAccess) Fingerprint() string {
	var b strings.Builder
	objs := slices.Clone(a.AccessObjects)
	slices.Sort(objs)
	b.WriteString(strings.Join(objs, ","))
	b.WriteString("|")
	if a.ValidFrom != nil {
		b.WriteString(FormatTime(*a.ValidFrom))
	}
	b.WriteString("|")
	if a.ValidUntil != nil {
		b.WriteString(FormatTime(*a.ValidUntil))
	}
	b.WriteString("|")
	if a.Schedule != nil {
		s, _ := json.Marshal(a.Schedule)
		b.Write(s)
	}
	return b.String()
}

// OperationKind is what an operation asks a driver to do.
type OperationKind string

// The operation kinds.
const (
	OpSetKeyAccess OperationKind = "set-key-access"
	OpBlockKey     OperationKind = "block-key"
	OpUnblockKey   OperationKind = "unblock-key"
)

// OperationState is where an operation is in the outbox.
type OperationState string

// The operation states.
const (
	OpPending    OperationState = "pending"    // to be run (again)
	OpDone       OperationState = "done"       // the driver answered
	OpFailed     OperationState = "failed"     // given up after retries, or refused as invalid
	OpSuperseded OperationState = "superseded" // a newer operation for the same key replaced it
)

// Operation is one instruction to a driver, held in the durable outbox. Operations
// for one lock system run in id order; ids are sortable.
type Operation struct {
	Meta
	Seq            int64          `json:"seq"`
	LockSystemID   string         `json:"lockSystemId"`
	KeyID          string         `json:"keyId"`
	KeyVendorID    string         `json:"keyVendorId"`
	HolderRef      string         `json:"holderRef,omitempty"`
	OpKind         OperationKind  `json:"kind"`
	IdempotencyKey string         `json:"idempotencyKey"`
	Access         KeyAccess      `json:"access"`
	Removed        []string       `json:"removed,omitempty"`
	State          OperationState `json:"state"`
	Attempts       int            `json:"attempts"`
	NextAttempt    time.Time      `json:"nextAttempt"`
	LastError      string         `json:"lastError,omitempty"`
	Delivery       *Delivery      `json:"delivery,omitempty"`
	Reason         string         `json:"reason,omitempty"`
}

// Kind implements Resource.
func (*Operation) Kind() Kind { return KindOperation }

// Attrs implements Resource.
func (o *Operation) Attrs() []Attr {
	return []Attr{{"lockSystemId", o.LockSystemID}, {"keyId", o.KeyID}, {"state", string(o.State)}}
}

// OperationID formats a sortable operation id from a sequence number.
func OperationID(seq int64) string { return fmt.Sprintf("op-%016d", seq) }

// KeyState is keyward's record of one key: what was last planned for it, what the
// lock system last reported, and what removed access is still exposed.
type KeyState struct {
	Meta
	LockSystemID string    `json:"lockSystemId"`
	HolderID     string    `json:"holderId,omitempty"`
	Planned      KeyAccess `json:"planned"`
	// Grants maps each planned access object to the grant ids that put it there.
	Grants      map[string][]string `json:"grants,omitempty"`
	Blocked     bool                `json:"blocked,omitempty"`
	OperationID string              `json:"operationId,omitempty"`
	Delivery    Delivery            `json:"delivery"`
	// Reported is what the lock system says the key really carries, when known.
	Reported *KeyAccess `json:"reported,omitempty"`
	// Exposures are removed access objects not yet known to be gone from the key.
	Exposures []Exposure `json:"exposures,omitempty"`
	LastUsed  *time.Time `json:"lastUsed,omitempty"`
}

// Exposure is access revoked in keyward but possibly still on the key.
type Exposure struct {
	AccessObject string     `json:"accessObject"`
	GrantIDs     []string   `json:"grantIds,omitempty"`
	RevokedAt    time.Time  `json:"revokedAt"`
	EffectiveBy  *time.Time `json:"effectiveBy,omitempty"`
	Unbounded    bool       `json:"unbounded,omitempty"`
	Escalated    bool       `json:"escalated,omitempty"`
}

// Kind implements Resource.
func (*KeyState) Kind() Kind { return KindKeyState }

// Attrs implements Resource.
func (k *KeyState) Attrs() []Attr {
	out := appendNonEmpty(nil, "holderId", k.HolderID)
	if len(k.Exposures) > 0 {
		out = append(out, Attr{"exposed", "true"})
	}
	return out
}

// TaskState is open or done.
type TaskState string

// The task states.
const (
	TaskOpen TaskState = "open"
	TaskDone TaskState = "done"
)

// Task is something a person must do: hand out a key, visit a cylinder, block a key
// by hand.
type Task struct {
	Meta
	TaskKind      string    `json:"kind"` // hand-out-key, physical-action, escalation
	State         TaskState `json:"state"`
	IdentityID    string    `json:"identityId,omitempty"`
	KeyID         string    `json:"keyId,omitempty"`
	LockSystemID  string    `json:"lockSystemId,omitempty"`
	EntitlementID string    `json:"entitlementId,omitempty"`
	Action        string    `json:"action"`
	Reason        string    `json:"reason,omitempty"`
}

// Kind implements Resource.
func (*Task) Kind() Kind { return KindTask }

// Attrs implements Resource.
func (t *Task) Attrs() []Attr {
	out := []Attr{{"state", string(t.State)}, {"kind", t.TaskKind}}
	out = appendNonEmpty(out, "identityId", t.IdentityID)
	out = appendNonEmpty(out, "keyId", t.KeyID)
	return appendNonEmpty(out, "lockSystemId", t.LockSystemID)
}

// Duration is a time.Duration that reads and writes as "72h", "30m" or "14d" in
// JSON and YAML.
type Duration time.Duration

// ParseDuration accepts Go durations plus a "d" suffix for days.
func ParseDuration(s string) (Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	if strings.HasSuffix(s, "d") {
		var days int
		if _, err := fmt.Sscanf(s, "%dd", &days); err != nil || fmt.Sprintf("%dd", days) != s || days < 0 {
			return 0, fmt.Errorf("invalid duration %q", s)
		}
		return Duration(time.Duration(days) * 24 * time.Hour), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("invalid duration %q", s)
	}
	return Duration(d), nil
}

func (d Duration) String() string {
	td := time.Duration(d)
	if td != 0 && td%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", td/(24*time.Hour))
	}
	return td.String()
}

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := ParseDuration(s)
	*d = v
	return err
}

// UnmarshalText implements encoding.TextUnmarshaler (YAML, viper).
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := ParseDuration(string(b))
	*d = v
	return err
}

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }
