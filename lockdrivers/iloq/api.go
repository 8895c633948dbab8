package iloq

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/keyward/keyward/lockdrivers/driver"
	"github.com/keyward/keyward/lockdrivers/iloq/iloqapi"
)

// Typed calls of the iLOQ Public API v2 the driver uses. Each names its
// operation in errors ("iloq: GET Keys/{id}") and refuses an answer that
// contradicts the request (another id than the one asked for).

func sameID(a, b string) bool { return strings.EqualFold(strings.TrimSpace(a), strings.TrimSpace(b)) }

func contradiction(op, what, want, got string) error {
	return driver.Errorf(driver.KindUnknown, op, "vendor answer contradicts the request: asked for %s %q, got %q",
		what, want, got)
}

// notFound turns the vendor's "Invalid value" for an id into KindNotFound.
func notFound(err error, op string) error {
	var ae *APIError
	if errors.As(err, &ae) && ae.InvalidValue() {
		return driver.E(driver.KindNotFound, op, ae)
	}
	return err
}

// Persons.

func (c *Client) ListPersons(ctx context.Context) ([]iloqapi.Person, error) {
	var out []iloqapi.Person
	return out, c.Call(ctx, "iloq: GET Persons", http.MethodGet, "Persons", nil, &out)
}

// PersonByExternalID finds one person by ExternalPersonId; (nil, nil) when
// none matches (the vendor answers 400 "Invalid value").
func (c *Client) PersonByExternalID(ctx context.Context, ext string) (*iloqapi.Person, error) {
	const op = "iloq: GET Persons/GetByExternalPersonIds"
	var out []iloqapi.Person
	err := c.Call(ctx, op, http.MethodGet, "Persons/GetByExternalPersonIds?externalPersonIds="+
		url.QueryEscape(ext), nil, &out)
	var ae *APIError
	if errors.As(err, &ae) && ae.InvalidValue() {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	for i := range out {
		if out[i].ExternalPersonID == ext {
			return &out[i], nil
		}
	}
	if len(out) > 0 {
		return nil, contradiction(op, "external person id", ext, out[0].ExternalPersonID)
	}
	return nil, nil
}

func (c *Client) GetPerson(ctx context.Context, id string) (iloqapi.Person, error) {
	const op = "iloq: GET Persons/{id}"
	var p iloqapi.Person
	if err := c.Call(ctx, op, http.MethodGet, "Persons/"+pathID(id), nil, &p); err != nil {
		return p, notFound(err, op)
	}
	if !sameID(p.PersonID, id) {
		return p, contradiction(op, "person", id, p.PersonID)
	}
	return p, nil
}

func (c *Client) InsertPerson(ctx context.Context, p iloqapi.Person, zones []string) error {
	const op = "iloq: POST Persons"
	var res iloqapi.InsertPersonResult
	if err := c.Call(ctx, op, http.MethodPost, "Persons", iloqapi.InsertPersonParam{Person: p,
		ZoneIDs: zones}, &res); err != nil {
		return err
	}
	if len(res.PersonIDs) != 1 || !sameID(res.PersonIDs[0], p.PersonID) {
		return contradiction(op, "person", p.PersonID, strings.Join(res.PersonIDs, ","))
	}
	return nil
}

// Keys.

func (c *Client) ListKeys(ctx context.Context) ([]iloqapi.Key, error) {
	var out []iloqapi.Key
	return out, c.Call(ctx, "iloq: GET Keys", http.MethodGet, "Keys", nil, &out)
}

func (c *Client) GetKey(ctx context.Context, id string) (iloqapi.Key, error) {
	const op = "iloq: GET Keys/{id}"
	var k iloqapi.Key
	if err := c.Call(ctx, op, http.MethodGet, "Keys/"+pathID(id), nil, &k); err != nil {
		return k, notFound(err, op)
	}
	if !sameID(k.FNKeyID, id) {
		return k, contradiction(op, "key", id, k.FNKeyID)
	}
	return k, nil
}

func (c *Client) UpdateKey(ctx context.Context, k iloqapi.Key) error {
	return c.Call(ctx, "iloq: PUT Keys", http.MethodPut, "Keys", iloqapi.UpdateKeyParam{Key: k}, nil)
}

func (c *Client) KeyPhone(ctx context.Context, id string) (iloqapi.KeyPhone, error) {
	var p iloqapi.KeyPhone
	return p, c.Call(ctx, "iloq: GET Keys/{id}/KeyPhone", http.MethodGet, "Keys/"+pathID(id)+"/KeyPhone", nil, &p)
}

// KeyAccesses reads a key's access rights in mode 1 (planned) or 2 (last
// programmed).
func (c *Client) KeyAccesses(ctx context.Context, id string, mode int) ([]iloqapi.SecurityAccess, error) {
	const op = "iloq: GET Keys/{id}/SecurityAccesses"
	var res iloqapi.GetKeySecurityAccessesResult
	err := c.Call(ctx, op, http.MethodGet, "Keys/"+pathID(id)+"/SecurityAccesses?mode="+itoa(mode), nil, &res)
	return res.SecurityAccesses, notFound(err, op)
}

// KeyTimeLimits reads a key's time-limit slots in mode 1 or 2.
func (c *Client) KeyTimeLimits(ctx context.Context, id string, mode int) (iloqapi.GetTimeLimitsResult, error) {
	const op = "iloq: GET Keys/{id}/TimeLimitTitles"
	var res iloqapi.GetTimeLimitsResult
	err := c.Call(ctx, op, http.MethodGet, "Keys/"+pathID(id)+"/TimeLimitTitles?mode="+itoa(mode), nil, &res)
	return res, notFound(err, op)
}

// PutKeyAccesses is the full replace: everything omitted is deleted.
func (c *Client) PutKeyAccesses(ctx context.Context, id string, p iloqapi.UpdateKeySecurityAccessesParam) error {
	return c.Call(ctx, "iloq: PUT Keys/{id}/SecurityAccesses", http.MethodPut,
		"Keys/"+pathID(id)+"/SecurityAccesses", p, nil)
}

// canInt calls a Can… endpoint answering a bare integer.
func (c *Client) canInt(ctx context.Context, op, method, path string, in any) (int, error) {
	var n int
	err := c.Call(ctx, op, method, path, in, &n)
	return n, notFound(err, op)
}

func (c *Client) CanAddAccess(ctx context.Context, id string) (int, error) {
	return c.canInt(ctx, "iloq: GET Keys/{id}/SecurityAccesses/CanAdd", http.MethodGet,
		"Keys/"+pathID(id)+"/SecurityAccesses/CanAdd", nil)
}

func (c *Client) CanDeleteAccess(ctx context.Context, id, sa string) (int, error) {
	return c.canInt(ctx, "iloq: GET Keys/{id}/SecurityAccesses/{sa}/CanDelete", http.MethodGet,
		"Keys/"+pathID(id)+"/SecurityAccesses/"+pathID(sa)+"/CanDelete", nil)
}

func (c *Client) CanAddTimeLimit(ctx context.Context, id string, sl iloqapi.KeyTimeLimitSlot) (int, error) {
	return c.canInt(ctx, "iloq: POST Keys/{id}/TimeLimitTitles/CanAdd", http.MethodPost,
		"Keys/"+pathID(id)+"/TimeLimitTitles/CanAdd", iloqapi.InsertKeyTimeLimitSlotParam{TimeLimitSlot: sl})
}

func (c *Client) CanOrder(ctx context.Context, id string) (int, error) {
	return c.canInt(ctx, "iloq: GET Keys/{id}/CanOrder", http.MethodGet, "Keys/"+pathID(id)+"/CanOrder", nil)
}

func (c *Client) Order(ctx context.Context, id string) error {
	return c.Call(ctx, "iloq: POST Keys/{id}/Order", http.MethodPost, "Keys/"+pathID(id)+"/Order", nil, nil)
}

func (c *Client) CanReturn(ctx context.Context, id string) (int, error) {
	return c.canInt(ctx, "iloq: GET Keys/{id}/CanReturn", http.MethodGet, "Keys/"+pathID(id)+"/CanReturn", nil)
}

func (c *Client) Return(ctx context.Context, id string) error {
	return c.Call(ctx, "iloq: POST Keys/{id}/Return", http.MethodPost, "Keys/"+pathID(id)+"/Return", nil, nil)
}

// Access rights, locks, zones, time profiles.

func (c *Client) ListAccesses(ctx context.Context) ([]iloqapi.SecurityAccess, error) {
	var out []iloqapi.SecurityAccess
	return out, c.Call(ctx, "iloq: GET SecurityAccesses", http.MethodGet, "SecurityAccesses", nil, &out)
}

func (c *Client) ListLocks(ctx context.Context) ([]iloqapi.Lock, error) {
	var out []iloqapi.Lock
	return out, c.Call(ctx, "iloq: GET Locks", http.MethodGet, "Locks", nil, &out)
}

func (c *Client) LockAccesses(ctx context.Context, id string) ([]iloqapi.SecurityAccess, error) {
	const op = "iloq: GET Locks/{id}/SecurityAccesses"
	var res iloqapi.GetLockSecurityAccessesResult
	err := c.Call(ctx, op, http.MethodGet, "Locks/"+pathID(id)+"/SecurityAccesses?mode=1", nil, &res)
	return res.SecurityAccesses, notFound(err, op)
}

func (c *Client) ListZones(ctx context.Context) ([]iloqapi.Zone, error) {
	var out []iloqapi.Zone
	return out, c.Call(ctx, "iloq: GET Zones", http.MethodGet, "Zones", nil, &out)
}

func (c *Client) ListTitles(ctx context.Context) ([]iloqapi.TimeLimitTitle, error) {
	var out []iloqapi.TimeLimitTitle
	return out, c.Call(ctx, "iloq: GET TimeLimitTitles", http.MethodGet, "TimeLimitTitles", nil, &out)
}

func (c *Client) TitleData(ctx context.Context, id string) ([]iloqapi.TimeLimitData, error) {
	var out []iloqapi.TimeLimitData
	return out, c.Call(ctx, "iloq: GET TimeLimitTitles/{id}/TimeLimitData", http.MethodGet,
		"TimeLimitTitles/"+pathID(id)+"/TimeLimitData", nil, &out)
}

func (c *Client) InsertTitle(ctx context.Context, t iloqapi.TimeLimitTitle, data []iloqapi.TimeLimitData) error {
	return c.Call(ctx, "iloq: POST TimeLimitTitles", http.MethodPost, "TimeLimitTitles",
		iloqapi.InsertTimeLimitTitlesParam{TimeLimitTitle: t, TimeLimitData: data}, nil)
}

// Blocklist.

func (c *Client) Blocklist(ctx context.Context) (iloqapi.GetS40BlacklistResult, error) {
	var out iloqapi.GetS40BlacklistResult
	return out, c.Call(ctx, "iloq: GET Blacklists", http.MethodGet, "Blacklists", nil, &out)
}

func (c *Client) canBool(ctx context.Context, op, path string) (bool, error) {
	var b bool
	err := c.Call(ctx, op, http.MethodGet, path, nil, &b)
	return b, notFound(err, op)
}

func (c *Client) CanBlocklistKey(ctx context.Context, id string) (bool, error) {
	return c.canBool(ctx, "iloq: GET Blacklists/CanAddKey/{id}", "Blacklists/CanAddKey/"+pathID(id))
}

func (c *Client) BlocklistKey(ctx context.Context, id string) error {
	return c.Call(ctx, "iloq: POST Blacklists/AddKey/{id}", http.MethodPost, "Blacklists/AddKey/"+pathID(id), nil, nil)
}

func (c *Client) CanUnblocklistKey(ctx context.Context, id string) (bool, error) {
	return c.canBool(ctx, "iloq: GET Blacklists/CanRemoveKey/{id}", "Blacklists/CanRemoveKey/"+pathID(id))
}

func (c *Client) UnblocklistKey(ctx context.Context, id string) error {
	return c.Call(ctx, "iloq: DELETE Blacklists/RemoveKey/{id}", http.MethodDelete,
		"Blacklists/RemoveKey/"+pathID(id), nil, nil)
}

func (c *Client) CanOrderBlocklist(ctx context.Context) (int, error) {
	return c.canInt(ctx, "iloq: GET Blacklists/CanOrderS40Blacklist", http.MethodGet,
		"Blacklists/CanOrderS40Blacklist", nil)
}

func (c *Client) OrderBlocklist(ctx context.Context) error {
	return c.Call(ctx, "iloq: POST Blacklists/OrderS40Blacklist", http.MethodPost,
		"Blacklists/OrderS40Blacklist", nil, nil)
}

// Lock logs.

// LockLogsByArrival reads lock logs that arrived at the server in
// [from, to): at most 2000 rows, and TotalCount says how many matched.
func (c *Client) LockLogsByArrival(ctx context.Context, from, to time.Time) (iloqapi.GetLockLogDataResult, error) {
	f, t := iloqapi.NewUTC(from), iloqapi.NewUTC(to)
	var out iloqapi.GetLockLogDataResult
	err := c.Call(ctx, "iloq: POST LockLogs/GetLockLogDataByTimestamp", http.MethodPost,
		"LockLogs/GetLockLogDataByTimestamp", iloqapi.GetLockLogDataParam{StartDateUtc: &f, EndDateUtc: &t}, &out)
	return out, err
}

// Test calls GET Test (connectivity without a session).
func (c *Client) Test(ctx context.Context) error {
	var s string
	return c.Call(ctx, "iloq: GET Test", http.MethodGet, "Test", nil, &s)
}

func (c *Client) CanDeleteKey(ctx context.Context, id string) (int, error) {
	return c.canInt(ctx, "iloq: GET Keys/{id}/CanDelete", http.MethodGet, "Keys/"+pathID(id)+"/CanDelete", nil)
}

func (c *Client) DeleteKey(ctx context.Context, id string) error {
	return c.Call(ctx, "iloq: DELETE Keys/{id}", http.MethodDelete, "Keys/"+pathID(id), nil, nil)
}

func (c *Client) CanUpdateMainZone(ctx context.Context, id string) (int, error) {
	return c.canInt(ctx, "iloq: GET Keys/{id}/CanUpdateMainZone", http.MethodGet,
		"Keys/"+pathID(id)+"/CanUpdateMainZone", nil)
}

func (c *Client) UpdateMainZone(ctx context.Context, id, zone string) error {
	return c.Call(ctx, "iloq: PUT Keys/{id}/UpdateMainZone", http.MethodPut, "Keys/"+pathID(id)+"/UpdateMainZone",
		iloqapi.UpdateKeyMainZoneParam{ZoneID: zone}, nil)
}
