package driver_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/keyward/keyward/lockdrivers/driver"
)

// echoDriver is a working in-memory driver for the SDK's own tests: it
// records each request and answers canned values, so a round trip through
// the gRPC adapters can be compared field by field. err, when set, is
// returned by every call.
type echoDriver struct {
	mu      sync.Mutex
	last    any
	err     error
	changes []driver.Change
	info    driver.Info
	key     driver.Key
	deliv   driver.Delivery
	plan    driver.Plan
	block   driver.BlockResult
	lock    driver.Lock
	person  driver.Person
	ao      driver.AccessObject
}

var _ driver.Driver = (*echoDriver)(nil)

// newEchoDriver is the driver the test binary serves as a subprocess;
// ECHO_CHANGES sets how many changes it holds (for the stream benchmark).
func newEchoDriver(hclog.Logger) driver.Driver {
	d := sample()
	if n, err := strconv.Atoi(os.Getenv("ECHO_CHANGES")); err == nil {
		d.addChanges(n)
	}
	return d
}

func (d *echoDriver) record(v any) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.last = v
	return d.err
}

func (d *echoDriver) lastRequest() any {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.last
}

func (d *echoDriver) Info(context.Context) (driver.Info, error) { return d.info, d.record("info") }

func (d *echoDriver) Configure(_ context.Context, cfg driver.Config) error { return d.record(cfg) }

func (d *echoDriver) Health(context.Context) (driver.Health, error) {
	return driver.Health{Status: driver.HealthServing, CheckedAt: t0}, d.record("health")
}

func listPages[T any](d *echoDriver, req driver.ListRequest, item T, yield func(driver.Page[T]) error) error {
	if err := d.record(req); err != nil {
		return err
	}
	if err := yield(driver.Page[T]{Items: []T{item, item}, Next: "p2"}); err != nil {
		return err
	}
	return yield(driver.Page[T]{Items: []T{item}})
}

func (d *echoDriver) ListLocks(_ context.Context, req driver.ListRequest, yield func(driver.Page[driver.Lock]) error) error {
	return listPages(d, req, d.lock, yield)
}

func (d *echoDriver) ListKeys(_ context.Context, req driver.ListRequest, yield func(driver.Page[driver.Key]) error) error {
	return listPages(d, req, d.key, yield)
}

func (d *echoDriver) ListPersons(_ context.Context, req driver.ListRequest, yield func(driver.Page[driver.Person]) error) error {
	return listPages(d, req, d.person, yield)
}

func (d *echoDriver) ListAccessObjects(_ context.Context, req driver.ListRequest,
	yield func(driver.Page[driver.AccessObject]) error,
) error {
	return listPages(d, req, d.ao, yield)
}

func (d *echoDriver) EnsurePerson(_ context.Context, req driver.EnsurePersonRequest) (driver.Person, error) {
	return d.person, d.record(req)
}

func (d *echoDriver) AssignKey(_ context.Context, req driver.AssignKeyRequest) (driver.Key, error) {
	return d.key, d.record(req)
}

func (d *echoDriver) ReturnKey(_ context.Context, req driver.KeyRequest) (driver.Key, error) {
	return d.key, d.record(req)
}

func (d *echoDriver) ReportKeyLost(_ context.Context, req driver.KeyRequest) (driver.Key, error) {
	return d.key, d.record(req)
}

func (d *echoDriver) SetKeyAccess(_ context.Context, req driver.SetKeyAccessRequest) (driver.Delivery, error) {
	return d.deliv, d.record(req)
}

func (d *echoDriver) Plan(_ context.Context, req driver.SetKeyAccessRequest) (driver.Plan, error) {
	return d.plan, d.record(req)
}

func (d *echoDriver) BlockKey(_ context.Context, req driver.BlockKeyRequest) (driver.BlockResult, error) {
	return d.block, d.record(req)
}

func (d *echoDriver) UnblockKey(_ context.Context, req driver.BlockKeyRequest) (driver.BlockResult, error) {
	return d.block, d.record(req)
}

