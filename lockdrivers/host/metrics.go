package host

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the host's Prometheus metrics, labelled by lock system.
type metrics struct {
	reg      prometheus.Registerer
	up       *prometheus.GaugeVec
	state    *prometheus.GaugeVec
	health   *prometheus.GaugeVec
	restarts *prometheus.CounterVec
	calls    *prometheus.HistogramVec
	errors   *prometheus.CounterVec
	rejected *prometheus.CounterVec
	changes  *prometheus.CounterVec
}

// states are the values of keyward_driver_state's state label.
var states = []State{StateStarting, StateRunning, StateBackoff, StateRefused, StateStopped}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		up: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "keyward_driver_up", Help: "1 when the lock system's driver process is running and configured.",
		}, []string{"lock_system"}),
		state: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "keyward_driver_state", Help: "1 for the driver's current supervision state (starting, running, backoff, refused, stopped).",
		}, []string{"lock_system", "state"}),
		health: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "keyward_driver_health", Help: "1 for the health the driver last reported (serving, degraded, down, unknown).",
		}, []string{"lock_system", "status"}),
		restarts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keyward_driver_restarts_total", Help: "Driver processes started again after a crash, hang or failed start.",
		}, []string{"lock_system"}),
		calls: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "keyward_driver_call_duration_seconds", Help: "Latency of calls to a driver, by call and outcome (ok or the error kind).",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"lock_system", "call", "outcome"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keyward_driver_call_errors_total", Help: "Failed driver calls by call and error kind.",
		}, []string{"lock_system", "call", "kind"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keyward_driver_rejected_total", Help: "Driver answers rejected as malformed or contract-violating, by call.",
		}, []string{"lock_system", "call"}),
		changes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keyward_driver_changes_total", Help: "Changes taken from a driver (change stream and webhooks), by kind.",
		}, []string{"lock_system", "kind"}),
	}
	if reg == nil {
		return m, nil
	}
	for i, c := range m.collectors() {
		if err := reg.Register(c); err != nil {
			for _, r := range m.collectors()[:i] {
				reg.Unregister(r)
			}
			return nil, err
		}
	}
	m.reg = reg
	return m, nil
}

func (m *metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.up, m.state, m.health, m.restarts, m.calls, m.errors, m.rejected, m.changes}
}

// unregister takes the metrics off their registry, so that a new host can
// register them again.
func (m *metrics) unregister() {
	if m.reg == nil {
		return
	}
	for _, c := range m.collectors() {
		m.reg.Unregister(c)
	}
}

func (m *metrics) setState(id string, s State) {
	for _, st := range states {
		v := 0.0
		if st == s {
			v = 1
		}
		m.state.WithLabelValues(id, string(st)).Set(v)
	}
	up := 0.0
	if s == StateRunning {
		up = 1
	}
	m.up.WithLabelValues(id).Set(up)
}

func (m *metrics) setHealth(id, status string) {
	for _, st := range []string{"serving", "degraded", "down", "unknown"} {
		v := 0.0
		if st == status {
			v = 1
		}
		m.health.WithLabelValues(id, st).Set(v)
	}
}
