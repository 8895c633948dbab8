package driver_test

import (
	"context"
	"fmt"

	"github.com/hashicorp/go-plugin"

	"github.com/keyward/keyward/lockdrivers/driver"
)

// A driver's main: Serve owns the handshake, the versioned plugin sets,
// gRPC, AutoMTLS and JSON logging to stderr.
func ExampleServe() {
	driver.Serve(driver.ServeConfig{
		Name: "echo",
		New:  newEchoDriver, // func(hclog.Logger) driver.Driver
	})
}

// The host side: start a pinned driver binary with AutoMTLS, no host
// environment and a parent-death signal, then call it through the Driver
// interface. Errors keep their kind.
func ExampleNewClientConfig() {
	cfg, err := driver.NewClientConfig(driver.LaunchConfig{
		Binary: "/usr/lib/keyward/drivers/lockdriver-padlock",
		SHA256: "4f0c5e5c0b5ad5b1b8b7ae0e7a9a3d6f0f3b0d8b2c1e0f9a8b7c6d5e4f3a2b1e",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	pc := plugin.NewClient(cfg)
	defer pc.Kill()
	d, err := driver.Dispense(pc) // refuses a binary whose SHA-256 differs
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = d.SetKeyAccess(context.Background(), driver.SetKeyAccessRequest{
		IdempotencyKey: "op-42", KeyID: "cr-1", Access: driver.KeyAccess{AccessObjectIDs: []string{"grp-north"}},
	})
	switch driver.KindOf(err) {
	case driver.KindTransient:
		// retry later with the same idempotency key
	case driver.KindNotFound, driver.KindInvalid:
		// give up and report
	}
}

// Driver errors carry a kind that errors.Is can test.
func ExampleErrorf() {
	err := driver.Errorf(driver.KindNotFound, "padlock: set key access", "credential %s", "cr-9")
	fmt.Println(err, driver.KindOf(err))
	// Output: padlock: set key access: credential cr-9 not_found
}
