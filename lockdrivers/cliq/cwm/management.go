package cwm

import (
	"context"
	"errors"
	"time"
)

// Management is the part of CWM a driver needs beyond the public query API:
// writes, and reads of objects the query API does not show.
//
// ASSUMPTION. No public source names these operations or their types. The
// capabilities are those Genetec's "ASSA ABLOY CLIQ Plugin Guide 3.0" shows
// a third-party integration using (import persons, keys, cylinders and
// cylinder groups; hand a key to a cardholder; key validity; revalidation
// and its period; access rules pushed to CWM) and those the CWM user manual
// describes (hand in, report lost, weekly schedules, access profiles,
// remote updates, programming jobs, blacklisting). One public client (an
// Android app talking to CWM through a JSON gateway) uses the operation
// names handOutKey and updateKeyCylinderAuthorisations with keyIdentity and
// cylinderPlugIdentity; names here follow the query API's style instead
// where nothing is known.
//
// Everything behind this interface is replaced, in one change, by an
// implementation generated from ASSA ABLOY's real WSDL once available.
type Management interface {
	// CreatePerson creates a person and returns its identity.
	CreatePerson(ctx context.Context, p PersonInput) (string, error)
	// UpdatePerson replaces a person's names and external reference.
	UpdatePerson(ctx context.Context, personIdentity string, p PersonInput) error
	// HandOutKey records that a person holds a key (custody).
	HandOutKey(ctx context.Context, keyIdentity, personIdentity string) error
	// HandInKey records that a key came back to stock.
	HandInKey(ctx context.Context, keyIdentity string) error
	// ReportKeyLost marks a key lost. It does not blacklist it anywhere.
	ReportKeyLost(ctx context.Context, keyIdentity string) error
	// SetKeyValidity sets the key's validity (always, never, between).
	SetKeyValidity(ctx context.Context, keyIdentity string, v Validity) error
	// SetKeySchedule sets the key's weekly schedule; no intervals = any time.
	SetKeySchedule(ctx context.Context, keyIdentity string, s Schedule) error
	// SetKeyRevalidation turns revalidation on or off and sets its period.
	SetKeyRevalidation(ctx context.Context, keyIdentity string, r Revalidation) error
	// SetKeyAccess replaces the access (profiles, cylinders, groups) CWM
	// holds for the key. For a dynamic key CWM queues a remote update for
	// the next PD visit; for a normal key it creates a programming job per
	// cylinder whose accepted keys must change. Setting the access the key
	// already has creates nothing.
	SetKeyAccess(ctx context.Context, keyIdentity string, a KeyAccess) (AccessUpdate, error)
	// BlacklistKey creates blacklisting jobs for the key in the cylinders
	// (all cylinders the key can open when none are given). It fails with
	// KindCapacity when a cylinder's blacklist would exceed its capacity.
	BlacklistKey(ctx context.Context, keyIdentity string, cylinderIdentities []string) ([]ProgrammingJob, error)
	// UnblacklistKey creates jobs removing the key from cylinder blacklists.
	UnblacklistKey(ctx context.Context, keyIdentity string, cylinderIdentities []string) ([]ProgrammingJob, error)
	// GetKeyState returns everything CWM knows about one key.
	GetKeyState(ctx context.Context, keyIdentity string) (KeyState, error)
	// GetKeys returns one page of keys (all types, with holders); with
	// UpdatedSince only keys updated at a programming device since then.
	GetKeys(ctx context.Context, q KeyQuery) ([]KeyState, error)
	// GetCylinders returns one page of cylinders.
	GetCylinders(ctx context.Context, p Pagination) ([]Cylinder, error)
	// GetCylinderGroups returns all cylinder groups.
	GetCylinderGroups(ctx context.Context) ([]CylinderGroup, error)
	// GetAccessProfiles returns all access profiles.
	GetAccessProfiles(ctx context.Context) ([]AccessProfile, error)
	// GetProgrammingJobs returns programming jobs: of one key or all, all
	// pending ones and, unless PendingOnly, the others created or executed
	// since Since (all of them when Since is zero).
	GetProgrammingJobs(ctx context.Context, q JobQuery) ([]ProgrammingJob, error)
}

