package iloq_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/lockdrivers/driver"
	"github.com/keyward/keyward/lockdrivers/iloq"
)

func TestConfigureListsEveryProblem(t *testing.T) {
	d := iloq.NewDriver(nil)
	cases := []struct {
		name     string
		settings string
		secrets  map[string]string
		fields   []string
	}{
		{"everything wrong at once", `{"managerUrl": "ftp://x", "readConcurrency": 99, "requestAttempts": 50}`, nil,
			[]string{"managerUrl", "customerCode", "userName", "readConcurrency", "requestAttempts", "secrets.password"}},
		{"unknown field", `{"url": "https://x"}`, nil, []string{""}},
		{"wrong type", `{"managerUrl": 5}`, nil, []string{""}},
		{"trailing data", `{"managerUrl": "https://x"} {}`, nil, []string{""}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := d.Configure(context.Background(), driver.Config{Settings: json.RawMessage(c.settings), Secrets: c.secrets})
			var de *driver.Error
			require.ErrorAs(t, err, &de)
			assert.Equal(t, driver.KindInvalid, de.Kind)
			var fields []string
			for _, p := range de.Problems {
				fields = append(fields, p.Field)
				assert.NotEmpty(t, p.Message)
			}
			assert.ElementsMatch(t, c.fields, fields)
		})
	}
	t.Run("a valid configuration", func(t *testing.T) {
		err := d.Configure(context.Background(), driver.Config{Settings: json.RawMessage(
			`{"managerUrl": "https://s5.iloq.com/iloqws", "customerCode": "ILOQ_1", "userName": "api"}`),
			Secrets: map[string]string{iloq.SecretPassword: "pw"}})
		assert.NoError(t, err)
		info, err := d.Info(context.Background())
		require.NoError(t, err)
		var schema map[string]any
		require.NoError(t, json.Unmarshal(info.ConfigSchema, &schema))
		assert.Equal(t, "iloq", info.Vendor)
		assert.True(t, info.Capabilities.LockBlocklist && info.Capabilities.Webhooks && info.Capabilities.Schedules)
	})
}
