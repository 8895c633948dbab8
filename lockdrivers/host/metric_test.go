package host_test

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// metric returns the value of a gauge or counter (or a histogram's count)
// with the given label pairs.
func metric(t testing.TB, w *world, name string, labels ...string) float64 {
	t.Helper()
	return metricOf(t, w, false, name, labels...)
}

// metricSum returns a histogram's sum.
func metricSum(t testing.TB, w *world, name string, labels ...string) float64 {
	t.Helper()
	return metricOf(t, w, true, name, labels...)
}

func metricOf(t testing.TB, w *world, sum bool, name string, labels ...string) float64 {
	fams, err := w.reg.Gather()
	require.NoError(t, err)
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	next:
		for _, m := range f.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for i := 0; i+1 < len(labels); i += 2 {
				if have[labels[i]] != labels[i+1] {
					continue next
				}
			}
			switch {
			case m.Gauge != nil:
				return m.GetGauge().GetValue()
			case m.Counter != nil:
				return m.GetCounter().GetValue()
			case m.Histogram != nil && sum:
				return m.GetHistogram().GetSampleSum()
			case m.Histogram != nil:
				return float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return 0
}
