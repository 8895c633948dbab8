// Command locksim runs the vendor simulators keyward's quick start and
// end-to-end tests drive: an iLOQ 5 Series API, a CLIQ Web Manager and an
// ABLOY PROTEC2 CLIQ Web Manager, each seeded from a file and each with its
// simctl admin endpoint (deliver a key's update, visit a lock, use a key, move
// the clock, crash, read the request log).
//
//	locksim -seeds examples/quickstart/seeds -certs data/sim
//
// It prints one line per simulator with its API and admin addresses and, with
// -info FILE, writes the same as JSON for scripts. SIGINT or SIGTERM stops it.
// The simulators keep their state in memory: a restart starts from the seeds.
//
// TODO: keep the simulators' state across restarts (a state file per simulator);
// today a second `make run` starts the keys from their seeds while keyward's
// store remembers what it programmed, so deliveries made in the first run show
// as drift until the next change to those keys.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	cliqsim "github.com/keyward/keyward/lockdrivers/cliq/sim"
	iloqsim "github.com/keyward/keyward/lockdrivers/iloq/sim"
)

// Sim is where one simulator listens.
type Sim struct {
	// URL is the vendor API's base URL.
	URL string `json:"url"`
	// Admin is the simctl admin endpoint.
	Admin string `json:"admin"`
	// CertDir holds a CWM simulator's ca.pem and integration certificate.
	CertDir string `json:"certDir,omitempty"`
}

type options struct {
	seeds, certs, info, only, clockStart           string
	iloqAddr, cliqAddr, cliqAdmin, p2Addr, p2Admin string
}

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "locksim:", err)
		os.Exit(exitCode(err))
	}
}

type usageError struct{ error }

func exitCode(err error) int {
	var u usageError
	if errors.As(err, &u) {
		return 2
	}
	return 1
}

func run(args []string, out, errOut io.Writer) error {
	var o options
	fs := flag.NewFlagSet("locksim", flag.ContinueOnError)
	fs.SetOutput(errOut)
	fs.StringVar(&o.seeds, "seeds", "examples/quickstart/seeds", "folder with iloq-north.yaml, cliq-south.yaml and protec2-east.yaml")
	fs.StringVar(&o.certs, "certs", "examples/quickstart/data/sim", "folder the CWM simulators write their CA and client certificates to (cliq/, protec2/)")
	fs.StringVar(&o.info, "info", "", "also write the addresses as JSON to this file")
	fs.StringVar(&o.only, "only", "iloq,cliq,protec2", "the simulators to run, comma-separated")
	fs.StringVar(&o.clockStart, "clock-start", "", "TEST ONLY: start the simulators' clocks at this RFC 3339 time and move them only through their admin endpoints")
	fs.StringVar(&o.iloqAddr, "iloq", "127.0.0.1:8701", "iLOQ API and admin (/sim) listen address")
	fs.StringVar(&o.cliqAddr, "cliq", "127.0.0.1:8711", "CLIQ Web Manager (TLS) listen address")
	fs.StringVar(&o.cliqAdmin, "cliq-admin", "127.0.0.1:8712", "CLIQ simulator admin listen address")
	fs.StringVar(&o.p2Addr, "protec2", "127.0.0.1:8721", "PROTEC2 CLIQ Web Manager (TLS) listen address")
	fs.StringVar(&o.p2Admin, "protec2-admin", "127.0.0.1:8722", "PROTEC2 simulator admin listen address")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected arguments %q", fs.Args())}
	}
	want := map[string]bool{}
	for _, n := range strings.Split(o.only, ",") {
		n = strings.TrimSpace(n)
		switch n {
		case "iloq", "cliq", "protec2":
			want[n] = true
		case "":
		default:
			return usageError{fmt.Errorf("-only: %q is not iloq, cliq or protec2", n)}
		}
	}
	var start time.Time
	if o.clockStart != "" {
		t, err := time.Parse(time.RFC3339, o.clockStart)
		if err != nil {
			return usageError{fmt.Errorf("-clock-start: %q is not RFC 3339", o.clockStart)}
		}
		start = t.UTC().Truncate(time.Millisecond)
	}
	log := slog.New(slog.NewTextHandler(errOut, &slog.HandlerOptions{Level: slog.LevelWarn}))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	var mu sync.Mutex
	sims := map[string]Sim{}
	var wg sync.WaitGroup
	readyc := make(chan struct{}, 3)
	launch := func(name string, fn func(ready func(Sim)) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := fn(func(s Sim) {
				mu.Lock()
				sims[name] = s
				mu.Unlock()
				readyc <- struct{}{}
			})
			if err != nil {
				cancel(fmt.Errorf("%s: %w", name, err))
			}
		}()
	}
	if want["iloq"] {
		opts := iloqsim.Options{Logger: log, LockGroupName: "iLOQ 5 Series North"}
		if !start.IsZero() {
			opts.Now = func() time.Time { return start }
		}
		seed := seedFile(o.seeds, "iloq-north.yaml")
		launch("iloq", func(ready func(Sim)) error {
			return iloqsim.Run(ctx, o.iloqAddr, seed, opts, func(addr string) {
				ready(Sim{URL: "http://" + addr, Admin: "http://" + addr + iloqsim.AdminPrefix})
			})
		})
	}
	for _, c := range []struct {
		name, addr, admin, seed string
		profile                 cliqsim.Profile
	}{
		{"cliq", o.cliqAddr, o.cliqAdmin, "cliq-south.yaml", cliqsim.ProfileCLIQ},
		{"protec2", o.p2Addr, o.p2Admin, "protec2-east.yaml", cliqsim.ProfilePROTEC2},
	} {
		if !want[c.name] {
			continue
		}
		certDir := filepath.Join(o.certs, c.name)
		cfg := cliqsim.RunConfig{Addr: c.addr, AdminAddr: c.admin, SeedFile: seedFile(o.seeds, c.seed), CertDir: certDir,
			Options: cliqsim.Options{Profile: c.profile, Start: start}}
		launch(c.name, func(ready func(Sim)) error {
			return cliqsim.Run(ctx, cfg, func(i cliqsim.RunInfo) {
				ready(Sim{URL: i.URL, Admin: i.AdminURL, CertDir: certDir})
			})
		})
	}
	for range want {
		select {
		case <-readyc:
		case <-ctx.Done():
			wg.Wait()
			if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
				return err
			}
			return nil
		}
	}
	mu.Lock()
	for _, n := range []string{"iloq", "cliq", "protec2"} {
		if s, ok := sims[n]; ok {
			fmt.Fprintf(out, "%-8s api %s  admin %s\n", n, s.URL, s.Admin)
		}
	}
	b, err := json.Marshal(sims)
	mu.Unlock()
	if err != nil {
		return err
	}
	if o.info != "" {
		if err := os.WriteFile(o.info, append(b, '\n'), 0o600); err != nil {
			cancel(err)
		}
	}
	fmt.Fprintln(out, "locksim ready")
	<-ctx.Done()
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// seedFile is dir/name, or "" when dir is empty (empty simulators).
func seedFile(dir, name string) string {
	if dir == "" {
		return ""
	}
	return filepath.Join(dir, name)
}
