// Command lockdriver-protec2 is keyward's lock driver plugin for ABLOY
// PROTEC2 CLIQ (an ABLOY-hosted CLIQ Web Manager). keyward starts it; it is
// not run by hand.
package main

import (
	"github.com/keyward/keyward/lockdrivers/driver"
	"github.com/keyward/keyward/lockdrivers/protec2"
)

func main() {
	driver.Serve(driver.ServeConfig{Name: "protec2", New: protec2.New})
}
