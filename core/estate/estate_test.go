package estate_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/core/domain"
	"github.com/keyward/keyward/core/engine"
	"github.com/keyward/keyward/core/estate"
	"github.com/keyward/keyward/core/store"
	"github.com/keyward/keyward/core/store/sqlite"
)

func TestQuickstartEstateAppliesOnceThenChangesNothing(t *testing.T) {
	ctx := context.Background()
	es, err := estate.Load("../../examples/quickstart/estate.yaml")
	require.NoError(t, err)
	assert.Len(t, es.LockSystems, 3)
	assert.Len(t, es.Entitlements, 25)
	assert.GreaterOrEqual(t, len(es.Locks), 280)

	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "k.db"), sqlite.WithRelaxedSync())
	require.NoError(t, err)
	defer st.Close()
	eng := engine.New(st, engine.Options{})

	changes, steps, err := estate.Diff(ctx, st, es)
	require.NoError(t, err)
	require.NotEmpty(t, changes)
	for _, c := range changes {
		require.Equal(t, "create", c.Op, c.String())
	}
	require.NoError(t, estate.Apply(ctx, eng, engine.Actor{Name: "test"}, steps))

	changes, steps, err = estate.Diff(ctx, st, es)
	require.NoError(t, err)
	assert.Empty(t, changes, "applying twice changes nothing the second time")
	assert.Empty(t, steps)

	// An edit shows as an update naming the field, and a dropped policy as a delete.
	es.Entitlements[0].Description = "changed"
	es.Policies = es.Policies[1:]
	changes, _, err = estate.Diff(ctx, st, es)
	require.NoError(t, err)
	var got []string
	for _, c := range changes {
		got = append(got, c.String())
	}
	assert.ElementsMatch(t, []string{"~ entitlement north-substations (description)", "- policy fe-north"}, got)

	// The estate's changes are audited.
	require.NoError(t, st.View(ctx, func(tx store.Tx) error {
		last, ok, err := tx.LastAudit(ctx)
		require.True(t, ok)
		assert.Greater(t, last.Seq, int64(300))
		return err
	}))
}

func TestBadEstateListsEveryProblemWithItsLine(t *testing.T) {
	src := `
exposure: {critical: forever, urgent: 1h}
lockSystems:
  - {id: ls1, vendor: iloq, correlateBy: shoeSize}
  - {id: ls1, vendor: iloq}
assets:
  - {id: a, parent: nowhere, criticality: extreme}
locks:
  - {lockSystem: nope, vendorId: L1, asset: b}
entitlements:
  - id: e1
    criticality: high
    bindings:
      - {lockSystem: ls9, accessObjects: []}
    schedule: {windows: [{days: [mon, funday], from: "18:00", to: "07:00"}]}
policies:
  - {id: p1, match: [{attribute: shoeSize, values: [42]}], entitlements: [e9]}
`
	_, err := estate.Parse("bad.yaml", []byte(src))
	require.Error(t, err)
	require.ErrorIs(t, err, domain.ErrInvalid)
	var pe *estate.ProblemsError
	require.ErrorAs(t, err, &pe)
	msg := err.Error()
	for _, want := range []string{
		"exposure.critical", `"urgent" is not a criticality`,
		"line 4: lock system \"ls1\": correlateBy", "line 5: lock system \"ls1\": declared twice",
		"line 7: asset \"a\": unknown parent", "criticality \"extreme\"",
		"line 9: lock \"L1\": unknown lock system", "unknown asset \"b\"",
		"line 11: entitlement \"e1\": name is required", "unknown lock system \"ls9\"", "lists no access objects", `"funday"`,
		"line 17: policy \"p1\": attribute \"shoeSize\"", "unknown entitlement \"e9\"",
	} {
		assert.Contains(t, msg, want)
	}
	assert.GreaterOrEqual(t, len(pe.Problems), 14)

	_, err = estate.Parse("typo.yaml", []byte("lockSystem:\n  - {id: x}\n"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "line 1")
}