// Assumed operation names of the management service.
const (
	OpCreatePerson       = "createPerson"
	OpUpdatePerson       = "updatePerson"
	OpHandOutKey         = "handOutKey"
	OpHandInKey          = "handInKey"
	OpReportKeyLost      = "reportKeyLost"
	OpSetKeyValidity     = "setKeyValidity"
	OpSetKeySchedule     = "setKeySchedule"
	OpSetKeyRevalidation = "setKeyRevalidation"
	OpSetKeyAccess       = "setKeyAccess"
	OpBlacklistKey       = "blacklistKey"
	OpUnblacklistKey     = "unblacklistKey"
	OpGetKeyState        = "getKeyState"
	OpGetKeys            = "getKeys"
	OpGetCylinders       = "getCylinders"
	OpGetCylinderGroups  = "getCylinderGroups"
	OpGetAccessProfiles  = "getAccessProfiles"
	OpGetProgrammingJobs = "getProgrammingJobs"
)

// PersonInput is a person to create or update. ASSUMED.
type PersonInput struct {
	FirstName         string `xml:"firstName"`
	Surname           string `xml:"surname"`
	ExternalReference string `xml:"externalReference,omitempty"`
}

// Validity types (CLIQ: always valid, never valid, valid between two dates).
const (
	ValidityAlways  = "ALWAYS_VALID"
	ValidityNever   = "NEVER_VALID"
	ValidityBetween = "VALID_BETWEEN"
)

// Validity is a key's validity. ASSUMED shape. From/To only for
// ValidityBetween; either may be open.
type Validity struct {
	Type string    `xml:"type"`
	From *DateTime `xml:"from,omitempty"`
	To   *DateTime `xml:"to,omitempty"`
}

// Interval is one weekly schedule interval: Day is MONDAY..SUNDAY, From and
// To are "HH:MM" local time of the lock system, To after From.
type Interval struct {
	Day  string `xml:"day"`
	From string `xml:"from"`
	To   string `xml:"to"`
}

// Schedule is a key's weekly schedule. ASSUMED shape.
type Schedule struct {
	Intervals []Interval `xml:"interval"`
}

// Revalidation is the key's revalidation setting. ASSUMED shape.
type Revalidation struct {
	Enabled    bool `xml:"enabled"`
	PeriodDays int  `xml:"periodDays"`
}

// KeyAccess is the access CWM holds for a key. ASSUMED shape.
type KeyAccess struct {
	AccessProfiles []string `xml:"accessProfileIdentity"`
	Cylinders      []string `xml:"cylinderIdentity"`
	CylinderGroups []string `xml:"cylinderGroupIdentity"`
}

// KeyQuery selects keys for GetKeys.
type KeyQuery struct {
	Pagination   Pagination
	UpdatedSince time.Time
}

// JobQuery selects programming jobs for GetProgrammingJobs.
type JobQuery struct {
	KeyIdentity string
	Since       time.Time
	PendingOnly bool
}

// AccessUpdate is what CWM did with a SetKeyAccess. ASSUMED shape.
type AccessUpdate struct {
	// RemoteUpdatePending is true when a dynamic key now waits for an
	// update at a remote PD or through CLIQ Connect.
	RemoteUpdatePending bool `xml:"remoteUpdatePending"`
	// Jobs are the programming jobs created or still pending for this key's
	// change (normal keys).
	Jobs []ProgrammingJob `xml:"programmingJob"`
}

// Programming job actions and states. ASSUMED values.
const (
	JobAddKey         = "ADD_KEY"
	JobRemoveKey      = "REMOVE_KEY"
	JobBlacklistKey   = "BLACKLIST_KEY"
	JobUnblacklistKey = "UNBLACKLIST_KEY"

	JobPending   = "PENDING"
	JobDone      = "DONE"
	JobCancelled = "CANCELLED"
)

// ProgrammingJob is a change a programming key carries to a cylinder.
type ProgrammingJob struct {
	Identity         string    `xml:"identity"`
	CylinderIdentity string    `xml:"cylinderIdentity"`
	CylinderMarking  string    `xml:"cylinderMarking,omitempty"`
	KeyIdentity      string    `xml:"keyIdentity"`
	Action           string    `xml:"action"`
	State            string    `xml:"state"`
	Created          *DateTime `xml:"created,omitempty"`
	Executed         *DateTime `xml:"executed,omitempty"`
	Reason           string    `xml:"reason,omitempty"`
}

