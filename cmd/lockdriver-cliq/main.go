// Command lockdriver-cliq is keyward's lock driver plugin for ASSA ABLOY
// CLIQ (CLIQ Web Manager). keyward starts it; it is not run by hand.
package main

import (
	"github.com/keyward/keyward/lockdrivers/cliq"
	"github.com/keyward/keyward/lockdrivers/driver"
)

func main() {
	driver.Serve(driver.ServeConfig{Name: "cliq", New: cliq.New})
}
