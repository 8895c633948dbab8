package main

import (
	"context"

	"github.com/keyward/keyward/lockdrivers/host"
)

// driversComponent starts the driver host: one supervised plugin process per
// lock system declared under lock_systems, inventory sync, the observer, and
// webhooks at /hooks/<lock system>. The host is the server's driverport.Drivers,
// so dispatchers see drivers come and go as they restart.
var driversComponent = component{name: "drivers", start: startDrivers}

func startDrivers(ctx context.Context, a *app, s *server) error {
	h, err := host.New(host.Options{
		Engine:     s.eng,
		Logger:     a.log.With("component", "drivers"),
		Registerer: s.reg,
		ConfigDir:  a.cfg.Dir(),
		// Drivers log at keyward's level.
		DriverLogLevel: a.cfg.Log.Level,
	}, a.cfg.Drivers)
	if err != nil {
		return err
	}
	h.Start(ctx)
	s.drivers = h
	s.mux.Handle("POST /hooks/{lockSystem}", h.Webhooks())
	s.goRun(func() {
		<-ctx.Done()
		h.Close()
	})
	return nil
}
