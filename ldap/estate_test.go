package ldap

import (
	"context"
	"testing"

	goldap "github.com/go-ldap/ldap/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/core/domain"
	"github.com/keyward/keyward/core/engine"
)

// Locks appear under ou=locks as devices, and a group's seeAlso names the locks
// its bindings open; both follow the store.
func TestLocksAndBindings(t *testing.T) {
	s := newStack(t, 1, 0, nil, nil)
	ctx := context.Background()
	actor := engine.Actor{Name: "test"}
	res, err := s.eng.Execute(ctx, actor,
		engine.PutResource{Resource: &domain.LockSystem{Name: "north-cliq", Vendor: "cliq"}},
		engine.PutResource{Resource: &domain.Asset{Name: "Substation N1", AssetKind: "site", Criticality: domain.CriticalityCritical, Description: "Substation North 1", Owner: "grid-ops"}},
	)
	require.NoError(t, err)
	lsID, assetID := res.IDs[0], res.IDs[1]
	res, err = s.eng.Execute(ctx, actor,
		engine.PutResource{Resource: &domain.Lock{LockSystemID: lsID, VendorID: "C-1001", Name: "N1 main gate", AssetID: assetID, AccessObjects: []string{"ap-7"}}},
		engine.PutResource{Resource: &domain.Lock{LockSystemID: lsID, VendorID: "C-1002", Name: "N1 cabinet", AssetID: assetID, AccessObjects: []string{"ap-8"}}},
		engine.DefineEntitlement{Entitlement: &domain.Entitlement{Name: "N1 gate 24/7", Criticality: domain.CriticalityCritical, AssetIDs: []string{assetID},
			Bindings: []domain.Binding{{LockSystemID: lsID, AccessObjects: []string{"ap-7"}}}}},
	)
	require.NoError(t, err)
	require.NoError(t, s.srv.Refresh(ctx))

	c := s.bind(t, "reader")
	r, err := c.Search(goldap.NewSearchRequest("ou=locks,"+testBase, goldap.ScopeSingleLevel, 0, 0, 0, false, "(objectClass=device)", []string{"*", "entryUUID"}, nil))
	require.NoError(t, err)
	require.Len(t, r.Entries, 2)
	gate := r.Entries[1]
	assert.Equal(t, "cn=N1 main gate,ou=locks,"+testBase, gate.DN)
	assert.Equal(t, "C-1001", gate.GetAttributeValue("serialNumber"))
	assert.Equal(t, "Substation North 1", gate.GetAttributeValue("description"))
	assert.Equal(t, "critical", gate.GetAttributeValue("keywardCriticality"))
	assert.Equal(t, "grid-ops", gate.GetAttributeValue("keywardOwner"))
	assert.Equal(t, "north-cliq", gate.GetAttributeValue("keywardLockSystem"))
	assert.Equal(t, res.IDs[0], gate.GetAttributeValue("entryUUID"))

	r, err = c.Search(goldap.NewSearchRequest("ou=entitlements,"+testBase, goldap.ScopeSingleLevel, 0, 0, 0, false, "(cn=N1 gate 24/7)", []string{"seeAlso", "keywardBound", "keywardAsset", "keywardCriticality"}, nil))
	require.NoError(t, err)
	require.Len(t, r.Entries, 1)
	assert.Equal(t, []string{"cn=N1 main gate,ou=locks," + testBase}, r.Entries[0].GetAttributeValues("seeAlso"))
	assert.Equal(t, "TRUE", r.Entries[0].GetAttributeValue("keywardBound"))
	assert.Equal(t, "Substation N1", r.Entries[0].GetAttributeValue("keywardAsset"))
}

func TestGroupOfUniqueNames(t *testing.T) {
	s := newStack(t, 2, 1, [][2]int{{0, 0}}, func(c *Config) { c.GroupStyle = GroupOfUniqueNames })
	c := s.bind(t, "reader")
	group := "cn=lock-00,ou=entitlements," + testBase
	r, err := c.Search(goldap.NewSearchRequest(group, goldap.ScopeBaseObject, 0, 0, 0, false, "(objectClass=groupOfUniqueNames)", []string{"uniqueMember", "member", "objectClass"}, nil))
	require.NoError(t, err)
	require.Len(t, r.Entries, 1)
	assert.Equal(t, []string{"uid=user000,ou=people," + testBase}, r.Entries[0].GetAttributeValues("uniqueMember"))
	assert.Empty(t, r.Entries[0].GetAttributeValues("member"))

	w := s.bind(t, "iga")
	mr := goldap.NewModifyRequest(group, nil)
	mr.Add("uniqueMember", []string{"uid=user001,ou=people," + testBase})
	require.NoError(t, w.Modify(mr))
	assert.Len(t, currentGrants(t, s, s.ids["user001"], s.ents["lock-00"]), 1)
	mr = goldap.NewModifyRequest(group, nil)
	mr.Add("member", []string{"uid=user001,ou=people," + testBase})
	assert.True(t, goldap.IsErrorWithCode(w.Modify(mr), goldap.LDAPResultUnwillingToPerform))
	mr = goldap.NewModifyRequest(group, nil)
	mr.Replace("uniqueMember", []string{"uid=user001,ou=people," + testBase})
	require.NoError(t, w.Modify(mr))
	assert.Empty(t, currentGrants(t, s, s.ids["user000"], s.ents["lock-00"]), "replace revokes who is not listed")
	assert.Len(t, currentGrants(t, s, s.ids["user001"], s.ents["lock-00"]), 1)
}
