package host_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/core/engine"
	"github.com/keyward/keyward/core/store/sqlite"
	"github.com/keyward/keyward/examples/driver/padlock"
	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/lockdrivers/driver"
	"github.com/keyward/keyward/lockdrivers/host"
)

// The parts the re-executed test binary plays.
const (
	// roleDriverV2 serves the padlock driver under go-plugin protocol
	// version 2 only: a contract version keyward does not know.
	roleDriverV2 = "driver-v2"
	// roleDriverInfoV2 negotiates v1 but says in Info it speaks only v2.
	roleDriverInfoV2 = "driver-info-v2"
	// roleDriverBad serves a driver whose answers violate the contract, as
	// badEnv says.
	roleDriverBad = "driver-bad"
	// roleDriverHang serves a driver whose writes and Health hang for good.
	roleDriverHang = "driver-hang"
	// roleHost runs a whole driver host and prints its driver's pid.
	roleHost = "host"
	// roleDriverEcho answers SetKeyAccess at once without the vendor and
	// streams synthetic lock events: for benchmarks of the host itself.
	roleDriverEcho = "driver-echo"
)

// badEnv says which answers roleDriverBad spoils.
const badEnv = "KEYWARD_HOST_TEST_BAD"

func playRole(role string) int {
	switch role {
	case roleDriverV2:
		log := hclog.New(&hclog.LoggerOptions{Name: "v2", Output: os.Stderr, JSONFormat: true})
		hs := driver.Handshake
		hs.ProtocolVersion = 2
		plugin.Serve(&plugin.ServeConfig{
			HandshakeConfig:  hs,
			VersionedPlugins: map[int]plugin.PluginSet{2: driver.PluginSet(padlock.New(log))},
			GRPCServer:       plugin.DefaultGRPCServer,
			Logger:           log,
		})
	case roleDriverInfoV2:
		driver.Serve(driver.ServeConfig{Name: "info-v2", New: func(log hclog.Logger) driver.Driver { return infoV2{padlock.New(log)} }})
	case roleDriverBad:
		driver.Serve(driver.ServeConfig{Name: "bad", New: func(log hclog.Logger) driver.Driver {
			return badDriver{Driver: padlock.New(log), what: os.Getenv(badEnv)}
		}})
	case roleDriverHang:
		driver.Serve(driver.ServeConfig{Name: "hang", New: func(log hclog.Logger) driver.Driver { return hangDriver{padlock.New(log)} }})
	case roleDriverEcho:
		driver.Serve(driver.ServeConfig{Name: "echo", Level: hclog.Warn, New: func(log hclog.Logger) driver.Driver { return echoDriver{padlock.New(log)} }})
	case roleHost:
		return runHost()
	default:
		fmt.Fprintln(os.Stderr, "unknown role", role)
		return 2
	}
	return 0
}

type infoV2 struct{ driver.Driver }

func (d infoV2) Info(ctx context.Context) (driver.Info, error) {
	i, err := d.Driver.Info(ctx)
	i.ContractVersions = []int{2}
	return i, err
}

// badDriver spoils one kind of answer.
type badDriver struct {
	driver.Driver
	what string
}

func (d badDriver) SetKeyAccess(ctx context.Context, req driver.SetKeyAccessRequest) (driver.Delivery, error) {
	del, err := d.Driver.SetKeyAccess(ctx, req)
	switch d.what {
	case "delivery-state":
		del.State = "teleported" // the SDK hands the host an empty state
	case "removal":
		del.Removal = &driver.Removal{AccessObjectIDs: []string{"grp-north"}}
	}
	return del, err
}

func (d badDriver) ListKeys(ctx context.Context, req driver.ListRequest, yield func(driver.Page[driver.Key]) error) error {
	return d.Driver.ListKeys(ctx, req, func(p driver.Page[driver.Key]) error {
		if d.what == "key-holder" && len(p.Items) > 0 {
			p.Items[0].HolderID = "u-nobody"
		}
		if d.what == "key-type" && len(p.Items) > 0 {
			p.Items[0].Type = "magic-wand"
		}
		return yield(p)
	})
}

func (d badDriver) Changes(ctx context.Context, req driver.ChangesRequest, yield func(driver.Change) error) error {
	n := 0
	return d.Driver.Changes(ctx, req, func(c driver.Change) error {
		n++
		if d.what == "change-lock" && n == 2 && c.LockEvent != nil {
			c.LockEvent.LockID = ""
		}
		return yield(c)
	})
}

// hangDriver hangs in writes and Health, ignoring cancellation, like a
// driver stuck in a dead vendor connection.
type hangDriver struct{ driver.Driver }

func (hangDriver) SetKeyAccess(context.Context, driver.SetKeyAccessRequest) (driver.Delivery, error) {
	select {}
}

func (hangDriver) Health(context.Context) (driver.Health, error) { select {} }

// runHost runs a driver host as its own process (the test kills it) and
// prints "pid <driver pid>" once its driver runs.
func runHost() int {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, os.Getenv("KEYWARD_HOST_TEST_DB"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	h, err := host.New(host.Options{Engine: engine.New(st, engine.Options{}), Logger: log}, []config.Driver{{
		ID: "padlock", Binary: os.Getenv("KEYWARD_HOST_TEST_BIN"), SHA256: os.Getenv("KEYWARD_HOST_TEST_SUM"),
		Config: map[string]any{"url": os.Getenv("KEYWARD_HOST_TEST_URL")}, Secrets: map[string]config.Secret{"api_token": {Env: "KEYWARD_HOST_TEST_TOKEN"}},
	}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	h.Start(ctx)
	st0 := h.Status()[0]
	if st0.State != host.StateRunning {
		fmt.Fprintln(os.Stderr, "driver not running:", st0.State, st0.Reason)
		return 1
	}
	fmt.Printf("pid %d\n", st0.Pid)
	time.Sleep(time.Hour)
	return 0
}

func listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	return ln
}

// echoDriver answers writes without the vendor and streams lock events
// "ev-<n>" for n after the cursor, forever.
type echoDriver struct{ driver.Driver }

func (echoDriver) SetKeyAccess(_ context.Context, req driver.SetKeyAccessRequest) (driver.Delivery, error) {
	return driver.Delivery{State: driver.DeliveryApplied, ChangeID: req.IdempotencyKey}, nil
}

func (echoDriver) Changes(_ context.Context, req driver.ChangesRequest, yield func(driver.Change) error) error {
	var n int
	if req.Cursor != "" {
		if _, err := fmt.Sscanf(req.Cursor, "%d", &n); err != nil {
			return driver.Invalid("echo: changes", driver.Problem{Field: "cursor", Message: err.Error()})
		}
	}
	at := time.Date(2026, 1, 5, 8, 0, 0, 0, time.UTC)
	for i := 1; i <= req.Limit; i++ {
		n++
		c := driver.Change{ID: fmt.Sprintf("ev-%d", n), Cursor: fmt.Sprint(n), Kind: driver.ChangeLockEvent, At: at.Add(time.Duration(n) * time.Second),
			LockEvent: &driver.LockEvent{LockID: "pl-1", KeyID: "cr-2", Opened: true}}
		if err := yield(c); err != nil {
			return err
		}
	}
	return nil
}