// KeyState is everything CWM holds about one key. ASSUMED shape.
type KeyState struct {
	Key
	PersonIdentity    string       `xml:"personIdentity,omitempty"`
	OperationalStatus string       `xml:"operationalStatus"`
	Validity          Validity     `xml:"validity"`
	Schedule          Schedule     `xml:"schedule"`
	Revalidation      Revalidation `xml:"revalidation"`
	Access            KeyAccess    `xml:"access"`
	// ProgrammedValidity and ProgrammedCylinders are what the key itself
	// carries since its last update (dynamic keys: the expanded cylinder
	// list; normal keys: none).
	ProgrammedValidity  Validity  `xml:"programmedValidity"`
	ProgrammedCylinders []string  `xml:"programmedCylinderIdentity"`
	LastValidation      *DateTime `xml:"lastValidation,omitempty"`
	LastRemoteUpdate    *DateTime `xml:"lastRemoteUpdate,omitempty"`
	PendingUpdate       bool      `xml:"pendingRemoteUpdate"`
	// AuthorisedCylinders are the cylinders that accept this normal key
	// (programmed into the cylinder). Only getKeyState fills it; getKeys
	// leaves it out to keep inventory pages small.
	AuthorisedCylinders []string `xml:"authorisedCylinderIdentity"`
	// BlacklistedIn are the cylinders whose blacklist holds the key.
	BlacklistedIn []string `xml:"blacklistedInCylinderIdentity"`
}

// Dynamic reports whether the key carries its own access list.
func (k KeyState) Dynamic() bool { return k.Type == KeyTypeDynamic || k.Type == KeyTypeConnect }

// Cylinder is a cylinder record. Public code shows identity, name, marking,
// plannedLocation, model, deleted and importDate; groups, domain and the
// blacklist figures are ASSUMED.
type Cylinder struct {
	Identity        string   `xml:"identity"`
	Name            string   `xml:"name"`
	Marking         string   `xml:"marking"`
	PlannedLocation string   `xml:"plannedLocation,omitempty"`
	Model           string   `xml:"model,omitempty"`
	Domain          string   `xml:"domain,omitempty"`
	Groups          []string `xml:"cylinderGroupIdentity"`
	BlacklistSize   int      `xml:"blacklistSize"`
	PendingJobs     int      `xml:"pendingJobs"`
	Deleted         bool     `xml:"deleted"`
}

// CylinderGroup is a named set of cylinders that costs one slot on a key.
type CylinderGroup struct {
	Identity  string   `xml:"identity"`
	Name      string   `xml:"name"`
	Cylinders []string `xml:"cylinderIdentity"`
	Deleted   bool     `xml:"deleted"`
}

// AccessProfile is a named access list (cylinders and groups).
type AccessProfile struct {
	Identity       string   `xml:"identity"`
	Name           string   `xml:"name"`
	Cylinders      []string `xml:"cylinderIdentity"`
	CylinderGroups []string `xml:"cylinderGroupIdentity"`
	Deleted        bool     `xml:"deleted"`
}

// Request and response bodies of the assumed management service.

// KeyRef is a request naming one key.
type KeyRef struct {
	KeyIdentity string `xml:"keyIdentity"`
}

// Requests of the assumed service.
type (
	CreatePersonRequest struct {
		Person PersonInput `xml:"person"`
	}
	UpdatePersonRequest struct {
		PersonIdentity string      `xml:"personIdentity"`
		Person         PersonInput `xml:"person"`
	}
	HandOutKeyRequest struct {
		KeyIdentity    string `xml:"keyIdentity"`
		PersonIdentity string `xml:"personIdentity"`
	}
	SetKeyValidityRequest struct {
		KeyIdentity string   `xml:"keyIdentity"`
		Validity    Validity `xml:"validity"`
	}
	SetKeyScheduleRequest struct {
		KeyIdentity string   `xml:"keyIdentity"`
		Schedule    Schedule `xml:"schedule"`
	}
	SetKeyRevalidationRequest struct {
		KeyIdentity  string       `xml:"keyIdentity"`
		Revalidation Revalidation `xml:"revalidation"`
	}
	SetKeyAccessRequest struct {
		KeyIdentity string    `xml:"keyIdentity"`
		Access      KeyAccess `xml:"access"`
	}
	BlacklistRequest struct {
		KeyIdentity        string   `xml:"keyIdentity"`
		CylinderIdentities []string `xml:"cylinderIdentity"`
	}
	PageRequest struct {
		Pagination Pagination `xml:"pagination"`
	}
	KeysRequest struct {
		Pagination   Pagination `xml:"pagination"`
		UpdatedSince *DateTime  `xml:"updatedSince,omitempty"`
	}
	JobsRequest struct {
		KeyIdentity string    `xml:"keyIdentity,omitempty"`
		Since       *DateTime `xml:"since,omitempty"`
		PendingOnly bool      `xml:"pendingOnly,omitempty"`
	}
)

