// Package protec2 is the keyward lock driver for ABLOY PROTEC2 CLIQ.
//
// PROTEC2 CLIQ installations are managed with CLIQ Web Manager, usually an
// ABLOY-hosted one (such as https://abloycwm001.assaabloy.net), so this
// driver is the cliq driver with ABLOY's defaults: vendor "protec2", the
// hosted endpoint form in messages, and the same dynamic key types (PROTEC2
// CLIQ keys come as normal keys, whose access lives in the cylinders, and
// dynamic/Connect keys updated at remote programming devices or the CLIQ
// Connect app). See ../cliq/README.md for what is verified and assumed.
package protec2

import (
	"github.com/hashicorp/go-hclog"

	"github.com/keyward/keyward/lockdrivers/cliq"
	"github.com/keyward/keyward/lockdrivers/cliq/cwm"
	"github.com/keyward/keyward/lockdrivers/driver"
)

// Defaults are the PROTEC2 CLIQ driver's defaults.
var Defaults = cliq.Defaults{
	Vendor:          "protec2",
	DynamicKeyTypes: []string{cwm.KeyTypeDynamic, cwm.KeyTypeConnect},
	ExampleURL:      "https://abloycwm001.assaabloy.net",
}

// New returns an unconfigured PROTEC2 CLIQ driver; it is the function the
// plugin main hands to driver.Serve.
func New(log hclog.Logger) driver.Driver { return cliq.NewWithDefaults(log, Defaults) }
