package iloqapi

import "encoding/json"

// ErrorBody is the ASP.NET-style error answer: {"Message": "…"}.
type ErrorBody struct {
	Message string `json:"Message"`
}

// GetURLParam is the body of POST Url/GetUrl.
type GetURLParam struct {
	CustomerCode string `json:"CustomerCode"`
}

// CreateSessionParam is the body of POST CreateSession.
type CreateSessionParam struct {
	CustomerCode string `json:"CustomerCode"`
	UserName     string `json:"UserName"`
	Password     string `json:"Password"`
	APIKey       string `json:"ApiKey"`
	APISecret    string `json:"ApiSecret"`
}

// CreateSessionResult answers CreateSession; Result is a CreateSessionResultType.
type CreateSessionResult struct {
	Result    int    `json:"Result"`
	SessionID string `json:"SessionID"`
}

// LockGroup is one locking system the user may log in to.
type LockGroup struct {
	LockGroupID          string `json:"LockGroup_ID"`
	Name                 string `json:"Name"`
	Description          string `json:"Description"`
	OptionMask           int64  `json:"OptionMask"`
	TimeZoneStandardName string `json:"TimeZoneStandardName"`
	State                int    `json:"State"`
}

// SetLockgroupParam is the body of POST SetLockgroup.
type SetLockgroupParam struct {
	LockGroupID string `json:"LockGroup_ID"`
}

// SetLockgroupResult carries the user's rights in the locking system.
type SetLockgroupResult struct {
	RightsMask int64 `json:"RightsMask"`
}

// Person is a key holder.
type Person struct {
	PersonID          string   `json:"Person_ID"`
	FirstName         string   `json:"FirstName"`
	LastName          string   `json:"LastName"`
	PersonCode        string   `json:"PersonCode"`
	ExternalPersonID  string   `json:"ExternalPersonId"`
	EMail             string   `json:"eMail"`
	Phone1            string   `json:"Phone1"`
	Address           string   `json:"Address"`
	CompanyName       string   `json:"CompanyName"`
	WorkTitle         string   `json:"WorkTitle"`
	Description       string   `json:"Description"`
	LanguageCode      string   `json:"LanguageCode"`
	EmploymentEndDate *UTCTime `json:"EmploymentEndDate"`
	ExternalCanEdit   bool     `json:"ExternalCanEdit"`
	State             int      `json:"State"`
}

// InsertPersonParam is the body of POST Persons.
type InsertPersonParam struct {
	Person  Person   `json:"Person"`
	ZoneIDs []string `json:"ZoneIds"`
}

// InsertPersonResult answers POST Persons.
type InsertPersonResult struct {
	PersonIDs []string `json:"PersonIds"`
}

// UpdatePersonParam is the body of PUT Persons.
type UpdatePersonParam struct {
	Person Person `json:"Person"`
}

// Key is a credential: physical key, fob, phone key or RFID tag.
type Key struct {
	FNKeyID          string   `json:"FNKey_ID"`
	Description      string   `json:"Description"`
	InfoText         string   `json:"InfoText"`
	PersonID         string   `json:"Person_ID"`
	RealEstateID     string   `json:"RealEstate_ID"`
	ExpireDate       *UTCTime `json:"ExpireDate"`
	KeyTypeMask      int      `json:"KeyTypeMask"`
	ROMID            string   `json:"ROM_ID"`
	Stamp            string   `json:"Stamp"`
	StampSource      int      `json:"StampSource"`
	TagKey           string   `json:"TagKey"`
	TagKeyHex        string   `json:"TagKeyHex"`
	TagKeySource     int      `json:"TagKeySource"`
	VersionCode      string   `json:"VersionCode"`
	State            int      `json:"State"`
	ProgrammingState int      `json:"ProgrammingState"`
	IsProgrammed     bool     `json:"IsProgrammed"`
}

// GetKeysByPersonResult answers GET Persons/{id}/Keys.
type GetKeysByPersonResult struct {
	Keys []Key `json:"Keys"`
}

// KeyTimeLimitData is one weekly-clock entry of a time profile.
type KeyTimeLimitData struct {
	WeekDayMask int   `json:"WeekDayMask"`
	StartTimeMS int64 `json:"StartTimeMS"`
	EndTimeMS   int64 `json:"EndTimeMS"`
}

