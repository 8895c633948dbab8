package iloqapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// CreateSessionResultType values.
const (
	SessionOK                 = 1
	SessionInvalidCredentials = 5
	SessionLockedOut          = 7
	SessionLockedIgnored      = 8
	SessionPasswordExpired    = 9
)

// LockGroup.OptionMask bits used here.
const (
	OptionPublicAPI     int64 = 2048
	OptionS50           int64 = 4096
	OptionAPIAccess     int64 = 16384
	OptionExternalRFID  int64 = 32768
	Option5Series       int64 = 65536
	Option23TimeSlots   int64 = 524288
	OptionZonesInUse    int64 = 2
	OptionBlocklistZone int64 = 131072
)

// SetLockgroupResult.RightsMask bits used here.
const (
	RightViewPersons      int64 = 2
	RightViewKeyList      int64 = 512
	RightEditPersons      int64 = 65536
	RightEditBlacklist    int64 = 131072
	RightEditKeys         int64 = 524288
	RightEditKeyAccess    int64 = 33554432
	RightHandleKeyReturns int64 = 134217728
	RightBrowseLocks      int64 = 1073741824
	RightAdministrate     int64 = 2147483648
	RightOrderKeys        int64 = 34359738368
	RightBrowseLockLogs   int64 = 549755813888
	// RightsAll is every right the simulator checks.
	RightsAll = RightViewPersons | RightViewKeyList | RightEditPersons | RightEditBlacklist |
		RightEditKeys | RightEditKeyAccess | RightHandleKeyReturns | RightBrowseLocks |
		RightAdministrate | RightOrderKeys | RightBrowseLockLogs
)

// KeyTypeMask bits.
const (
	KeyS10      = 1
	KeyS50      = 2
	KeyPhoneBit = 4
	KeyILOQ     = 8
	KeyMifare   = 16
	KeyDESFire  = 32
	KeyNortec   = 64
	KeyExternal = 128
	Key5Series  = 256
	KeyVirtual  = 512

	// KeyTypeS50Phone is an S50 phone key (2+4).
	KeyTypeS50Phone = KeyS50 | KeyPhoneBit
	// KeyTypeS5Key is a 5 Series physical key (8+256).
	KeyTypeS5Key = KeyILOQ | Key5Series
	// KeyTypeExternalTag is an external RFID tag (128+256).
	KeyTypeExternalTag = KeyExternal | Key5Series
)

// IsPhone reports a phone key.
func IsPhone(mask int) bool { return mask&KeyPhoneBit != 0 }

// IsExternalTag reports an external RFID tag.
func IsExternalTag(mask int) bool { return mask&KeyExternal != 0 }

// Key.State values.
const (
	KeyStatePlanning  = 0
	KeyStateHandedOut = 1
	KeyStateHidden    = 2
	KeyStateDeleted   = 3
	KeyStateReturned  = 4
)

// Key.ProgrammingState values. The public docs do not list them; the
// simulator uses PniLogicalState (driver README, assumption A3).
const (
	ProgPlanning        = 0
	ProgOrdered         = 1
	ProgRetrieved       = 2
	ProgProgrammed      = 3
	ProgOnProgramming   = 7
	ProgError           = -1
	ProgCancelled       = 5
	ProgObsolete        = 6
	ProgZeroedLocksOnly = 4
)

// SecurityAccess.Type values.
const (
	AccessTypeKey      = 0
	AccessTypeStandard = 1
	AccessTypeMask     = 2
	AccessTypeAPI      = 3
)

// SecurityAccess.Status values.
const (
	AccessActive      = 0
	AccessNotInUse    = 1
	AccessBlocklisted = 2
)

// GetSecurityAccessesView / GetTimeLimitsView: the mode query parameter.
const (
	ModePlanned    = 1
	ModeProgrammed = 2
)

