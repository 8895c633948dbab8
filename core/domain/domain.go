// Package domain holds keyward's resource types: the words of design.md §2 as Go types.
// They are plain data: no SCIM shapes, no SQL, no vendor formats.
package domain

import (
	"time"
)

// Kind names a resource type in the store and in audit events.
type Kind string

// The resource kinds.
const (
	KindIdentity    Kind = "identity"
	KindAsset       Kind = "asset"
	KindLockSystem  Kind = "lock-system"
	KindLock        Kind = "lock"
	KindKey         Kind = "key"
	KindEntitlement Kind = "entitlement"
	KindGrant       Kind = "grant"
	KindPolicy      Kind = "policy"
	KindOperation   Kind = "operation"
	KindKeyState    Kind = "key-state"
	KindTask        Kind = "task"
	KindLockEvent   Kind = "lock-event"
	KindSetting     Kind = "setting"
)

// Meta is carried by every resource: its id, a version bumped on every change, and
// when it was created and last modified. The store owns Version, Created and Modified.
type Meta struct {
	ID       string    `json:"id"`
	Version  int64     `json:"version"`
	Created  time.Time `json:"created"`
	Modified time.Time `json:"modified"`
}

// GetMeta returns the resource's meta for the store.
func (m *Meta) GetMeta() *Meta { return m }

// Attr is one indexed attribute value of a resource: what the store's query model
// filters on. A multi-valued attribute has one Attr per value.
type Attr struct {
	Name  string
	Value string
}

// Resource is implemented by every stored type.
type Resource interface {
	GetMeta() *Meta
	Kind() Kind
	// Attrs lists the values the store indexes for queries.
	Attrs() []Attr
}

// Criticality of an asset or entitlement, lowest first.
type Criticality string

// The criticalities.
const (
	CriticalityLow      Criticality = "low"
	CriticalityMedium   Criticality = "medium"
	CriticalityHigh     Criticality = "high"
	CriticalityCritical Criticality = "critical"
)

// Valid tells whether c is one of the known criticalities.
func (c Criticality) Valid() bool {
	switch c {
	case CriticalityLow, CriticalityMedium, CriticalityHigh, CriticalityCritical:
		return true
	}
	return false
}

// PersonName is the parts of a person's name as IGAs send them.
type PersonName struct {
	Formatted       string `json:"formatted,omitempty"`
	FamilyName      string `json:"familyName,omitempty"`
	GivenName       string `json:"givenName,omitempty"`
	MiddleName      string `json:"middleName,omitempty"`
	HonorificPrefix string `json:"honorificPrefix,omitempty"`
	HonorificSuffix string `json:"honorificSuffix,omitempty"`
}

// Contact is an email address or phone number with its type.
type Contact struct {
	Value   string `json:"value"`
	Type    string `json:"type,omitempty"`
	Primary bool   `json:"primary,omitempty"`
}

// Identity is a person known to keyward.
type Identity struct {
	Meta
	UserName          string     `json:"userName"`
	ExternalID        string     `json:"externalId,omitempty"`
	Active            bool       `json:"active"`
	Name              PersonName `json:"name"`
	DisplayName       string     `json:"displayName,omitempty"`
	NickName          string     `json:"nickName,omitempty"`
	Title             string     `json:"title,omitempty"`
	UserType          string     `json:"userType,omitempty"`
	PreferredLanguage string     `json:"preferredLanguage,omitempty"`
	Locale            string     `json:"locale,omitempty"`
	Timezone          string     `json:"timezone,omitempty"`
	Emails            []Contact  `json:"emails,omitempty"`
	PhoneNumbers      []Contact  `json:"phoneNumbers,omitempty"`
	EmployeeNumber    string     `json:"employeeNumber,omitempty"`
	CostCenter        string     `json:"costCenter,omitempty"`
	Organization      string     `json:"organization,omitempty"`
	Division          string     `json:"division,omitempty"`
	Department        string     `json:"department,omitempty"`
	ManagerID         string     `json:"managerId,omitempty"`
	ManagerName       string     `json:"managerName,omitempty"`
	// Function is the job function policies match on (field engineer, technician).
	Function       string     `json:"function,omitempty"`
	ContractStatus string     `json:"contractStatus,omitempty"`
	ContractEnd    *time.Time `json:"contractEnd,omitempty"`
	Location       string     `json:"location,omitempty"`
	Projects       []string   `json:"projects,omitempty"`
	Risk           string     `json:"risk,omitempty"`
	// CorrelationKey links the identity to persons in lock systems (design.md §2):
	// the employee number by default. It is what keyward writes as the external
	// person id in a lock system, never keyward's own id.
	CorrelationKey string `json:"correlationKey,omitempty"`
}

