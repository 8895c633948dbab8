package padlock_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/examples/driver/padlock"
	"github.com/keyward/keyward/examples/driver/sim"
	"github.com/keyward/keyward/lockdrivers/driver"
)

// FuzzHandleWebhook feeds the driver correctly signed bodies of any shape
// and arbitrary signatures: it must answer changes or a kinded error, never
// panic.
func FuzzHandleWebhook(f *testing.F) {
	f.Add([]byte(`{"events":[{"seq":1,"id":"evt-1","type":"padlock.opened","credential":"cr-1","padlock":"pl-1","opened":true}]}`), true)
	f.Add([]byte(`{"events":[{"type":"order.applied","state":"applied","order":"ord-1"}]}`), true)
	f.Add([]byte(`{"events":[{"type":"order.x","state":"teleported"}]}`), true)
	f.Add([]byte(`[]`), true)
	f.Add([]byte(`{"events":`), true)
	f.Add([]byte(`{}`), false)
	d := padlock.New(hclog.NewNullLogger())
	require.NoError(f, d.Configure(context.Background(), driver.Config{
		Settings: []byte(`{"url":"http://127.0.0.1:1"}`),
		Secrets:  map[string]string{"api_token": "t", "webhook_secret": "k"},
	}))
	f.Fuzz(func(t *testing.T, body []byte, sign bool) {
		h := http.Header{}
		if sign {
			h.Set(sim.SignatureHeader, sim.Sign("k", body))
		} else {
			h.Set(sim.SignatureHeader, "sha256="+string(body))
		}
		changes, err := d.HandleWebhook(context.Background(), driver.Webhook{Header: h, Body: body})
		if err != nil {
			want := driver.KindUnauthenticated
			if sign {
				want = driver.KindInvalid
			}
			assert.Equal(t, want, driver.KindOf(err), "%v", err)
			return
		}
		for _, c := range changes {
			assert.NotEmpty(t, c.Kind)
		}
	})
}
