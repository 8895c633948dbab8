package cwm

import (
	"context"
	"errors"
	"time"
)

// The query API v2 operations, with the names seen in public code.
const (
	OpGetPersons       = "getPersons"
	OpGetKeysForPerson = "getKeysForPerson"
	OpGetKeyDetails    = "getKeyDetails"
	OpGetAuditTrails   = "getAuditTrails"
)

// MaxAuditPage is the largest maxResults the client asks for; the public
// client uses 1000.
const MaxAuditPage = 1000

func (c *Client) query(ctx context.Context, op string, body, out any) error {
	return c.call(ctx, c.queryURL, "v2", NSQueryV2, op, body, out)
}

// GetPersons returns every person, including soft-deleted ones (Deleted).
func (c *Client) GetPersons(ctx context.Context) ([]Person, error) {
	var r GetPersonsResponse
	if err := c.query(ctx, OpGetPersons, nil, &r); err != nil {
		return nil, err
	}
	return r.Persons, nil
}

// GetKeysForPerson returns the keys a person holds, including soft-deleted
// ones; none is an empty slice.
func (c *Client) GetKeysForPerson(ctx context.Context, personIdentity string) ([]Key, error) {
	if personIdentity == "" {
		return nil, &Error{Op: OpGetKeysForPerson, Kind: KindInvalid, Err: errors.New("empty person identity")}
	}
	var r GetKeysForPersonResponse
	if err := c.query(ctx, OpGetKeysForPerson, GetKeysForPersonRequest{PersonIdentity: personIdentity}, &r); err != nil {
		return nil, err
	}
	return r.Keys, nil
}

// GetKeyDetails returns a key's details (operational status, last remote
// update).
func (c *Client) GetKeyDetails(ctx context.Context, keyIdentity string) (KeyDetails, error) {
	if keyIdentity == "" {
		return KeyDetails{}, &Error{Op: OpGetKeyDetails, Kind: KindInvalid, Err: errors.New("empty key identity")}
	}
	var r GetKeyDetailsResponse
	if err := c.query(ctx, OpGetKeyDetails, GetKeyDetailsRequest{KeyIdentity: keyIdentity}, &r); err != nil {
		return KeyDetails{}, err
	}
	if r.KeyDetails == nil {
		return KeyDetails{}, &Error{Op: OpGetKeyDetails, Kind: KindMalformed, Err: errors.New("response has no keyDetails element")}
	}
	return *r.KeyDetails, nil
}

// GetAuditTrails returns one page of audit trails imported into CWM in
// [from, to) (to zero = open), ordered by import date, starting at
// firstResult. maxResults above MaxAuditPage is lowered to it.
func (c *Client) GetAuditTrails(ctx context.Context, from, to time.Time, firstResult, maxResults int) ([]AuditTrail, error) {
	if from.IsZero() {
		return nil, &Error{Op: OpGetAuditTrails, Kind: KindInvalid, Err: errors.New("importDateInterval needs a from date")}
	}
	if firstResult < 0 || maxResults <= 0 {
		return nil, &Error{Op: OpGetAuditTrails, Kind: KindInvalid, Err: errors.New("pagination needs firstResult >= 0 and maxResults > 0")}
	}
	if maxResults > MaxAuditPage {
		maxResults = MaxAuditPage
	}
	req := GetAuditTrailsRequest{
		ImportDateInterval: DateInterval{From: NewDateTime(from), To: NewDateTime(to)},
		Pagination:         &Pagination{FirstResult: firstResult, MaxResults: maxResults},
	}
	var r GetAuditTrailsResponse
	if err := c.query(ctx, OpGetAuditTrails, req, &r); err != nil {
		return nil, err
	}
	return r.AuditTrails, nil
}

// AllAuditTrails pages through GetAuditTrails until an empty page and calls
// fn for each page.
func (c *Client) AllAuditTrails(ctx context.Context, from, to time.Time, pageSize int, fn func([]AuditTrail) error) error {
	for first := 0; ; {
		page, err := c.GetAuditTrails(ctx, from, to, first, pageSize)
		if err != nil {
			return err
		}
		if len(page) == 0 {
			return nil
		}
		if err := fn(page); err != nil {
			return err
		}
		first += len(page)
	}
}
