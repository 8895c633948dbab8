package omada_test

import (
	"testing"

	"github.com/keyward/keyward/connectors/connectortest"
)

// TestReplay replays testdata/connectors/omada/ against a fresh keyward.
func TestReplay(t *testing.T) { connectortest.Replay(t, "omada") }
