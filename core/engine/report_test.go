package engine_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/core/domain"
	"github.com/keyward/keyward/core/engine"
	"github.com/keyward/keyward/core/report"
)

func TestReports(t *testing.T) {
	w := newWorld(t)
	ada := w.joiner("ada", "E100", "field engineer", "north")
	w.joiner("bob", "E300", "field engineer", "north") // no key: awaiting-key tasks
	w.dispatch()
	w.sync(w.alpha, "K-A1")
	require.NoError(t, w.eng.RecordDelivery(w.ctx, "beta", "K-B1", domain.Delivery{State: domain.DeliveryQueued}))
	_, err := w.eng.RecordLockEvents(w.ctx, "alpha", []engine.LockEventIn{
		{VendorEventID: "ev1", KeyVendorID: "K-A1", LockVendorID: "L1", At: t0.Add(time.Hour), Opened: true},
		{VendorEventID: "ev1", KeyVendorID: "K-A1", LockVendorID: "L1", At: t0.Add(time.Hour), Opened: true}, // duplicate
	})
	require.NoError(t, err)

	access, err := report.Access(w.ctx, w.st, w.clock.Now())
	require.NoError(t, err)
	require.Len(t, access.Rows, 2)
	var csv bytes.Buffer
	require.NoError(t, access.Write(&csv, "csv"))
	assert.Contains(t, csv.String(), "ada,North substations,medium,north,policy:Field engineers North")
	assert.Contains(t, csv.String(), "alpha:applied; beta:queued")

	review, err := report.Review(w.ctx, w.st, "north", w.clock.Now())
	require.NoError(t, err)
	assert.Contains(t, review.Title, "criticality medium")
	var js bytes.Buffer
	require.NoError(t, review.Write(&js, "json"))
	var doc struct {
		Rows []map[string]string `json:"rows"`
	}
	require.NoError(t, json.Unmarshal(js.Bytes(), &doc))
	require.Len(t, doc.Rows, 2)
	byUser := map[string]map[string]string{}
	for _, r := range doc.Rows {
		byUser[r["userName"]] = r
	}
	assert.Equal(t, t0.Add(time.Hour).Format(time.RFC3339), byUser["ada"]["lastUsed"], "last use from the lock events, counted once")
	assert.Equal(t, "never seen", byUser["bob"]["lastUsed"])

	tasks, err := report.Tasks(w.ctx, w.st)
	require.NoError(t, err)
	require.Len(t, tasks.Rows, 2)
	assert.Equal(t, "hand out a key", tasks.Rows[0][7])

	// Drift: the lock system reports a right no grant explains.
	_, err = w.eng.SyncInventory(w.ctx, "alpha", engine.Inventory{Keys: []engine.InventoryKey{
		{VendorID: "K-A1", Type: domain.KeyPhone, HolderRef: "E100", Remote: true, Access: &domain.KeyAccess{AccessObjects: []string{"A-NORTH", "A-SECRET"}}},
	}})
	require.NoError(t, err)
	drift, err := report.Drift(w.ctx, w.st)
	require.NoError(t, err)
	require.Len(t, drift.Rows, 1)
	assert.Equal(t, []string{"alpha:K-A1", "alpha", ada, "unexplained right", "A-SECRET", "no grant explains it"}, drift.Rows[0])

	var html bytes.Buffer
	require.NoError(t, drift.Write(&html, "html"))
	assert.True(t, strings.HasPrefix(html.String(), "<!doctype html>"))
	require.ErrorIs(t, drift.Write(&html, "pdf"), domain.ErrInvalid)
}
