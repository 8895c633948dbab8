package iloq

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/keyward/keyward/lockdrivers/driver"
	"github.com/keyward/keyward/lockdrivers/iloq/iloqapi"
)

// ClientConfig configures the iLOQ REST client.
type ClientConfig struct {
	// ManagerURL is the iLOQ manager URL, e.g. https://s5.iloq.com/iloqws.
	// Url/GetUrl may move the session to another base URL.
	ManagerURL string
	// CustomerCode is the service code shown in iLOQ Manager's login window.
	CustomerCode string
	// UserName and Password are the API user's credentials.
	UserName, Password string
	// LockGroupID selects the locking system; empty picks the first one.
	LockGroupID string
	// GatewayKey, when set, is sent as x-api-key on every request.
	GatewayKey string
	// HTTPClient sends the requests (default: 30 s timeout).
	HTTPClient *http.Client
	// Attempts bounds tries per call for transient failures (5xx,
	// timeouts, dropped connections); default 4.
	Attempts int
	// Backoff is the first retry delay, doubled per attempt with jitter and
	// capped at 5 s; default 200 ms.
	Backoff time.Duration
	// Logger receives debug lines (never secrets).
	Logger hclog.Logger
}

// Client speaks the iLOQ Public API v2. It runs the session flow (GetUrl,
// CreateSession, LockGroups, SetLockgroup), sends SessionId on every call,
// logs in again when the session is gone, and retries transient failures.
// It is safe for concurrent use.
type Client struct {
	cfg  ClientConfig
	http *http.Client
	log  hclog.Logger

	mu        sync.Mutex // session state
	mu2       sync.Mutex // skew
	base      string     // resolved base URL, without trailing slash
	session   string
	lockGroup iloqapi.LockGroup
	rights    int64
	loc       *time.Location
	skew      time.Duration // vendor clock (Date header) minus ours
	skewSet   bool
}

// APIError is an answer the vendor gave with an error status.
type APIError struct {
	Status  int
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("http %d: %s", e.Status, e.Message)
}

// InvalidValue reports the vendor's "Invalid value" answer (an unknown id, no
// match), which the public connectors rely on.
func (e *APIError) InvalidValue() bool {
	return e.Status == http.StatusBadRequest && strings.Contains(e.Message, "Invalid value")
}

// NewClient returns a client; it does not contact the vendor.
func NewClient(cfg ClientConfig) *Client {
	if cfg.Attempts <= 0 {
		cfg.Attempts = 4
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = 200 * time.Millisecond
	}
	hc := cfg.HTTPClient
	if hc == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 16
		hc = &http.Client{Timeout: 30 * time.Second, Transport: tr}
	}
	log := cfg.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	return &Client{cfg: cfg, http: hc, log: log, loc: time.UTC}
}

// Location is the locking system's time zone (UTC until logged in).
func (c *Client) Location() *time.Location {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.loc
}

// LockGroup is the selected locking system.
func (c *Client) LockGroup() iloqapi.LockGroup {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lockGroup
}

// ServerNow is the vendor server's clock as its last Date header showed it,
// plus one second (Date has second precision, so this is never early), or our clock
// before the first answer.
func (c *Client) ServerNow() time.Time {
	c.mu2.Lock()
	defer c.mu2.Unlock()
	if !c.skewSet {
		return time.Now().UTC()
	}
	return time.Now().Add(c.skew + time.Second).UTC()
}

// Login runs the session flow now. Calls log in by themselves when needed.
func (c *Client) Login(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.loginLocked(ctx)
}

func (c *Client) loginLocked(ctx context.Context) error {
	const op = "iloq: login"
	c.session = ""
	manager := strings.TrimRight(c.cfg.ManagerURL, "/")
	var pool string
	if err := c.send(ctx, op+": Url/GetUrl", manager, "", http.MethodPost, "Url/GetUrl",
		iloqapi.GetURLParam{CustomerCode: c.cfg.CustomerCode}, &pool); err != nil {
		return err
	}
	base := manager
	if p := strings.TrimSpace(pool); p != "" {
		if _, err := url.ParseRequestURI(p); err != nil {
			return driver.Errorf(driver.KindUnknown, op, "Url/GetUrl answered %q, not a URL", p)
		}
		base = strings.TrimRight(p, "/")
	}
	var cs iloqapi.CreateSessionResult
	if err := c.send(ctx, op+": CreateSession", base, "", http.MethodPost, "CreateSession",
		iloqapi.CreateSessionParam{CustomerCode: c.cfg.CustomerCode, UserName: c.cfg.UserName,
			Password: c.cfg.Password}, &cs); err != nil {
		return err
	}
	if err := sessionResult(op, cs); err != nil {
		return err
	}
	var groups []iloqapi.LockGroup
	if err := c.send(ctx, op+": LockGroups", base, cs.SessionID, http.MethodGet, "LockGroups", nil,
		&groups); err != nil {
		return err
	}
	lg, err := pickLockGroup(op, groups, c.cfg.LockGroupID)
	if err != nil {
		return err
	}
	var rights iloqapi.SetLockgroupResult
	if err := c.send(ctx, op+": SetLockgroup", base, cs.SessionID, http.MethodPost, "SetLockgroup",
		iloqapi.SetLockgroupParam{LockGroupID: lg.LockGroupID}, &rights); err != nil {
		return err
	}
	c.base, c.session, c.lockGroup, c.rights = base, cs.SessionID, lg, rights.RightsMask
	c.loc = zoneFor(lg.TimeZoneStandardName)
	c.log.Debug("iloq session created", "base", base, "lock_group", lg.LockGroupID)
	return nil
}

