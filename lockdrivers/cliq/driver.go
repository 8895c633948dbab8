package cliq

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/keyward/keyward/lockdrivers/cliq/cwm"
	"github.com/keyward/keyward/lockdrivers/driver"
)

// Version is the driver version.
const Version = "0.1.0"

// Defaults are what differs between the CLIQ and PROTEC2 CLIQ drivers.
type Defaults struct {
	// Vendor is the vendor name in Info ("cliq", "protec2").
	Vendor string
	// DynamicKeyTypes are the key types carrying their own access list.
	DynamicKeyTypes []string
	// ExampleURL shows the hosted endpoint form in error messages.
	ExampleURL string
}

// CLIQDefaults are the defaults of the ASSA ABLOY CLIQ driver.
var CLIQDefaults = Defaults{
	Vendor:          "cliq",
	DynamicKeyTypes: []string{cwm.KeyTypeDynamic, cwm.KeyTypeConnect},
	ExampleURL:      "https://cwm.example.com",
}

// Driver drives one CWM. Create it with New or NewWithDefaults.
type Driver struct {
	log      hclog.Logger
	defaults Defaults

	mu  sync.Mutex
	cfg *settings
	c   *cwm.Client
	m   cwm.Management
}

var _ driver.Driver = (*Driver)(nil)

// New returns an unconfigured CLIQ driver; it is the function the plugin
// main hands to driver.Serve.
func New(log hclog.Logger) driver.Driver { return NewWithDefaults(log, CLIQDefaults) }

// NewWithDefaults returns an unconfigured driver with the given defaults.
func NewWithDefaults(log hclog.Logger, d Defaults) *Driver {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	return &Driver{log: log, defaults: d}
}

// Info implements driver.Driver.
func (d *Driver) Info(context.Context) (driver.Info, error) {
	return driver.Info{
		Vendor:           d.defaults.Vendor,
		DriverVersion:    Version,
		ContractVersions: []int{driver.ContractVersion},
		Capabilities: driver.Capabilities{
			RemoteKeyUpdate: true,
			LockBlocklist:   true,
			KeyReturn:       true,
			Schedules:       true,
			ValidityWindows: true,
			Revalidation:    true,
		},
		ConfigSchema: json.RawMessage(configSchema),
		Secrets: []driver.SecretSpec{
			{Name: SecretClientCertificate, Required: true,
				Description: "the CWM web-service client certificate (PKCS#12 .pfx), base64"},
			{Name: SecretClientCertificatePassphrase, Required: true,
				Description: "the passphrase of the PKCS#12 file"},
		},
	}, nil
}

// Configure implements driver.Driver. It validates the settings and the
// client certificate (present, readable with the passphrase, not expired)
// and then makes one call to CWM, so that a certificate CWM refuses is
// reported now, as a permission error.
func (d *Driver) Configure(ctx context.Context, cfg driver.Config) error {
	const op = "cliq: configure"
	s, err := parseConfig(op, cfg, d.defaults)
	if err != nil {
		return err
	}
	c, err := cwm.New(s.cwm)
	if err != nil {
		return driver.Invalid(op, driver.Problem{Field: "secrets." + SecretClientCertificate, Message: err.Error()})
	}
	if _, err := c.GetAuditTrails(ctx, time.Now().Add(time.Minute), time.Time{}, 0, 1); err != nil {
		c.Close()
		if cwm.KindOf(err) == cwm.KindPermission {
			return driver.Errorf(driver.KindPermission, op, "CWM at %s refused the client certificate: %w", s.URL, err)
		}
		return mapErr(op, err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.c != nil {
		d.c.Close()
	}
	d.cfg, d.c, d.m = &s, c, c.Management()
	d.log.Info("configured", "url", s.URL, "vendor", d.defaults.Vendor)
	return nil
}

// conn returns the configured client, or an error before Configure.
func (d *Driver) conn(op string) (*settings, *cwm.Client, cwm.Management, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.c == nil {
		return nil, nil, nil, driver.Errorf(driver.KindInvalid, op, "driver is not configured")
	}
	return d.cfg, d.c, d.m, nil
}

// Health implements driver.Driver.
func (d *Driver) Health(ctx context.Context) (driver.Health, error) {
	_, c, _, err := d.conn("cliq: health")
	if err != nil {
		return driver.Health{Status: driver.HealthDown, Message: err.Error()}, nil
	}
	if _, err := c.GetAuditTrails(ctx, time.Now().Add(time.Minute), time.Time{}, 0, 1); err != nil {
		return driver.Health{Status: driver.HealthDown, Message: err.Error()}, nil
	}
	return driver.Health{Status: driver.HealthServing, CheckedAt: time.Now().UTC()}, nil
}

// HandleWebhook implements driver.Driver: CWM sends no webhooks.
func (d *Driver) HandleWebhook(context.Context, driver.Webhook) ([]driver.Change, error) {
	return nil, driver.Errorf(driver.KindInvalid, "cliq: webhook", "CWM sends no webhooks")
}

// mapErr turns a cwm error into a driver error of the matching kind.
func mapErr(op string, err error) error {
	if err == nil {
		return nil
	}
	var de *driver.Error
	if errors.As(err, &de) {
		return err
	}
	kind := driver.KindUnknown
	switch cwm.KindOf(err) {
	case cwm.KindInvalid:
		kind = driver.KindInvalid
	case cwm.KindNotFound:
		kind = driver.KindNotFound
	case cwm.KindPermission:
		kind = driver.KindPermission
	case cwm.KindTransient, cwm.KindMalformed:
		kind = driver.KindTransient
	case cwm.KindConflict:
		kind = driver.KindConflict
	case cwm.KindCapacity:
		return &driver.Error{Kind: driver.KindNeedsAction, Op: op, Err: err, NeedsAction: &driver.NeedsAction{
			ReasonCode: "CWM_BLACKLIST_FULL", Action: driver.ActionUseVendorTool,
			Reason: "a cylinder blacklist is full (3,000 keys): remove obsolete entries or replace the cylinder in CLIQ Web Manager",
		}}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		kind = driver.KindTransient
	}
	return driver.E(kind, op, err)
}