// Responses of the assumed service.
type (
	CreatePersonResponse struct {
		PersonIdentity string `xml:"personIdentity"`
	}
	SetKeyAccessResponse struct {
		Update AccessUpdate `xml:"accessUpdate"`
	}
	JobsResponse struct {
		Jobs []ProgrammingJob `xml:"programmingJob"`
	}
	KeyStateResponse struct {
		Key *KeyState `xml:"key"`
	}
	KeysResponse struct {
		Keys []KeyState `xml:"key"`
	}
	CylindersResponse struct {
		Cylinders []Cylinder `xml:"cylinder"`
	}
	CylinderGroupsResponse struct {
		Groups []CylinderGroup `xml:"cylinderGroup"`
	}
	AccessProfilesResponse struct {
		Profiles []AccessProfile `xml:"accessProfile"`
	}
)

// AssumedManagement is the SOAP implementation of Management against the
// ASSUMED service at AssumedManagementPath in namespace
// NSAssumedManagement, sharing the client's TLS identity.
type AssumedManagement struct{ c *Client }

var _ Management = AssumedManagement{}

// Management returns the client's (assumed) management service.
func (c *Client) Management() AssumedManagement { return AssumedManagement{c: c} }

func (m AssumedManagement) call(ctx context.Context, op string, body, out any) error {
	return m.c.call(ctx, m.c.managementURL, "m", NSAssumedManagement, op, body, out)
}

func needKey(op, id string) error {
	if id == "" {
		return &Error{Op: op, Kind: KindInvalid, Err: errors.New("empty key identity")}
	}
	return nil
}

// CreatePerson implements Management.
func (m AssumedManagement) CreatePerson(ctx context.Context, p PersonInput) (string, error) {
	var r CreatePersonResponse
	if err := m.call(ctx, OpCreatePerson, CreatePersonRequest{Person: p}, &r); err != nil {
		return "", err
	}
	if r.PersonIdentity == "" {
		return "", &Error{Op: OpCreatePerson, Kind: KindMalformed, Err: errors.New("no personIdentity in response")}
	}
	return r.PersonIdentity, nil
}

// UpdatePerson implements Management.
func (m AssumedManagement) UpdatePerson(ctx context.Context, id string, p PersonInput) error {
	return m.call(ctx, OpUpdatePerson, UpdatePersonRequest{PersonIdentity: id, Person: p}, nil)
}

// HandOutKey implements Management.
func (m AssumedManagement) HandOutKey(ctx context.Context, keyID, personID string) error {
	if err := needKey(OpHandOutKey, keyID); err != nil {
		return err
	}
	return m.call(ctx, OpHandOutKey, HandOutKeyRequest{KeyIdentity: keyID, PersonIdentity: personID}, nil)
}

// HandInKey implements Management.
func (m AssumedManagement) HandInKey(ctx context.Context, keyID string) error {
	if err := needKey(OpHandInKey, keyID); err != nil {
		return err
	}
	return m.call(ctx, OpHandInKey, KeyRef{KeyIdentity: keyID}, nil)
}

// ReportKeyLost implements Management.
func (m AssumedManagement) ReportKeyLost(ctx context.Context, keyID string) error {
	if err := needKey(OpReportKeyLost, keyID); err != nil {
		return err
	}
	return m.call(ctx, OpReportKeyLost, KeyRef{KeyIdentity: keyID}, nil)
}

// SetKeyValidity implements Management.
func (m AssumedManagement) SetKeyValidity(ctx context.Context, keyID string, v Validity) error {
	if err := needKey(OpSetKeyValidity, keyID); err != nil {
		return err
	}
	return m.call(ctx, OpSetKeyValidity, SetKeyValidityRequest{KeyIdentity: keyID, Validity: v}, nil)
}

// SetKeySchedule implements Management.
func (m AssumedManagement) SetKeySchedule(ctx context.Context, keyID string, s Schedule) error {
	if err := needKey(OpSetKeySchedule, keyID); err != nil {
		return err
	}
	return m.call(ctx, OpSetKeySchedule, SetKeyScheduleRequest{KeyIdentity: keyID, Schedule: s}, nil)
}