// KeyTimeLimitSlot is one time-limit memory slot use of a key: start date
// (SlotNo 0), end date (SlotNo 1) or a time profile (SlotNo 2).
type KeyTimeLimitSlot struct {
	SlotNo                    int                `json:"SlotNo"`
	LimitDateLg               *LocalTime         `json:"LimitDateLg"`
	TimeLimitTitleID          string             `json:"TimeLimitTitle_ID,omitempty"`
	TimeLimitTitleStartDateLg *LocalTime         `json:"TimeLimitTitleStartDateLg,omitempty"`
	TimeLimitTitleEndDateLg   *LocalTime         `json:"TimeLimitTitleEndDateLg,omitempty"`
	TimeLimitData             []KeyTimeLimitData `json:"TimeLimitData"`
	TimeZoneID                string             `json:"TimeZone_ID,omitempty"`
}

// KeyScheduler renews a key's end date automatically.
type KeyScheduler struct {
	RenewEndDate  *UTCTime `json:"RenewEndDate"`
	RenewGapCount int      `json:"RenewGapCount"`
	RenewGapType  int      `json:"RenewGapType"`
	RenewMinute   int      `json:"RenewMinute"`
}

// InsertKeyParam is the body of POST Keys.
type InsertKeyParam struct {
	Key                      Key                `json:"Key"`
	SecurityAccessIDs        []string           `json:"SecurityAccessIds"`
	TimeLimitSlots           []KeyTimeLimitSlot `json:"TimeLimitSlots"`
	ZoneIDs                  []string           `json:"ZoneIds"`
	KeyScheduler             *KeyScheduler      `json:"KeyScheduler"`
	OfflineExpirationSeconds int64              `json:"OfflineExpirationSeconds"`
}

// UpdateKeyParam is the body of PUT Keys.
type UpdateKeyParam struct {
	Key Key `json:"Key"`
}

// UpdateKeySecurityAccessesParam is the body of PUT Keys/{id}/SecurityAccesses.
// It replaces the key's complete set: omitted accesses and slots are deleted.
type UpdateKeySecurityAccessesParam struct {
	SecurityAccessIDs                  []string           `json:"SecurityAccessIds"`
	TimeLimitSlots                     []KeyTimeLimitSlot `json:"TimeLimitSlots"`
	OutsideUserZoneTimeLimitTitleSlots []int              `json:"OutsideUserZoneTimeLimitTitleSlots"`
	KeyScheduler                       *KeyScheduler      `json:"KeyScheduler"`
	OfflineExpirationSeconds           int64              `json:"OfflineExpirationSeconds"`
}

// GetKeySecurityAccessesResult answers GET Keys/{id}/SecurityAccesses.
type GetKeySecurityAccessesResult struct {
	SecurityAccesses      []SecurityAccess `json:"SecurityAccesses"`
	OutsideUserZonesCount int              `json:"OutsideUserZonesCount"`
}

// GetTimeLimitsResult answers GET Keys/{id}/TimeLimitTitles.
type GetTimeLimitsResult struct {
	KeyScheduler                       *KeyScheduler      `json:"KeyScheduler"`
	KeyTimeLimitSlots                  []KeyTimeLimitSlot `json:"KeyTimeLimitSlots"`
	OfflineExpirationSeconds           int64              `json:"OfflineExpirationSeconds"`
	OutsideUserZoneTimeLimitTitleSlots []int              `json:"OutsideUserZoneTimeLimitTitleSlots"`
}

// AddSecurityAccessParam is the body of POST Keys/{id}/SecurityAccesses.
type AddSecurityAccessParam struct {
	SecurityAccessID string `json:"SecurityAccess_ID"`
}

// InsertKeyTimeLimitSlotParam is the body of POST Keys/{id}/TimeLimitTitles
// and of its CanAdd check.
type InsertKeyTimeLimitSlotParam struct {
	TimeLimitSlot KeyTimeLimitSlot `json:"TimeLimitSlot"`
}

// KeyPhone is the phone registration of a phone key (PUT KeyPhones).
type KeyPhone struct {
	FNKeyID    string `json:"FNKey_ID"`
	PhoneNo    string `json:"PhoneNo"`
	Email      string `json:"Email"`
	OptionMask int    `json:"OptionMask"`
}

