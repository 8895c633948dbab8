package ldap

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/core/domain"
	"github.com/keyward/keyward/core/engine"
	"github.com/keyward/keyward/core/store"
)

func TestRootDSEAnonymous(t *testing.T) {
	s := newStack(t, 1, 1, nil, nil)
	t.Run("go-ldap", func(t *testing.T) {
		c := s.dial(t)
		res, err := c.Search(goldap.NewSearchRequest("", goldap.ScopeBaseObject, 0, 0, 0, false, "(objectClass=*)", []string{"+"}, nil))
		require.NoError(t, err)
		require.Len(t, res.Entries, 1)
		e := res.Entries[0]
		assert.Equal(t, []string{testBase}, e.GetAttributeValues("namingContexts"))
		assert.Contains(t, e.GetAttributeValues("supportedControl"), "1.2.840.113556.1.4.319")
		assert.Contains(t, e.GetAttributeValues("supportedExtension"), "1.3.6.1.4.1.1466.20037")
		assert.Contains(t, e.GetAttributeValues("supportedExtension"), "1.3.6.1.4.1.4203.1.11.3")
		assert.Equal(t, "cn=Subschema", e.GetAttributeValue("subschemaSubentry"))
		assert.Equal(t, "keyward", e.GetAttributeValue("vendorName"))
		assert.Equal(t, "3", e.GetAttributeValue("supportedLDAPVersion"))
	})
	t.Run("ldapsearch -x over plain LDAP", func(t *testing.T) {
		out, err := s.ldapTool(t, "ldapsearch", "", "-x", "-LLL", "-H", "ldap://"+s.srv.Addr(), "-s", "base", "-b", "", "(objectClass=*)", "+", "*")
		require.NoError(t, err, out)
		assert.Contains(t, out, "namingContexts: "+testBase)
		assert.Contains(t, out, "supportedControl: 1.2.840.113556.1.4.319")
		assert.Contains(t, out, "vendorName: keyward")
	})
	t.Run("subschema anonymously", func(t *testing.T) {
		out, err := s.ldapTool(t, "ldapsearch", "", "-x", "-LLL", "-o", "ldif-wrap=no", "-H", "ldap://"+s.srv.Addr(), "-s", "base", "-b", "cn=Subschema", "(objectClass=subschema)", "objectClasses", "attributeTypes")
		require.NoError(t, err, out)
		assert.Contains(t, out, "NAME 'keywardPerson'")
		assert.Contains(t, out, OIDArc+".1.3 NAME 'keywardContractEnd'")
		assert.Contains(t, out, "NAME 'inetOrgPerson'")
	})
	t.Run("anonymous may not read people", func(t *testing.T) {
		c := s.dial(t)
		_, err := c.Search(goldap.NewSearchRequest("ou=people,"+testBase, goldap.ScopeWholeSubtree, 0, 0, 0, false, "(objectClass=*)", nil, nil))
		assert.True(t, goldap.IsErrorWithCode(err, goldap.LDAPResultInsufficientAccessRights), "%v", err)
	})
}

// pagesRE finds the cookies ldapsearch prints for each page.
var pagesRE = regexp.MustCompile(`(?m)^pagedresults: estimate=\d+ cookie=(.*)$`)