// CanOrderKeyResultType values.
const (
	CanOrderOK                 = 0
	CanOrderNeedsManager       = 1
	CanOrderNotAPIKeyType      = 2
	CanOrderLicenceLimit       = 3
	CanOrderWrongState         = 4
	CanOrderIDTooLarge         = 5
	CanOrderAccessOutsideZones = 6
	CanOrderLimitsOutsideZones = 7
	CanOrderBlocklisted        = 8
	CanOrderNoPhoneNumber      = 9
	CanOrderNoEmail            = 10
	CanOrderTooManyTimeLimits  = 11
	CanOrderMainZoneRequired   = 12
	CanOrderNoPerson           = 13
	CanOrderExternalWithoutTag = 14
	CanOrderError              = -1
)

// CanReturnKeyResultType values.
const (
	CanReturnOK              = 0
	CanReturnNeedsManager    = 1
	CanReturnNotPhoneOrTag   = 2
	CanReturnNeverProgrammed = 3
	CanReturnBlocklisted     = 4
)

// CanDeleteKeyResult values.
const (
	CanDeleteKeyOK          = 0
	CanDeleteKeyProgrammed  = 1
	CanDeleteKeyOrdered     = 2
	CanDeleteKeyBlocklisted = 3
)

// CanAddSecurityAccessLink and CanDeleteSecurityAccessLink values.
const (
	LinkOK           = 1
	LinkUnmodifiable = 2
	LinkMaxOrMissing = 3
)

// CanAddTimeLimit values used here.
const (
	TimeLimitOK                = 0
	TimeLimitNoSpace           = 1
	TimeLimitKeySchedulerNoEnd = 6
	TimeLimitNot15Minutes      = 7
	TimeLimitS50DatesOnly      = 8
	TimeLimitTitleRequired     = 9
	TimeLimitDynamicNeedsData  = 10
	TimeLimitDataMismatch      = 11
	TimeLimitTooMany           = 12
	TimeLimitStartAfterEnd     = 13
	TimeLimitValidation        = 14
	TimeLimitBlocklisted       = 15
)

// CanOrderS40BlacklistResult values.
const (
	BlocklistOrderOK           = 0
	BlocklistOrderNeedsManager = 1
	BlocklistOrderNothing      = 2
	BlocklistOrderTooMany      = 3
)

// BlocklistChangeType values.
const (
	BlocklistNoChange = 0
	BlocklistAdded    = 1
	BlocklistRemoved  = 2
	BlocklistReturned = 3
)

// DeviceLogTypeMask bits.
const (
	LogFailed         = 1
	LogLockProgrammed = 2
	LogSuccess        = 4
	LogKeyAccessed    = 1024
	Log5SeriesKey     = 2048
	LogUnknownKey     = 4096
	LogKeyProgramming = 32768
	LogNoRTC          = 65536
)

// EventState values of webhook payloads.
const (
	PayloadCreated = 1
	PayloadSent    = 2
	PayloadFailed  = 3
	PayloadGivenUp = 4
)

// Webhook event names.
const (
	EventKeyAdded         = "key_added"
	EventKeyBlocklisted   = "key_blocklisted"
	EventDeviceLogArrived = "device_log_arrived"
)

// Webhook delivery headers.
const (
	HeaderSignature      = "Webhook-Signature"
	HeaderEventName      = "Event-Name"
	HeaderSubscriptionID = "Subscription-Id"
	HeaderCounter        = "Counter"
	HeaderCustom         = "Custom-Header"
	HeaderSessionID      = "SessionId"
	HeaderAPIKey         = "x-api-key"
)

// Sign returns the Webhook-Signature of body: the lowercase hex HMAC-SHA256
// of the raw body keyed with the subscription's SignKey as UTF-8.
func Sign(signKey string, body []byte) string {
	m := hmac.New(sha256.New, []byte(signKey))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// Verify reports whether signature is the Webhook-Signature of body, in
// constant time. Upper-case hex is accepted.
func Verify(signKey string, body []byte, signature string) bool {
	got, err := hex.DecodeString(strings.TrimSpace(signature))
	if err != nil {
		return false
	}
	m := hmac.New(sha256.New, []byte(signKey))
	m.Write(body)
	return hmac.Equal(got, m.Sum(nil))
}
