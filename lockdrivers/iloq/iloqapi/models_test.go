package iloqapi

import (
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestJSONNamesMatchTheVendor pins every JSON name of the wire models to the
// names in iLOQ's swagger (testdata/vendors/iloq/model-fields.json, taken
// from vendors/iloq/models_json.md), so a misspelt name here cannot hide
// behind the client and the simulator sharing these types.
func TestJSONNamesMatchTheVendor(t *testing.T) {
	raw, err := os.ReadFile("../../../testdata/vendors/iloq/model-fields.json")
	require.NoError(t, err)
	var doc struct {
		Models map[string]struct {
			VendorModel string   `json:"vendorModel"`
			Fields      []string `json:"fields"`
		} `json:"models"`
	}
	require.NoError(t, json.Unmarshal(raw, &doc))
	types := map[string]any{
		"Key": Key{}, "Person": Person{}, "Lock": Lock{}, "SecurityAccess": SecurityAccess{},
		"KeyTimeLimitSlot": KeyTimeLimitSlot{}, "KeyTimeLimitData": KeyTimeLimitData{}, "KeyScheduler": KeyScheduler{},
		"LockGroup": LockGroup{}, "LockLogData": LockLogData{}, "BlackList": BlackList{},
		"BlacklistPacket": BlacklistPacket{}, "Subscription": Subscription{}, "TimeLimitTitle": TimeLimitTitle{},
		"TimeLimitData": TimeLimitData{}, "Zone": Zone{}, "RealEstate": RealEstate{},
		"GetTimeLimitsResult": GetTimeLimitsResult{}, "UpdateKeySecurityAccessesParam": UpdateKeySecurityAccessesParam{},
		"InsertKeyParam": InsertKeyParam{}, "CreateSessionParam": CreateSessionParam{},
		"CreateSessionResult": CreateSessionResult{}, "SetLockgroupParam": SetLockgroupParam{},
		"SetLockgroupResult": SetLockgroupResult{}, "InsertPersonParam": InsertPersonParam{},
		"InsertPersonResult": InsertPersonResult{}, "UpdatePersonParam": UpdatePersonParam{},
		"UpdateKeyParam": UpdateKeyParam{}, "GetKeysByPersonResult": GetKeysByPersonResult{},
		"GetKeySecurityAccessesResult": GetKeySecurityAccessesResult{}, "AddSecurityAccessParam": AddSecurityAccessParam{},
		"InsertKeyTimeLimitSlotParam": InsertKeyTimeLimitSlotParam{}, "KeyPhone": KeyPhone{},
		"UpdateKeyMainZoneParam": UpdateKeyMainZoneParam{}, "GetZonesResult": GetZonesResult{},
		"InsertSecurityAccessParam": InsertSecurityAccessParam{}, "InsertSecurityAccessResult": InsertSecurityAccessResult{},
		"GetLockSecurityAccessesResult": GetLockSecurityAccessesResult{},
		"InsertTimeLimitTitlesParam":    InsertTimeLimitTitlesParam{}, "GetS40BlacklistResult": GetS40BlacklistResult{},
		"GetLockLogDataParam": GetLockLogDataParam{}, "GetLockLogDataResult": GetLockLogDataResult{},
		"GetLockLogsParam": GetLockLogsParam{}, "DeviceLogFLock": DeviceLogFLock{}, "DeviceLogFNKey": DeviceLogFNKey{},
		"DeviceLogData": DeviceLogData{}, "GetLockLogsResult": GetLockLogsResult{}, "WebhookEvent": WebhookEvent{},
		"Payload": Payload{}, "GetURLParam": GetURLParam{},
	}
	// Names the simulator adds on purpose (README, assumption A7).
	extras := map[string]bool{"GetLockLogDataResult.TotalCount": true}
	for name, v := range types {
		t.Run(name, func(t *testing.T) {
			m, ok := doc.Models[name]
			require.True(t, ok, "no vendor model recorded for %s", name)
			rt := reflect.TypeOf(v)
			for i := range rt.NumField() {
				tag, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
				if tag == "" || tag == "-" || extras[name+"."+tag] {
					continue
				}
				assert.True(t, slices.Contains(m.Fields, tag), "%s.%s is not a field of the vendor's %s %v",
					name, tag, m.VendorModel, m.Fields)
			}
		})
	}
}
