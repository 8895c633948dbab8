package e2e

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/connectors/connectortest"
)

// TestRecordedIGASequences replays the recorded request sequences of Entra ID,
// Okta and SailPoint (testdata/connectors) against the keyward binary on the
// quick start's estate, each platform as its own SCIM client with its profile,
// and checks the answers as the connectors' own replay tests do. Okta's and
// SailPoint's sequences count every user and entitlement they see (imports,
// delta aggregations), so they run on an empty store; Entra's run on the estate.
func TestRecordedIGASequences(t *testing.T) {
	for _, c := range []struct {
		platform string
		estate   bool
	}{{"entra", true}, {"okta", false}, {"sailpoint", false}} {
		platform := c.platform
		t.Run(platform, func(t *testing.T) {
			files, err := filepath.Glob(filepath.Join("..", "testdata", "connectors", platform, "*.json"))
			require.NoError(t, err)
			require.NotEmpty(t, files)
			var shared *env
			if c.estate {
				shared = startWith(t, true)
			}
			for _, f := range files {
				seq := connectortest.Load(t, f)
				require.Equal(t, platform, seq.Profile)
				t.Run(strings.TrimSuffix(filepath.Base(f), ".json"), func(t *testing.T) {
					e := shared
					if e == nil { // each sequence on its own keyward
						e = startWith(t, false)
					}
					connectortest.ReplayAt(t, "http://"+e.addr+"/scim/v2", seq, platform, e.clients[platform])
					if shared == nil {
						e.t = t
						assert.Contains(t, e.cli(0, "audit", "verify"), "intact")
					}
				})
			}
			if shared != nil {
				shared.t = t
				assert.Contains(t, shared.cli(0, "audit", "verify"), "intact")
			}
		})
	}
}
