package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-plugin"

	"github.com/keyward/keyward/core/domain"
	"github.com/keyward/keyward/core/driverport"
	"github.com/keyward/keyward/core/engine"
	"github.com/keyward/keyward/core/store"
	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/lockdrivers/driver"
)

// system supervises the driver of one lock system.
type system struct {
	h       *Host
	id      string
	decl    config.Driver
	timeout time.Duration
	log     *slog.Logger

	// writes serialises the calls that change the lock system (and
	// Configure): vendors want one writer.
	writes chan struct{}
	// syncNow asks for an inventory sync.
	syncNow chan struct{}
	// observing serialises reads of the change stream, so that two readers
	// never race on the cursor.
	observing sync.Mutex

	mu       sync.Mutex
	state    State
	reason   string
	inst     *instance
	info     driver.Info
	restarts int
	health   string
	running  chan struct{} // closed while running; replaced when it stops
}

// instance is one driver process.
type instance struct {
	pc      *plugin.Client
	d       *driver.Client
	pid     int
	started time.Time
	exited  chan struct{} // closed when the process is gone
	// restart asks the supervisor to replace this instance; one request is
	// enough.
	restart chan restartReq
}

type restartReq struct {
	why string
	// force kills the process at once (a hung driver) instead of asking it
	// to stop.
	force bool
}

// refusal is a start failure that retrying cannot fix.
type refusal struct{ reason string }

func (r *refusal) Error() string { return r.reason }

func newSystem(h *Host, d config.Driver, timeout time.Duration) *system {
	s := &system{
		h: h, id: d.ID, decl: d, timeout: timeout, log: h.log.With("lock_system", d.ID),
		writes: make(chan struct{}, 1), syncNow: make(chan struct{}, 1),
		state: StateStarting, health: "unknown", running: make(chan struct{}),
	}
	h.metrics.setState(d.ID, StateStarting)
	h.metrics.setHealth(d.ID, "unknown")
	return s
}

func (s *system) current() *instance {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inst
}

// whenRunning returns a channel closed while the driver runs.
func (s *system) whenRunning() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.running
}

func (s *system) setState(st State, reason string, inst *instance) {
	s.mu.Lock()
	s.setStateLocked(st, reason, inst)
	s.mu.Unlock()
}

func (s *system) setStateLocked(st State, reason string, inst *instance) {
	prev := s.state
	s.state, s.reason, s.inst = st, reason, inst
	if st == StateRunning && prev != StateRunning {
		close(s.running)
	} else if st != StateRunning && prev == StateRunning {
		s.running = make(chan struct{})
	}
	s.h.metrics.setState(s.id, st)
}

func (s *system) status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Status{LockSystem: s.id, State: s.state, Reason: s.reason, Vendor: s.info.Vendor, DriverVersion: s.info.DriverVersion,
		Restarts: s.restarts, Health: s.health}
	if s.inst != nil {
		st.Pid = s.inst.pid
	}
	return st
}

// supervise starts the driver, watches it, and starts it again with backoff
// when it crashes, hangs or fails to start, until ctx ends or the driver is
// refused. first is closed after the first start attempt.
func (s *system) supervise(ctx context.Context, first chan struct{}) {
	firstDone := false
	markFirst := func() {
		if !firstDone {
			firstDone = true
			close(first)
		}
	}
	defer markFirst()
	failures := 0
	for ctx.Err() == nil {
		s.setState(StateStarting, "", nil)
		inst, err := s.start(ctx)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			var ref *refusal
			if errors.As(err, &ref) {
				s.log.Error("driver refused: keyward will not run it; other lock systems keep working. Fix the lock system's configuration and restart keyward",
					"binary", s.binary(), "reason", ref.reason)
				s.setState(StateRefused, ref.reason, nil)
				markFirst()
				<-ctx.Done()
				break
			}
			failures++
			delay := engine.Backoff(failures, s.h.opts.RestartMin, s.h.opts.RestartMax)
			s.log.Warn("driver failed to start, will try again", "binary", s.binary(), "attempt", failures, "retry_in", delay, "err", err)
			s.setState(StateBackoff, err.Error(), nil)
			markFirst()
			if !sleep(ctx, delay) {
				break
			}
			s.countRestart()
			continue
		}
		s.setState(StateRunning, "", inst)
		markFirst()
		s.log.Info("driver running", "vendor", s.info.Vendor, "driver_version", s.info.DriverVersion, "pid", inst.pid,
			"start_ms", time.Since(inst.started).Milliseconds())
		select {
		case s.syncNow <- struct{}{}:
		default:
		}
		s.checkCapabilities(ctx)
		why, force := s.watch(ctx, inst)
		s.setState(StateBackoff, why, nil)
		s.stop(inst, force || ctx.Err() == nil)
		if ctx.Err() != nil {
			break
		}
		if time.Since(inst.started) >= s.h.opts.StableAfter {
			failures = 0
		}
		failures++
		delay := engine.Backoff(failures, s.h.opts.RestartMin, s.h.opts.RestartMax)
		s.log.Warn("driver stopped, restarting", "why", why, "pid", inst.pid, "retry_in", delay)
		if !sleep(ctx, delay) {
			break
		}
		s.countRestart()
	}
	if st := s.status().State; st != StateRefused {
		s.setState(StateStopped, "", nil)
	} else {
		s.h.metrics.setState(s.id, StateRefused)
	}
}

