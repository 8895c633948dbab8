package driver

import (
	"encoding/json"
	"net/http"
	"time"
)

// Info describes a driver.
type Info struct {
	// Vendor names the vendor system, e.g. "iloq", "cliq", "padlock".
	Vendor string
	// DriverVersion is the driver's own version (semver).
	DriverVersion string
	// ContractVersions lists the lockdriver contract versions the driver
	// speaks, e.g. []int{1}.
	ContractVersions []int
	// Capabilities says what the vendor system can do through this driver;
	// the host disables what a driver cannot do.
	Capabilities Capabilities
	// ConfigSchema is a JSON Schema (draft 2020-12) of the driver's
	// configuration settings (Config.Settings).
	//
	// TODO: the SDK does not check settings against ConfigSchema; each
	// driver validates its own settings in Configure, so a schema that
	// disagrees with the driver's code goes unnoticed.
	ConfigSchema json.RawMessage
	// Secrets names the secret values the driver expects in Config.Secrets.
	Secrets []SecretSpec
}

// SecretSpec describes one secret a driver needs (a password, a client
// certificate, a webhook signing key).
type SecretSpec struct {
	Name        string
	Description string
	Required    bool
}

// Capabilities are the capability flags of a driver. New flags are only ever
// appended; a flag an older driver does not know reads false.
type Capabilities struct {
	// RemoteKeyUpdate: keys can receive changed access without a visit to a
	// programming device (phone keys, remote update).
	RemoteKeyUpdate bool
	// LockBlocklist: a key can be blocklisted lock-side.
	LockBlocklist bool
	// Webhooks: the vendor pushes events; HandleWebhook decodes them.
	Webhooks bool
	// KeyReturn: key return is recorded through the API.
	KeyReturn bool
	// Schedules: weekly schedules (time profiles) on a key's access.
	Schedules bool
	// ValidityWindows: start/end validity on a key's access.
	ValidityWindows bool
	// Revalidation: keys must be revalidated periodically, which bounds the
	// effective-by time of a removal.
	Revalidation bool
	// OnlineOpening: locks can be opened remotely.
	OnlineOpening bool
}

// Config is the configuration of one driver instance.
type Config struct {
	// LockSystem is the lock system id from keyward's configuration.
	LockSystem string
	// Settings is the driver's configuration block, as JSON, following the
	// driver's ConfigSchema.
	Settings json.RawMessage
	// Secrets holds secret values resolved by the host (from files or
	// environment variables), by secret name. They travel only over the
	// mutually authenticated plugin connection; never log them.
	Secrets map[string]string
}

// Health is the result of a health check.
type Health struct {
	// Status is HealthServing, HealthDegraded or HealthDown.
	Status HealthStatus
	// Message explains a status other than serving.
	Message string
	// CheckedAt is when the vendor system was last reached.
	CheckedAt time.Time
}

// HealthStatus is a driver's health.
type HealthStatus string

// The health statuses.
const (
	HealthServing  HealthStatus = "serving"
	HealthDegraded HealthStatus = "degraded"
	HealthDown     HealthStatus = "down"
)

// ListRequest asks for one inventory list from a cursor on.
type ListRequest struct {
	// Cursor resumes after the page that returned it; "" starts at the
	// beginning.
	Cursor string
	// PageSize is the most items per page; 0 lets the driver choose.
	PageSize int
}

// Page is one page of an inventory list.
type Page[T any] struct {
	Items []T
	// Next resumes after this page; "" on the last page.
	Next string
}

// Lock is a cylinder, door or padlock.
type Lock struct {
	ID   string
	Name string
	// Kind is the vendor's kind of lock, e.g. "cylinder", "padlock", "door".
	Kind string
	// Online is true when the lock talks to the vendor server itself.
	Online bool
	// Attributes holds further vendor facts worth showing (zone, site).
	Attributes map[string]string
}

// KeyType is the type of a key.
type KeyType string

// The key types.
const (
	KeyPhysical    KeyType = "physical"
	KeyFob         KeyType = "fob"
	KeyPhone       KeyType = "phone"
	KeyTag         KeyType = "tag"
	KeyProgramming KeyType = "programming"
)

// KeyState is the custody state of a key.
type KeyState string

// The key states.
const (
	KeyPlanning  KeyState = "planning"
	KeyHandedOut KeyState = "handed-out"
	KeyReturned  KeyState = "returned"
	KeyLost      KeyState = "lost"
	KeyBlocked   KeyState = "blocked"
)