// Changes hands out the stored changes after req.Cursor (the cursor is the
// index), at most req.Limit of them.
func (d *echoDriver) Changes(ctx context.Context, req driver.ChangesRequest, yield func(driver.Change) error) error {
	if err := d.record(req); err != nil {
		return err
	}
	start := 0
	if req.Cursor != "" {
		if _, err := fmt.Sscanf(req.Cursor, "%d", &start); err != nil {
			return driver.Errorf(driver.KindInvalid, "echo: changes", "bad cursor %q", req.Cursor)
		}
	}
	d.mu.Lock()
	cs := d.changes
	d.mu.Unlock()
	for i := start; i < len(cs); i++ {
		if req.Limit > 0 && i-start >= req.Limit {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := yield(cs[i]); err != nil {
			return err
		}
	}
	return nil
}

func (d *echoDriver) HandleWebhook(_ context.Context, req driver.Webhook) ([]driver.Change, error) {
	if req.Header.Get("X-Sig") != "good" {
		return nil, driver.Errorf(driver.KindUnauthenticated, "echo: webhook", "bad signature")
	}
	return d.changes[:1], d.record(req)
}

func (d *echoDriver) addChanges(n int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for i := len(d.changes); i < n; i++ {
		d.changes = append(d.changes, driver.Change{
			ID: fmt.Sprintf("evt-%d", i), Cursor: fmt.Sprint(i + 1), Kind: driver.ChangeLockEvent, At: t0,
			LockEvent: &driver.LockEvent{LockID: "L1", KeyID: "K1", Opened: i%2 == 0, Reason: "no access"},
		})
	}
}

var t0 = time.Date(2026, 3, 2, 7, 30, 0, 0, time.UTC)

// sample returns an echo driver whose canned answers use every field.
func sample() *echoDriver {
	access := driver.KeyAccess{
		AccessObjectIDs: []string{"A1", "A2"},
		Window:          driver.Window{NotBefore: t0, NotAfter: t0.Add(48 * time.Hour)},
		Schedule:        []driver.ScheduleInterval{{Day: time.Monday, Start: 7 * time.Hour, End: 17*time.Hour + 30*time.Minute}},
	}
	na := &driver.NeedsAction{ReasonCode: "7", Reason: "visit", Action: driver.ActionVisitLock, LockIDs: []string{"L1"}}
	deliv := driver.Delivery{
		State: driver.DeliveryNeedsAction, ChangeID: "ord-1", NeedsAction: na, At: t0,
		Removal: &driver.Removal{AccessObjectIDs: []string{"A3"}, EffectiveBy: t0.Add(time.Hour)},
	}
	d := &echoDriver{
		info: driver.Info{
			Vendor: "echo", DriverVersion: "1.2.3", ContractVersions: []int{1},
			Capabilities: driver.Capabilities{RemoteKeyUpdate: true, LockBlocklist: true, Webhooks: true, KeyReturn: true,
				Schedules: true, ValidityWindows: true, Revalidation: true, OnlineOpening: true},
			ConfigSchema: []byte(`{"type":"object"}`),
			Secrets:      []driver.SecretSpec{{Name: "token", Description: "API token", Required: true}},
		},
		key: driver.Key{
			ID: "K1", Label: "key one", Type: driver.KeyPhone, State: driver.KeyHandedOut, HolderID: "P1",
			Planned: access, Programmed: &driver.KeyAccess{AccessObjectIDs: []string{"A1"}}, Pending: &deliv,
		},
		deliv: deliv,
		plan: driver.Plan{Added: []string{"A2"}, Removed: []string{"A3"}, Expected: driver.DeliveryQueued,
			NeedsAction: na, Removal: &driver.Removal{AccessObjectIDs: []string{"A3"}, Unbounded: true}, Notes: []string{"n"}},
		block: driver.BlockResult{Delivery: driver.Delivery{State: driver.DeliveryApplied, ChangeID: "blk-1", At: t0},
			Locks: []driver.LockPropagation{{LockID: "L1", State: driver.PropagationPending, At: t0}}},
		lock:   driver.Lock{ID: "L1", Name: "Gate", Kind: "cylinder", Online: true, Attributes: map[string]string{"site": "n"}},
		person: driver.Person{ID: "P1", ExternalID: "E1", Name: "Ann", Email: "ann@example.com"},
		ao:     driver.AccessObject{ID: "A1", Name: "North", Kind: "security-access", LockIDs: []string{"L1", "L2"}},
	}
	d.changes = []driver.Change{
		{ID: "c1", Cursor: "1", Kind: driver.ChangeDelivery, At: t0, Delivery: &driver.DeliveryChange{KeyID: "K1", Delivery: deliv}},
		{ID: "c2", Cursor: "2", Kind: driver.ChangeLockEvent, At: t0, LockEvent: &driver.LockEvent{LockID: "L1", KeyID: "K1", Reason: "blocked"}},
		{ID: "c3", Cursor: "3", Kind: driver.ChangeKeyState, At: t0, KeyState: &driver.KeyStateChange{
			KeyID: "K1", State: driver.KeyLost, HolderID: "P1", Programmed: &access}},
		{ID: "c4", Cursor: "4", Kind: driver.ChangeBlock, At: t0, Block: &driver.BlockChange{
			KeyID: "K1", Blocked: true, Lock: driver.LockPropagation{LockID: "L1", State: driver.PropagationApplied, At: t0}}},
	}
	return d
}
