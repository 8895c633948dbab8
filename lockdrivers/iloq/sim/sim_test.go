package sim_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/lockdrivers/iloq/iloqapi"
	"github.com/keyward/keyward/lockdrivers/iloq/sim"
	"github.com/keyward/keyward/lockdrivers/simctl"
)

func TestSessionFlow(t *testing.T) {
	t.Run("GetUrl answers the pool URL or an empty string", func(t *testing.T) {
		e := newEnv(t, sim.Options{PoolURL: "http://127.0.0.1:1/iloqwspool2/"})
		var u string
		e.mustJSON("POST", "/api/v2/Url/GetUrl", iloqapi.GetURLParam{CustomerCode: "ILOQ_SIM"}, &u)
		assert.Equal(t, "http://127.0.0.1:1/iloqwspool2/", u)
		e.mustJSON("POST", "/api/v2/Url/GetUrl", iloqapi.GetURLParam{CustomerCode: "OTHER"}, &u)
		assert.Empty(t, u)
	})
	t.Run("wrong credentials answer Result 5 and no session", func(t *testing.T) {
		e := newEnv(t, sim.Options{})
		var res iloqapi.CreateSessionResult
		e.mustJSON("POST", "/api/v2/CreateSession", iloqapi.CreateSessionParam{
			CustomerCode: "ILOQ_SIM", UserName: "api.user", Password: "wrong"}, &res)
		assert.Equal(t, iloqapi.SessionInvalidCredentials, res.Result)
		assert.Empty(t, res.SessionID)
	})
	t.Run("no SessionId header is refused", func(t *testing.T) {
		e := newEnv(t, sim.Options{})
		e.errMessage("GET", "/api/v2/Keys", nil, http.StatusUnauthorized)
	})
	t.Run("a session without SetLockgroup cannot read data", func(t *testing.T) {
		e := newEnv(t, sim.Options{})
		code, user, pw := e.sim.Credentials()
		var res iloqapi.CreateSessionResult
		e.mustJSON("POST", "/api/v2/CreateSession", iloqapi.CreateSessionParam{CustomerCode: code,
			UserName: user, Password: pw}, &res)
		e.sid = res.SessionID
		var groups []iloqapi.LockGroup
		e.mustJSON("GET", "/api/v2/LockGroups", nil, &groups)
		require.Len(t, groups, 1)
		assert.NotZero(t, groups[0].OptionMask&iloqapi.OptionPublicAPI)
		e.errMessage("GET", "/api/v2/Keys", nil, http.StatusForbidden)
		var rights iloqapi.SetLockgroupResult
		e.mustJSON("POST", "/api/v2/SetLockgroup", iloqapi.SetLockgroupParam{
			LockGroupID: groups[0].LockGroupID}, &rights)
		assert.NotZero(t, rights.RightsMask&iloqapi.RightOrderKeys)
		e.mustJSON("GET", "/api/v2/Keys", nil, nil)
	})
	t.Run("KillSession ends the session", func(t *testing.T) {
		e := newEnv(t, sim.Options{}).login()
		status, _ := e.do("GET", "/api/v2/KillSession", nil)
		require.Equal(t, http.StatusNoContent, status)
		e.errMessage("GET", "/api/v2/Keys", nil, http.StatusUnauthorized)
	})
	t.Run("an idle session expires after 30 minutes", func(t *testing.T) {
		e := newEnv(t, sim.Options{}).login()
		require.NoError(t, e.sim.Advance(context.Background(), 29*time.Minute))
		e.mustJSON("GET", "/api/v2/Keys", nil, nil)
		require.NoError(t, e.sim.Advance(context.Background(), 31*time.Minute))
		e.errMessage("GET", "/api/v2/Keys", nil, http.StatusUnauthorized)
	})
	t.Run("the gateway key is required when configured", func(t *testing.T) {
		e := newEnv(t, sim.Options{GatewayKey: "gw-123"})
		e.errMessage("GET", "/api/v2/Test", nil, http.StatusUnauthorized)
	})
	t.Run("missing user rights are refused", func(t *testing.T) {
		e := newEnv(t, sim.Options{RightsMask: iloqapi.RightViewKeyList}).login()
		e.mustJSON("GET", "/api/v2/Keys", nil, nil)
		e.errMessage("GET", "/api/v2/Keys/"+keyAdaPhone+"/CanOrder", nil, http.StatusForbidden)
	})
	t.Run("a restart loses sessions but keeps data", func(t *testing.T) {
		e := newEnv(t, sim.Options{}).login()
		require.NoError(t, e.sim.Crash(context.Background()))
		require.NoError(t, e.sim.Restart(context.Background()))
		e.errMessage("GET", "/api/v2/Keys", nil, http.StatusUnauthorized)
		e.login()
		assert.Equal(t, "Ada's phone", e.keyState(keyAdaPhone).Description)
	})
}

