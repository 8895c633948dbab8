package e2e

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMainJob runs the main job's cases in order on one running quick start.
func TestMainJob(t *testing.T) {
	e := start(t)

	t.Run("joiner gets birthright on the right keys in all three lock systems", func(t *testing.T) {
		e.t = t
		// One field engineer per region, each from another IGA platform. Employees
		// 1001, 1011 and 1021 hold keys 1, 11 and 21 in every lock system.
		north := e.create("entra", joiner("eero.north@northgrid.example", 1001, "field engineer", "north"))
		south := e.create("okta", joiner("eero.south@northgrid.example", 1011, "field engineer", "south"))
		east := e.create("sailpoint", joiner("eero.east@northgrid.example", 1021, "field engineer", "east"))
		for _, c := range []struct {
			id, ls  string
			key     int
			in, out string // a lock the birthright opens, one it does not
		}{
			{north, iloq, 1, "IL-N-05-1", "IL-N-01-1"},
			{south, cliq, 11, "CQ-S-05-1", "CQ-S-01-1"},
			{east, protec2, 21, "P2-E-05-1", "P2-E-01-1"},
		} {
			e.waitDeliveries(c.id, c.ls, "queued", "recorded", "delivered", "applied")
			assert.False(t, e.opens(c.ls, c.key, c.in).Opened, "%s: nothing on the key before its update", c.ls)
			e.deliver(c.ls, c.key)
			assert.True(t, e.opens(c.ls, c.key, c.in).Opened, "%s: the birthright opens %s", c.ls, c.in)
			assert.False(t, e.opens(c.ls, c.key, c.out).Opened, "%s: a transmission substation stays shut", c.ls)
			e.waitDeliveries(c.id, c.ls, "applied")
		}
		// The north engineer's keys in the other regions carry nothing.
		assert.False(t, e.opens(cliq, 1, "CQ-S-05-1").Opened)
		assert.False(t, e.opens(protec2, 1, "P2-E-05-1").Opened)
		out := e.cli(0, "why", "--identity", "eero.north@northgrid.example", "--entitlement", "north-substations")
		require.Contains(t, out, "policy: fe-north")
	})
}
