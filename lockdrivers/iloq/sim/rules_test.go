package sim_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/lockdrivers/iloq/iloqapi"
	"github.com/keyward/keyward/lockdrivers/iloq/sim"
)

// TestMoreVendorRules pins the remaining documented rules, one per case.
func TestMoreVendorRules(t *testing.T) {
	cases := []struct {
		name string
		run  func(t *testing.T, e *env)
	}{
		{"CanDelete of keys: 0 new, 2 ordered, 1 programmed, 3 blocklisted", func(t *testing.T, e *env) {
			id := e.newPhoneKey(accHQ)
			assert.Equal(t, iloqapi.CanDeleteKeyOK, e.canCode("GET", "/api/v2/Keys/"+id+"/CanDelete", nil))
			e.mustJSON("POST", "/api/v2/Keys/"+id+"/Order", nil, nil)
			assert.Equal(t, iloqapi.CanDeleteKeyOrdered, e.canCode("GET", "/api/v2/Keys/"+id+"/CanDelete", nil))
			e.errMessage("DELETE", "/api/v2/Keys/"+id, nil, http.StatusBadRequest)
			assert.Equal(t, iloqapi.CanDeleteKeyProgrammed, e.canCode("GET", "/api/v2/Keys/"+keyAlanS5+"/CanDelete", nil))
			e.mustJSON("POST", "/api/v2/Blacklists/AddKey/"+keyAlanS5, nil, nil)
			assert.Equal(t, iloqapi.CanDeleteKeyBlocklisted, e.canCode("GET", "/api/v2/Keys/"+keyAlanS5+"/CanDelete", nil))
		}},
		{"a deleted key is gone", func(t *testing.T, e *env) {
			id := e.newPhoneKey()
			status, _ := e.do("DELETE", "/api/v2/Keys/"+id, nil)
			require.Equal(t, http.StatusNoContent, status)
			e.errMessage("GET", "/api/v2/Keys/"+id, nil, http.StatusBadRequest)
		}},
		{"the main zone is fixed once the key was ordered", func(t *testing.T, e *env) {
			id := e.newPhoneKey(accHQ)
			assert.Equal(t, 0, e.canCode("GET", "/api/v2/Keys/"+id+"/CanUpdateMainZone", nil))
			e.mustJSON("POST", "/api/v2/Keys/"+id+"/Order", nil, nil)
			assert.Equal(t, 2, e.canCode("GET", "/api/v2/Keys/"+id+"/CanUpdateMainZone", nil))
			var z iloqapi.GetZonesResult
			e.mustJSON("GET", "/api/v2/Keys/"+id+"/Zones", nil, &z)
			assert.Equal(t, e.defaultZone(), z.MainZone)
		}},
		{"a person with active keys cannot be deleted", func(t *testing.T, e *env) {
			assert.Equal(t, 1, e.canCode("GET", "/api/v2/Persons/"+personAlan+"/CanDelete", nil))
			e.errMessage("DELETE", "/api/v2/Persons/"+personAlan, nil, http.StatusBadRequest)
			id := uuid.NewString()
			e.mustJSON("POST", "/api/v2/Persons", iloqapi.InsertPersonParam{Person: iloqapi.Person{PersonID: id,
				LastName: "Temp"}, ZoneIDs: []string{e.defaultZone()}}, nil)
			assert.Equal(t, 0, e.canCode("GET", "/api/v2/Persons/"+id+"/CanDelete", nil))
			status, _ := e.do("DELETE", "/api/v2/Persons/"+id, nil)
			assert.Equal(t, http.StatusNoContent, status)
		}},
		{"persons need a zone", func(t *testing.T, e *env) {
			e.errMessage("POST", "/api/v2/Persons", iloqapi.InsertPersonParam{Person: iloqapi.Person{
				PersonID: uuid.NewString(), LastName: "X"}}, http.StatusBadRequest)
		}},
		{"phone numbers are unique in the locking system", func(t *testing.T, e *env) {
			id := e.newPhoneKey()
			e.errMessage("PUT", "/api/v2/KeyPhones", iloqapi.KeyPhone{FNKeyID: id, PhoneNo: "+358401000001"},
				http.StatusBadRequest)
		}},
		{"offline expiration has the documented maximum", func(t *testing.T, e *env) {
			e.errMessage("POST", "/api/v2/Keys", iloqapi.InsertKeyParam{Key: iloqapi.Key{FNKeyID: uuid.NewString(),
				KeyTypeMask: iloqapi.KeyTypeS50Phone, PersonID: personAda}, OfflineExpirationSeconds: 8726341},
				http.StatusBadRequest)
		}},
		{"only standard and API access rights can be created, types never change", func(t *testing.T, e *env) {
			for _, typ := range []int{iloqapi.AccessTypeKey, iloqapi.AccessTypeMask} {
				e.errMessage("POST", "/api/v2/SecurityAccesses", iloqapi.InsertSecurityAccessParam{
					SecurityAccess: iloqapi.SecurityAccess{SecurityAccessID: uuid.NewString(), Name: "x", Type: typ}},
					http.StatusBadRequest)
			}
			id := uuid.NewString()
			var res iloqapi.InsertSecurityAccessResult
			e.mustJSON("POST", "/api/v2/SecurityAccesses", iloqapi.InsertSecurityAccessParam{
				SecurityAccess: iloqapi.SecurityAccess{SecurityAccessID: id, Name: "new", Type: iloqapi.AccessTypeAPI}}, &res)
			assert.Equal(t, id, res.SecurityAccess.SecurityAccessID)
			e.errMessage("PUT", "/api/v2/SecurityAccesses", iloqapi.InsertSecurityAccessParam{
				SecurityAccess: iloqapi.SecurityAccess{SecurityAccessID: accStandard, Name: "x", Type: iloqapi.AccessTypeAPI}},
				http.StatusBadRequest)
		}},
		{"a time profile on keys cannot be deleted", func(t *testing.T, e *env) {
			office := iloqapi.KeyTimeLimitSlot{SlotNo: 2, TimeLimitTitleID: profOffice, TimeLimitData: []iloqapi.KeyTimeLimitData{
				{WeekDayMask: 31, StartTimeMS: 7 * 3600_000, EndTimeMS: 17 * 3600_000}}}
			e.mustJSON("POST", "/api/v2/Keys/"+keyAdaPhone+"/TimeLimitTitles", iloqapi.InsertKeyTimeLimitSlotParam{TimeLimitSlot: office}, nil)
			assert.Equal(t, 1, e.canCode("GET", "/api/v2/TimeLimitTitles/"+profOffice+"/CanDelete", nil))
			var data []iloqapi.TimeLimitData
			e.mustJSON("GET", "/api/v2/TimeLimitTitles/"+profOffice+"/TimeLimitData", nil, &data)
			require.Len(t, data, 1)
			assert.Equal(t, "7:00", data[0].StartTime)
		}},
		{"start and end dates only through the full replace", func(t *testing.T, e *env) {
			assert.Equal(t, iloqapi.TimeLimitValidation, e.canCode("POST", "/api/v2/Keys/"+keyAdaPhone+"/TimeLimitTitles/CanAdd",
				iloqapi.InsertKeyTimeLimitSlotParam{TimeLimitSlot: iloqapi.KeyTimeLimitSlot{SlotNo: 1,
					LimitDateLg: local("2027-01-01T00:00:00")}}))
		}},
		{"a key scheduler needs an end date and 70 minutes", func(t *testing.T, e *env) {
			path := "/api/v2/Keys/" + keyAdaPhone + "/SecurityAccesses"
			msg := e.errMessage("PUT", path, iloqapi.UpdateKeySecurityAccessesParam{
				KeyScheduler: &iloqapi.KeyScheduler{RenewGapType: 1, RenewMinute: 120}}, http.StatusBadRequest)
			assert.Contains(t, msg, "CanAddTimeLimit 6")
			e.errMessage("PUT", path, iloqapi.UpdateKeySecurityAccessesParam{
				KeyScheduler:   &iloqapi.KeyScheduler{RenewGapType: 1, RenewMinute: 60},
				TimeLimitSlots: []iloqapi.KeyTimeLimitSlot{{SlotNo: 1, LimitDateLg: local("2027-01-01T00:00:00")}}},
				http.StatusBadRequest)
		}},
		{"CanDelete of a link: 3 when it does not exist", func(t *testing.T, e *env) {
			assert.Equal(t, iloqapi.LinkMaxOrMissing, e.canCode("GET",
				"/api/v2/Keys/"+keyAdaPhone+"/SecurityAccesses/"+accNorth+"/CanDelete", nil))
			assert.Equal(t, iloqapi.LinkOK, e.canCode("GET",
				"/api/v2/Keys/"+keyAdaPhone+"/SecurityAccesses/"+accHQ+"/CanDelete", nil))
		}},
		{"the blocklist can be lifted and ordered again", func(t *testing.T, e *env) {
			e.mustJSON("POST", "/api/v2/Blacklists/AddKey/"+keyAlanS5, nil, nil)
			e.mustJSON("POST", "/api/v2/Blacklists/OrderS40Blacklist", nil, nil)
			assert.Equal(t, iloqapi.BlocklistOrderNothing, e.canCode("GET", "/api/v2/Blacklists/CanOrderS40Blacklist", nil))
			require.True(t, canBool(e, "/api/v2/Blacklists/CanRemoveKey/"+keyAlanS5))
			status, _ := e.do("DELETE", "/api/v2/Blacklists/RemoveKey/"+keyAlanS5, nil)
			require.Equal(t, http.StatusNoContent, status)
			assert.Equal(t, iloqapi.BlocklistOrderOK, e.canCode("GET", "/api/v2/Blacklists/CanOrderS40Blacklist", nil))
			res, err := e.sim.UseKey(context.Background(), keyAlanS5, lockN1)
			require.NoError(t, err)
			assert.True(t, res.Opened)
		}},
		{"a lock lists the access rights it accepts", func(t *testing.T, e *env) {
			var res iloqapi.GetLockSecurityAccessesResult
			e.mustJSON("GET", "/api/v2/Locks/"+lockN1+"/SecurityAccesses?mode=1", nil, &res)
			ids := []string{}
			for _, a := range res.SecurityAccesses {
				ids = append(ids, a.SecurityAccessID)
			}
			assert.ElementsMatch(t, []string{accNorth, accStandard}, ids)
		}},
		{"an unprogrammed key is an unknown key at the lock", func(t *testing.T, e *env) {
			id := e.newPhoneKey(accHQ)
			res, err := e.sim.UseKey(context.Background(), id, lockHQ)
			require.NoError(t, err)
			assert.False(t, res.Opened)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.run(t, newEnv(t, sim.Options{}).login())
		})
	}
	t.Run("a blocklist needing iLOQ Manager answers 1", func(t *testing.T) {
		e := newEnv(t, sim.Options{BlocklistNeedsManager: true}).login()
		e.mustJSON("POST", "/api/v2/Blacklists/AddKey/"+keyAlanS5, nil, nil)
		assert.Equal(t, iloqapi.BlocklistOrderNeedsManager, e.canCode("GET", "/api/v2/Blacklists/CanOrderS40Blacklist", nil))
		e.errMessage("POST", "/api/v2/Blacklists/OrderS40Blacklist", nil, http.StatusBadRequest)
	})
	t.Run("main zones need 5 Series", func(t *testing.T) {
		e := newEnv(t, sim.Options{OptionMask: iloqapi.OptionPublicAPI | iloqapi.OptionAPIAccess | iloqapi.OptionS50}).login()
		assert.Equal(t, 1, e.canCode("GET", "/api/v2/Keys/"+keyAdaPhone+"/CanUpdateMainZone", nil))
	})
}