// Kind implements Resource.
func (*Identity) Kind() Kind { return KindIdentity }

// Attrs implements Resource.
func (i *Identity) Attrs() []Attr {
	a := []Attr{
		{"userName", i.UserName},
		{"active", boolString(i.Active)},
	}
	a = appendNonEmpty(a, "externalId", i.ExternalID)
	a = appendNonEmpty(a, "displayName", i.DisplayName)
	a = appendNonEmpty(a, "name.givenName", i.Name.GivenName)
	a = appendNonEmpty(a, "name.familyName", i.Name.FamilyName)
	a = appendNonEmpty(a, "name.formatted", i.Name.Formatted)
	a = appendNonEmpty(a, "title", i.Title)
	a = appendNonEmpty(a, "userType", i.UserType)
	a = appendNonEmpty(a, "employeeNumber", i.EmployeeNumber)
	a = appendNonEmpty(a, "costCenter", i.CostCenter)
	a = appendNonEmpty(a, "organization", i.Organization)
	a = appendNonEmpty(a, "division", i.Division)
	a = appendNonEmpty(a, "department", i.Department)
	a = appendNonEmpty(a, "managerId", i.ManagerID)
	a = appendNonEmpty(a, "function", i.Function)
	a = appendNonEmpty(a, "contractStatus", i.ContractStatus)
	a = appendNonEmpty(a, "location", i.Location)
	a = appendNonEmpty(a, "risk", i.Risk)
	a = appendNonEmpty(a, "correlationKey", i.CorrelationKey)
	if i.ContractEnd != nil {
		a = append(a, Attr{"contractEnd", FormatTime(*i.ContractEnd)})
	}
	for _, e := range i.Emails {
		a = appendNonEmpty(a, "emails.value", e.Value)
	}
	for _, p := range i.PhoneNumbers {
		a = appendNonEmpty(a, "phoneNumbers.value", p.Value)
	}
	for _, p := range i.Projects {
		a = appendNonEmpty(a, "projects", p)
	}
	return a
}

// AssetKind is what sort of place an asset is.
type AssetKind string

// Asset is a protected physical thing; assets form a tree
// (region > site > building > room or cabinet).
type Asset struct {
	Meta
	Name        string      `json:"name"`
	AssetKind   AssetKind   `json:"kind"`
	ParentID    string      `json:"parentId,omitempty"`
	Criticality Criticality `json:"criticality"`
	Description string      `json:"description,omitempty"`
	Owner       string      `json:"owner,omitempty"`
}

// Kind implements Resource.
func (*Asset) Kind() Kind { return KindAsset }

// Attrs implements Resource.
func (a *Asset) Attrs() []Attr {
	out := []Attr{{"name", a.Name}, {"kind", string(a.AssetKind)}, {"criticality", string(a.Criticality)}}
	return appendNonEmpty(out, "parentId", a.ParentID)
}

// LockSystem is one installation of a vendor system, driven by one driver instance.
type LockSystem struct {
	Meta
	Name   string `json:"name"`
	Vendor string `json:"vendor"`
	// CorrelateBy names the identity attribute whose value is the person's external
	// id in this lock system: employeeNumber (default), externalId, userName or email.
	CorrelateBy string `json:"correlateBy,omitempty"`
	// CanBlock tells whether the lock system can block a key (lock-side blocklist).
	CanBlock bool `json:"canBlock"`
}