// UpdateKeyMainZoneParam is the body of PUT Keys/{id}/UpdateMainZone.
type UpdateKeyMainZoneParam struct {
	ZoneID string `json:"Zone_ID"`
}

// GetZonesResult answers GET Keys/{id}/Zones.
type GetZonesResult struct {
	MainZone             string   `json:"MainZone"`
	ZoneIDs              []string `json:"ZoneIds"`
	OutsideUserZoneCount int      `json:"OutsideUserZoneCount"`
}

// SecurityAccess is an access right.
type SecurityAccess struct {
	SecurityAccessID       string `json:"SecurityAccess_ID"`
	Name                   string `json:"Name"`
	Description            string `json:"Description"`
	Type                   int    `json:"Type"`
	Status                 int    `json:"Status"`
	RealEstateID           string `json:"RealEstate_ID"`
	ZoneID                 string `json:"Zone_ID"`
	DefaultAccess          int    `json:"DefaultAccess"`
	AccessMode             int    `json:"AccessMode"`
	Ext                    int    `json:"Ext"`
	ExtDescription         string `json:"ExtDescription"`
	VersionNr              *int   `json:"VersionNr"`
	ParentSecurityAccessID string `json:"ParentSecurityAccess_ID"`
}

// InsertSecurityAccessParam is the body of POST SecurityAccesses.
type InsertSecurityAccessParam struct {
	SecurityAccess SecurityAccess `json:"SecurityAccess"`
}

// InsertSecurityAccessResult answers POST SecurityAccesses.
type InsertSecurityAccessResult struct {
	SecurityAccess SecurityAccess `json:"SecurityAccess"`
}

// Lock is a cylinder, door or padlock.
type Lock struct {
	FLockID        string `json:"FLock_ID"`
	Description    string `json:"Description"`
	LockCode       string `json:"LockCode"`
	LocationCode   string `json:"LocationCode"`
	LockingObject  string `json:"LockingObject"`
	SerialNumber   int    `json:"SerialNumber"`
	LockType       int    `json:"LockType"`
	PhysicalState  int    `json:"PhysicalState"`
	RealEstateID   string `json:"RealEstate_Id"`
	ZoneID         string `json:"Zone_ID"`
	SwVersion      int    `json:"SwVersion"`
	HwVersion      int    `json:"HwVersion"`
	DataVersion    int    `json:"DataVersion"`
	ClockInstalled bool   `json:"ClockInstalled"`
}

// GetLockSecurityAccessesResult answers GET Locks/{id}/SecurityAccesses.
type GetLockSecurityAccessesResult struct {
	SecurityAccesses      []SecurityAccess `json:"SecurityAccesses"`
	OutsideUserZonesCount int              `json:"OutsideUserZonesCount"`
}

// Zone is an administrative zone.
type Zone struct {
	ZoneID      string `json:"Zone_ID"`
	Name        string `json:"Name"`
	Description string `json:"Description"`
	Type        int    `json:"Type"`
	TimeZoneID  string `json:"TimeZone_ID"`
}

// RealEstate is a site in the locking system.
type RealEstate struct {
	RealEstateID       string `json:"RealEstate_ID"`
	Name               string `json:"Name"`
	ParentRealEstateID string `json:"ParentRealEstate_ID"`
}

// TimeLimitTitle is a preconfigured time profile.
type TimeLimitTitle struct {
	TimeLimitTitleID string     `json:"TimeLimitTitle_ID"`
	Name             string     `json:"Name"`
	Description      string     `json:"Description"`
	OptionMask       int        `json:"OptionMask"`
	RealEstateID     string     `json:"RealEstate_ID"`
	ZoneID           string     `json:"Zone_ID"`
	StartDateLg      *LocalTime `json:"StartDateLg"`
	EndDateLg        *LocalTime `json:"EndDateLg"`
}

// TimeLimitData is the weekly clock of a time limit title, written as
// "H:mm" strings.
type TimeLimitData struct {
	TimeLimitDataID  string `json:"TimeLimitData_ID"`
	TimeLimitTitleID string `json:"TimeLimitTitle_ID"`
	WeekDayMask      int    `json:"WeekDayMask"`
	StartTime        string `json:"StartTime"`
	EndTime          string `json:"EndTime"`
}