func TestWireConventions(t *testing.T) {
	e := newEnv(t, sim.Options{}).login()
	cases := []struct {
		name, path string
		want       []string
	}{
		{"key ids end in _ID", "/api/v2/Keys/" + keyAlanS5, []string{`"FNKey_ID":`, `"Person_ID":`,
			`"KeyTypeMask":`, `"ProgrammingState":`, `"IsProgrammed":`}},
		{"person email is eMail", "/api/v2/Persons/" + personAda, []string{`"eMail":"ada@example.com"`,
			`"ExternalPersonId":"E1001"`}},
		{"lock real estate is RealEstate_Id", "/api/v2/Locks/" + lockN1, []string{`"FLock_ID":`,
			`"RealEstate_Id":`}},
		{"key accesses wrap in SecurityAccesses", "/api/v2/Keys/" + keyAlanS5 + "/SecurityAccesses?mode=2",
			[]string{`"SecurityAccesses":[`, `"SecurityAccess_ID":"` + accNorth + `"`, `"OutsideUserZonesCount":`}},
		{"local dates have no offset", "/api/v2/Keys/" + keyAlanS5 + "/TimeLimitTitles?mode=2",
			[]string{`"LimitDateLg":"2027-06-30T18:00:00"`, `"SlotNo":1`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, raw := e.do("GET", c.path, nil)
			require.Equal(t, http.StatusOK, status, string(raw))
			for _, w := range c.want {
				assert.Contains(t, string(raw), w)
			}
		})
	}
	t.Run("paths and ids are case-insensitive", func(t *testing.T) {
		e.mustJSON("GET", "/API/V2/keys/"+strings.ToUpper(keyAlanS5), nil, nil)
	})
	t.Run("unknown id answers Invalid value", func(t *testing.T) {
		msg := e.errMessage("GET", "/api/v2/Persons/"+uuid.NewString(), nil, http.StatusBadRequest)
		assert.Contains(t, msg, "Invalid value")
	})
	t.Run("no person for the external ids answers Invalid value", func(t *testing.T) {
		msg := e.errMessage("GET", "/api/v2/Persons/GetByExternalPersonIds?externalPersonIds=nobody", nil,
			http.StatusBadRequest)
		assert.Contains(t, msg, "Invalid value")
		var ps []iloqapi.Person
		e.mustJSON("GET", "/api/v2/Persons/GetByExternalPersonIds?externalPersonIds=E1002&externalPersonIds=x",
			nil, &ps)
		require.Len(t, ps, 1)
		assert.Equal(t, personAlan, ps[0].PersonID)
	})
	t.Run("the integrator generates GUIDs", func(t *testing.T) {
		msg := e.errMessage("POST", "/api/v2/Persons", iloqapi.InsertPersonParam{
			Person: iloqapi.Person{LastName: "X"}, ZoneIDs: []string{e.defaultZone()}}, http.StatusBadRequest)
		assert.Contains(t, msg, "GUID")
	})
	t.Run("ExternalPersonId is unique", func(t *testing.T) {
		msg := e.errMessage("POST", "/api/v2/Persons", iloqapi.InsertPersonParam{
			Person:  iloqapi.Person{PersonID: uuid.NewString(), LastName: "X", ExternalPersonID: "E1001"},
			ZoneIDs: []string{e.defaultZone()}}, http.StatusBadRequest)
		assert.Contains(t, msg, "ExternalPersonId")
	})
	t.Run("malformed JSON is a 400 with a Message", func(t *testing.T) {
		e.errMessage("POST", "/api/v2/Persons", "{not json", http.StatusBadRequest)
	})
	t.Run("Order accepts POST only", func(t *testing.T) {
		e.errMessage("GET", "/api/v2/Keys/"+keyAlanS5+"/Order", nil, http.StatusMethodNotAllowed)
	})
	t.Run("unknown route is a 404 with a Message", func(t *testing.T) {
		e.errMessage("GET", "/api/v2/Nothing", nil, http.StatusNotFound)
	})
	t.Run("Test and Version", func(t *testing.T) {
		var s string
		e.mustJSON("GET", "/api/v2/Test", nil, &s)
		assert.Equal(t, "Test OK", s)
	})
}