func sessionResult(op string, cs iloqapi.CreateSessionResult) error {
	switch cs.Result {
	case iloqapi.SessionOK:
		if cs.SessionID == "" {
			return driver.Errorf(driver.KindUnknown, op, "CreateSession succeeded without a SessionID")
		}
		return nil
	case iloqapi.SessionInvalidCredentials:
		return driver.Errorf(driver.KindPermission, op, "invalid credentials or customer code (CreateSession result 5)")
	case iloqapi.SessionLockedOut, iloqapi.SessionLockedIgnored:
		return driver.Errorf(driver.KindPermission, op, "credentials locked out after too many invalid logins (CreateSession result %d)", cs.Result)
	case iloqapi.SessionPasswordExpired:
		return driver.Errorf(driver.KindPermission, op, "password expired or reset requested (CreateSession result 9)")
	case 4:
		return driver.Errorf(driver.KindTransient, op, "server database update in progress (CreateSession result 4)")
	}
	return driver.Errorf(driver.KindPermission, op, "CreateSession result %d", cs.Result)
}

func pickLockGroup(op string, groups []iloqapi.LockGroup, want string) (iloqapi.LockGroup, error) {
	if len(groups) == 0 {
		return iloqapi.LockGroup{}, driver.Errorf(driver.KindPermission, op, "the user sees no locking system")
	}
	if want == "" {
		return groups[0], nil
	}
	for _, g := range groups {
		if strings.EqualFold(g.LockGroupID, want) || g.Name == want {
			return g, nil
		}
	}
	return iloqapi.LockGroup{}, driver.Errorf(driver.KindInvalid, op, "lock group %q is not among the user's locking systems", want)
}

// zoneFor maps the Windows time-zone name iLOQ reports to a location.
// TODO: only common European zones are mapped; another zone falls back to
// UTC, which shifts validity windows written to keys by the zone's offset.
func zoneFor(windows string) *time.Location {
	names := map[string]string{
		"FLE Standard Time":            "Europe/Helsinki",
		"W. Europe Standard Time":      "Europe/Berlin",
		"Romance Standard Time":        "Europe/Paris",
		"Central Europe Standard Time": "Europe/Budapest",
		"GMT Standard Time":            "Europe/London",
		"E. Europe Standard Time":      "Europe/Chisinau",
		"UTC":                          "UTC",
	}
	name := names[windows]
	if name == "" {
		name = windows
	}
	if loc, err := time.LoadLocation(name); err == nil {
		return loc
	}
	return time.UTC
}

// Ensure logs in unless a session exists (and so learns the vendor's clock).
func (c *Client) Ensure(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.session != "" {
		return nil
	}
	return c.loginLocked(ctx)
}

// Logout ends the session (KillSession).
func (c *Client) Logout(ctx context.Context) error {
	c.mu.Lock()
	base, sid := c.base, c.session
	c.session = ""
	c.mu.Unlock()
	if sid == "" {
		return nil
	}
	return c.send(ctx, "iloq: KillSession", base, sid, http.MethodGet, "KillSession", nil, nil)
}

// Call performs one API call under the session: it logs in if needed, and
// once more if the vendor says the session is gone (401).
func (c *Client) Call(ctx context.Context, op, method, path string, in, out any) error {
	for attempt := 0; ; attempt++ {
		c.mu.Lock()
		if c.session == "" {
			if err := c.loginLocked(ctx); err != nil {
				c.mu.Unlock()
				return err
			}
		}
		base, sid := c.base, c.session
		c.mu.Unlock()
		err := c.send(ctx, op, base, sid, method, path, in, out)
		var ae *APIError
		if attempt == 0 && errors.As(err, &ae) && ae.Status == http.StatusUnauthorized {
			c.mu.Lock()
			if c.session == sid {
				c.session = ""
			}
			c.mu.Unlock()
			c.log.Debug("iloq session gone, logging in again", "op", op)
			continue
		}
		return err
	}
}

