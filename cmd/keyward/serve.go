package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/keyward/keyward/core/domain"
	"github.com/keyward/keyward/core/driverport"
	"github.com/keyward/keyward/core/engine"
	"github.com/keyward/keyward/core/store"
	"github.com/keyward/keyward/core/store/sqlite"
	"github.com/keyward/keyward/internal/config"
)

// server is what serve builds: the parts other files of this package plug into.
type server struct {
	cfg     *config.Config
	st      store.Store
	eng     *engine.Engine
	mux     *http.ServeMux
	reg     *prometheus.Registry
	clock   *engine.ManualClock // non-nil only with the test clock control
	drivers driverport.Drivers
	// lockSystems are the ids dispatchers run for.
	lockSystems []string
	wg          sync.WaitGroup
	ready       chan struct{}
}

// component starts one part of the server (SCIM, LDAP, the driver host); it returns
// once started and keeps running until ctx ends. Files of this package append to
// components in an init-free way: see components.go.
type component struct {
	name  string
	start func(ctx context.Context, a *app, s *server) error
}

func (a *app) serveCmd() *cobra.Command {
	var testClock bool
	var clockStart string
	c := &cobra.Command{
		Use:   "serve",
		Short: "Run keyward: health and metrics, SCIM, LDAP, drivers, dispatchers and the scheduler",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.load(); err != nil {
				return err
			}
			if testClock && a.cfg.Production {
				return badInput(errors.New("--test-clock-control is refused by a production configuration"))
			}
			var start time.Time
			if clockStart != "" {
				t, err := time.Parse(time.RFC3339, clockStart)
				if err != nil {
					return badInput(fmt.Errorf("--test-clock-start: %q is not RFC 3339", clockStart))
				}
				start = t
			}
			return a.serve(cmd.Context(), testClock, start)
		},
	}
	c.Flags().BoolVar(&testClock, "test-clock-control", false, "TEST ONLY: run on a manual clock moved through POST /test/clock (refused when production: true)")
	c.Flags().StringVar(&clockStart, "test-clock-start", "", "TEST ONLY: the manual clock's start (RFC 3339; default now)")
	return c
}

func (a *app) serve(ctx context.Context, testClock bool, clockStart time.Time) error {
	s := &server{cfg: a.cfg, mux: http.NewServeMux(), reg: prometheus.NewRegistry(), drivers: driverport.Map{}, ready: make(chan struct{})}
	var clock engine.Clock = engine.SystemClock{}
	if testClock {
		if clockStart.IsZero() {
			clockStart = time.Now()
		}
		s.clock = engine.NewManualClock(clockStart)
		clock = s.clock
		a.log.Warn("test clock control is on: time moves only through POST /test/clock", "now", clockStart.UTC())
	}
	st, err := a.openStore(ctx, sqlite.WithClock(clock.Now))
	if err != nil {
		return err
	}
	defer st.Close()
	s.st = st
	s.eng = a.engine(st, clock)
	s.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s.reg.MustRegister(outboxCollector{s})
	s.routes()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for _, c := range components {
		if err := c.start(ctx, a, s); err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
	}
	ln, err := net.Listen("tcp", a.cfg.HTTP.Addr)
	if err != nil {
		return fmt.Errorf("http: %w", err)
	}
	srv := &http.Server{Handler: s.mux, ReadHeaderTimeout: 10 * time.Second}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("http server stopped", "err", err)
			cancel()
		}
	}()
	if s.clock == nil {
		s.goRun(func() { _ = s.eng.RunScheduler(ctx, a.cfg.SchedulerInterval()) })
	}
	ids, err := lockSystemIDs(ctx, st)
	if err != nil {
		return err
	}
	s.lockSystems = ids
	for _, id := range ids {
		id := id
		s.goRun(func() { _ = s.eng.RunDispatcher(ctx, id, s.drivers, engine.DispatchOptions{}) })
	}
	close(s.ready)
	a.log.Info("keyward serving", "http", "http://"+ln.Addr().String(), "store", a.cfg.Path(a.cfg.Store.Path), "lock_systems", len(ids))
	<-ctx.Done()
	a.log.Info("keyward stopping")
	shutCtx, done := context.WithTimeout(context.Background(), 5*time.Second)
	defer done()
	_ = srv.Shutdown(shutCtx)
	s.wg.Wait()
	return nil
}

func (s *server) goRun(fn func()) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		fn()
	}()
}

func lockSystemIDs(ctx context.Context, st store.Store) ([]string, error) {
	var ids []string
	err := st.View(ctx, func(tx store.Tx) error {
		ls, err := store.All[domain.LockSystem](ctx, tx, nil)
		for _, l := range ls {
			ids = append(ids, l.ID)
		}
		return err
	})
	return ids, err
}

func (s *server) routes() {
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	s.mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-s.ready:
		default:
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "starting"})
			return
		}
		if err := s.st.View(r.Context(), func(store.Tx) error { return nil }); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "store unavailable"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}))
	if s.clock != nil {
		s.mux.HandleFunc("GET /test/clock", func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, http.StatusOK, map[string]time.Time{"now": s.clock.Now()})
		})
		s.mux.HandleFunc("POST /test/clock", s.moveClock)
	}
}

// moveClock is the test-only clock control: {"set": RFC3339} or {"advance": "1h"};
// the scheduler runs once at the new time before the answer.
func (s *server) moveClock(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Set     *time.Time `json:"set"`
		Advance string     `json:"advance"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "body must be {\"set\": RFC3339} or {\"advance\": \"1h\"}"})
		return
	}
	switch {
	case req.Set != nil:
		s.clock.Set(*req.Set)
	case req.Advance != "":
		d, err := domain.ParseDuration(req.Advance)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		s.clock.Advance(time.Duration(d))
	}
	n, err := s.eng.Tick(r.Context())
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "scheduler: " + err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"now": s.clock.Now(), "changed": n})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// outboxCollector reports pending operations per lock system on each scrape.
type outboxCollector struct{ s *server }

var outboxDesc = prometheus.NewDesc("keyward_outbox_pending_operations", "Operations waiting in the outbox, per lock system.", []string{"lock_system"}, nil)

func (o outboxCollector) Describe(ch chan<- *prometheus.Desc) { ch <- outboxDesc }

func (o outboxCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = o.s.st.View(ctx, func(tx store.Tx) error {
		for _, id := range o.s.lockSystems {
			p, err := tx.List(ctx, domain.KindOperation, store.Query{Filter: store.And{store.Eqf("lockSystemId", id), store.Eqf("state", string(domain.OpPending))}})
			if err != nil {
				return err
			}
			ch <- prometheus.MustNewConstMetric(outboxDesc, prometheus.GaugeValue, float64(p.Total), id)
		}
		return nil
	})
}