func TestCanOrderCodes(t *testing.T) {
	cases := []struct {
		name  string
		setup func(e *env) string
		want  int
	}{
		{"new phone key with an API right can be ordered", func(e *env) string {
			return e.newPhoneKey(accHQ)
		}, iloqapi.CanOrderOK},
		{"a standard access right needs iLOQ Manager", func(e *env) string {
			id := e.newPhoneKey()
			e.mustJSON("POST", "/api/v2/Keys/"+id+"/SecurityAccesses",
				iloqapi.AddSecurityAccessParam{SecurityAccessID: accStandard}, nil)
			return id
		}, iloqapi.CanOrderNeedsManager},
		{"an S10 key cannot be ordered through the API", func(e *env) string {
			id := uuid.NewString()
			e.mustJSON("POST", "/api/v2/Keys", iloqapi.InsertKeyParam{Key: iloqapi.Key{FNKeyID: id,
				KeyTypeMask: iloqapi.KeyS10 | iloqapi.KeyILOQ}}, nil)
			return id
		}, iloqapi.CanOrderNotAPIKeyType},
		{"an ordered key without new changes is in the wrong state", func(e *env) string {
			id := e.newPhoneKey(accHQ)
			e.mustJSON("POST", "/api/v2/Keys/"+id+"/Order", nil, nil)
			return id
		}, iloqapi.CanOrderWrongState},
		{"a programmed key without changes is in the wrong state", func(*env) string {
			return keyAdaPhone
		}, iloqapi.CanOrderWrongState},
		{"a phone key without a phone number", func(e *env) string {
			id := uuid.NewString()
			e.mustJSON("POST", "/api/v2/Keys", iloqapi.InsertKeyParam{Key: iloqapi.Key{FNKeyID: id,
				KeyTypeMask: iloqapi.KeyTypeS50Phone, PersonID: personAda}}, nil)
			return id
		}, iloqapi.CanOrderNoPhoneNumber},
		{"email mode without an email", func(e *env) string {
			id := e.newPhoneKey(accHQ)
			e.mustJSON("PUT", "/api/v2/KeyPhones", iloqapi.KeyPhone{FNKeyID: id, PhoneNo: "+1555",
				OptionMask: 8}, nil)
			return id
		}, iloqapi.CanOrderNoEmail},
		{"a 5 Series key without a main zone", func(e *env) string {
			id := uuid.NewString()
			e.mustJSON("POST", "/api/v2/Keys", iloqapi.InsertKeyParam{Key: iloqapi.Key{FNKeyID: id,
				KeyTypeMask: iloqapi.KeyTypeS5Key}, SecurityAccessIDs: []string{accNorth}}, nil)
			return id
		}, iloqapi.CanOrderMainZoneRequired},
		{"an external tag without a TagKey", func(e *env) string {
			id := uuid.NewString()
			e.mustJSON("POST", "/api/v2/Keys", iloqapi.InsertKeyParam{Key: iloqapi.Key{FNKeyID: id,
				KeyTypeMask: iloqapi.KeyTypeExternalTag}}, nil)
			return id
		}, iloqapi.CanOrderExternalWithoutTag},
		{"too many time limits for the key's memory", func(e *env) string {
			id := e.newPhoneKey(accHQ)
			slot := iloqapi.KeyTimeLimitSlot{SlotNo: 2, TimeLimitTitleID: profOffice}
			for range 11 {
				slot.TimeLimitData = append(slot.TimeLimitData, iloqapi.KeyTimeLimitData{
					WeekDayMask: 31, StartTimeMS: 7 * 3600_000, EndTimeMS: 17 * 3600_000})
			}
			// A dynamic copy of the profile lets the data differ from the title.
			dyn := uuid.NewString()
			e.mustJSON("POST", "/api/v2/TimeLimitTitles", iloqapi.InsertTimeLimitTitlesParam{
				TimeLimitTitle: iloqapi.TimeLimitTitle{TimeLimitTitleID: dyn, Name: "dyn", OptionMask: 2 | 8}}, nil)
			slot.TimeLimitTitleID = dyn
			e.mustJSON("PUT", "/api/v2/Keys/"+id+"/SecurityAccesses", iloqapi.UpdateKeySecurityAccessesParam{
				SecurityAccessIDs: []string{accHQ}, TimeLimitSlots: []iloqapi.KeyTimeLimitSlot{slot}}, nil)
			return id
		}, iloqapi.CanOrderTooManyTimeLimits},
		{"a new key with a right of another zone", func(e *env) string {
			zone, acc := uuid.NewString(), uuid.NewString()
			require.NoError(e.t, e.sim.Seed(sim.Seed{Zones: []sim.SeedZone{{ID: zone, Name: "Z", Type: 1}},
				AccessRights: []sim.SeedAccessRight{{ID: acc, Name: "zoned", Zone: zone}}}))
			return e.newPhoneKey(acc)
		}, iloqapi.CanOrderAccessOutsideZones},
		{"a new key with a time profile of another zone", func(e *env) string {
			zone, tlt := uuid.NewString(), uuid.NewString()
			require.NoError(e.t, e.sim.Seed(sim.Seed{Zones: []sim.SeedZone{{ID: zone, Name: "Z", Type: 1}}}))
			e.mustJSON("POST", "/api/v2/TimeLimitTitles", iloqapi.InsertTimeLimitTitlesParam{
				TimeLimitTitle: iloqapi.TimeLimitTitle{TimeLimitTitleID: tlt, Name: "zoned", OptionMask: 2 | 8, ZoneID: zone}}, nil)
			id := e.newPhoneKey(accHQ)
			e.mustJSON("POST", "/api/v2/Keys/"+id+"/TimeLimitTitles", iloqapi.InsertKeyTimeLimitSlotParam{
				TimeLimitSlot: iloqapi.KeyTimeLimitSlot{SlotNo: 2, TimeLimitTitleID: tlt, TimeLimitData: []iloqapi.KeyTimeLimitData{
					{WeekDayMask: 1, StartTimeMS: 0, EndTimeMS: 3600_000}}}}, nil)
			return id
		}, iloqapi.CanOrderLimitsOutsideZones},
		{"a blocklisted key", func(e *env) string {
			e.mustJSON("POST", "/api/v2/Blacklists/AddKey/"+keyAlanS5, nil, nil)
			return keyAlanS5
		}, iloqapi.CanOrderBlocklisted},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, sim.Options{}).login()
			id := c.setup(e)
			assert.Equal(t, c.want, e.canCode("GET", "/api/v2/Keys/"+id+"/CanOrder", nil))
			if c.want != iloqapi.CanOrderOK {
				msg := e.errMessage("POST", "/api/v2/Keys/"+id+"/Order", nil, http.StatusBadRequest)
				assert.Contains(t, msg, "CanOrderKeyResultType")
			}
		})
	}
	t.Run("the licence limit counts keys ever ordered", func(t *testing.T) {
		e := newEnv(t, sim.Options{LicenceLimit: 4}).login() // the seed ordered 3
		first := e.newPhoneKey(accHQ)
		second := e.newPhoneKey(accHQ)
		assert.Equal(t, iloqapi.CanOrderOK, e.canCode("GET", "/api/v2/Keys/"+first+"/CanOrder", nil))
		e.mustJSON("POST", "/api/v2/Keys/"+first+"/Order", nil, nil)
		assert.Equal(t, iloqapi.CanOrderLicenceLimit, e.canCode("GET", "/api/v2/Keys/"+second+"/CanOrder", nil))
	})
	t.Run("a key number above the API's range", func(t *testing.T) {
		e := newEnv(t, sim.Options{MaxKeyNumber: 3}).login() // the seed has 3 keys
		id := e.newPhoneKey(accHQ)
		assert.Equal(t, iloqapi.CanOrderIDTooLarge, e.canCode("GET", "/api/v2/Keys/"+id+"/CanOrder", nil))
	})
	t.Run("a phone key without a person is refused at insert", func(t *testing.T) {
		e := newEnv(t, sim.Options{}).login()
		e.errMessage("POST", "/api/v2/Keys", iloqapi.InsertKeyParam{Key: iloqapi.Key{
			FNKeyID: uuid.NewString(), KeyTypeMask: iloqapi.KeyTypeS50Phone}}, http.StatusBadRequest)
	})
}

