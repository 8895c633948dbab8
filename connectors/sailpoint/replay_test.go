package sailpoint_test

import (
	"testing"

	"github.com/keyward/keyward/connectors/connectortest"
)

// TestReplay replays testdata/connectors/sailpoint/ against a fresh keyward.
func TestReplay(t *testing.T) { connectortest.Replay(t, "sailpoint") }