// Kind implements Resource.
func (*LockSystem) Kind() Kind { return KindLockSystem }

// Attrs implements Resource.
func (l *LockSystem) Attrs() []Attr {
	return []Attr{{"name", l.Name}, {"vendor", l.Vendor}}
}

// Lock is a cylinder, door or padlock in a lock system, belonging to an asset.
type Lock struct {
	Meta
	LockSystemID string `json:"lockSystemId"`
	VendorID     string `json:"vendorId"`
	// Name is the estate's name for the lock; VendorName what the lock system
	// calls it. Inventory sync sets Name only for a lock the estate has not named.
	Name       string `json:"name"`
	VendorName string `json:"vendorName,omitempty"`
	AssetID    string `json:"assetId,omitempty"`
	Online     bool   `json:"online,omitempty"`
	// AccessObjects are the vendor access objects that open this lock.
	AccessObjects []string `json:"accessObjects,omitempty"`
}

// Kind implements Resource.
func (*Lock) Kind() Kind { return KindLock }

// Attrs implements Resource.
func (l *Lock) Attrs() []Attr {
	out := []Attr{{"lockSystemId", l.LockSystemID}, {"vendorId", l.VendorID}, {"name", l.Name}}
	out = appendNonEmpty(out, "assetId", l.AssetID)
	for _, o := range l.AccessObjects {
		out = append(out, Attr{"accessObjects", l.LockSystemID + "/" + o})
	}
	return out
}

// KeyType is the sort of credential.
type KeyType string

// The key types.
const (
	KeyPhysical    KeyType = "physical"
	KeyFob         KeyType = "fob"
	KeyPhone       KeyType = "phone"
	KeyTag         KeyType = "tag"
	KeyProgramming KeyType = "programming"
)

// Custody is the state of a key with respect to its holder.
type Custody string

// The custody states.
const (
	CustodyPlanning  Custody = "planning"
	CustodyHandedOut Custody = "handed-out"
	CustodyReturned  Custody = "returned"
	CustodyLost      Custody = "lost"
	CustodyBlocked   Custody = "blocked"
)

// Key is a credential in a lock system.
type Key struct {
	Meta
	LockSystemID string  `json:"lockSystemId"`
	VendorID     string  `json:"vendorId"`
	Type         KeyType `json:"type"`
	Custody      Custody `json:"custody"`
	// HolderID is the identity holding the key; HolderRef the vendor's person
	// reference (the correlation key value) as inventory reported it.
	HolderID  string `json:"holderId,omitempty"`
	HolderRef string `json:"holderRef,omitempty"`
	// Remote tells whether the lock system can update this key without a person
	// visiting anything (phone keys, dynamic keys).
	Remote bool   `json:"remote,omitempty"`
	Label  string `json:"label,omitempty"`
}

// Kind implements Resource.
func (*Key) Kind() Kind { return KindKey }

// Attrs implements Resource.
func (k *Key) Attrs() []Attr {
	out := []Attr{{"lockSystemId", k.LockSystemID}, {"vendorId", k.VendorID}, {"custody", string(k.Custody)}, {"type", string(k.Type)}}
	out = appendNonEmpty(out, "holderId", k.HolderID)
	return appendNonEmpty(out, "holderRef", k.HolderRef)
}

// Active tells whether a grant lands on this key.
func (k *Key) Active() bool { return k.Custody == CustodyHandedOut && k.HolderID != "" }

// Binding ties an entitlement to vendor access objects in one lock system.
type Binding struct {
	LockSystemID  string   `json:"lockSystemId"`
	AccessObjects []string `json:"accessObjects"`
}

// Window is one weekly time window, in the schedule's time zone.
type Window struct {
	Days []time.Weekday `json:"days"`
	From string         `json:"from"` // "HH:MM"
	To   string         `json:"to"`   // "HH:MM", after From
}

