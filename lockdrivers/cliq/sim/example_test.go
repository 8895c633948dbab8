package sim_test

import (
	"context"
	"fmt"

	"github.com/keyward/keyward/lockdrivers/cliq/cwm"
	"github.com/keyward/keyward/lockdrivers/cliq/sim"
	"github.com/keyward/keyward/lockdrivers/simctl"
)

// A normal key's new access reaches a cylinder only when a programming key
// visits it; a dynamic key's when the key is at a programming device.
func Example() {
	ctx := context.Background()
	s, err := sim.New(sim.Options{Start: start})
	if err != nil {
		panic(err)
	}
	srv, err := s.Start("127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	door := s.AddCylinder(sim.CylinderSeed{Name: "Door"})
	normal := s.AddKey(sim.KeySeed{Type: cwm.KeyTypeNormal})
	dynamic := s.AddKey(sim.KeySeed{Type: cwm.KeyTypeDynamic})

	cfg, err := s.ClientConfig(srv) // a client certificate from the simulator's CA
	if err != nil {
		panic(err)
	}
	c, err := cwm.New(cfg)
	if err != nil {
		panic(err)
	}
	defer c.Close()
	m := c.Management()
	upd, _ := m.SetKeyAccess(ctx, normal, cwm.KeyAccess{Cylinders: []string{door}})
	fmt.Println("normal key:", len(upd.Jobs), "programming job")
	upd, _ = m.SetKeyAccess(ctx, dynamic, cwm.KeyAccess{Cylinders: []string{door}})
	fmt.Println("dynamic key: remote update pending:", upd.RemoteUpdatePending)

	r, _ := s.UseKey(ctx, normal, door)
	fmt.Println("normal key opens before the visit:", r.Opened)
	_ = s.VisitLock(ctx, door)
	r, _ = s.UseKey(ctx, normal, door)
	fmt.Println("normal key opens after the visit:", r.Opened)
	_ = s.DeliverKey(ctx, dynamic, simctl.ViaProgrammingDevice)
	r, _ = s.UseKey(ctx, dynamic, door)
	fmt.Println("dynamic key opens after the update:", r.Opened)
	// Output:
	// normal key: 1 programming job
	// dynamic key: remote update pending: true
	// normal key opens before the visit: false
	// normal key opens after the visit: true
	// dynamic key opens after the update: true
}
