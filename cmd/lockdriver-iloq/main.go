// Command lockdriver-iloq is keyward's iLOQ 5 Series driver plugin; keyward
// starts it. When the host shuts the plugin down, the vendor session is
// ended (KillSession).
package main

import (
	"context"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/keyward/keyward/lockdrivers/driver"
	"github.com/keyward/keyward/lockdrivers/iloq"
)

func main() {
	var d *iloq.Driver
	driver.Serve(driver.ServeConfig{Name: "iloq", New: func(log hclog.Logger) driver.Driver {
		d = iloq.NewDriver(log)
		return d
	}})
	if d != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = d.Close(ctx)
	}
}
