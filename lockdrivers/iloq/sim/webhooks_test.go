package sim_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/lockdrivers/iloq/iloqapi"
	"github.com/keyward/keyward/lockdrivers/iloq/sim"
)

func TestSignatureVector(t *testing.T) {
	raw, err := os.ReadFile("../../../testdata/vendors/iloq/webhook-signature-vector.json")
	require.NoError(t, err)
	var v struct{ SignKey, Body, Signature string }
	require.NoError(t, json.Unmarshal(raw, &v))
	assert.Equal(t, v.Signature, iloqapi.Sign(v.SignKey, []byte(v.Body)))
	assert.True(t, iloqapi.Verify(v.SignKey, []byte(v.Body), v.Signature))
	assert.False(t, iloqapi.Verify(v.SignKey, []byte(v.Body+" "), v.Signature))
}

// receiver is a webhook endpoint that fails until told otherwise.
type receiver struct {
	mu   sync.Mutex
	ok   bool
	got  []*http.Request
	body [][]byte
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, req)
	r.body = append(r.body, b)
	if !r.ok {
		w.WriteHeader(http.StatusInternalServerError)
	}
}

func (r *receiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got)
}

func TestWebhooks(t *testing.T) {
	e := newEnv(t, sim.Options{}).login()
	ctx := context.Background()
	rcv := &receiver{}
	target := newTestServer(t, rcv)

	var events []iloqapi.WebhookEvent
	e.mustJSON("GET", "/api/v2/Webhooks/Events", nil, &events)
	eventID := map[string]string{}
	for _, ev := range events {
		eventID[ev.Name] = ev.ID
	}
	require.Contains(t, eventID, iloqapi.EventKeyAdded)
	subID := uuid.NewString()
	now, _ := e.sim.Now(ctx)
	from, to := iloqapi.NewUTC(now.Add(-time.Minute)), iloqapi.NewUTC(now.AddDate(0, 6, 0))
	e.mustJSON("POST", "/api/v2/Webhooks/Subscriptions", iloqapi.Subscription{SubscriptionID: subID,
		WebhookEventID: eventID[iloqapi.EventKeyAdded], TargetEndpointURI: target.URL + "/hooks/iloq",
		StartDateUtc: &from, EndDateUtc: &to, CustomHeader: "test"}, nil)
	var sub iloqapi.Subscription
	e.mustJSON("GET", "/api/v2/Webhooks/Subscriptions/"+subID, nil, &sub)
	require.NotEmpty(t, sub.SignKey)

	t.Run("at most three subscriptions per event", func(t *testing.T) {
		for range 2 {
			e.mustJSON("POST", "/api/v2/Webhooks/Subscriptions", iloqapi.Subscription{SubscriptionID: uuid.NewString(),
				WebhookEventID: eventID[iloqapi.EventKeyBlocklisted], TargetEndpointURI: target.URL,
				StartDateUtc: &from, EndDateUtc: &to}, nil)
		}
		e.mustJSON("POST", "/api/v2/Webhooks/Subscriptions", iloqapi.Subscription{SubscriptionID: uuid.NewString(),
			WebhookEventID: eventID[iloqapi.EventKeyBlocklisted], TargetEndpointURI: target.URL,
			StartDateUtc: &from, EndDateUtc: &to}, nil)
		e.errMessage("POST", "/api/v2/Webhooks/Subscriptions", iloqapi.Subscription{SubscriptionID: uuid.NewString(),
			WebhookEventID: eventID[iloqapi.EventKeyBlocklisted], TargetEndpointURI: target.URL,
			StartDateUtc: &from, EndDateUtc: &to}, http.StatusBadRequest)
	})
	t.Run("the end date is at most a year ahead", func(t *testing.T) {
		far := iloqapi.NewUTC(now.AddDate(2, 0, 0))
		e.errMessage("POST", "/api/v2/Webhooks/Subscriptions", iloqapi.Subscription{SubscriptionID: uuid.NewString(),
			WebhookEventID: eventID[iloqapi.EventDeviceLogArrived], TargetEndpointURI: target.URL,
			StartDateUtc: &from, EndDateUtc: &far}, http.StatusBadRequest)
	})

	keyID := e.newPhoneKey(accHQ)
	e.sim.WaitWebhooks()
	require.Equal(t, 1, rcv.count(), "first attempt at once")
	req, body := rcv.got[0], rcv.body[0]
	t.Run("a delivery is signed and carries the documented headers", func(t *testing.T) {
		assert.Equal(t, iloqapi.EventKeyAdded, req.Header.Get("Event-Name"))
		assert.Equal(t, subID, req.Header.Get("Subscription-Id"))
		assert.Equal(t, "1", req.Header.Get("Counter"))
		assert.Equal(t, "dGVzdA==", req.Header.Get("Custom-Header"))
		assert.True(t, iloqapi.Verify(sub.SignKey, body, req.Header.Get("Webhook-Signature")))
		var wb iloqapi.WebhookBody
		require.NoError(t, json.Unmarshal(body, &wb))
		var kd iloqapi.WebhookKeyData
		require.NoError(t, json.Unmarshal(wb.Data, &kd))
		assert.Equal(t, keyID, kd.FNKeyID)
	})
	t.Run("failed deliveries follow the retry schedule, then give up", func(t *testing.T) {
		attempts := 1
		for i, d := range sim.RetrySchedule {
			require.NoError(t, e.sim.Advance(ctx, d-time.Second))
			e.sim.WaitWebhooks()
			require.Equalf(t, attempts, rcv.count(), "retry %d must wait %v", i+1, d)
			require.NoError(t, e.sim.Advance(ctx, time.Second))
			e.sim.WaitWebhooks()
			attempts++
			require.Equalf(t, attempts, rcv.count(), "retry %d after %v", i+1, d)
		}
		require.NoError(t, e.sim.Advance(ctx, 48*time.Hour))
		e.sim.WaitWebhooks()
		assert.Equal(t, 7, rcv.count(), "7 requests in total")
		rcv.mu.Lock()
		var first, retry iloqapi.WebhookBody
		require.NoError(t, json.Unmarshal(rcv.body[0], &first))
		require.NoError(t, json.Unmarshal(rcv.body[1], &retry))
		assert.NotEqual(t, first.CreationTimeUtc, retry.CreationTimeUtc, "each attempt is stamped anew")
		assert.JSONEq(t, string(first.Data), string(retry.Data))
		assert.True(t, iloqapi.Verify(sub.SignKey, rcv.body[1], rcv.got[1].Header.Get("Webhook-Signature")))
		rcv.mu.Unlock()
		e.login() // the session expired while time passed
		var pl []iloqapi.Payload
		e.mustJSON("GET", "/api/v2/Webhooks/Subscriptions/"+subID+"/Payloads?state="+
			strconv.Itoa(iloqapi.PayloadGivenUp), nil, &pl)
		require.Len(t, pl, 1)
		assert.Equal(t, 7, pl[0].FailedRequests)
	})
	t.Run("a resent payload keeps its counter; a new one counts up", func(t *testing.T) {
		rcv.mu.Lock()
		rcv.ok = true
		rcv.mu.Unlock()
		e.newPhoneKey()
		e.sim.WaitWebhooks()
		rcv.mu.Lock()
		defer rcv.mu.Unlock()
		assert.Equal(t, "1", rcv.got[5].Header.Get("Counter"))
		assert.Equal(t, "2", rcv.got[len(rcv.got)-1].Header.Get("Counter"))
	})
	t.Run("simctl Webhooks holds every event signed with the keyward sign key", func(t *testing.T) {
		hooks, err := e.sim.Webhooks(ctx, 0)
		require.NoError(t, err)
		require.NotEmpty(t, hooks)
		for _, h := range hooks {
			assert.True(t, iloqapi.Verify(sim.DefaultWebhookSignKey, h.Body, h.Header.Get("Webhook-Signature")))
		}
	})
}
