package ldap

import (
	"context"
	"strconv"
	"testing"

	goldap "github.com/go-ldap/ldap/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/core/engine"
)

// cn=changelog makes deletes visible to delta syncs.
func TestChangelog(t *testing.T) {
	s := newStack(t, 2, 1, nil, func(c *Config) { c.Changelog = true })
	ctx := context.Background()
	c := s.bind(t, "reader")
	rootLast := func() int {
		r, err := c.Search(goldap.NewSearchRequest("", goldap.ScopeBaseObject, 0, 0, 0, false, "(objectClass=*)", []string{"lastChangeNumber", "changelog", "namingContexts"}, nil))
		require.NoError(t, err)
		assert.Equal(t, "cn=changelog", r.Entries[0].GetAttributeValue("changelog"))
		assert.Contains(t, r.Entries[0].GetAttributeValues("namingContexts"), "cn=changelog")
		n, err := strconv.Atoi(r.Entries[0].GetAttributeValue("lastChangeNumber"))
		require.NoError(t, err)
		return n
	}
	start := rootLast()
	assert.Positive(t, start, "the seeding is in the changelog")

	w := s.bind(t, "iga")
	group := "cn=lock-00,ou=entitlements," + testBase
	mr := goldap.NewModifyRequest(group, nil)
	mr.Add("member", []string{"uid=user001,ou=people," + testBase})
	require.NoError(t, w.Modify(mr))
	_, err := s.eng.Execute(ctx, engine.Actor{Name: "test"}, engine.DeleteIdentity{ID: s.ids["user000"]})
	require.NoError(t, err)
	require.NoError(t, s.srv.Refresh(ctx))

	r, err := c.Search(goldap.NewSearchRequest("cn=changelog", goldap.ScopeSingleLevel, 0, 0, 0, false,
		"(changeNumber>="+strconv.Itoa(start+1)+")", []string{"changeNumber", "targetDN", "changeType", "changes", "targetEntryUUID"}, nil))
	require.NoError(t, err)
	var got [][3]string
	for _, e := range r.Entries {
		got = append(got, [3]string{e.GetAttributeValue("changeType"), e.GetAttributeValue("targetDN"), e.GetAttributeValue("changes")})
	}
	assert.Contains(t, got, [3]string{"modify", group, "add: member\nmember: uid=user001,ou=people," + testBase + "\n-\n"})
	assert.Contains(t, got, [3]string{"delete", "uid=user000,ou=people," + testBase, ""})
	assert.Greater(t, rootLast(), start)
}
