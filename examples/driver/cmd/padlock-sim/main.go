// Command padlock-sim runs the Padlock Cloud simulator on a loopback
// address, so the example driver can be tried by hand or from keyward's
// quick start: the vendor API is under /v1, the simctl admin endpoint under
// /admin.
package main

import (
	"flag"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/keyward/keyward/examples/driver/sim"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8095", "listen address")
	token := flag.String("token", "padlock-token", "API bearer token")
	hook := flag.String("webhook-secret", "", "webhook signing key (empty: no webhooks)")
	flag.Parse()
	srv, err := sim.Start(*addr, sim.Options{Token: *token, WebhookSecret: *hook})
	if err != nil {
		slog.Error("padlock-sim: listen", "err", err)
		os.Exit(1)
	}
	slog.Info("padlock-sim: serving", "url", srv.URL, "api", srv.URL+"/v1", "admin", srv.URL+"/admin")
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	<-stop
	_ = srv.Close()
}
