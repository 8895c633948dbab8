package ldap

import (
	"bufio"
	"fmt"
	"net"
	"testing"

	goldap "github.com/go-ldap/ldap/v3"
	"github.com/stretchr/testify/require"
)

// BenchmarkServeUIDLookup measures the server side of a uid lookup in process: a
// pre-encoded request over loopback, the reply read frame by frame without
// decoding, so the profile is the server's.
func BenchmarkServeUIDLookup(b *testing.B) {
	v := benchView(10000, 200, 50)
	cfg := Config{BaseDN: testBase, Addr: "127.0.0.1:0", AllowCleartextBind: true,
		Accounts: []Account{{Name: "reader", SecretHash: secretHash(b)}}}
	srv, err := newServer(cfg, v.dit, nil)
	require.NoError(b, err)
	require.NoError(b, srv.listen())
	defer srv.close()
	nc, err := net.Dial("tcp", srv.addrs()[0].String())
	require.NoError(b, err)
	defer nc.Close()
	r := bufio.NewReader(nc)
	_, err = nc.Write(msg(1, bindOp("cn=reader,ou=system,"+testBase, testSecret), nil))
	require.NoError(b, err)
	_, err = readFrame(r, nil, 1<<20)
	require.NoError(b, err)
	reqs := make([][]byte, 1000)
	for i := range reqs {
		p, err := goldap.CompileFilter(fmt.Sprintf("(uid=user%05d)", i*7))
		require.NoError(b, err)
		fb := p.Bytes()
		reqs[i] = msg(int64(i+2), func(e *encoder) {
			q := e.begin(tagSearchRequest)
			e.octets(tagOctetString, "ou=people,"+testBase)
			e.integer(tagEnumerated, 1)
			e.integer(tagEnumerated, 0)
			e.integer(tagInteger, 0)
			e.integer(tagInteger, 0)
			e.b = append(e.b, tagBoolean, 1, 0)
			e.b = append(e.b, fb...)
			s := e.begin(tagSequence)
			for _, a := range []string{"uid", "cn", "sn", "mail", "employeeNumber", "memberOf"} {
				e.octets(tagOctetString, a)
			}
			e.end(s)
			e.end(q)
		}, nil)
	}
	var buf []byte
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_, err := nc.Write(reqs[i%len(reqs)])
		if err != nil {
			b.Fatal(err)
		}
		for {
			buf, err = readFrame(r, buf, 1<<20)
			if err != nil {
				b.Fatal(err)
			}
			if _, op, _ := peekHeader(buf); op == tagSearchDone {
				break
			}
		}
	}
}

// BenchmarkServePagedDump measures the server side of a full paged dump of
// ou=people (10,000 entries, page 500), one dump per iteration.
func BenchmarkServePagedDump(b *testing.B) {
	v := benchView(10000, 200, 50)
	cfg := Config{BaseDN: testBase, Addr: "127.0.0.1:0", AllowCleartextBind: true,
		Accounts: []Account{{Name: "reader", SecretHash: secretHash(b)}}}
	srv, err := newServer(cfg, v.dit, nil)
	require.NoError(b, err)
	require.NoError(b, srv.listen())
	defer srv.close()
	c, err := goldap.DialURL("ldap://" + srv.addrs()[0].String())
	require.NoError(b, err)
	defer c.Close()
	require.NoError(b, c.Bind("cn=reader,ou=system,"+testBase, testSecret))
	nc, err := net.Dial("tcp", srv.addrs()[0].String())
	require.NoError(b, err)
	defer nc.Close()
	r := bufio.NewReader(nc)
	_, err = nc.Write(msg(1, bindOp("cn=reader,ou=system,"+testBase, testSecret), nil))
	require.NoError(b, err)
	_, err = readFrame(r, nil, 1<<20)
	require.NoError(b, err)
	p, _ := goldap.CompileFilter("(objectClass=inetOrgPerson)")
	fb := p.Bytes()
	req := func(id int64, cookie string) []byte {
		return msg(id, func(e *encoder) {
			q := e.begin(tagSearchRequest)
			e.octets(tagOctetString, "ou=people,"+testBase)
			e.integer(tagEnumerated, 1)
			e.integer(tagEnumerated, 0)
			e.integer(tagInteger, 0)
			e.integer(tagInteger, 0)
			e.b = append(e.b, tagBoolean, 1, 0)
			e.b = append(e.b, fb...)
			s := e.begin(tagSequence)
			for _, a := range []string{"uid", "cn", "sn", "mail", "employeeNumber"} {
				e.octets(tagOctetString, a)
			}
			e.end(s)
			e.end(q)
		}, func(e *encoder) {
			s := e.begin(tagSequence)
			e.octets(tagOctetString, oidPaging)
			var v encoder
			q := v.begin(tagSequence)
			v.integer(tagInteger, 500)
			v.octets(tagOctetString, cookie)
			v.end(q)
			e.raw(tagOctetString, v.b)
			e.end(s)
		})
	}
	var buf []byte
	id := int64(1)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cookie := ""
		for n := 0; ; n++ {
			id++
			if _, err := nc.Write(req(id, cookie)); err != nil {
				b.Fatal(err)
			}
			for {
				buf, err = readFrame(r, buf, 1<<20)
				if err != nil {
					b.Fatal(err)
				}
				if _, op, _ := peekHeader(buf); op == tagSearchDone {
					break
				}
			}
			x, _, err := decodeTLV(buf, 20)
			if err != nil || len(x.kids) < 3 || len(x.kids[2].kids) == 0 {
				b.Fatalf("no paging control: %v", err)
			}
			pc := x.kids[2].kids[0]
			_, ck, err := pagingRequest(pc.kids[1].data)
			if err != nil {
				b.Fatal(err)
			}
			cookie = string(ck)
			if cookie == "" {
				break
			}
		}
	}
	b.ReportMetric(float64(10000*b.N)/b.Elapsed().Seconds(), "entries/s")
}
