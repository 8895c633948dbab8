// Command devserver runs keyward's SCIM service alone on a fresh SQLite store,
// for the conformance suites (`make conformance`) and for trying the service
// without the rest of keyward. It prints the base URL and a write token, then
// serves until interrupted.
//
//	go run ./scim/internal/devserver -addr 127.0.0.1:8080 -dir /tmp/kw -profile entra
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"

	"github.com/keyward/keyward/core/engine"
	"github.com/keyward/keyward/core/store/sqlite"
	"github.com/keyward/keyward/scim"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "devserver:", err)
		os.Exit(1)
	}
}

func run() error {
	addr := flag.String("addr", "127.0.0.1:0", "listen address (loopback)")
	dir := flag.String("dir", "", "data folder (default: a new temporary folder)")
	profile := flag.String("profile", "generic", "profile of the client created")
	base := flag.String("base", "/scim/v2", "base path")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if *dir == "" {
		d, err := os.MkdirTemp("", "keyward-scim-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		*dir = d
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	st, err := sqlite.Open(ctx, filepath.Join(*dir, "keyward.db"), sqlite.WithLogger(log))
	if err != nil {
		return err
	}
	defer st.Close()
	eng := engine.New(st, engine.Options{Logger: log})
	clients := scim.NewClients(eng)
	token, err := clients.Add(ctx, "conformance", *profile, scim.ScopeWrite)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	url := "http://" + ln.Addr().String() + *base
	h, err := scim.NewServer(eng, scim.Config{BasePath: *base, BaseURL: url, Clients: clients, RateLimit: -1, Logger: log})
	if err != nil {
		return err
	}
	// Warm the client cache so that the first request is as fast as the rest
	// (the Okta suite times its first one).
	if _, err := clients.ByToken(ctx, token); err != nil {
		return err
	}
	fmt.Printf("SCIM_URL=%s\nSCIM_TOKEN=%s\n", url, token)
	srv := &http.Server{Handler: h}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
		return err
	}
	return nil
}
