// Package padlock is a complete small keyward lock driver for "Padlock
// Cloud", an imaginary online padlock system (simulated in
// examples/driver/sim). It is the thing an integrator copies: every method
// of driver.Driver, a strict configuration with every problem reported,
// error kinds mapped from the vendor's HTTP statuses, idempotency by reading
// the vendor's state before writing, a de-duplicated change feed and signed
// webhooks.
//
// Configuration (the lock system's config block in keyward):
//
//	config:
//	  url: https://padlock.example.com   # required, http(s)
//	  page_size: 100                      # 1..200, default 100
//	  timeout: 10s                        # per vendor request, default 10s
//	secrets:
//	  api_token: {file: /run/secrets/padlock-token}   # required
//	  webhook_secret: {env: PADLOCK_WEBHOOK_SECRET}   # for webhooks
package padlock

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/keyward/keyward/lockdrivers/driver"
)

// Version is the driver's version.
const Version = "0.1.0"

// ServeConfig is what the driver's main passes to driver.Serve.
var ServeConfig = driver.ServeConfig{Name: "padlock", New: New}

// Driver drives one Padlock Cloud tenant.
type Driver struct {
	log hclog.Logger

	mu            sync.RWMutex
	api           *api
	pageSize      int
	webhookSecret string
}

var _ driver.Driver = (*Driver)(nil)

// New returns an unconfigured driver.
func New(log hclog.Logger) driver.Driver {
	return &Driver{log: log}
}