// SetKeyRevalidation implements Management.
func (m AssumedManagement) SetKeyRevalidation(ctx context.Context, keyID string, r Revalidation) error {
	if err := needKey(OpSetKeyRevalidation, keyID); err != nil {
		return err
	}
	return m.call(ctx, OpSetKeyRevalidation, SetKeyRevalidationRequest{KeyIdentity: keyID, Revalidation: r}, nil)
}

// SetKeyAccess implements Management.
func (m AssumedManagement) SetKeyAccess(ctx context.Context, keyID string, a KeyAccess) (AccessUpdate, error) {
	if err := needKey(OpSetKeyAccess, keyID); err != nil {
		return AccessUpdate{}, err
	}
	var r SetKeyAccessResponse
	err := m.call(ctx, OpSetKeyAccess, SetKeyAccessRequest{KeyIdentity: keyID, Access: a}, &r)
	return r.Update, err
}

// BlacklistKey implements Management.
func (m AssumedManagement) BlacklistKey(ctx context.Context, keyID string, cyl []string) ([]ProgrammingJob, error) {
	if err := needKey(OpBlacklistKey, keyID); err != nil {
		return nil, err
	}
	var r JobsResponse
	err := m.call(ctx, OpBlacklistKey, BlacklistRequest{KeyIdentity: keyID, CylinderIdentities: cyl}, &r)
	return r.Jobs, err
}

// UnblacklistKey implements Management.
func (m AssumedManagement) UnblacklistKey(ctx context.Context, keyID string, cyl []string) ([]ProgrammingJob, error) {
	if err := needKey(OpUnblacklistKey, keyID); err != nil {
		return nil, err
	}
	var r JobsResponse
	err := m.call(ctx, OpUnblacklistKey, BlacklistRequest{KeyIdentity: keyID, CylinderIdentities: cyl}, &r)
	return r.Jobs, err
}

// GetKeyState implements Management.
func (m AssumedManagement) GetKeyState(ctx context.Context, keyID string) (KeyState, error) {
	if err := needKey(OpGetKeyState, keyID); err != nil {
		return KeyState{}, err
	}
	var r KeyStateResponse
	if err := m.call(ctx, OpGetKeyState, KeyRef{KeyIdentity: keyID}, &r); err != nil {
		return KeyState{}, err
	}
	if r.Key == nil {
		return KeyState{}, &Error{Op: OpGetKeyState, Kind: KindMalformed, Err: errors.New("no key in response")}
	}
	return *r.Key, nil
}

// GetKeys implements Management.
func (m AssumedManagement) GetKeys(ctx context.Context, q KeyQuery) ([]KeyState, error) {
	var r KeysResponse
	err := m.call(ctx, OpGetKeys, KeysRequest{Pagination: q.Pagination, UpdatedSince: NewDateTime(q.UpdatedSince)}, &r)
	return r.Keys, err
}

// GetCylinders implements Management.
func (m AssumedManagement) GetCylinders(ctx context.Context, p Pagination) ([]Cylinder, error) {
	var r CylindersResponse
	err := m.call(ctx, OpGetCylinders, PageRequest{Pagination: p}, &r)
	return r.Cylinders, err
}

// GetCylinderGroups implements Management.
func (m AssumedManagement) GetCylinderGroups(ctx context.Context) ([]CylinderGroup, error) {
	var r CylinderGroupsResponse
	err := m.call(ctx, OpGetCylinderGroups, nil, &r)
	return r.Groups, err
}

// GetAccessProfiles implements Management.
func (m AssumedManagement) GetAccessProfiles(ctx context.Context) ([]AccessProfile, error) {
	var r AccessProfilesResponse
	err := m.call(ctx, OpGetAccessProfiles, nil, &r)
	return r.Profiles, err
}

// GetProgrammingJobs implements Management.
func (m AssumedManagement) GetProgrammingJobs(ctx context.Context, q JobQuery) ([]ProgrammingJob, error) {
	var r JobsResponse
	err := m.call(ctx, OpGetProgrammingJobs, JobsRequest{KeyIdentity: q.KeyIdentity, Since: NewDateTime(q.Since),
		PendingOnly: q.PendingOnly}, &r)
	return r.Jobs, err
}
