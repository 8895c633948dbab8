package iloq

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/hashicorp/go-hclog"

	"github.com/keyward/keyward/lockdrivers/driver"
	"github.com/keyward/keyward/lockdrivers/iloq/iloqapi"
)

// Version is the driver version.
const Version = "0.1.0"

// Driver drives one iLOQ locking system. Create it with New.
type Driver struct {
	log hclog.Logger

	mu       sync.Mutex
	settings Settings
	secrets  map[string]string
	lockSys  string
	c        *Client

	cacheMu     sync.Mutex
	lockAccess  map[string][]string // lock id -> access right ids it accepts
	lockAccAt   time.Time
	accesses    map[string]iloqapi.SecurityAccess // lower id -> access right
	accessesAt  time.Time
	scheduleTLT string // id of the keyward time profile, once known
}

var _ driver.Driver = (*Driver)(nil)

// New returns an unconfigured driver; it is the function the plugin main
// hands to driver.Serve.
func New(log hclog.Logger) driver.Driver { return NewDriver(log) }

// NewDriver is New with the concrete type.
func NewDriver(log hclog.Logger) *Driver {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	return &Driver{log: log}
}

// ServeConfig is what cmd/lockdriver-iloq hands to driver.Serve.
var ServeConfig = driver.ServeConfig{Name: "iloq", New: New}

// Info describes the driver; it works before Configure.
func (d *Driver) Info(context.Context) (driver.Info, error) {
	return driver.Info{
		Vendor:           "iloq",
		DriverVersion:    Version,
		ContractVersions: []int{driver.ContractVersion},
		Capabilities: driver.Capabilities{
			RemoteKeyUpdate: true, // phone keys over the air, tags on the server
			LockBlocklist:   true,
			Webhooks:        true,
			KeyReturn:       true, // phone keys and tags
			Schedules:       true,
			ValidityWindows: true,
			Revalidation:    true, // offline expiration of S50 keys
		},
		ConfigSchema: json.RawMessage(configSchema),
		Secrets:      secretSpecs,
	}, nil
}

// Configure validates and applies a configuration. The vendor is not
// contacted; Health does that.
func (d *Driver) Configure(ctx context.Context, cfg driver.Config) error {
	s, err := parseSettings(cfg)
	if err != nil {
		return err
	}
	c := NewClient(ClientConfig{ManagerURL: s.ManagerURL, CustomerCode: s.CustomerCode,
		UserName: s.UserName, Password: cfg.Secrets[SecretPassword], LockGroupID: s.LockGroup,
		GatewayKey: cfg.Secrets[SecretGatewayKey], Attempts: s.RequestAttempts, Logger: d.log.Named("client")})
	d.mu.Lock()
	old := d.c
	d.settings, d.secrets, d.lockSys, d.c = s, cfg.Secrets, cfg.LockSystem, c
	d.mu.Unlock()
	d.cacheMu.Lock()
	d.lockAccess, d.accesses, d.scheduleTLT = nil, nil, ""
	d.cacheMu.Unlock()
	if old != nil {
		// Best effort: end the old session.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = old.Logout(ctx)
	}
	return nil
}

// client returns the configured client or a KindInvalid error.
func (d *Driver) client(op string) (*Client, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.c == nil {
		return nil, driver.Errorf(driver.KindInvalid, op, "driver is not configured")
	}
	return d.c, nil
}

func (d *Driver) config() (Settings, map[string]string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.settings, d.secrets
}

// Health logs in (if needed) and calls the API.
func (d *Driver) Health(ctx context.Context) (driver.Health, error) {
	c, err := d.client("iloq: health")
	if err != nil {
		return driver.Health{}, err
	}
	if _, err := c.ListZones(ctx); err != nil {
		status := driver.HealthDown
		if driver.KindOf(err) == driver.KindPermission {
			status = driver.HealthDegraded
		}
		return driver.Health{Status: status, Message: err.Error()}, nil
	}
	lg := c.LockGroup()
	h := driver.Health{Status: driver.HealthServing, CheckedAt: c.ServerNow()}
	if lg.OptionMask&iloqapi.OptionPublicAPI == 0 || lg.OptionMask&iloqapi.OptionAPIAccess == 0 {
		h.Status = driver.HealthDegraded
		h.Message = "the locking system does not have the Public API and API access rights enabled"
	}
	return h, nil
}

