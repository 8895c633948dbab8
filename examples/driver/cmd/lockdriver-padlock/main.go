// Command lockdriver-padlock is the keyward lock driver for Padlock Cloud.
// keyward starts it as a plugin; it is not meant to be run by hand.
package main

import (
	"github.com/keyward/keyward/examples/driver/padlock"
	"github.com/keyward/keyward/lockdrivers/driver"
)

func main() {
	driver.Serve(padlock.ServeConfig)
}