func TestPlannedVersusProgrammed(t *testing.T) {
	e := newEnv(t, sim.Options{}).login()
	ctx := context.Background()
	id := keyAdaPhone
	require.Equal(t, iloqapi.ProgProgrammed, e.keyState(id).ProgrammingState)

	e.mustJSON("POST", "/api/v2/Keys/"+id+"/SecurityAccesses",
		iloqapi.AddSecurityAccessParam{SecurityAccessID: accNorth}, nil)
	assert.ElementsMatch(t, []string{accHQ, accNorth}, e.accessIDs(id, iloqapi.ModePlanned))
	assert.Equal(t, []string{accHQ}, e.accessIDs(id, iloqapi.ModeProgrammed))
	assert.Equal(t, iloqapi.ProgPlanning, e.keyState(id).ProgrammingState)

	e.mustJSON("POST", "/api/v2/Keys/"+id+"/Order", nil, nil)
	assert.Equal(t, iloqapi.ProgOrdered, e.keyState(id).ProgrammingState)
	require.NoError(t, e.sim.RetrievePacket(id))
	assert.Equal(t, iloqapi.ProgRetrieved, e.keyState(id).ProgrammingState)
	assert.Equal(t, []string{accHQ}, e.accessIDs(id, iloqapi.ModeProgrammed))

	require.NoError(t, e.sim.DeliverKey(ctx, id, simctl.ViaPhoneSync))
	assert.Equal(t, iloqapi.ProgProgrammed, e.keyState(id).ProgrammingState)
	assert.ElementsMatch(t, []string{accHQ, accNorth}, e.accessIDs(id, iloqapi.ModeProgrammed))

	t.Run("the lock opens only once the key carries the right", func(t *testing.T) {
		res, err := e.sim.UseKey(ctx, id, lockN2)
		require.NoError(t, err)
		assert.True(t, res.Opened, res.Reason)
	})
	t.Run("a change after ordering cancels the packet", func(t *testing.T) {
		e.mustJSON("DELETE", "/api/v2/Keys/"+id+"/SecurityAccesses/"+accNorth, nil, nil)
		e.mustJSON("POST", "/api/v2/Keys/"+id+"/Order", nil, nil)
		e.mustJSON("POST", "/api/v2/Keys/"+id+"/SecurityAccesses",
			iloqapi.AddSecurityAccessParam{SecurityAccessID: accNorth}, nil)
		assert.Equal(t, iloqapi.ProgPlanning, e.keyState(id).ProgrammingState)
		applied, err := e.sim.SyncPhone(id)
		require.NoError(t, err)
		assert.False(t, applied)
	})
	t.Run("a phone cannot be delivered through a programming device", func(t *testing.T) {
		assert.ErrorIs(t, e.sim.DeliverKey(ctx, id, simctl.ViaProgrammingDevice), simctl.ErrUnsupported)
		assert.ErrorIs(t, e.sim.DeliverKey(ctx, uuid.NewString(), simctl.ViaAuto), simctl.ErrNotFound)
	})
}