// Schedule is a weekly schedule; an entitlement without one is 24/7.
type Schedule struct {
	TimeZone string   `json:"timeZone,omitempty"`
	Windows  []Window `json:"windows"`
}

// Entitlement is the reviewable unit of physical access.
type Entitlement struct {
	Meta
	Name        string      `json:"name"`
	Description string      `json:"description,omitempty"`
	Owner       string      `json:"owner,omitempty"`
	Criticality Criticality `json:"criticality"`
	// AssetIDs are the assets it opens, as the estate declares them.
	AssetIDs    []string  `json:"assetIds,omitempty"`
	Bindings    []Binding `json:"bindings,omitempty"`
	Schedule    *Schedule `json:"schedule,omitempty"`
	MaxDuration Duration  `json:"maxDuration,omitempty"`
	// Origin says who defined it: "estate" or the IGA client that created it.
	Origin     string `json:"origin,omitempty"`
	ExternalID string `json:"externalId,omitempty"`
}

// Kind implements Resource.
func (*Entitlement) Kind() Kind { return KindEntitlement }

// Bound tells whether the entitlement opens anything.
func (e *Entitlement) Bound() bool {
	for _, b := range e.Bindings {
		if len(b.AccessObjects) > 0 {
			return true
		}
	}
	return false
}

// Attrs implements Resource.
func (e *Entitlement) Attrs() []Attr {
	out := []Attr{{"name", e.Name}, {"criticality", string(e.Criticality)}, {"bound", boolString(e.Bound())}}
	out = appendNonEmpty(out, "owner", e.Owner)
	out = appendNonEmpty(out, "externalId", e.ExternalID)
	for _, a := range e.AssetIDs {
		out = append(out, Attr{"assetIds", a})
	}
	for _, b := range e.Bindings {
		out = append(out, Attr{"lockSystemIds", b.LockSystemID})
	}
	return out
}

// SourceKind says where a grant came from.
type SourceKind string

// The grant sources.
const (
	SourceIGA       SourceKind = "iga"
	SourceDirectory SourceKind = "directory"
	SourcePolicy    SourceKind = "policy"
	SourceManual    SourceKind = "manual"
)

// Source names who made a grant: the kind and which client, directory, policy or
// person.
type Source struct {
	Kind SourceKind `json:"kind"`
	Name string     `json:"name"`
}

func (s Source) String() string { return string(s.Kind) + ":" + s.Name }

// Approval is the evidence that a grant was approved.
type Approval struct {
	Reference string    `json:"reference,omitempty"`
	Approver  string    `json:"approver"`
	At        time.Time `json:"at"`
}

// GrantState is the governance state of a grant (not its state on the hardware).
type GrantState string

// The grant states.
const (
	GrantRequested GrantState = "requested" // waits for approval
	GrantActive    GrantState = "active"    // approved; effective while its window is open
	GrantExpired   GrantState = "expired"   // its window closed
	GrantRevoked   GrantState = "revoked"
	GrantRejected  GrantState = "rejected"
)

// Grant is identity × entitlement: the desired state.
type Grant struct {
	Meta
	IdentityID    string     `json:"identityId"`
	EntitlementID string     `json:"entitlementId"`
	ValidFrom     *time.Time `json:"validFrom,omitempty"`
	ValidUntil    *time.Time `json:"validUntil,omitempty"`
	Source        Source     `json:"source"`
	PolicyID      string     `json:"policyId,omitempty"`
	Approval      *Approval  `json:"approval,omitempty"`
	Justification string     `json:"justification,omitempty"`
	State         GrantState `json:"state"`
	// Opened is set when the scheduler (or the command) first saw the window open.
	Opened     bool       `json:"opened,omitempty"`
	RevokedAt  *time.Time `json:"revokedAt,omitempty"`
	RevokedBy  string     `json:"revokedBy,omitempty"`
	EndReason  string     `json:"endReason,omitempty"`
	RejectedBy string     `json:"rejectedBy,omitempty"`
}