// BUG-L1: paging works and is advertised; without paging, more than the size
// limit gives sizeLimitExceeded and partial entries, never silent truncation.
func TestPagingBUGL1(t *testing.T) {
	s := newStack(t, 250, 1, nil, func(c *Config) { c.SizeLimit = 100 })
	bind := []string{"-x", "-D", s.srv.BindDN("reader"), "-w", testSecret, "-b", "ou=people," + testBase}
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"LDAPS", []string{"-H", "ldaps://" + s.srv.TLSAddr()}},
		{"StartTLS", []string{"-ZZ", "-H", "ldap://" + s.srv.Addr()}},
	} {
		t.Run("ldapsearch pr=100 over "+tc.name, func(t *testing.T) {
			args := append(append(tc.args, bind...), "-E", "pr=100/noprompt", "(objectClass=inetOrgPerson)", "uid")
			out, err := s.ldapTool(t, "ldapsearch", "", args...)
			require.NoError(t, err, out)
			assert.Equal(t, 250, strings.Count(out, "\nuid: "), "entries")
			cookies := pagesRE.FindAllStringSubmatch(out, -1)
			require.Len(t, cookies, 3, "three pages")
			assert.NotEmpty(t, cookies[0][1])
			assert.NotEmpty(t, cookies[1][1])
			assert.Empty(t, cookies[2][1], "the final page carries an empty cookie")
		})
	}
	t.Run("go-ldap paged search", func(t *testing.T) {
		c := s.bind(t, "reader")
		res, err := c.SearchWithPaging(goldap.NewSearchRequest("ou=people,"+testBase, goldap.ScopeSingleLevel, 0, 0, 0, false, "(uid=*)", []string{"uid"}, nil), 100)
		require.NoError(t, err)
		assert.Len(t, res.Entries, 250)
	})
	t.Run("no paging: size limit exceeded with partial entries", func(t *testing.T) {
		c := s.bind(t, "reader")
		res, err := c.Search(goldap.NewSearchRequest("ou=people,"+testBase, goldap.ScopeSingleLevel, 0, 0, 0, false, "(uid=*)", []string{"uid"}, nil))
		require.True(t, goldap.IsErrorWithCode(err, goldap.LDAPResultSizeLimitExceeded), "%v", err)
		assert.Len(t, res.Entries, 100)
	})
	t.Run("ldapsearch -z 2", func(t *testing.T) {
		args := append([]string{"-H", "ldaps://" + s.srv.TLSAddr()}, bind...)
		out, err := s.ldapTool(t, "ldapsearch", "", append(args, "-z", "2", "(uid=*)", "uid")...)
		require.Error(t, err)
		assert.Contains(t, out, "result: 4 Size limit exceeded")
		assert.Equal(t, 2, strings.Count(out, "\nuid: "))
	})
	t.Run("cookie is bound to its connection", func(t *testing.T) {
		c1, c2 := s.bind(t, "reader"), s.bind(t, "reader")
		req := goldap.NewSearchRequest("ou=people,"+testBase, goldap.ScopeSingleLevel, 0, 0, 0, false, "(uid=*)", []string{"uid"}, []goldap.Control{goldap.NewControlPaging(10)})
		res, err := c1.Search(req)
		require.NoError(t, err)
		cookie := goldap.FindControl(res.Controls, goldap.ControlTypePaging).(*goldap.ControlPaging).Cookie
		require.NotEmpty(t, cookie)
		pc := goldap.NewControlPaging(10)
		pc.SetCookie(cookie)
		req.Controls = []goldap.Control{pc}
		_, err = c2.Search(req)
		assert.True(t, goldap.IsErrorWithCode(err, goldap.LDAPResultUnwillingToPerform), "%v", err)
		res, err = c1.Search(req)
		require.NoError(t, err)
		assert.Len(t, res.Entries, 10)
	})
}

// BUG-L4: memberOf is operational: returned when asked for or with "+".
func TestMemberOfBUGL4(t *testing.T) {
	s := newStack(t, 2, 2, [][2]int{{0, 0}, {0, 1}}, nil)
	c := s.bind(t, "reader")
	get := func(attrs ...string) *goldap.Entry {
		res, err := c.Search(goldap.NewSearchRequest("uid=user000,ou=people,"+testBase, goldap.ScopeBaseObject, 0, 0, 0, false, "(objectClass=*)", attrs, nil))
		require.NoError(t, err)
		require.Len(t, res.Entries, 1)
		return res.Entries[0]
	}
	groups := []string{"cn=lock-00,ou=entitlements," + testBase, "cn=lock-01,ou=entitlements," + testBase}
	for _, tc := range []struct {
		name  string
		attrs []string
		want  []string
	}{
		{"no selection omits it", nil, nil},
		{"* omits it", []string{"*"}, nil},
		{"by name", []string{"memberOf"}, groups},
		{"by name, other case", []string{"MEMBEROF"}, groups},
		{"+", []string{"+"}, groups},
		{"* and +", []string{"*", "+"}, groups},
		{"1.1", []string{"1.1"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := get(tc.attrs...)
			assert.Equal(t, tc.want, nilIfEmpty(e.GetAttributeValues("memberOf")))
		})
	}
	e := get("*", "+")
	assert.NotEmpty(t, e.GetAttributeValue("entryUUID"))
	assert.Equal(t, "uid=user000,ou=people,"+testBase, e.GetAttributeValue("entryDN"))
	assert.Equal(t, "inetOrgPerson", e.GetAttributeValue("structuralObjectClass"))
	assert.Equal(t, []string{"top", "person", "organizationalPerson", "inetOrgPerson", "keywardPerson"}, e.GetAttributeValues("objectClass"))
	assert.Equal(t, "TRUE", e.GetAttributeValue("keywardActive"))
	assert.Equal(t, []string{"p1", "p2"}, e.GetAttributeValues("keywardProject"))
	assert.Regexp(t, `^\d{14}Z$`, e.GetAttributeValue("modifyTimestamp"))
	assert.Equal(t, s.ids["user000"], e.GetAttributeValue("entryUUID"))
}

func nilIfEmpty(v []string) []string {
	if len(v) == 0 {
		return nil
	}
	return v
}