func TestFullReplaceAndSlots(t *testing.T) {
	e := newEnv(t, sim.Options{}).login()
	id := e.newPhoneKey(accHQ, accNorth)
	path := "/api/v2/Keys/" + id + "/SecurityAccesses"
	t.Run("omitted accesses and slots are deleted", func(t *testing.T) {
		e.mustJSON("PUT", path, iloqapi.UpdateKeySecurityAccessesParam{SecurityAccessIDs: []string{accHQ},
			TimeLimitSlots: []iloqapi.KeyTimeLimitSlot{{SlotNo: 1, LimitDateLg: local("2027-01-31T18:00:00")}}}, nil)
		assert.Equal(t, []string{accHQ}, e.accessIDs(id, iloqapi.ModePlanned))
		e.mustJSON("PUT", path, iloqapi.UpdateKeySecurityAccessesParam{SecurityAccessIDs: []string{accHQ}}, nil)
		var tl iloqapi.GetTimeLimitsResult
		e.mustJSON("GET", "/api/v2/Keys/"+id+"/TimeLimitTitles?mode=1", nil, &tl)
		assert.Empty(t, tl.KeyTimeLimitSlots)
	})
	t.Run("repeating the stored plan changes nothing", func(t *testing.T) {
		p := iloqapi.UpdateKeySecurityAccessesParam{SecurityAccessIDs: []string{accNorth, accHQ}}
		e.mustJSON("PUT", path, p, nil)
		e.mustJSON("POST", "/api/v2/Keys/"+id+"/Order", nil, nil)
		reqs, err := e.sim.Requests(context.Background(), 0)
		require.NoError(t, err)
		e.mustJSON("PUT", path, iloqapi.UpdateKeySecurityAccessesParam{SecurityAccessIDs: []string{accHQ, accNorth}}, nil)
		assert.Equal(t, iloqapi.ProgOrdered, e.keyState(id).ProgrammingState, "still ordered")
		after, err := e.sim.Requests(context.Background(), reqs[len(reqs)-1].Seq+1)
		require.NoError(t, err)
		for _, r := range after {
			assert.False(t, r.Changed, r.Op)
		}
	})
	bad := []struct {
		name string
		slot iloqapi.KeyTimeLimitSlot
		code string
	}{
		{"dates on a quarter hour", iloqapi.KeyTimeLimitSlot{SlotNo: 1, LimitDateLg: local("2027-01-31T18:10:00")}, "7"},
		{"no weekly clock in date slots", iloqapi.KeyTimeLimitSlot{SlotNo: 0, LimitDateLg: local("2027-01-01T00:00:00"),
			TimeLimitData: []iloqapi.KeyTimeLimitData{{WeekDayMask: 1, EndTimeMS: 3600_000}}}, "8"},
		{"a profile needs its title", iloqapi.KeyTimeLimitSlot{SlotNo: 2,
			TimeLimitData: []iloqapi.KeyTimeLimitData{{WeekDayMask: 1, EndTimeMS: 3600_000}}}, "9"},
		{"a fixed profile's clock must match the title", iloqapi.KeyTimeLimitSlot{SlotNo: 2, TimeLimitTitleID: profOffice,
			TimeLimitData: []iloqapi.KeyTimeLimitData{{WeekDayMask: 31, StartTimeMS: 8 * 3600_000, EndTimeMS: 17 * 3600_000}}}, "11"},
	}
	for _, b := range bad {
		t.Run("rejects: "+b.name, func(t *testing.T) {
			msg := e.errMessage("PUT", path, iloqapi.UpdateKeySecurityAccessesParam{
				TimeLimitSlots: []iloqapi.KeyTimeLimitSlot{b.slot}}, http.StatusBadRequest)
			assert.Contains(t, msg, "CanAddTimeLimit "+b.code)
		})
	}
	t.Run("start must be before end", func(t *testing.T) {
		msg := e.errMessage("PUT", path, iloqapi.UpdateKeySecurityAccessesParam{TimeLimitSlots: []iloqapi.KeyTimeLimitSlot{
			{SlotNo: 0, LimitDateLg: local("2027-02-01T00:00:00")}, {SlotNo: 1, LimitDateLg: local("2027-01-01T00:00:00")}}},
			http.StatusBadRequest)
		assert.Contains(t, msg, "CanAddTimeLimit 13")
	})
	t.Run("time profiles: CanAdd, add, capacity", func(t *testing.T) {
		office := iloqapi.KeyTimeLimitSlot{SlotNo: 2, TimeLimitTitleID: profOffice,
			TimeLimitData: []iloqapi.KeyTimeLimitData{{WeekDayMask: 31, StartTimeMS: 7 * 3600_000, EndTimeMS: 17 * 3600_000}}}
		p := iloqapi.InsertKeyTimeLimitSlotParam{TimeLimitSlot: office}
		assert.Equal(t, iloqapi.TimeLimitOK, e.canCode("POST", "/api/v2/Keys/"+id+"/TimeLimitTitles/CanAdd", p))
		e.mustJSON("POST", "/api/v2/Keys/"+id+"/TimeLimitTitles", p, nil)
		assert.Equal(t, iloqapi.TimeLimitTooMany, e.canCode("POST", "/api/v2/Keys/"+id+"/TimeLimitTitles/CanAdd", p))

		dyn := uuid.NewString()
		e.mustJSON("POST", "/api/v2/TimeLimitTitles", iloqapi.InsertTimeLimitTitlesParam{
			TimeLimitTitle: iloqapi.TimeLimitTitle{TimeLimitTitleID: dyn, Name: "dyn", OptionMask: 2 | 8}}, nil)
		big := iloqapi.KeyTimeLimitSlot{SlotNo: 2, TimeLimitTitleID: dyn}
		for range 10 {
			big.TimeLimitData = append(big.TimeLimitData, office.TimeLimitData[0])
		}
		assert.Equal(t, iloqapi.TimeLimitNoSpace, e.canCode("POST", "/api/v2/Keys/"+id+"/TimeLimitTitles/CanAdd",
			iloqapi.InsertKeyTimeLimitSlotParam{TimeLimitSlot: big}))
	})
}

