package engine_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/core/domain"
	"github.com/keyward/keyward/core/engine"
	"github.com/keyward/keyward/core/report"
)

func (w *world) why(q report.WhyQuery) *report.Answer {
	w.t.Helper()
	ans, err := report.Why(w.ctx, w.st, q)
	require.NoError(w.t, err)
	return ans
}

func TestWhyJustInTimeWindow(t *testing.T) {
	w := newWorld(t)
	id := w.joiner("dora", "E100", "technician", "east")
	from, until := t0.Add(2*time.Hour), t0.Add(6*time.Hour)
	w.exec(engine.Grant{IdentityID: id, EntitlementID: "dc", ValidFrom: &from, ValidUntil: &until,
		Justification: "emergency work CHG-42", Approval: &domain.Approval{Approver: "olga", Reference: "CHG-42"}})
	w.clock.Set(from)
	_, err := w.eng.Tick(w.ctx)
	require.NoError(t, err)
	w.dispatch()
	w.clock.Set(from.Add(time.Hour))
	w.sync(w.alpha, "K-A1")
	w.clock.Set(until)
	_, err = w.eng.Tick(w.ctx)
	require.NoError(t, err)
	w.dispatch()
	w.clock.Set(until.Add(30 * time.Minute))
	w.sync(w.alpha, "K-A1")

	before := w.why(report.WhyQuery{IdentityID: id, AssetID: "dc-1", At: from.Add(-time.Minute)})
	assert.False(t, before.HadAccess)

	during := w.why(report.WhyQuery{IdentityID: id, AssetID: "dc-1", At: from.Add(90 * time.Minute)})
	assert.True(t, during.HadAccess)
	require.Len(t, during.Grants, 1)
	g := during.Grants[0]
	assert.Equal(t, "iga:entra", g.Source)
	require.NotNil(t, g.Approval)
	assert.Equal(t, "olga", g.Approval.Approver)
	assert.Equal(t, "CHG-42", g.Approval.Reference)
	assert.Equal(t, "emergency work CHG-42", g.Justification)
	require.NotNil(t, g.ReachedKey)
	assert.True(t, g.ReachedKey.Equal(from.Add(time.Hour)), "reached the key when the phone synced")
	require.NotNil(t, g.RevokedAt)
	assert.Equal(t, "validity window closed", g.EndReason)
	require.NotNil(t, g.EffectiveAt)
	assert.True(t, g.EffectiveAt.Equal(until.Add(30*time.Minute)))

	after := w.why(report.WhyQuery{IdentityID: id, EntitlementID: "dc", At: until.Add(10 * time.Minute)})
	assert.False(t, after.HadAccess)
	require.Len(t, after.Grants, 1)
	assert.True(t, after.Grants[0].ExposedAt, "revoked, not yet effective on the key")

	var text bytes.Buffer
	require.NoError(t, during.WriteText(&text))
	assert.Contains(t, text.String(), "dora ("+id+") had access to asset dc-1")
	assert.Contains(t, text.String(), "approved by olga")
	assert.Contains(t, text.String(), "revocation effective on the key")

	b, err := json.Marshal(during)
	require.NoError(t, err)
	var back map[string]any
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, true, back["hadAccess"])
}

func TestWhyPolicyGrantAndLeaver(t *testing.T) {
	w := newWorld(t)
	id := w.joiner("ada", "E100", "field engineer", "north")
	w.alpha.SetExpiry("K-A1", t0.Add(8*time.Hour))
	w.dispatch()
	w.sync(w.alpha, "K-A1")
	w.clock.Advance(time.Hour)
	w.exec(engine.DeactivateIdentity{ID: id})
	w.dispatch()

	// Asked about a substation under the north region: the north entitlement opens it.
	mid := w.why(report.WhyQuery{IdentityID: id, AssetID: "sub-n1", At: t0.Add(30 * time.Minute)})
	assert.True(t, mid.HadAccess)
	require.Len(t, mid.Grants, 1)
	assert.Equal(t, "policy:Field engineers North", mid.Grants[0].Source)
	assert.Equal(t, "fe-north", mid.Grants[0].PolicyID)

	gone := w.why(report.WhyQuery{IdentityID: id, AssetID: "sub-n1", At: t0.Add(2 * time.Hour)})
	assert.False(t, gone.HadAccess)
	assert.False(t, gone.IdentityActive)

	_, err := report.Why(w.ctx, w.st, report.WhyQuery{IdentityID: id, At: t0})
	require.ErrorIs(t, err, domain.ErrInvalid)
	_, err = report.Why(w.ctx, w.st, report.WhyQuery{IdentityID: "nobody", EntitlementID: "north", At: t0})
	require.ErrorIs(t, err, domain.ErrNotFound, "a typo is an error, not \"no access\"")
	_, err = report.Why(w.ctx, w.st, report.WhyQuery{IdentityID: id, EntitlementID: "nosuch", At: t0})
	require.ErrorIs(t, err, domain.ErrNotFound)
}

func TestWhyNoExposureWithoutKey(t *testing.T) {
	w := newWorld(t)
	id := w.joiner("bob", "E300", "field engineer", "north") // holds no key
	w.clock.Advance(time.Hour)
	w.exec(engine.DeactivateIdentity{ID: id})
	w.exec(engine.Revoke{IdentityID: id, EntitlementID: "north"})
	ans := w.why(report.WhyQuery{IdentityID: id, EntitlementID: "north", At: w.clock.Now()})
	require.Len(t, ans.Grants, 1)
	assert.False(t, ans.Grants[0].ExposedAt, "a grant that never reached a key exposes nothing")
	var text bytes.Buffer
	require.NoError(t, ans.WriteText(&text))
	assert.Contains(t, text.String(), "identity.deactivated")
}