// InsertTimeLimitTitlesParam is the body of POST TimeLimitTitles.
type InsertTimeLimitTitlesParam struct {
	TimeLimitTitle TimeLimitTitle  `json:"TimeLimitTitle"`
	TimeLimitData  []TimeLimitData `json:"TimeLimitData"`
}

// BlackList is one blocklist item.
type BlackList struct {
	FNKeyID          string  `json:"FNKey_ID"`
	BlackListDateUtc UTCTime `json:"BlackListDateUtc"`
	BlacklistVersion string  `json:"BlacklistVersion"`
	ChangeType       int     `json:"ChangeType"`
	KeyStamp         string  `json:"KeyStamp"`
	KeyTypeMask      int     `json:"KeyTypeMask"`
	Name             string  `json:"Name"`
	PersonName       string  `json:"PersonName"`
}

// BlacklistPacket describes the blocklist packet last built.
type BlacklistPacket struct {
	BlacklistPacketID string `json:"BlacklistPacket_ID"`
	HardDataVersion   int    `json:"HardDataVersion"`
	SoftDataVersion   int    `json:"SoftDataVersion"`
	State             int    `json:"State"`
}

// GetS40BlacklistResult answers GET Blacklists.
type GetS40BlacklistResult struct {
	BlacklistItems          []BlackList      `json:"BlacklistItems"`
	BlacklistPacket         *BlacklistPacket `json:"BlacklistPacket"`
	OutsideUserZoneKeyCount int              `json:"OutsideUserZoneKeyCount"`
}

// GetLockLogDataParam is the body of POST LockLogs/GetLockLogDataByTimestamp:
// [StartDateUtc, EndDateUtc).
type GetLockLogDataParam struct {
	StartDateUtc *UTCTime `json:"StartDateUtc"`
	EndDateUtc   *UTCTime `json:"EndDateUtc"`
}

// GetLockLogDataResult answers the lock-log data queries. TotalCount is
// documented only for POST LockLogs; the simulator adds it here too (see the
// driver README, assumption A7).
type GetLockLogDataResult struct {
	StartDateUtc *UTCTime      `json:"StartDateUtc"`
	EndDateUtc   *UTCTime      `json:"EndDateUtc"`
	LockLogs     []LockLogData `json:"LockLogs"`
	TotalCount   int           `json:"TotalCount"`
}

// LockLogData is one audit-trail row.
type LockLogData struct {
	DeviceLogID      string  `json:"DeviceLog_ID"`
	AccessTypeMask   int     `json:"AccessTypeMask"`
	ErrorCode        int     `json:"ErrorCode"`
	ErrorDescription string  `json:"ErrorDescription"`
	FLockID          string  `json:"FLock_ID"`
	FNKeyID          string  `json:"FNKey_ID"`
	GoingCounter     int     `json:"GoingCounter"`
	GoingDate        UTCTime `json:"GoingDate"`
	KeyID            int     `json:"KeyId"`
	LocationCode     string  `json:"LocationCode"`
	LockGroupID      string  `json:"LockGroup_ID"`
	LockingObject    string  `json:"LockingObject"`
	ReadingDate      UTCTime `json:"ReadingDate"`
	TimestampUtc     UTCTime `json:"TimestampUtc"`
}

// GetLockLogsParam is the body of POST LockLogs.
type GetLockLogsParam struct {
	FLockIDs          []string `json:"FLockIds"`
	FNKeyIDs          []string `json:"FNKeyIds"`
	GoingStartDateUtc *UTCTime `json:"GoingStartDateUtc"`
	GoingEndDateUtc   *UTCTime `json:"GoingEndDateUtc"`
	TypeMask          int      `json:"TypeMask"`
}

// DeviceLogFLock is the lock part of a device log.
type DeviceLogFLock struct {
	FlockID       string `json:"FlockId"`
	LockType      int    `json:"LockType"`
	LocationCode  string `json:"LocationCode"`
	LockingObject string `json:"LockingObject"`
	GoingCounter  int    `json:"GoingCounter"`
}

// DeviceLogFNKey is the key part of a device log.
type DeviceLogFNKey struct {
	FNKeyID      string `json:"FNKeyId"`
	Description  string `json:"Description"`
	KeyTypeMask  int    `json:"KeyTypeMask"`
	KeyID        int    `json:"KeyId"`
	Stamp        string `json:"Stamp"`
	PersonName   string `json:"PersonName"`
	GoingCounter int    `json:"GoingCounter"`
	OptionMask   int    `json:"OptionMask"`
}