func TestReturn(t *testing.T) {
	e := newEnv(t, sim.Options{}).login()
	ctx := context.Background()
	t.Run("a physical key cannot be returned through the API", func(t *testing.T) {
		assert.Equal(t, iloqapi.CanReturnNotPhoneOrTag, e.canCode("GET", "/api/v2/Keys/"+keyAlanS5+"/CanReturn", nil))
	})
	t.Run("a never programmed key is deleted instead", func(t *testing.T) {
		id := e.newPhoneKey(accHQ)
		assert.Equal(t, iloqapi.CanReturnNeverProgrammed, e.canCode("GET", "/api/v2/Keys/"+id+"/CanReturn", nil))
		assert.Equal(t, iloqapi.CanDeleteKeyOK, e.canCode("GET", "/api/v2/Keys/"+id+"/CanDelete", nil))
	})
	t.Run("a key with a standard right needs iLOQ Manager", func(t *testing.T) {
		id := e.newPhoneKey(accHQ)
		e.mustJSON("POST", "/api/v2/Keys/"+id+"/Order", nil, nil)
		_, err := e.sim.SyncPhone(id)
		require.NoError(t, err)
		e.mustJSON("POST", "/api/v2/Keys/"+id+"/SecurityAccesses",
			iloqapi.AddSecurityAccessParam{SecurityAccessID: accStandard}, nil)
		assert.Equal(t, iloqapi.CanReturnNeedsManager, e.canCode("GET", "/api/v2/Keys/"+id+"/CanReturn", nil))
	})
	t.Run("a phone key is emptied on its next sync", func(t *testing.T) {
		assert.Equal(t, iloqapi.CanDeleteKeyProgrammed, e.canCode("GET", "/api/v2/Keys/"+keyAdaPhone+"/CanDelete", nil))
		require.Equal(t, iloqapi.CanReturnOK, e.canCode("GET", "/api/v2/Keys/"+keyAdaPhone+"/CanReturn", nil))
		e.mustJSON("POST", "/api/v2/Keys/"+keyAdaPhone+"/Return", nil, nil)
		assert.Empty(t, e.accessIDs(keyAdaPhone, iloqapi.ModePlanned))
		assert.Equal(t, []string{accHQ}, e.accessIDs(keyAdaPhone, iloqapi.ModeProgrammed))
		require.NoError(t, e.sim.DeliverKey(ctx, keyAdaPhone, simctl.ViaAuto))
		assert.Empty(t, e.accessIDs(keyAdaPhone, iloqapi.ModeProgrammed))
		assert.Equal(t, iloqapi.KeyStateReturned, e.keyState(keyAdaPhone).State)
	})
	t.Run("a tag is emptied on the server at once", func(t *testing.T) {
		e.mustJSON("POST", "/api/v2/Keys/"+keyGraceTag+"/Return", nil, nil)
		k := e.keyState(keyGraceTag)
		assert.Equal(t, iloqapi.KeyStateReturned, k.State)
		assert.Equal(t, iloqapi.ProgProgrammed, k.ProgrammingState)
	})
}