// Kind implements Resource.
func (*Grant) Kind() Kind { return KindGrant }

// Attrs implements Resource.
func (g *Grant) Attrs() []Attr {
	out := []Attr{{"identityId", g.IdentityID}, {"entitlementId", g.EntitlementID}, {"state", string(g.State)}, {"source", g.Source.String()}}
	out = appendNonEmpty(out, "policyId", g.PolicyID)
	if g.State != GrantActive && g.State != GrantRequested {
		return out // the window attributes serve the scheduler, which needs only current grants
	}
	out = append(out, Attr{"opened", boolString(g.Opened)})
	if g.ValidFrom != nil {
		out = append(out, Attr{"validFrom", FormatTime(*g.ValidFrom)})
	}
	if g.ValidUntil != nil {
		out = append(out, Attr{"validUntil", FormatTime(*g.ValidUntil)})
	}
	return out
}

// Live tells whether a grant is in force at t: active and inside its window.
// Identity state (active flag, contract end) is the planner's business.
func (g *Grant) Live(t time.Time) bool {
	if g.State != GrantActive {
		return false
	}
	if g.ValidFrom != nil && t.Before(*g.ValidFrom) {
		return false
	}
	if g.ValidUntil != nil && !t.Before(*g.ValidUntil) {
		return false
	}
	return true
}

// Condition matches one identity attribute: equality (one value) or set membership.
type Condition struct {
	Attribute string   `json:"attribute" yaml:"attribute"`
	Values    []string `json:"values" yaml:"values"`
}

// Policy is a rule from identity attributes to entitlements.
type Policy struct {
	Meta
	Name             string      `json:"name"`
	Description      string      `json:"description,omitempty"`
	Match            []Condition `json:"match"`
	Entitlements     []string    `json:"entitlements"`
	DefaultValidity  Duration    `json:"defaultValidity,omitempty"`
	RequiresApproval bool        `json:"requiresApproval,omitempty"`
}

// Kind implements Resource.
func (*Policy) Kind() Kind { return KindPolicy }

// Attrs implements Resource.
func (p *Policy) Attrs() []Attr { return []Attr{{"name", p.Name}} }

// Setting is a named value kept in the store (the estate's exposure limits, the
// quick start's client token hash, cursors).
type Setting struct {
	Meta
	Value string `json:"value"`
}

// Kind implements Resource.
func (*Setting) Kind() Kind { return KindSetting }

// Attrs implements Resource.
func (*Setting) Attrs() []Attr { return nil }

// LockEvent is an access event from a lock system's audit trail.
type LockEvent struct {
	Meta
	LockSystemID  string    `json:"lockSystemId"`
	VendorEventID string    `json:"vendorEventId"`
	KeyID         string    `json:"keyId,omitempty"`
	LockID        string    `json:"lockId,omitempty"`
	IdentityID    string    `json:"identityId,omitempty"`
	At            time.Time `json:"at"`
	Opened        bool      `json:"opened"`
	Reason        string    `json:"reason,omitempty"`
}

// Kind implements Resource.
func (*LockEvent) Kind() Kind { return KindLockEvent }

// Attrs implements Resource.
func (e *LockEvent) Attrs() []Attr {
	out := []Attr{{"lockSystemId", e.LockSystemID}, {"at", FormatTime(e.At)}}
	out = appendNonEmpty(out, "keyId", e.KeyID)
	out = appendNonEmpty(out, "lockId", e.LockID)
	return appendNonEmpty(out, "identityId", e.IdentityID)
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

func appendNonEmpty(a []Attr, name, v string) []Attr {
	if v == "" {
		return a
	}
	return append(a, Attr{name, v})
}

// TimeLayout is the fixed-width UTC form times are indexed in, so that comparing
// the strings compares the times.
const TimeLayout = "2006-01-02T15:04:05.000000000Z"

// FormatTime formats t for an index or a query value.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeLayout) }