// send does one request with bounded retries of transient failures and
// decodes the answer into out (nil: ignore the body).
func (c *Client) send(ctx context.Context, op, base, sid, method, path string, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return driver.E(driver.KindInvalid, op, err)
		}
	}
	delay := c.cfg.Backoff
	var last error
	for attempt := 1; attempt <= c.cfg.Attempts; attempt++ {
		raw, err := c.once(ctx, base, sid, method, path, body)
		if err == nil {
			return decodeAnswer(op, raw, out)
		}
		if !transient(err) || ctx.Err() != nil {
			return classify(op, err)
		}
		last = err
		if attempt == c.cfg.Attempts {
			break
		}
		wait := delay/2 + rand.N(delay/2+1)
		c.log.Debug("iloq transient failure, retrying", "op", op, "attempt", attempt, "wait", wait, "err", err)
		select {
		case <-ctx.Done():
			return driver.E(driver.KindTransient, op, ctx.Err())
		case <-time.After(wait):
		}
		delay = min(delay*2, 5*time.Second)
	}
	return driver.E(driver.KindTransient, op, fmt.Errorf("after %d attempts: %w", c.cfg.Attempts, last))
}

func (c *Client) once(ctx context.Context, base, sid, method, path string, body []byte) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+"/api/v2/"+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
	}
	if sid != "" {
		req.Header.Set(iloqapi.HeaderSessionID, sid)
	}
	if c.cfg.GatewayKey != "" {
		req.Header.Set(iloqapi.HeaderAPIKey, c.cfg.GatewayKey)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, &netError{err}
	}
	defer resp.Body.Close()
	if d, err := http.ParseTime(resp.Header.Get("Date")); err == nil {
		c.mu2.Lock()
		c.skew, c.skewSet = time.Until(d), true
		c.mu2.Unlock()
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return nil, &netError{err}
	}
	if resp.StatusCode/100 != 2 {
		var eb iloqapi.ErrorBody
		msg := strings.TrimSpace(string(raw))
		if json.Unmarshal(raw, &eb) == nil && eb.Message != "" {
			msg = eb.Message
		}
		if len(msg) > 300 {
			msg = msg[:300] + "…"
		}
		return nil, &APIError{Status: resp.StatusCode, Message: msg}
	}
	return raw, nil
}

// netError is a transport failure: timeout, refused or dropped connection.
type netError struct{ err error }

func (e *netError) Error() string { return e.err.Error() }
func (e *netError) Unwrap() error { return e.err }

func transient(err error) bool {
	var ne *netError
	if errors.As(err, &ne) {
		return true
	}
	var ae *APIError
	return errors.As(err, &ae) && (ae.Status >= 500 || ae.Status == http.StatusTooManyRequests ||
		ae.Status == http.StatusRequestTimeout)
}

// classify gives a final error its kind.
func classify(op string, err error) error {
	var ae *APIError
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return driver.E(driver.KindTransient, op, err)
	case errors.As(err, &ae):
		switch {
		case ae.Status == http.StatusUnauthorized:
			return driver.E(driver.KindPermission, op, err)
		case ae.Status == http.StatusForbidden:
			return driver.E(driver.KindPermission, op, err)
		case ae.InvalidValue():
			return driver.E(driver.KindInvalid, op, err)
		}
		return driver.E(driver.KindInvalid, op, err)
	case errors.As(err, &ne):
		return driver.E(driver.KindTransient, op, err)
	}
	return driver.E(driver.KindUnknown, op, err)
}

// decodeAnswer decodes a 2xx body; malformed JSON is an error naming the
// call, never a panic.
func decodeAnswer(op string, raw []byte, out any) error {
	if out == nil {
		return nil
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return driver.Errorf(driver.KindUnknown, op, "malformed vendor answer: empty body")
	}
	if err := json.Unmarshal(raw, out); err != nil {
		snippet := string(raw)
		if len(snippet) > 80 {
			snippet = snippet[:80] + "…"
		}
		return driver.Errorf(driver.KindUnknown, op, "malformed vendor answer %q: %v", snippet, err)
	}
	return nil
}

// pathID escapes an id for a path segment.
func pathID(id string) string { return url.PathEscape(id) }

// itoa is strconv.Itoa, short.
func itoa(n int) string { return strconv.Itoa(n) }
