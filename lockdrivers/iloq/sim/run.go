package sim

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// Run serves a simulator on addr (e.g. "127.0.0.1:8701") until ctx ends,
// seeded from seedFile when it is not empty. The API is under /api/v2, the
// admin API under /sim/. ready, when not nil, receives the bound address
// once the listener is open (useful with port 0).
func Run(ctx context.Context, addr, seedFile string, opts Options, ready func(addr string)) error {
	s, err := New(opts)
	if err != nil {
		return err
	}
	if seedFile != "" {
		sd, err := LoadSeed(seedFile)
		if err != nil {
			return err
		}
		if err := s.Seed(sd); err != nil {
			return err
		}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("iloq sim: listen %s: %w", addr, err)
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	if ready != nil {
		ready(ln.Addr().String())
	}
	s.log.Info("iloq simulator listening", "addr", ln.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	tick := time.NewTicker(time.Second) // webhook retries fall due with real time too
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(shut)
			s.WaitWebhooks()
			return nil
		case err := <-errc:
			if errors.Is(err, http.ErrServerClosed) {
				return nil
			}
			return err
		case <-tick.C:
			s.kickWebhooks()
		}
	}
}