// Key is a credential: physical key, fob, phone key, tag.
type Key struct {
	ID    string
	Label string
	Type  KeyType
	State KeyState
	// HolderID is the vendor ID of the person holding the key, "" if none.
	HolderID string
	// Planned is the access the vendor server holds for the key (what it
	// will carry once programmed).
	Planned KeyAccess
	// Programmed is the access the key is known to carry, or nil when the
	// vendor does not say.
	Programmed *KeyAccess
	// Pending is the delivery of the newest change not yet applied, if any.
	Pending *Delivery
}

// Person is a person in the lock system.
type Person struct {
	ID string
	// ExternalID is keyward's correlation key for the person.
	ExternalID string
	Name       string
	Email      string
}

// AccessObject is a vendor access object entitlements bind to: an iLOQ
// security access, a CLIQ access profile or cylinder group.
type AccessObject struct {
	ID   string
	Name string
	// Kind is the vendor's kind, e.g. "security-access", "access-profile".
	Kind string
	// LockIDs lists the locks the access object opens.
	LockIDs []string
}

// KeyAccess is the whole access of one key.
type KeyAccess struct {
	// AccessObjectIDs lists access objects by vendor ID, sorted.
	AccessObjectIDs []string
	// Window bounds when the access is valid.
	Window Window
	// Schedule limits access to weekly intervals; empty means always.
	Schedule []ScheduleInterval
}

// Window is a validity window; a zero bound is open.
type Window struct {
	NotBefore time.Time
	NotAfter  time.Time
}

// ScheduleInterval is a weekly interval: on Day, from Start to End, as
// offsets from midnight in the lock system's local time (End > Start, at
// most 24h).
type ScheduleInterval struct {
	Day   time.Weekday
	Start time.Duration
	End   time.Duration
}

// EnsurePersonRequest asks for a person to exist.
type EnsurePersonRequest struct {
	IdempotencyKey string
	// Person carries ExternalID (required), Name and Email; ID is ignored.
	Person Person
}

// AssignKeyRequest records custody of a key.
type AssignKeyRequest struct {
	IdempotencyKey string
	KeyID          string
	PersonID       string
}

// KeyRequest names a key for ReturnKey and ReportKeyLost.
type KeyRequest struct {
	IdempotencyKey string
	KeyID          string
}

// SetKeyAccessRequest sets the whole access of one key.
type SetKeyAccessRequest struct {
	IdempotencyKey string
	KeyID          string
	Access         KeyAccess
}

// DeliveryState is how far a change got towards the key.
type DeliveryState string

// The delivery states, in order of progress; NeedsAction and Failed are off
// the main line. Everything short of Applied is pending.
const (
	// DeliveryRecorded: the vendor server accepted the change.
	DeliveryRecorded DeliveryState = "recorded"
	// DeliveryQueued: a programming task or job exists.
	DeliveryQueued DeliveryState = "queued"
	// DeliveryDelivered: a key or phone picked the change up.
	DeliveryDelivered DeliveryState = "delivered"
	// DeliveryApplied: the vendor reports the key programmed.
	DeliveryApplied DeliveryState = "applied"
	// DeliveryNeedsAction: a person must do something (see NeedsAction).
	DeliveryNeedsAction DeliveryState = "needs-action"
	// DeliveryFailed: the change cannot be delivered.
	DeliveryFailed DeliveryState = "failed"
)

// Pending reports whether s is short of applied.
func (s DeliveryState) Pending() bool { return s != DeliveryApplied }

// Delivery is the delivery state of one change.
type Delivery struct {
	State DeliveryState
	// ChangeID is the vendor's id of the change (order, job, task); it
	// names the change in later Change events.
	ChangeID string
	// NeedsAction is set when State is DeliveryNeedsAction.
	NeedsAction *NeedsAction
	// Removal is set when the change removed access.
	Removal *Removal
	// Reason explains DeliveryFailed.
	Reason string
	// At is when the vendor reported this state.
	At time.Time
}

// Removal says by when removed access stops working.
type Removal struct {
	// AccessObjectIDs lists what was removed.
	AccessObjectIDs []string
	// EffectiveBy is the latest moment the key can still open anything it
	// should not (its validity end, revalidation or offline-expiry
	// deadline). It is zero when Unbounded.
	EffectiveBy time.Time
	// Unbounded is true when nothing bounds the removal: the key keeps its
	// old rights until it is updated.
	Unbounded bool
}

// Action is a physical action a person must take.
type Action string