func TestBlocklistSpreadsLazily(t *testing.T) {
	e := newEnv(t, sim.Options{}).login()
	ctx := context.Background()
	// Alan's S5 key (North substations) is lost.
	require.True(t, canBool(e, "/api/v2/Blacklists/CanAddKey/"+keyAlanS5))
	assert.Equal(t, iloqapi.BlocklistOrderNothing, e.canCode("GET", "/api/v2/Blacklists/CanOrderS40Blacklist", nil))
	e.mustJSON("POST", "/api/v2/Blacklists/AddKey/"+keyAlanS5, nil, nil)
	assert.False(t, canBool(e, "/api/v2/Blacklists/CanAddKey/"+keyAlanS5), "already listed")
	e.errMessage("PUT", "/api/v2/Keys/"+keyAlanS5+"/SecurityAccesses", iloqapi.UpdateKeySecurityAccessesParam{},
		http.StatusBadRequest)

	t.Run("before ordering no lock refuses the key", func(t *testing.T) {
		res, err := e.sim.UseKey(ctx, keyAlanS5, lockN1)
		require.NoError(t, err)
		assert.True(t, res.Opened, res.Reason)
	})
	require.Equal(t, iloqapi.BlocklistOrderOK, e.canCode("GET", "/api/v2/Blacklists/CanOrderS40Blacklist", nil))
	e.mustJSON("POST", "/api/v2/Blacklists/OrderS40Blacklist", nil, nil)
	var bl iloqapi.GetS40BlacklistResult
	e.mustJSON("GET", "/api/v2/Blacklists", nil, &bl)
	require.Len(t, bl.BlacklistItems, 1)
	assert.Equal(t, iloqapi.BlocklistAdded, bl.BlacklistItems[0].ChangeType)
	assert.Equal(t, map[string]bool{lockN1: false, lockN2: false, lockHQ: false}, e.sim.BlocklistSpread())

	t.Run("a phone picks the blocklist up and carries it to the lock it opens", func(t *testing.T) {
		e.mustJSON("POST", "/api/v2/Keys/"+keyAdaPhone+"/SecurityAccesses",
			iloqapi.AddSecurityAccessParam{SecurityAccessID: accNorth}, nil)
		e.mustJSON("POST", "/api/v2/Keys/"+keyAdaPhone+"/Order", nil, nil)
		require.NoError(t, e.sim.DeliverKey(ctx, keyAdaPhone, simctl.ViaPhoneSync))
		res, err := e.sim.UseKey(ctx, keyAdaPhone, lockN1)
		require.NoError(t, err)
		require.True(t, res.Opened, res.Reason)
		assert.Equal(t, map[string]bool{lockN1: true, lockN2: false, lockHQ: false}, e.sim.BlocklistSpread())
	})
	t.Run("the lost key is refused where the blocklist arrived, not elsewhere", func(t *testing.T) {
		res, err := e.sim.UseKey(ctx, keyAlanS5, lockN2)
		require.NoError(t, err)
		assert.True(t, res.Opened, "N2 has not learnt the blocklist yet")
		res, err = e.sim.UseKey(ctx, keyAlanS5, lockN1)
		require.NoError(t, err)
		assert.False(t, res.Opened)
		assert.Contains(t, res.Reason, "blocklist")
	})
	t.Run("a programming key visit teaches the lock", func(t *testing.T) {
		require.NoError(t, e.sim.VisitLock(ctx, lockHQ))
		assert.True(t, e.sim.BlocklistSpread()[lockHQ])
	})
}

func canBool(e *env, path string) bool {
	status, raw := e.do("GET", path, nil)
	require.Equal(e.t, http.StatusOK, status, string(raw))
	var b bool
	require.NoError(e.t, json.Unmarshal(raw, &b), "want a bare bool: %s", raw)
	return b
}

func TestTimeLimitsAtTheLock(t *testing.T) {
	e := newEnv(t, sim.Options{}).login()
	ctx := context.Background()
	t.Run("the end date the key carries ends access", func(t *testing.T) {
		res, err := e.sim.UseKey(ctx, keyAlanS5, lockN1)
		require.NoError(t, err)
		require.True(t, res.Opened, res.Reason)
		end := time.Date(2027, 6, 30, 18, 0, 0, 0, e.sim.Location())
		now, _ := e.sim.Now(ctx)
		require.NoError(t, e.sim.Advance(ctx, end.Sub(now)))
		res, err = e.sim.UseKey(ctx, keyAlanS5, lockN1)
		require.NoError(t, err)
		assert.False(t, res.Opened)
		assert.Contains(t, res.Reason, "end date")
	})
	t.Run("a phone offline beyond its expiration is refused", func(t *testing.T) {
		e := newEnv(t, sim.Options{}).login()
		res, err := e.sim.UseKey(ctx, keyAdaPhone, lockHQ)
		require.NoError(t, err)
		require.True(t, res.Opened, res.Reason)
		require.NoError(t, e.sim.Advance(ctx, 25*time.Hour))
		res, err = e.sim.UseKey(ctx, keyAdaPhone, lockHQ)
		require.NoError(t, err)
		assert.Contains(t, res.Reason, "offline")
	})
	t.Run("a time profile limits access to its weekly clock", func(t *testing.T) {
		e := newEnv(t, sim.Options{}).login()
		office := iloqapi.KeyTimeLimitSlot{SlotNo: 2, TimeLimitTitleID: profOffice,
			TimeLimitData: []iloqapi.KeyTimeLimitData{{WeekDayMask: 31, StartTimeMS: 7 * 3600_000, EndTimeMS: 17 * 3600_000}}}
		e.mustJSON("POST", "/api/v2/Keys/"+keyAdaPhone+"/TimeLimitTitles", iloqapi.InsertKeyTimeLimitSlotParam{TimeLimitSlot: office}, nil)
		e.mustJSON("POST", "/api/v2/Keys/"+keyAdaPhone+"/Order", nil, nil)
		require.NoError(t, e.sim.DeliverKey(ctx, keyAdaPhone, simctl.ViaAuto))
		res, _ := e.sim.UseKey(ctx, keyAdaPhone, lockHQ) // Monday 09:00 local
		assert.True(t, res.Opened, res.Reason)
		require.NoError(t, e.sim.Advance(ctx, 9*time.Hour)) // 18:00
		res, _ = e.sim.UseKey(ctx, keyAdaPhone, lockHQ)
		assert.False(t, res.Opened)
	})
	t.Run("an API right opens only locks that allow API rights", func(t *testing.T) {
		no := false
		s, err := sim.New(sim.Options{Now: func() time.Time { return start }})
		require.NoError(t, err)
		require.NoError(t, s.Seed(sim.Seed{
			AccessRights: []sim.SeedAccessRight{{ID: accNorth, Name: "n"}},
			Locks:        []sim.SeedLock{{ID: lockN1, AccessRights: []string{accNorth}, AllowAPI: &no}},
			Persons:      []sim.SeedPerson{{ID: personAda, LastName: "A"}},
			Keys: []sim.SeedKey{{ID: keyAlanS5, Type: "s5", Person: personAda,
				AccessRights: []string{accNorth}, Programmed: true}},
		}))
		res, err := s.UseKey(ctx, keyAlanS5, lockN1)
		require.NoError(t, err)
		assert.False(t, res.Opened)
	})
}

