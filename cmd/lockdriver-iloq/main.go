// Command lockdriver-iloq is keyward's iLOQ 5 Series driver plugin. keyward
// starts it; run by hand it only prints the go-plugin handshake hint.
package main

import (
	"github.com/keyward/keyward/lockdrivers/driver"
	"github.com/keyward/keyward/lockdrivers/iloq"
)

func main() {
	driver.Serve(iloq.ServeConfig)
}
