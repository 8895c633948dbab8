package ldap

import (
	"testing"

	goldap "github.com/go-ldap/ldap/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func testEntry() *entry {
	b := newEntry("uid=jdoe,ou=people," + testBase)
	b.add("objectClass", "top", "person", "organizationalPerson", "inetOrgPerson")
	b.add("uid", "jdoe")
	b.add("cn", "John  Doe")
	b.add("sn", "Doe")
	b.add("mail", "John.Doe@Example.org")
	b.add("employeeNumber", "E00042")
	b.add("modifyTimestamp", "20260315120000Z")
	b.add("memberOf", "cn=Lock-12,ou=entitlements,"+testBase)
	b.add("entryUUID", "4ECF6A28-837B-1041-85DD-6B0247C76ACF")
	b.add("keywardActive", "TRUE")
	return b.done()
}

func compileString(t *testing.T, s string) filter {
	p, err := goldap.CompileFilter(s)
	require.NoError(t, err)
	x, _, err := decodeTLV(p.Bytes(), 100)
	require.NoError(t, err)
	f, err := compileFilter(&x, 64)
	require.NoError(t, err)
	return f
}

func TestFilterEval(t *testing.T) {
	e := testEntry()
	for _, tc := range []struct {
		filter string
		want   tri
	}{
		{"(uid=jdoe)", triTrue},
		{"(UID=JDOE)", triTrue},
		{"(userid=jdoe)", triTrue},
		{"(uid=other)", triFalse},
		{"(cn=john doe)", triTrue},
		{"(commonName=John Doe)", triTrue},
		{"(objectClass=inetorgperson)", triTrue},
		{"(objectClass=*)", triTrue},
		{"(mail=*)", triTrue},
		{"(givenName=*)", triFalse},
		{"(noSuchAttr=*)", triFalse},
		{"(noSuchAttr=x)", triUndefined},
		{"(!(noSuchAttr=x))", triUndefined},
		{"(|(noSuchAttr=x)(uid=jdoe))", triTrue},
		{"(&(noSuchAttr=x)(uid=jdoe))", triUndefined},
		{"(&(uid=jdoe)(sn=doe))", triTrue},
		{"(|(uid=a)(uid=b))", triFalse},
		{"(!(uid=a))", triTrue},
		{"(uid=j*)", triTrue},
		{"(uid=*oe)", triTrue},
		{"(uid=j*d*e)", triTrue},
		{"(uid=*x*)", triFalse},
		{"(cn=john*)", triTrue},
		{"(mail=*@example.org)", triTrue},
		{"(modifyTimestamp>=20260101000000Z)", triTrue},
		{"(modifyTimestamp>=20260315120001Z)", triFalse},
		{"(modifyTimestamp<=20260315120000Z)", triTrue},
		{"(modifyTimestamp>=202603151300+0100)", triTrue},
		{"(modifyTimestamp>=20260315120000.5Z)", triFalse},
		{"(modifyTimestamp=20260315120000Z)", triTrue},
		{"(employeeNumber>=E00040)", triTrue},
		{"(employeeNumber<=E00040)", triFalse},
		{"(uid~=JDOE)", triTrue},
		{"(memberOf=CN=lock-12, OU=Entitlements,DC=example,DC=org)", triTrue},
		{"(memberOf=cn=lock-13,ou=entitlements," + testBase + ")", triFalse},
		{"(entryUUID=4ecf6a28-837b-1041-85dd-6b0247c76acf)", triTrue},
		{"(keywardActive=true)", triTrue},
		{"(uid:=jdoe)", triTrue},
		{"(uid:caseExactMatch:=jdoe)", triUndefined},
		{"(&)", triTrue},
		{"(|)", triFalse},
	} {
		t.Run(tc.filter, func(t *testing.T) {
			f := compileString(t, tc.filter)
			assert.Equal(t, tc.want, f.eval(e))
		})
	}
}

func TestNormDN(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"CN=Lock 12, OU=Entitlements,DC=Example,DC=org", "cn=lock 12,ou=entitlements,dc=example,dc=org"},
		{"commonName=x,dc=org", "cn=x,dc=org"},
		{`cn=a\,b,dc=org`, `cn=a\,b,dc=org`},
		{"cn=a+sn=b,dc=org", "cn=a+sn=b,dc=org"},
		{"sn=b+cn=a,dc=org", "cn=a+sn=b,dc=org"},
		{"", ""},
	} {
		t.Run(tc.in, func(t *testing.T) { assert.Equal(t, tc.want, normDN(tc.in)) })
	}
	assert.True(t, isUnder("uid=x,ou=people,dc=org", "ou=people,dc=org"))
	assert.False(t, isUnder("uid=x,ou=peoplex,dc=org", "ou=people,dc=org"))
	assert.True(t, isUnder("dc=org", ""))
}

// FuzzFilter checks that any filter go-ldap can compile decodes and evaluates
// without panicking.
func FuzzFilter(f *testing.F) {
	for _, s := range []string{"(uid=jdoe)", "(&(objectClass=*)(|(cn=a*b*c)(!(sn>=x))))", "(modifyTimestamp>=20260101000000Z)", "(uid:dn:2.5.13.2:=x)", "(memberOf=cn=x,dc=org)"} {
		f.Add(s)
	}
	e := testEntry()
	f.Fuzz(func(t *testing.T, s string) {
		p, err := goldap.CompileFilter(s)
		if err != nil {
			return
		}
		x, _, err := decodeTLV(p.Bytes(), 100)
		if err != nil {
			t.Fatalf("go-ldap's filter does not decode: %v", err)
		}
		flt, err := compileFilter(&x, 64)
		if err != nil {
			return
		}
		_ = flt.eval(e)
		_ = flt.String()
	})
}

// FuzzDecodeMessage feeds arbitrary bytes through framing and request decoding.
func FuzzDecodeMessage(f *testing.F) {
	f.Add(msg(1, bindOp("cn=x", "y"), nil))
	f.Add(msg(2, searchOp("dc=org", presentObjectClass), nil))
	f.Add([]byte{0x30, 0x05, 0x02, 0x01, 0x01, 0x42, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		id, op, _ := peekHeader(b)
		_, _ = id, op
		m, err := decodeMessage(b)
		if err != nil {
			return
		}
		switch m.tag {
		case tagBindRequest:
			_, _ = decodeBind(m.op)
		case tagSearchRequest:
			_, _ = decodeSearch(m.op, 64)
		case tagModifyRequest:
			_, _ = decodeModify(m.op)
		case tagExtendedRequest:
			_, _ = decodeExtended(m.op)
		case tagCompareRequest:
			_, _ = decodeCompare(m.op)
		}
		for _, c := range m.controls {
			if c.oid == oidPaging {
				_, _, _ = pagingRequest(c.value)
			}
		}
	})
}