// Close ends the vendor session (KillSession).
func (d *Driver) Close(ctx context.Context) error {
	d.mu.Lock()
	c := d.c
	d.mu.Unlock()
	if c == nil {
		return nil
	}
	return c.Logout(ctx)
}

// accessRights returns the locking system's access rights by lower-case
// id, cached for a minute.
func (d *Driver) accessRights(ctx context.Context, c *Client, fresh bool) (map[string]iloqapi.SecurityAccess, error) {
	d.cacheMu.Lock()
	if !fresh && d.accesses != nil && time.Since(d.accessesAt) < time.Minute {
		m := d.accesses
		d.cacheMu.Unlock()
		return m, nil
	}
	d.cacheMu.Unlock()
	list, err := c.ListAccesses(ctx)
	if err != nil {
		return nil, err
	}
	m := make(map[string]iloqapi.SecurityAccess, len(list))
	for _, a := range list {
		m[strings.ToLower(a.SecurityAccessID)] = a
	}
	d.cacheMu.Lock()
	d.accesses, d.accessesAt = m, time.Now()
	d.cacheMu.Unlock()
	return m, nil
}

// lockAccessMap returns which access rights each lock accepts, cached for
// five minutes (one call per lock to build).
func (d *Driver) lockAccessMap(ctx context.Context, c *Client, fresh bool) (map[string][]string, error) {
	d.cacheMu.Lock()
	if !fresh && d.lockAccess != nil && time.Since(d.lockAccAt) < 5*time.Minute {
		m := d.lockAccess
		d.cacheMu.Unlock()
		return m, nil
	}
	d.cacheMu.Unlock()
	locks, err := c.ListLocks(ctx)
	if err != nil {
		return nil, err
	}
	s, _ := d.config()
	m := make(map[string][]string, len(locks))
	var mu sync.Mutex
	err = parallel(ctx, s.ReadConcurrency, len(locks), func(i int) error {
		acc, err := c.LockAccesses(ctx, locks[i].FLockID)
		if err != nil {
			return err
		}
		ids := make([]string, 0, len(acc))
		for _, a := range acc {
			ids = append(ids, strings.ToLower(a.SecurityAccessID))
		}
		mu.Lock()
		m[locks[i].FLockID] = ids
		mu.Unlock()
		return nil
	})
	if err != nil {
		return nil, err
	}
	d.cacheMu.Lock()
	d.lockAccess, d.lockAccAt = m, time.Now()
	d.cacheMu.Unlock()
	return m, nil
}

// parallel runs fn(0..n-1) with at most workers at a time; the first error
// stops the rest.
func parallel(ctx context.Context, workers, n int, fn func(i int) error) error {
	if workers < 1 {
		workers = 1
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := make(chan int)
	errc := make(chan error, workers)
	var wg sync.WaitGroup
	for range min(workers, max(n, 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := fn(i); err != nil {
					errc <- err
					cancel()
					return
				}
			}
		}()
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	close(errc)
	if err := <-errc; err != nil {
		return err
	}
	return ctx.Err()
}

// idNamespace derives vendor GUIDs from keyward's values, so a retried
// create hands the vendor the same id.
var idNamespace = uuid.MustParse("8c1e3b7a-5d2f-4e9a-b6c4-0a1f2e3d4c5b")

func derivedID(parts ...string) string {
	return uuid.NewSHA1(idNamespace, []byte(strings.Join(parts, "\x00"))).String()
}

// isAlready reports the vendor's "already exists" answer to a create.
func isAlready(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && strings.Contains(ae.Message, "already")
}