// DeviceLogData is one row of POST LockLogs.
type DeviceLogData struct {
	DeviceLogID      string          `json:"DeviceLog_ID"`
	GoingDateUtc     UTCTime         `json:"GoingDateUtc"`
	TypeMask         int             `json:"TypeMask"`
	ErrCode          int             `json:"ErrCode"`
	ErrorDescription string          `json:"ErrorDescription"`
	FLock            *DeviceLogFLock `json:"FLock"`
	FNKey            *DeviceLogFNKey `json:"FNKey"`
}

// GetLockLogsResult answers POST LockLogs: at most 2000 rows, TotalCount
// says how many matched.
type GetLockLogsResult struct {
	LockLogs   []DeviceLogData `json:"LockLogs"`
	TotalCount int             `json:"TotalCount"`
}

// WebhookEvent is one subscribable event.
type WebhookEvent struct {
	ID          string `json:"Id"`
	Name        string `json:"Name"`
	DisplayName string `json:"DisplayName"`
	Description string `json:"Description"`
}

// Subscription is a webhook subscription. The integrator generates
// SubscriptionId; the server generates SignKey.
type Subscription struct {
	SubscriptionID    string   `json:"SubscriptionId"`
	WebhookEventID    string   `json:"WebhookEventId"`
	TargetEndpointURI string   `json:"TargetEndpointUri"`
	StartDateUtc      *UTCTime `json:"StartDateUtc"`
	EndDateUtc        *UTCTime `json:"EndDateUtc"`
	CustomHeader      string   `json:"CustomHeader"`
	JSONPathFilter    string   `json:"JsonPathFilter"`
	SignKey           string   `json:"SignKey,omitempty"`
	Counter           int      `json:"Counter"`
	State             int      `json:"State"`
}

// Payload is one webhook payload and its delivery record.
type Payload struct {
	WebhookEventPayloadID string  `json:"WebhookEventPayloadId"`
	SubscriptionID        string  `json:"SubscriptionId"`
	Counter               int     `json:"Counter"`
	CreatedUtc            UTCTime `json:"CreatedUtc"`
	Data                  string  `json:"Data"`
	FailedRequests        int     `json:"FailedRequests"`
	Response              string  `json:"Response"`
	State                 int     `json:"State"`
}

// WebhookBody is the body iLOQ posts to a webhook endpoint.
type WebhookBody struct {
	Data            json.RawMessage `json:"Data"`
	CreationTimeUtc string          `json:"CreationTimeUtc"`
}

// WebhookKeyData is the Data of key_added and key_blocklisted.
type WebhookKeyData struct {
	Description  string   `json:"Description"`
	ExpireDate   *UTCTime `json:"ExpireDate"`
	FNKeyID      string   `json:"FNKey_ID"`
	InfoText     string   `json:"InfoText"`
	KeyTypeMask  int      `json:"KeyTypeMask"`
	PersonID     string   `json:"Person_ID"`
	RealEstateID string   `json:"RealEstate_ID"`
	ROMID        string   `json:"ROM_ID"`
	Stamp        string   `json:"Stamp"`
	StampSource  int      `json:"StampSource"`
	State        int      `json:"State"`
	TagKey       string   `json:"TagKey"`
	TagKeySource int      `json:"TagKeySource"`
	VersionCode  string   `json:"VersionCode"`
}

// WebhookDeviceLogData is the Data of device_log_arrived.
type WebhookDeviceLogData struct {
	DeviceLogTypeMask int      `json:"DeviceLogTypeMask"`
	FLockID           string   `json:"FLock_ID"`
	FNKeyID           string   `json:"FNKey_ID"`
	GoingDateUtc      *UTCTime `json:"GoingDateUtc"`
	KeyTypeMask       int      `json:"KeyTypeMask"`
	PersonID          string   `json:"Person_ID"`
	RealEstateID      string   `json:"RealEstate_ID"`
	LanguageCode      string   `json:"LanguageCode"`
	LockSerialNumber  int      `json:"LockSerialNumber"`
	PersonFullName    string   `json:"PersonFullName"`
	PhoneEmail        string   `json:"PhoneEmail"`
	PhoneNo           string   `json:"PhoneNo"`
}