// BUG-L2 and the write path: ldapmodify adds a member, the grant appears in core,
// and a delta search by modifyTimestamp finds the group and the person.
func TestModifyMemberBUGL2(t *testing.T) {
	s := newStack(t, 3, 13, [][2]int{{1, 12}}, nil)
	ctx := context.Background()
	group := "cn=lock-12,ou=entitlements," + testBase
	person := "uid=user000,ou=people," + testBase
	// Timestamps have second resolution: make the change land in a later second.
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))
	since := time.Now().UTC()
	ldif := fmt.Sprintf("dn: %s\nchangetype: modify\nadd: member\nmember: %s\n", group, person)
	out, err := s.ldapTool(t, "ldapmodify", ldif, "-x", "-H", "ldaps://"+s.srv.TLSAddr(), "-D", s.srv.BindDN("iga"), "-w", testSecret)
	require.NoError(t, err, out)

	grants := currentGrants(t, s, s.ids["user000"], s.ents["lock-12"])
	require.Len(t, grants, 1, "the grant is in core")
	assert.Equal(t, domain.SourceIGA, grants[0].Source.Kind)
	assert.Equal(t, s.srv.BindDN("iga"), grants[0].Source.Name)

	c := s.bind(t, "reader")
	delta := fmt.Sprintf("(modifyTimestamp>=%s)", since.Format("20060102150405Z"))
	res, err := c.Search(goldap.NewSearchRequest(testBase, goldap.ScopeWholeSubtree, 0, 0, 0, false, delta, []string{"1.1"}, nil))
	require.NoError(t, err)
	var dns []string
	for _, e := range res.Entries {
		dns = append(dns, e.DN)
	}
	assert.ElementsMatch(t, []string{group, person}, dns, "the delta finds the changed group and its new member")

	res, err = c.Search(goldap.NewSearchRequest(group, goldap.ScopeBaseObject, 0, 0, 0, false, "(objectClass=*)", []string{"member"}, nil))
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{person, "uid=user001,ou=people," + testBase}, res.Entries[0].GetAttributeValues("member"))

	t.Run("adding again is attributeOrValueExists, or a no-op with permissive modify", func(t *testing.T) {
		w := s.bind(t, "iga")
		mr := goldap.NewModifyRequest(group, nil)
		mr.Add("member", []string{person})
		err := w.Modify(mr)
		assert.True(t, goldap.IsErrorWithCode(err, goldap.LDAPResultAttributeOrValueExists), "%v", err)
		mr.Controls = []goldap.Control{goldap.NewControlString(goldap.ControlTypeMicrosoftPermissiveModify, false, "")}
		require.NoError(t, w.Modify(mr))
	})
	t.Run("delete revokes", func(t *testing.T) {
		w := s.bind(t, "iga")
		mr := goldap.NewModifyRequest(group, nil)
		mr.Delete("member", []string{person})
		require.NoError(t, w.Modify(mr))
		assert.Empty(t, currentGrants(t, s, s.ids["user000"], s.ents["lock-12"]))
		res, err := c.Search(goldap.NewSearchRequest(person, goldap.ScopeBaseObject, 0, 0, 0, false, "(objectClass=*)", []string{"memberOf"}, nil))
		require.NoError(t, err)
		assert.Empty(t, res.Entries[0].GetAttributeValues("memberOf"))
	})
	t.Run("an empty group shows the placeholder", func(t *testing.T) {
		res, err := c.Search(goldap.NewSearchRequest("cn=lock-00,ou=entitlements,"+testBase, goldap.ScopeBaseObject, 0, 0, 0, false, "(objectClass=*)", []string{"member"}, nil))
		require.NoError(t, err)
		assert.Equal(t, []string{"cn=empty-group-placeholder,ou=system," + testBase}, res.Entries[0].GetAttributeValues("member"))
	})
	t.Run("changes made elsewhere show after a refresh", func(t *testing.T) {
		_, err := s.eng.Execute(ctx, engineActor(), grantStep(s, "user002", "lock-03"))
		require.NoError(t, err)
		require.NoError(t, s.srv.Refresh(ctx))
		res, err := c.Search(goldap.NewSearchRequest(testBase, goldap.ScopeWholeSubtree, 0, 0, 0, false, "(&(objectClass=groupOfNames)(member=uid=user002,ou=people,"+testBase+"))", []string{"cn"}, nil))
		require.NoError(t, err)
		require.Len(t, res.Entries, 1)
		assert.Equal(t, "lock-03", res.Entries[0].GetAttributeValue("cn"))
	})
}

func currentGrants(t *testing.T, s *stack, identityID, entID string) []*domain.Grant {
	var out []*domain.Grant
	err := s.eng.Store().View(context.Background(), func(tx store.Tx) error {
		var err error
		out, err = store.All[domain.Grant](context.Background(), tx, store.And{
			store.Eqf("identityId", identityID), store.Eqf("entitlementId", entID),
			store.Or{store.Eqf("state", string(domain.GrantActive)), store.Eqf("state", string(domain.GrantRequested))},
		})
		return err
	})
	require.NoError(t, err)
	return out
}

func engineActor() engine.Actor { return engine.Actor{Name: "test"} }

func grantStep(s *stack, user, ent string) engine.Step {
	return engine.Grant{IdentityID: s.ids[user], EntitlementID: s.ents[ent]}
}
