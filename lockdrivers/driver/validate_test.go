package driver_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/keyward/keyward/lockdrivers/driver"
)

func TestValidate(t *testing.T) {
	good := sample()
	cases := []struct {
		name  string
		err   error
		field string
	}{
		{"good delivery", good.deliv.Validate(), ""},
		{"good key", good.key.Validate(), ""},
		{"good block", good.block.Validate(), ""},
		{"good info", good.info.Validate(), ""},
		{"unknown state", driver.Delivery{State: "teleported", ChangeID: "c"}.Validate(), "delivery.state"},
		{"no change id", driver.Delivery{State: driver.DeliveryQueued}.Validate(), "delivery.change_id"},
		{"needs-action without reason", driver.Delivery{State: driver.DeliveryNeedsAction, ChangeID: "c"}.Validate(), "delivery.needs_action"},
		{"removal both bounded and unbounded", driver.Delivery{State: driver.DeliveryQueued, ChangeID: "c",
			Removal: &driver.Removal{AccessObjectIDs: []string{"A"}, Unbounded: true, EffectiveBy: t0}}.Validate(), "delivery.removal"},
		{"removal neither", driver.Delivery{State: driver.DeliveryQueued, ChangeID: "c",
			Removal: &driver.Removal{AccessObjectIDs: []string{"A"}}}.Validate(), "delivery.removal"},
		{"key without type", driver.Key{ID: "K", State: driver.KeyLost}.Validate(), "key.type"},
		{"change without event", driver.Change{ID: "x", Kind: driver.ChangeDelivery}.Validate(), "change"},
		{"change kind mismatch", driver.Change{ID: "x", Kind: driver.ChangeBlock,
			LockEvent: &driver.LockEvent{LockID: "L"}}.Validate(), "change.kind"},
		{"block lock without state", driver.BlockResult{Delivery: good.block.Delivery,
			Locks: []driver.LockPropagation{{LockID: "L"}}}.Validate(), "block.locks[0]"},
		{"info of another contract", driver.Info{Vendor: "v", DriverVersion: "1", ContractVersions: []int{2}}.Validate(), "info.contract_versions"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.field == "" {
				assert.NoError(t, tc.err)
				return
			}
			var de *driver.Error
			if assert.ErrorAs(t, tc.err, &de) {
				assert.Equal(t, driver.KindInvalid, de.Kind)
				fields := make([]string, len(de.Problems))
				for i, p := range de.Problems {
					fields[i] = p.Field
				}
				assert.Contains(t, fields, tc.field)
			}
		})
	}
	for _, c := range good.changes {
		assert.NoError(t, c.Validate(), c.ID)
	}
}