func TestLockLogs(t *testing.T) {
	s, err := sim.New(sim.Options{Now: func() time.Time { return start }})
	require.NoError(t, err)
	sd := sim.Seed{
		AccessRights: []sim.SeedAccessRight{{ID: accNorth, Name: "n"}},
		Locks:        []sim.SeedLock{{ID: lockN1, AccessRights: []string{accNorth}}},
		Persons:      []sim.SeedPerson{{ID: personAda, LastName: "A"}},
		Keys:         []sim.SeedKey{{ID: keyAlanS5, Type: "s5", Person: personAda, Programmed: true}},
	}
	for i := range 2500 {
		at := start.Add(-time.Duration(2500-i) * time.Second)
		sd.Logs = append(sd.Logs, sim.SeedLog{Key: keyAlanS5, Lock: lockN1, At: at.Add(-time.Hour), Arrival: at})
	}
	require.NoError(t, s.Seed(sd))
	srv := newEnvFrom(t, s).login()

	var res iloqapi.GetLockLogDataResult
	from := iloqapi.NewUTC(start.Add(-3 * time.Hour))
	to := iloqapi.NewUTC(start)
	srv.mustJSON("POST", "/api/v2/LockLogs/GetLockLogDataByTimestamp",
		iloqapi.GetLockLogDataParam{StartDateUtc: &from, EndDateUtc: &to}, &res)
	assert.Len(t, res.LockLogs, sim.MaxLogRows)
	assert.Equal(t, 2500, res.TotalCount)
	assert.True(t, res.LockLogs[0].TimestampUtc.Before(res.LockLogs[1].TimestampUtc.Time), "oldest first")

	t.Run("the end bound is exclusive", func(t *testing.T) {
		first := res.LockLogs[0].TimestampUtc
		next := iloqapi.NewUTC(first.Add(time.Second))
		var one iloqapi.GetLockLogDataResult
		srv.mustJSON("POST", "/api/v2/LockLogs/GetLockLogDataByTimestamp",
			iloqapi.GetLockLogDataParam{StartDateUtc: &first, EndDateUtc: &next}, &one)
		assert.Len(t, one.LockLogs, 1)
	})
	t.Run("POST LockLogs filters by key and caps at 2000", func(t *testing.T) {
		var out iloqapi.GetLockLogsResult
		srv.mustJSON("POST", "/api/v2/LockLogs", iloqapi.GetLockLogsParam{FNKeyIDs: []string{keyAlanS5}, FLockIDs: []string{lockN1}}, &out)
		assert.Len(t, out.LockLogs, sim.MaxLogRows)
		assert.Equal(t, 2500, out.TotalCount)
		srv.errMessage("POST", "/api/v2/LockLogs", iloqapi.GetLockLogsParam{}, http.StatusBadRequest)
	})
}

func newEnvFrom(t *testing.T, s *sim.Server) *env {
	e := &env{t: t, sim: s}
	e.srv = newTestServer(t, s)
	return e
}

func TestSeedFileErrors(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/seed.yaml"
	require.NoError(t, os.WriteFile(path, []byte("keys:\n  - {type: spaceship}\n"), 0o600))
	sd, err := sim.LoadSeed(path)
	require.NoError(t, err)
	s, err := sim.New(sim.Options{})
	require.NoError(t, err)
	assert.ErrorContains(t, s.Seed(sd), "spaceship")
	require.NoError(t, os.WriteFile(path, []byte("kees: []\n"), 0o600))
	_, err = sim.LoadSeed(path)
	assert.ErrorContains(t, err, "kees")
}