func (s *system) countRestart() {
	s.mu.Lock()
	s.restarts++
	s.mu.Unlock()
	s.h.metrics.restarts.WithLabelValues(s.id).Inc()
}

// watch waits until the instance exits, a restart is asked for, or ctx ends,
// and says why.
func (s *system) watch(ctx context.Context, inst *instance) (why string, force bool) {
	for {
		select {
		case <-ctx.Done():
			return "keyward is stopping", false
		case <-inst.exited:
			return "driver process exited", false
		case r := <-inst.restart:
			return r.why, r.force
		}
	}
}

// requestRestart asks the supervisor to replace inst.
func (s *system) requestRestart(inst *instance, why string, force bool) {
	select {
	case inst.restart <- restartReq{why: why, force: force}:
	default: // a restart of this instance is already asked for
	}
}

// stop ends an instance: at once when force (it crashed or hangs), else
// gracefully (go-plugin asks it to stop, then kills it after 2s).
func (s *system) stop(inst *instance, force bool) {
	if force && inst.pid > 0 {
		if p, err := os.FindProcess(inst.pid); err == nil {
			_ = p.Kill()
		}
	}
	inst.pc.Kill()
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (s *system) binary() string {
	p := s.decl.Binary
	if p != "" && !filepath.IsAbs(p) && s.h.opts.ConfigDir != "" {
		p = filepath.Join(s.h.opts.ConfigDir, p)
	}
	return p
}

// start starts, checks and configures one driver process.
func (s *system) start(ctx context.Context) (*instance, error) {
	bin := s.binary()
	cfg, err := s.driverConfig()
	if err != nil {
		return nil, &refusal{reason: err.Error()}
	}
	if _, err := os.Stat(bin); err != nil {
		return nil, &refusal{reason: fmt.Sprintf("driver binary %s: %v", bin, err)}
	}
	env := append([]string{"KEYWARD_DRIVER_LOG_LEVEL=" + s.h.opts.DriverLogLevel}, s.h.opts.DriverEnv...)
	pcfg, err := driver.NewClientConfig(driver.LaunchConfig{
		Binary: bin, SHA256: s.decl.SHA256, Env: env,
		Logger:       hclogToSlog(s.log, "driver", s.h.hclogLevel()),
		StartTimeout: s.h.opts.StartTimeout,
	})
	if err != nil {
		return nil, &refusal{reason: err.Error()}
	}
	began := time.Now()
	pc := plugin.NewClient(pcfg)
	inst := &instance{pc: pc, started: began, exited: make(chan struct{}), restart: make(chan restartReq, 1)}
	fail := func(err error) (*instance, error) {
		pc.Kill()
		return nil, err
	}
	if err := s.h.startProcess(ctx, pc); err != nil {
		switch {
		case errors.Is(err, plugin.ErrChecksumsDoNotMatch):
			got, _ := driver.FileSHA256(bin)
			return fail(&refusal{reason: fmt.Sprintf("driver binary %s does not match its pinned sha256: pinned %s, the file has %s (tampered or replaced; keyward never trusts a driver on first use)",
				bin, s.decl.SHA256, got)})
		case strings.Contains(err.Error(), "incompatible API version"):
			return fail(&refusal{reason: fmt.Sprintf("driver %s speaks no contract version keyward knows (keyward speaks lockdriver.v%d): %v", bin, driver.ContractVersion, err)})
		case strings.Contains(err.Error(), "verifying checksum"):
			return fail(&refusal{reason: fmt.Sprintf("driver binary %s: %v", bin, err)})
		}
		return fail(fmt.Errorf("starting driver %s: %w", bin, err))
	}
	if rc := pc.ReattachConfig(); rc != nil {
		inst.pid = rc.Pid
	}
	go watchExit(inst)
	d, err := driver.Dispense(pc)
	if err != nil {
		if strings.Contains(err.Error(), "contract version") {
			return fail(&refusal{reason: err.Error()})
		}
		return fail(fmt.Errorf("connecting to driver %s: %w", bin, err))
	}
	inst.d = d
	// Info and Configure (which may reach the vendor) get the longer of the
	// start and call timeouts.
	cctx, cancel := context.WithTimeout(ctx, max(s.timeout, s.h.opts.StartTimeout))
	defer cancel()
	info, err := d.Info(cctx)
	if err != nil {
		return fail(fmt.Errorf("driver %s: Info: %w", bin, err))
	}
	if err := checkInfo(info); err != nil {
		return fail(&refusal{reason: fmt.Sprintf("driver %s: Info: %v", bin, err)})
	}
	s.mu.Lock()
	s.info = info
	s.mu.Unlock()
	if err := d.Configure(cctx, cfg); err != nil {
		switch driver.KindOf(err) {
		case driver.KindInvalid, driver.KindPermission, driver.KindNotFound:
			return fail(&refusal{reason: fmt.Sprintf("driver %s rejected its configuration: %v", bin, err)})
		}
		return fail(fmt.Errorf("driver %s: Configure: %w", bin, err))
	}
	return inst, nil
}

// checkCapabilities warns when the estate expects what the driver says the
// lock system cannot do.
func (s *system) checkCapabilities(ctx context.Context) {
	s.mu.Lock()
	caps := s.info.Capabilities
	s.mu.Unlock()
	_ = s.h.eng.Store().View(ctx, func(tx store.Tx) error {
		ls, err := store.Get[domain.LockSystem](ctx, tx, s.id)
		if err == nil && ls.CanBlock && !caps.LockBlocklist {
			s.log.Warn("the estate says this lock system can block keys, but its driver has no lock-side blocklist: block operations will fail and escalations need a person")
		}
		return nil
	})
}

// checkInfo refuses a driver that speaks no contract version keyward knows
// or describes itself badly.
func checkInfo(info driver.Info) error {
	if !slices.Contains(info.ContractVersions, driver.ContractVersion) {
		return fmt.Errorf("the driver speaks contract versions %v, keyward speaks lockdriver.v%d", info.ContractVersions, driver.ContractVersion)
	}
	if info.Vendor == "" {
		return errors.New("contract violation: no vendor")
	}
	return nil
}

// driverConfig resolves the lock system's settings and secret references.
func (s *system) driverConfig() (driver.Config, error) {
	settings := s.decl.Config
	if settings == nil {
		settings = map[string]any{}
	}
	raw, err := json.Marshal(settings)
	if err != nil {
		return driver.Config{}, fmt.Errorf("lock system %s: config: %v", s.id, err)
	}
	secrets := make(map[string]string, len(s.decl.Secrets))
	var problems []string
	names := make([]string, 0, len(s.decl.Secrets))
	for name := range s.decl.Secrets {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		v, err := s.decl.Secrets[name].Resolve(s.h.opts.ConfigDir)
		if err != nil {
			problems = append(problems, fmt.Sprintf("secret %s: %v", name, err))
			continue
		}
		secrets[name] = v
	}
	if len(problems) > 0 {
		return driver.Config{}, fmt.Errorf("lock system %s: %s", s.id, strings.Join(problems, "; "))
	}
	return driver.Config{LockSystem: s.id, Settings: raw, Secrets: secrets}, nil
}

// watchExit closes inst.exited once the process is gone.
func watchExit(inst *instance) {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for range t.C {
		if inst.pc.Exited() {
			close(inst.exited)
			return
		}
	}
}

// call runs one driver call on the current instance with the lock system's
// timeout, records its latency and outcome, and notices a crash or a hang.
// write calls are serialised.
func (s *system) call(ctx context.Context, name string, write bool, fn func(ctx context.Context, d driver.Driver) error) error {
	if write {
		select {
		case s.writes <- struct{}{}:
		case <-ctx.Done():
			return &driverport.Error{Kind: driverport.Transient, Driver: s.id, Call: name, Message: "waiting for the lock system's previous call: " + ctx.Err().Error()}
		}
		defer func() { <-s.writes }()
	}
	inst := s.current()
	if inst == nil {
		st := s.status()
		return &driverport.Error{Kind: driverport.Transient, Driver: s.id, Call: name, Message: fmt.Sprintf("driver is not running (%s)", st.State)}
	}
	cctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	began := time.Now()
	err := fn(cctx, inst.d)
	outcome := "ok"
	if err != nil {
		outcome = driver.KindOf(err).String()
		switch {
		case s.crashed(inst, err):
			s.detach(inst, name+" failed: the driver process is gone")
			outcome = "crashed"
		case timedOut(cctx) && ctx.Err() == nil:
			outcome = "timeout"
			go s.probe(inst, name)
		}
		s.h.metrics.errors.WithLabelValues(s.id, name, outcome).Inc()
	}
	s.h.metrics.calls.WithLabelValues(s.id, name, outcome).Observe(time.Since(began).Seconds())
	return err
}

// crashed tells whether a failed call failed because the driver process
// died. The process's exit is noticed a moment after the connection breaks,
// so a transient failure waits briefly for it.
func (s *system) crashed(inst *instance, err error) bool {
	if driver.KindOf(err) != driver.KindTransient {
		return false
	}
	t := time.NewTimer(150 * time.Millisecond)
	defer t.Stop()
	select {
	case <-inst.exited:
		return true
	case <-t.C:
		return false
	}
}

// detach takes a dead instance out of service at once, so that no further
// call is sent to it while the supervisor starts a new one.
func (s *system) detach(inst *instance, why string) {
	s.mu.Lock()
	if s.inst == inst {
		s.setStateLocked(StateBackoff, why, nil)
	}
	s.mu.Unlock()
	s.requestRestart(inst, why, false)
}

// timedOut tells whether ctx's deadline has passed. gRPC may report a
// deadline a moment before ctx's own timer fires, so the clock decides.
func timedOut(ctx context.Context) bool {
	d, ok := ctx.Deadline()
	return ok && !time.Now().Before(d)
}

// probe checks a driver whose call timed out: if it does not answer Health in
// time either, it hangs and is restarted.
func (s *system) probe(inst *instance, after string) {
	ctx, cancel := context.WithTimeout(context.Background(), min(s.timeout, 5*time.Second))
	defer cancel()
	_, err := inst.d.Health(ctx)
	if err != nil && ctx.Err() != nil {
		s.log.Error("driver hangs: restarting it", "call", after, "pid", inst.pid)
		s.requestRestart(inst, after+" timed out and the driver does not answer Health: it hangs", true)
	}
}

// runHealth asks the driver's Health periodically.
func (s *system) runHealth(ctx context.Context) {
	t := time.NewTicker(s.h.opts.HealthInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		inst := s.current()
		if inst == nil {
			continue
		}
		var h driver.Health
		err := s.call(ctx, "Health", false, func(ctx context.Context, d driver.Driver) error {
			var err error
			h, err = d.Health(ctx)
			return err
		})
		status := string(h.Status)
		if err != nil {
			status = "unknown"
			s.log.Warn("driver health check failed", "err", err)
		} else if h.Status != driver.HealthServing {
			s.log.Warn("driver reports its vendor system unhealthy", "status", h.Status, "message", h.Message)
		}
		switch status {
		case "serving", "degraded", "down":
		default:
			status = "unknown"
		}
		s.mu.Lock()
		s.health = status
		s.mu.Unlock()
		s.h.metrics.setHealth(s.id, status)
	}
}