const configSchema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "Padlock Cloud driver configuration",
  "type": "object",
  "additionalProperties": false,
  "required": ["url"],
  "properties": {
    "url": {"type": "string", "format": "uri", "description": "Base URL of the Padlock Cloud API"},
    "page_size": {"type": "integer", "minimum": 1, "maximum": 200, "default": 100},
    "timeout": {"type": "string", "description": "Go duration per vendor request", "default": "10s"}
  }
}`

// Info implements driver.Driver.
func (d *Driver) Info(context.Context) (driver.Info, error) {
	return driver.Info{
		Vendor:           "padlock",
		DriverVersion:    Version,
		ContractVersions: []int{driver.ContractVersion},
		Capabilities: driver.Capabilities{
			RemoteKeyUpdate: true, LockBlocklist: true, Webhooks: true, KeyReturn: true,
			Schedules: true, ValidityWindows: true, Revalidation: true,
		},
		ConfigSchema: json.RawMessage(configSchema),
		Secrets: []driver.SecretSpec{
			{Name: "api_token", Description: "Padlock Cloud API bearer token", Required: true},
			{Name: "webhook_secret", Description: "HMAC key of Padlock Cloud webhooks"},
		},
	}, nil
}

type settings struct {
	URL      string `json:"url"`
	PageSize *int   `json:"page_size"`
	Timeout  string `json:"timeout"`
}

// Configure implements driver.Driver; it lists every problem at once.
func (d *Driver) Configure(_ context.Context, cfg driver.Config) error {
	const op = "padlock: configure"
	var s settings
	dec := json.NewDecoder(bytes.NewReader(cfg.Settings))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return driver.Invalid(op, driver.Problem{Field: "config", Message: "not a valid configuration object: " + err.Error()})
	}
	var problems []driver.Problem
	u, err := url.Parse(s.URL)
	switch {
	case s.URL == "":
		problems = append(problems, driver.Problem{Field: "config.url", Message: "required"})
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		problems = append(problems, driver.Problem{Field: "config.url", Message: "must be an http(s) URL"})
	}
	pageSize := 100
	if s.PageSize != nil {
		if *s.PageSize < 1 || *s.PageSize > 200 {
			problems = append(problems, driver.Problem{Field: "config.page_size", Message: "must be 1..200"})
		}
		pageSize = *s.PageSize
	}
	timeout := 10 * time.Second
	if s.Timeout != "" {
		if timeout, err = time.ParseDuration(s.Timeout); err != nil || timeout <= 0 {
			problems = append(problems, driver.Problem{Field: "config.timeout", Message: "must be a positive Go duration"})
		}
	}
	if cfg.Secrets["api_token"] == "" {
		problems = append(problems, driver.Problem{Field: "secrets.api_token", Message: "required"})
	}
	if len(problems) > 0 {
		return driver.Invalid(op, problems...)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.api = &api{
		base:  strings.TrimSuffix(s.URL, "/") + "/v1",
		token: cfg.Secrets["api_token"],
		http:  &http.Client{Timeout: timeout},
	}
	d.pageSize = pageSize
	d.webhookSecret = cfg.Secrets["webhook_secret"]
	d.log.Info("configured", "lock_system", cfg.LockSystem, "url", s.URL)
	return nil
}

// client returns the API client, or an error before Configure.
func (d *Driver) client(op string) (*api, int, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.api == nil {
		return nil, 0, driver.Errorf(driver.KindInvalid, op, "driver is not configured")
	}
	return d.api, d.pageSize, nil
}

// Health implements driver.Driver.
func (d *Driver) Health(ctx context.Context) (driver.Health, error) {
	a, _, err := d.client("padlock: health")
	if err != nil {
		return driver.Health{}, err
	}
	if err := a.do(ctx, "padlock: health", http.MethodGet, "/health", nil, nil, nil); err != nil {
		return driver.Health{Status: driver.HealthDown, Message: err.Error()}, nil
	}
	return driver.Health{Status: driver.HealthServing, CheckedAt: time.Now().UTC()}, nil
}

func size(req driver.ListRequest, def int) int {
	if req.PageSize > 0 {
		return min(req.PageSize, 200)
	}
	return def
}

// ListLocks implements driver.Driver.
func (d *Driver) ListLocks(ctx context.Context, req driver.ListRequest, yield func(driver.Page[driver.Lock]) error) error {
	a, ps, err := d.client("padlock: list locks")
	if err != nil {
		return err
	}
	return pages(ctx, a, "padlock: list locks", "/padlocks", req.Cursor, size(req, ps), lockOf, yield)
}

// ListKeys implements driver.Driver.
func (d *Driver) ListKeys(ctx context.Context, req driver.ListRequest, yield func(driver.Page[driver.Key]) error) error {
	a, ps, err := d.client("padlock: list keys")
	if err != nil {
		return err
	}
	return pages(ctx, a, "padlock: list keys", "/credentials", req.Cursor, size(req, ps), keyOf, yield)
}

// ListPersons implements driver.Driver.
func (d *Driver) ListPersons(ctx context.Context, req driver.ListRequest, yield func(driver.Page[driver.Person]) error) error {
	a, ps, err := d.client("padlock: list persons")
	if err != nil {
		return err
	}
	return pages(ctx, a, "padlock: list persons", "/users", req.Cursor, size(req, ps), personOf, yield)
}

// ListAccessObjects implements driver.Driver.
func (d *Driver) ListAccessObjects(ctx context.Context, req driver.ListRequest,
	yield func(driver.Page[driver.AccessObject]) error,
) error {
	a, ps, err := d.client("padlock: list access objects")
	if err != nil {
		return err
	}
	return pages(ctx, a, "padlock: list access objects", "/groups", req.Cursor, size(req, ps), accessObjectOf, yield)
}

// EnsurePerson implements driver.Driver: find by external id, else create.
func (d *Driver) EnsurePerson(ctx context.Context, req driver.EnsurePersonRequest) (driver.Person, error) {
	const op = "padlock: ensure person"
	a, _, err := d.client(op)
	if err != nil {
		return driver.Person{}, err
	}
	if req.Person.ExternalID == "" || req.Person.Name == "" {
		return driver.Person{}, driver.Invalid(op, driver.Problem{Field: "person", Message: "external_id and name are required"})
	}
	find := func() (*driver.Person, error) {
		var p struct {
			Items []wireUser `json:"items"`
		}
		q := url.Values{"external_id": {req.Person.ExternalID}}
		if err := a.do(ctx, op, http.MethodGet, "/users", q, nil, &p); err != nil {
			return nil, err
		}
		if len(p.Items) == 0 {
			return nil, nil
		}
		found := personOf(p.Items[0])
		return &found, nil
	}
	if p, err := find(); err != nil || p != nil {
		return deref(p), err
	}
	var created wireUser
	err = a.do(ctx, op, http.MethodPost, "/users", nil, wireUser{
		ExternalID: req.Person.ExternalID, Name: req.Person.Name, Email: req.Person.Email,
	}, &created)
	if apiStatus(err) == http.StatusConflict {
		// Created concurrently (or by our own earlier attempt).
		p, err := find()
		return deref(p), err
	}
	if err != nil {
		return driver.Person{}, err
	}
	return personOf(created), nil
}

func deref(p *driver.Person) driver.Person {
	if p == nil {
		return driver.Person{}
	}
	return *p
}

func (d *Driver) credential(ctx context.Context, a *api, op, id string) (wireCredential, error) {
	var c wireCredential
	if id == "" {
		return c, driver.Invalid(op, driver.Problem{Field: "key_id", Message: "required"})
	}
	err := a.do(ctx, op, http.MethodGet, "/credentials/"+url.PathEscape(id), nil, nil, &c)
	return c, err
}

// AssignKey implements driver.Driver.
func (d *Driver) AssignKey(ctx context.Context, req driver.AssignKeyRequest) (driver.Key, error) {
	const op = "padlock: assign key"
	return d.keyWrite(ctx, op, req.KeyID, http.MethodPut, "/holder", map[string]string{"user": req.PersonID})
}

// ReturnKey implements driver.Driver.
func (d *Driver) ReturnKey(ctx context.Context, req driver.KeyRequest) (driver.Key, error) {
	return d.keyWrite(ctx, "padlock: return key", req.KeyID, http.MethodPost, "/return", struct{}{})
}

// ReportKeyLost implements driver.Driver.
func (d *Driver) ReportKeyLost(ctx context.Context, req driver.KeyRequest) (driver.Key, error) {
	return d.keyWrite(ctx, "padlock: report key lost", req.KeyID, http.MethodPost, "/lost", struct{}{})
}

// keyWrite sends a custody change; Padlock Cloud treats these as idempotent
// (the same state again is no change), so no read is needed first.
func (d *Driver) keyWrite(ctx context.Context, op, keyID, method, suffix string, body any) (driver.Key, error) {
	a, _, err := d.client(op)
	if err != nil {
		return driver.Key{}, err
	}
	if keyID == "" {
		return driver.Key{}, driver.Invalid(op, driver.Problem{Field: "key_id", Message: "required"})
	}
	var c wireCredential
	if err := a.do(ctx, op, method, "/credentials/"+url.PathEscape(keyID)+suffix, nil, body, &c); err != nil {
		return driver.Key{}, err
	}
	return keyOf(c), nil
}

// SetKeyAccess implements driver.Driver.
//
// Padlock Cloud stores access declaratively (PUT, a new revision only when
// the content differs) but a programming order is not idempotent: each POST
// is a new order the credential will receive. So the driver reads the
// credential first and orders only when no order exists for the current
// revision. A retry after a crash at any point then sends nothing twice,
// without the driver remembering anything.
func (d *Driver) SetKeyAccess(ctx context.Context, req driver.SetKeyAccessRequest) (driver.Delivery, error) {
	const op = "padlock: set key access"
	a, _, err := d.client(op)
	if err != nil {
		return driver.Delivery{}, err
	}
	want, problems := wireAccessOf(req.Access)
	if req.IdempotencyKey == "" {
		problems = append(problems, driver.Problem{Field: "idempotency_key", Message: "required"})
	}
	if len(problems) > 0 {
		return driver.Delivery{}, driver.Invalid(op, problems...)
	}
	before, err := d.credential(ctx, a, op, req.KeyID)
	if err != nil {
		return driver.Delivery{}, err
	}
	c := before
	path := "/credentials/" + url.PathEscape(req.KeyID)
	if !c.Access.equal(want) {
		if err := a.do(ctx, op, http.MethodPut, path+"/access", nil, want, &c); err != nil {
			return driver.Delivery{}, err
		}
	}
	if c.ProgrammedRevision == c.Revision {
		return driver.Delivery{
			State: driver.DeliveryApplied, ChangeID: c.ID + "@" + strconv.Itoa(c.Revision), At: c.LastSync,
		}, nil
	}
	o := c.Order
	if o == nil || o.Revision != c.Revision {
		o = new(wireOrder)
		err := a.do(ctx, op, http.MethodPost, path+"/orders", nil, map[string]int{"revision": c.Revision}, o)
		if err != nil {
			return driver.Delivery{}, err
		}
		d.log.Debug("ordered", "key_id", c.ID, "order", o.ID, "revision", c.Revision, "idempotency_key", req.IdempotencyKey)
	}
	del := deliveryOf(c, o)
	del.Removal = removalOf(before, want, o.State == "applied")
	return del, nil
}

// Plan implements driver.Driver.
func (d *Driver) Plan(ctx context.Context, req driver.SetKeyAccessRequest) (driver.Plan, error) {
	const op = "padlock: plan"
	a, _, err := d.client(op)
	if err != nil {
		return driver.Plan{}, err
	}
	want, problems := wireAccessOf(req.Access)
	if len(problems) > 0 {
		return driver.Plan{}, driver.Invalid(op, problems...)
	}
	c, err := d.credential(ctx, a, op, req.KeyID)
	if err != nil {
		return driver.Plan{}, err
	}
	var p driver.Plan
	for _, g := range want.Groups {
		if !contains(c.Access.Groups, g) {
			p.Added = append(p.Added, g)
		}
	}
	for _, g := range c.Access.Groups {
		if !contains(want.Groups, g) {
			p.Removed = append(p.Removed, g)
		}
	}
	ordered := c.ProgrammedRevision == c.Revision || (c.Order != nil && c.Order.Revision == c.Revision)
	p.NoChange = c.Access.equal(want) && ordered
	pending := &wireOrder{State: "queued"}
	if p.NoChange {
		if c.ProgrammedRevision == c.Revision {
			p.Expected = driver.DeliveryApplied
			return p, nil
		}
		pending = c.Order
	}
	del := deliveryOf(c, pending)
	p.Expected, p.NeedsAction = del.State, del.NeedsAction
	p.Removal = removalOf(c, want, false)
	if c.Type == "fob" {
		p.Notes = append(p.Notes, "fobs receive changes only at a Padlock hub")
	}
	return p, nil
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// BlockKey implements driver.Driver.
func (d *Driver) BlockKey(ctx context.Context, req driver.BlockKeyRequest) (driver.BlockResult, error) {
	return d.block(ctx, "padlock: block key", "/block", req)
}

// UnblockKey implements driver.Driver.
func (d *Driver) UnblockKey(ctx context.Context, req driver.BlockKeyRequest) (driver.BlockResult, error) {
	return d.block(ctx, "padlock: unblock key", "/unblock", req)
}

// block posts a (un)block; Padlock Cloud answers the current state when the
// credential already is (un)blocked, so a retry changes nothing.
func (d *Driver) block(ctx context.Context, op, suffix string, req driver.BlockKeyRequest) (driver.BlockResult, error) {
	a, _, err := d.client(op)
	if err != nil {
		return driver.BlockResult{}, err
	}
	if req.KeyID == "" || req.IdempotencyKey == "" {
		return driver.BlockResult{}, driver.Invalid(op, driver.Problem{Field: "key_id", Message: "key_id and idempotency_key are required"})
	}
	var b wireBlock
	if err := a.do(ctx, op, http.MethodPost, "/credentials/"+url.PathEscape(req.KeyID)+suffix, nil, struct{}{}, &b); err != nil {
		return driver.BlockResult{}, err
	}
	if b.ChangeID == "" {
		// Never blocked: unblocking is a no-op with no vendor change.
		b.ChangeID = req.KeyID + suffix
	}
	res := driver.BlockResult{Delivery: driver.Delivery{State: driver.DeliveryApplied, ChangeID: b.ChangeID, At: b.At}}
	var pending []string
	for _, e := range b.Locks {
		st := driver.PropagationApplied
		if e.State == "pending" {
			st = driver.PropagationPending
			pending = append(pending, e.Padlock)
		}
		res.Locks = append(res.Locks, driver.LockPropagation{LockID: e.Padlock, State: st, At: e.At})
	}
	if len(pending) > 0 {
		res.Delivery.State = driver.DeliveryNeedsAction
		res.Delivery.NeedsAction = &driver.NeedsAction{
			ReasonCode: "offline-padlocks", Action: driver.ActionVisitLock, LockIDs: pending,
			Reason: "offline padlocks learn the blocklist when visited with the programming key",
		}
	}
	return res, nil
}

// Changes implements driver.Driver. The cursor is the feed's sequence
// number. Padlock Cloud event ids are "evt-<sequence of first delivery>", so
// a re-sent event is recognised by an id at or below the cursor.
func (d *Driver) Changes(ctx context.Context, req driver.ChangesRequest, yield func(driver.Change) error) error {
	const op = "padlock: changes"
	a, _, err := d.client(op)
	if err != nil {
		return err
	}
	after := int64(0)
	if req.Cursor != "" {
		if after, err = strconv.ParseInt(req.Cursor, 10, 64); err != nil || after < 0 {
			return driver.Invalid(op, driver.Problem{Field: "cursor", Message: "not a padlock cursor: " + req.Cursor})
		}
	}
	handed := 0
	for {
		var feed struct {
			Events []wireEvent `json:"events"`
		}
		q := url.Values{"after": {strconv.FormatInt(after, 10)}, "limit": {"500"}}
		if err := a.do(ctx, op, http.MethodGet, "/events", q, nil, &feed); err != nil {
			return err
		}
		if len(feed.Events) == 0 {
			return nil
		}
		for _, ev := range feed.Events {
			seen := after
			after = ev.Seq
			if n, err := strconv.ParseInt(strings.TrimPrefix(ev.ID, "evt-"), 10, 64); err == nil && n <= seen {
				continue // re-sent
			}
			c, ok := changeOf(ev)
			if !ok {
				d.log.Debug("skipping event", "type", ev.Type, "id", ev.ID)
				continue
			}
			c.Cursor = strconv.FormatInt(ev.Seq, 10)
			if err := yield(c); err != nil {
				return err
			}
			handed++
			if req.Limit > 0 && handed >= req.Limit {
				return nil
			}
		}
	}
}

// changeOf converts a feed event; ok is false for event types the driver
// does not report.
func changeOf(ev wireEvent) (driver.Change, bool) {
	c := driver.Change{ID: ev.ID, At: ev.At.UTC()}
	switch {
	case strings.HasPrefix(ev.Type, "order."):
		st, ok := orderStates[ev.State]
		if !ok {
			return c, false
		}
		del := driver.Delivery{State: st, ChangeID: ev.Order, At: ev.At.UTC()}
		if ev.State == "superseded" {
			del.Reason = "superseded by a newer order"
		}
		c.Kind, c.Delivery = driver.ChangeDelivery, &driver.DeliveryChange{KeyID: ev.Credential, Delivery: del}
	case ev.Type == "padlock.opened" || ev.Type == "padlock.refused":
		c.Kind = driver.ChangeLockEvent
		c.LockEvent = &driver.LockEvent{LockID: ev.Padlock, KeyID: ev.Credential, Opened: ev.Opened, Reason: ev.Reason}
	case ev.Type == "credential.state":
		c.Kind = driver.ChangeKeyState
		c.KeyState = &driver.KeyStateChange{KeyID: ev.Credential, State: keyState(ev.State, ev.Blocked)}
	case ev.Type == "block.applied":
		c.Kind = driver.ChangeBlock
		c.Block = &driver.BlockChange{KeyID: ev.Credential, Blocked: ev.Blocked, Lock: driver.LockPropagation{
			LockID: ev.Padlock, State: driver.PropagationApplied, At: ev.At.UTC(),
		}}
	default:
		return c, false
	}
	return c, true
}

// SignatureHeader carries a Padlock Cloud webhook's HMAC-SHA256 signature.
const SignatureHeader = "X-Padlock-Signature"

// HandleWebhook implements driver.Driver: it checks the HMAC-SHA256
// signature of the body, then decodes its events. Changes from webhooks
// carry no cursor; the host de-duplicates them with the feed by id.
func (d *Driver) HandleWebhook(_ context.Context, req driver.Webhook) ([]driver.Change, error) {
	const op = "padlock: webhook"
	d.mu.RLock()
	secret := d.webhookSecret
	d.mu.RUnlock()
	if secret == "" {
		return nil, driver.Errorf(driver.KindInvalid, op, "no webhook_secret configured")
	}
	sig, found := strings.CutPrefix(req.Header.Get(SignatureHeader), "sha256=")
	got, err := hex.DecodeString(sig)
	if !found || err != nil {
		return nil, driver.Errorf(driver.KindUnauthenticated, op, "missing or malformed %s", SignatureHeader)
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(req.Body)
	if !hmac.Equal(got, m.Sum(nil)) {
		return nil, driver.Errorf(driver.KindUnauthenticated, op, "bad signature")
	}
	var body struct {
		Events []wireEvent `json:"events"`
	}
	if err := json.Unmarshal(req.Body, &body); err != nil {
		return nil, driver.Errorf(driver.KindInvalid, op, "decode body: %w", err)
	}
	var out []driver.Change
	for _, ev := range body.Events {
		if c, ok := changeOf(ev); ok {
			out = append(out, c)
		}
	}
	return out, nil
}
