package netiq_test

import (
	"testing"

	"github.com/keyward/keyward/connectors/connectortest"
)

// TestReplay replays testdata/connectors/netiq/ against a fresh keyward.
func TestReplay(t *testing.T) { connectortest.Replay(t, "netiq") }
