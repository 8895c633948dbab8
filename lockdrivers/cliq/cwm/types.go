package cwm

// Records of the query API v2. Element names marked "seen" appear in public
// code that parses responses of a real CWM; the others are ASSUMED and
// absent from real responses until confirmed (the client tolerates both).

// Person is a person record of getPersonsResponse.
type Person struct {
	Identity  string `xml:"identity"`  // seen
	FirstName string `xml:"firstName"` // seen
	Surname   string `xml:"surname"`   // seen
	// ExternalReference is the correlation value (employee number) an
	// integration writes. ASSUMED element name.
	ExternalReference string `xml:"externalReference,omitempty"`
	Deleted           bool   `xml:"deleted"` // seen, "true"/"false"
}

// Key is a key record of getKeysForPersonResponse.
type Key struct {
	Identity string `xml:"identity"` // seen (a UUID)
	Type     string `xml:"type"`     // seen; "TEMPORARY_KEY" seen, other values ASSUMED (see KeyType*)
	Name     string `xml:"name"`     // seen
	Marking  string `xml:"marking"`  // seen (engraved marking, e.g. "DK/4")
	Deleted  bool   `xml:"deleted"`  // seen
}

// Key types. Only TEMPORARY_KEY appears in public code; the others are
// ASSUMED names for the key kinds CWM documentation describes.
const (
	KeyTypeNormal      = "NORMAL_KEY"      // access only in cylinders
	KeyTypeDynamic     = "DYNAMIC_KEY"     // access list on the key, updated at a remote PD
	KeyTypeConnect     = "CONNECT_KEY"     // dynamic, updated through the CLIQ Connect app
	KeyTypeTemporary   = "TEMPORARY_KEY"   // seen
	KeyTypeProgramming = "PROGRAMMING_KEY" // C-key used by administrators
)

// KeyDetails is the keyDetails record of getKeyDetailsResponse.
type KeyDetails struct {
	Identity          string    `xml:"identity,omitempty"`  // ASSUMED
	OperationalStatus string    `xml:"operationalStatus"`   // seen; values ASSUMED (see Status*)
	LastRemoteUpdate  *DateTime `xml:"lastRemoteUpdate"`    // seen: last update at a remote PD / CLIQ Connect
	LastValidation    *DateTime `xml:"lastValidation"`      // ASSUMED
	RevalidationDays  int       `xml:"revalidationDays"`    // ASSUMED; 0 = revalidation off
	PendingUpdate     bool      `xml:"pendingRemoteUpdate"` // ASSUMED
}

// Operational status values. ASSUMED: the field is seen, its values are not.
const (
	StatusInStock   = "IN_STOCK"
	StatusHandedOut = "HANDED_OUT"
	StatusLost      = "LOST"
	StatusBroken    = "BROKEN"
)

// AuditTrail is an auditTrails record of getAuditTrailsResponse. The record
// element is seen; its children are ASSUMED.
type AuditTrail struct {
	Identity         string    `xml:"identity"`
	EventType        string    `xml:"eventType"`
	EventDate        *DateTime `xml:"eventDate"`
	ImportDate       *DateTime `xml:"importDate"`
	KeyIdentity      string    `xml:"keyIdentity,omitempty"`
	KeyMarking       string    `xml:"keyMarking,omitempty"`
	CylinderIdentity string    `xml:"cylinderIdentity,omitempty"`
	CylinderMarking  string    `xml:"cylinderMarking,omitempty"`
	PersonIdentity   string    `xml:"personIdentity,omitempty"`
	// Source says where CWM got the event from: "KEY" (uploaded at a PD)
	// or "CYLINDER" (collected by a programming key). The same opening can
	// arrive once from each.
	Source string `xml:"source,omitempty"`
}

// Audit event types. ASSUMED values.
const (
	EventAccessGranted = "ACCESS_GRANTED"
	EventAccessDenied  = "ACCESS_DENIED"
	EventBlacklisted   = "ACCESS_DENIED_BLACKLISTED"
	EventKeyExpired    = "ACCESS_DENIED_EXPIRED"
	EventOutOfSchedule = "ACCESS_DENIED_SCHEDULE"
)

// Request bodies of the query API v2 (children unqualified, as seen).

// GetKeysForPersonRequest is the body of getKeysForPerson.
type GetKeysForPersonRequest struct {
	PersonIdentity string `xml:"personIdentity"`
}

// GetKeyDetailsRequest is the body of getKeyDetails.
type GetKeyDetailsRequest struct {
	KeyIdentity string `xml:"keyIdentity"`
}

// DateInterval is an importDateInterval: from is required, to optional.
type DateInterval struct {
	From *DateTime `xml:"from"`
	To   *DateTime `xml:"to,omitempty"`
}

// Pagination is the seen offset/limit pagination element.
type Pagination struct {
	FirstResult int `xml:"firstResult"`
	MaxResults  int `xml:"maxResults"`
}

// GetAuditTrailsRequest is the body of getAuditTrails.
type GetAuditTrailsRequest struct {
	ImportDateInterval DateInterval `xml:"importDateInterval"`
	Pagination         *Pagination  `xml:"pagination,omitempty"`
}

// Response bodies of the query API v2.

// GetPersonsResponse is getPersonsResponse.
type GetPersonsResponse struct {
	Persons []Person `xml:"person"`
}

// GetKeysForPersonResponse is getKeysForPersonResponse; it has no key
// element at all when the person holds none (as seen).
type GetKeysForPersonResponse struct {
	Keys []Key `xml:"key"`
}

// GetKeyDetailsResponse is getKeyDetailsResponse.
type GetKeyDetailsResponse struct {
	KeyDetails *KeyDetails `xml:"keyDetails"`
}

// GetAuditTrailsResponse is getAuditTrailsResponse.
type GetAuditTrailsResponse struct {
	AuditTrails []AuditTrail `xml:"auditTrails"`
}