// The required actions.
const (
	ActionNone Action = ""
	// ActionHandOverKey: hand a key to the person.
	ActionHandOverKey Action = "hand-over-key"
	// ActionUpdateKey: put the key in a programming device or hot spot, or
	// sync the phone.
	ActionUpdateKey Action = "update-key"
	// ActionVisitLock: visit the lock with a programming key.
	ActionVisitLock Action = "visit-lock"
	// ActionUseVendorTool: use the vendor's own management tool.
	ActionUseVendorTool Action = "use-vendor-tool"
	// ActionBuyLicences: the vendor system needs more licences.
	ActionBuyLicences Action = "buy-licences"
	// ActionOther: see Reason.
	ActionOther Action = "other"
)

// NeedsAction describes what a person must do before a change can proceed.
type NeedsAction struct {
	// ReasonCode is the vendor's reason code (e.g. iLOQ CanOrder 1..14).
	ReasonCode string
	// Reason is a human explanation.
	Reason string
	// Action is the physical action required.
	Action Action
	// LockIDs names the locks to visit for ActionVisitLock.
	LockIDs []string
}

// Plan is the dry-run outcome of SetKeyAccess.
type Plan struct {
	// NoChange is true when the key already has the requested access.
	NoChange bool
	// Added and Removed list access object ids the change would add/remove.
	Added   []string
	Removed []string
	// Expected is the delivery state SetKeyAccess would answer.
	Expected DeliveryState
	// NeedsAction is set when the vendor's pre-checks say a person must act.
	NeedsAction *NeedsAction
	// Removal estimates the effective-by of the removal.
	Removal *Removal
	// Notes are human remarks from the vendor's pre-checks.
	Notes []string
}

// BlockKeyRequest blocks or unblocks a key.
type BlockKeyRequest struct {
	IdempotencyKey string
	KeyID          string
	// Reason is a human note for the vendor's records.
	Reason string
}

// BlockResult is the outcome of BlockKey or UnblockKey.
type BlockResult struct {
	Delivery Delivery
	// Locks reports propagation per lock where the vendor has it.
	Locks []LockPropagation
}

// PropagationState is the state of a block at one lock.
type PropagationState string

// The propagation states.
const (
	PropagationPending PropagationState = "pending"
	PropagationApplied PropagationState = "applied"
	PropagationFailed  PropagationState = "failed"
)

// LockPropagation is the state of a block or unblock at one lock.
type LockPropagation struct {
	LockID string
	State  PropagationState
	At     time.Time
}

// ChangesRequest asks for changes after a cursor.
type ChangesRequest struct {
	// Cursor resumes after the change that carried it; "" starts at the
	// oldest change the driver still has.
	Cursor string
	// Limit caps the number of changes in one call; 0 lets the driver
	// choose.
	Limit int
	// Follow keeps the stream open after catching up: the SDK calls the
	// driver's Changes again every PollInterval (default 1s) from the last
	// cursor until the caller cancels. A driver's own Changes never sees
	// Follow set; it always returns once caught up.
	Follow       bool
	PollInterval time.Duration
}

// ChangeKind is the kind of a Change.
type ChangeKind string

// The change kinds.
const (
	ChangeDelivery  ChangeKind = "delivery"
	ChangeLockEvent ChangeKind = "lock-event"
	ChangeKeyState  ChangeKind = "key-state"
	ChangeBlock     ChangeKind = "block"
)

// Change is one observed change in the lock system. Exactly one of
// Delivery, LockEvent, KeyState and Block is set, matching Kind.
type Change struct {
	// ID is the vendor's id of the event; it de-duplicates.
	ID string
	// Cursor resumes after this change.
	Cursor string
	Kind   ChangeKind
	// At is when it happened in the lock system.
	At        time.Time
	Delivery  *DeliveryChange
	LockEvent *LockEvent
	KeyState  *KeyStateChange
	Block     *BlockChange
}

// DeliveryChange is a delivery transition of one change on one key.
type DeliveryChange struct {
	KeyID    string
	Delivery Delivery
}

// LockEvent is an access event from the lock's audit trail.
type LockEvent struct {
	LockID string
	KeyID  string
	// Opened is true when the key opened the lock.
	Opened bool
	// Reason says why access was refused.
	Reason string
}

// KeyStateChange reports a key's new custody state or programmed access.
type KeyStateChange struct {
	KeyID    string
	State    KeyState
	HolderID string
	// Programmed is the access the key now carries, if known.
	Programmed *KeyAccess
}

// BlockChange reports block propagation to one lock.
type BlockChange struct {
	KeyID string
	// Blocked is true for a block, false for an unblock.
	Blocked bool
	Lock    LockPropagation
}

// Webhook is a vendor webhook as keyward received it.
type Webhook struct {
	Header http.Header
	Body   []byte
}
