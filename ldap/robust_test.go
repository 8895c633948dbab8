package ldap

import (
	"bufio"
	"crypto/tls"
	"net"
	"strings"
	"testing"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
	goldap "github.com/go-ldap/ldap/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// raw is a client that speaks BER by hand, for requests go-ldap will not send.
type raw struct {
	t  *testing.T
	nc net.Conn
	r  *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *raw {
	nc, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { _ = nc.Close() })
	return &raw{t: t, nc: nc, r: bufio.NewReader(nc)}
}

func dialRawTLS(t *testing.T, s *stack) *raw {
	nc, err := tls.Dial("tcp", s.srv.TLSAddr(), s.cert.client)
	require.NoError(t, err)
	t.Cleanup(func() { _ = nc.Close() })
	return &raw{t: t, nc: nc, r: bufio.NewReader(nc)}
}

func (r *raw) send(b []byte) {
	_, err := r.nc.Write(b)
	require.NoError(r.t, err)
}

// msg builds an LDAPMessage around an operation written by op.
func msg(id int64, op func(e *encoder), controls func(e *encoder)) []byte {
	var e encoder
	p := e.begin(tagSequence)
	e.integer(tagInteger, id)
	op(&e)
	if controls != nil {
		q := e.begin(0xa0)
		controls(&e)
		e.end(q)
	}
	e.end(p)
	return e.b
}

// read returns the next response: message id, protocolOp tag and result code.
func (r *raw) read() (id int64, tag byte, code int64, p *ber.Packet) {
	_ = r.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	p, err := ber.ReadPacket(r.r)
	require.NoError(r.t, err)
	require.GreaterOrEqual(r.t, len(p.Children), 2)
	id, _ = p.Children[0].Value.(int64)
	op := p.Children[1]
	tag = identifierByte(op)
	if len(op.Children) > 0 {
		code, _ = ber.ParseInt64(op.Children[0].Data.Bytes())
	}
	return id, tag, code, p
}

// readDone skips entries and returns the SearchResultDone's code.
func (r *raw) readDone() int64 {
	for {
		_, tag, code, _ := r.read()
		if tag == tagSearchDone {
			return code
		}
	}
}

func bindOp(name, pw string) func(e *encoder) {
	return func(e *encoder) {
		p := e.begin(tagBindRequest)
		e.integer(tagInteger, 3)
		e.octets(tagOctetString, name)
		e.octets(0x80, pw)
		e.end(p)
	}
}

func searchOp(base string, filter func(e *encoder)) func(e *encoder) {
	return func(e *encoder) {
		p := e.begin(tagSearchRequest)
		e.octets(tagOctetString, base)
		e.integer(tagEnumerated, 0)
		e.integer(tagEnumerated, 0)
		e.integer(tagInteger, 0)
		e.integer(tagInteger, 0)
		e.b = append(e.b, tagBoolean, 1, 0)
		filter(e)
		q := e.begin(tagSequence)
		e.end(q)
		e.end(p)
	}
}

func presentObjectClass(e *encoder) { e.octets(0x87, "objectClass") }

// alive checks that the connection still answers a root DSE search.
func (r *raw) alive(id int64) {
	r.send(msg(id, searchOp("", presentObjectClass), nil))
	gotID, _, _, _ := r.read()
	assert.Equal(r.t, id, gotID)
	assert.Equal(r.t, int64(0), r.readDone())
}

func TestBadInput(t *testing.T) {
	s := newStack(t, 3, 1, nil, func(c *Config) { c.MaxPageSize = 2 })
	t.Run("not an LDAP message: notice of disconnection, process survives", func(t *testing.T) {
		r := dialRaw(t, s.srv.Addr())
		r.send([]byte{0x04, 0x02, 'h', 'i'})
		id, tag, code, p := r.read()
		assert.Equal(t, int64(0), id)
		assert.Equal(t, byte(tagExtendedResp), tag)
		assert.Equal(t, int64(resultProtocolError), code)
		assert.Contains(t, p.Children[1].Children[2].Data.String(), "not a SEQUENCE")
		dialRaw(t, s.srv.Addr()).alive(1)
	})
	t.Run("oversized length: refused before reading", func(t *testing.T) {
		r := dialRaw(t, s.srv.Addr())
		r.send([]byte{0x30, 0x84, 0x7f, 0xff, 0xff, 0xff})
		_, _, code, _ := r.read()
		assert.Equal(t, int64(resultProtocolError), code)
	})
	t.Run("malformed body in a good frame: protocolError on its id, connection lives", func(t *testing.T) {
		r := dialRaw(t, s.srv.Addr())
		r.send(msg(7, func(e *encoder) { e.raw(tagSearchRequest, []byte{0x04, 0x05, 'x'}) }, nil))
		id, tag, code, _ := r.read()
		assert.Equal(t, int64(7), id)
		assert.Equal(t, byte(tagSearchDone), tag)
		assert.Equal(t, int64(resultProtocolError), code)
		r.alive(8)
	})
	t.Run("filter nested thousands deep", func(t *testing.T) {
		r := dialRaw(t, s.srv.Addr())
		deep := func(e *encoder) {
			var pos []int
			for range 3000 {
				pos = append(pos, e.begin(0xa2)) // not
			}
			presentObjectClass(e)
			for i := len(pos) - 1; i >= 0; i-- {
				e.end(pos[i])
			}
		}
		r.send(msg(3, searchOp("", deep), nil))
		id, _, code, _ := r.read()
		assert.Equal(t, int64(3), id)
		assert.Equal(t, int64(resultProtocolError), code)
		r.alive(4)
	})
	t.Run("SASL bind: authMethodNotSupported", func(t *testing.T) {
		r := dialRaw(t, s.srv.Addr())
		r.send(msg(1, func(e *encoder) {
			p := e.begin(tagBindRequest)
			e.integer(tagInteger, 3)
			e.octets(tagOctetString, "")
			q := e.begin(0xa3)
			e.octets(tagOctetString, "EXTERNAL")
			e.end(q)
			e.end(p)
		}, nil))
		_, tag, code, _ := r.read()
		assert.Equal(t, byte(tagBindResponse), tag)
		assert.Equal(t, int64(resultAuthMethodNotSupported), code)
		r.alive(2)
	})
	t.Run("abandon: no response, connection lives", func(t *testing.T) {
		r := dialRaw(t, s.srv.Addr())
		r.send(msg(1, func(e *encoder) { e.integer(tagAbandonRequest, 99) }, nil))
		r.alive(2)
	})
	t.Run("unknown operation: notice of disconnection", func(t *testing.T) {
		r := dialRaw(t, s.srv.Addr())
		r.send(msg(1, func(e *encoder) { e.octets(0x5f, "x") }, nil))
		_, tag, code, _ := r.read()
		assert.Equal(t, byte(tagExtendedResp), tag)
		assert.Equal(t, int64(resultProtocolError), code)
	})
	t.Run("cleartext simple bind: confidentialityRequired", func(t *testing.T) {
		r := dialRaw(t, s.srv.Addr())
		r.send(msg(1, bindOp(s.srv.BindDN("reader"), testSecret), nil))
		_, _, code, _ := r.read()
		assert.Equal(t, int64(resultConfidentialityRequired), code)
	})
	t.Run("handler panic ends one request", func(t *testing.T) {
		hook := func(base string) {
			if base == "cn=panic" {
				panic("test panic")
			}
		}
		testHookSearch.Store(&hook)
		defer testHookSearch.Store(nil)
		r := dialRaw(t, s.srv.Addr())
		r.send(msg(1, searchOp("cn=panic", presentObjectClass), nil))
		id, tag, code, _ := r.read()
		assert.Equal(t, int64(1), id)
		assert.Equal(t, byte(tagSearchDone), tag)
		assert.Equal(t, int64(resultOther), code)
		r.alive(2)
	})
	t.Run("unknown critical control: unavailableCriticalExtension", func(t *testing.T) {
		r := dialRaw(t, s.srv.Addr())
		ctl := func(critical bool) func(e *encoder) {
			return func(e *encoder) {
				p := e.begin(tagSequence)
				e.octets(tagOctetString, "1.2.3.4.5")
				if critical {
					e.b = append(e.b, tagBoolean, 1, 0xff)
				}
				e.end(p)
			}
		}
		r.send(msg(1, searchOp("", presentObjectClass), ctl(true)))
		_, _, code, _ := r.read()
		assert.Equal(t, int64(resultUnavailableCritical), code)
		r.send(msg(2, searchOp("", presentObjectClass), ctl(false)))
		assert.Equal(t, int64(0), r.readDone(), "a non-critical unknown control is ignored")
	})

	s.srv.srv.limiter.mu.Lock()
	s.srv.srv.limiter.first = 20 * time.Millisecond
	s.srv.srv.limiter.mu.Unlock()
	c := s.bind(t, "reader")
	w := s.bind(t, "iga")
	search := func(base string, scope int, filter string, controls ...goldap.Control) (*goldap.SearchResult, error) {
		return c.Search(goldap.NewSearchRequest(base, scope, 0, 0, 0, false, filter, []string{"1.1"}, controls))
	}
	for _, tc := range []struct {
		name string
		do   func() error
		code uint16
	}{
		{"wrong password", func() error {
			x := s.dial(t)
			return x.Bind(s.srv.BindDN("reader"), "wrong")
		}, goldap.LDAPResultInvalidCredentials},
		{"unknown account", func() error { return s.dial(t).Bind("cn=nobody,ou=system,"+testBase, "x") }, goldap.LDAPResultInvalidCredentials},
		{"search outside the base", func() error { _, err := search("dc=other", 2, "(objectClass=*)"); return err }, goldap.LDAPResultNoSuchObject},
		{"missing entry", func() error { _, err := search("uid=ghost,ou=people,"+testBase, 0, "(objectClass=*)"); return err }, goldap.LDAPResultNoSuchObject},
		{"modify by a reader", func() error {
			mr := goldap.NewModifyRequest("cn=lock-00,ou=entitlements,"+testBase, nil)
			mr.Add("member", []string{"uid=user000,ou=people," + testBase})
			return c.Modify(mr)
		}, goldap.LDAPResultInsufficientAccessRights},
		{"add by a writer", func() error {
			ar := goldap.NewAddRequest("uid=new,ou=people,"+testBase, nil)
			ar.Attribute("objectClass", []string{"inetOrgPerson"})
			return w.Add(ar)
		}, goldap.LDAPResultUnwillingToPerform},
		{"delete by a writer", func() error {
			return w.Del(goldap.NewDelRequest("uid=user000,ou=people,"+testBase, nil))
		}, goldap.LDAPResultUnwillingToPerform},
		{"modify description", func() error {
			mr := goldap.NewModifyRequest("cn=lock-00,ou=entitlements,"+testBase, nil)
			mr.Replace("description", []string{"x"})
			return w.Modify(mr)
		}, goldap.LDAPResultUnwillingToPerform},
		{"modify a person", func() error {
			mr := goldap.NewModifyRequest("uid=user000,ou=people,"+testBase, nil)
			mr.Replace("mail", []string{"x@example.org"})
			return w.Modify(mr)
		}, goldap.LDAPResultUnwillingToPerform},
		{"member that is not an identity", func() error {
			mr := goldap.NewModifyRequest("cn=lock-00,ou=entitlements,"+testBase, nil)
			mr.Add("member", []string{"uid=ghost,ou=people," + testBase})
			return w.Modify(mr)
		}, goldap.LDAPResultConstraintViolation},
		{"unknown extended operation", func() error {
			_, err := c.Extended(goldap.NewExtendedRequest("1.2.3.4", nil))
			return err
		}, goldap.LDAPResultProtocolError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.do()
			assert.True(t, goldap.IsErrorWithCode(err, tc.code), "want %d, got %v", tc.code, err)
		})
	}
	t.Run("failed binds are slowed down", func(t *testing.T) {
		start := time.Now()
		for range 3 {
			err := s.dial(t).Bind(s.srv.BindDN("reader"), "wrong")
			require.True(t, goldap.IsErrorWithCode(err, goldap.LDAPResultInvalidCredentials))
		}
		assert.Greater(t, time.Since(start), 60*time.Millisecond)
	})
	t.Run("absurd page size is capped", func(t *testing.T) {
		res, err := search("ou=people,"+testBase, 1, "(objectClass=*)", goldap.NewControlPaging(1<<31-1))
		require.NoError(t, err)
		assert.Len(t, res.Entries, 2)
		cookie := goldap.FindControl(res.Controls, goldap.ControlTypePaging).(*goldap.ControlPaging).Cookie
		assert.NotEmpty(t, cookie)
	})
	t.Run("compare", func(t *testing.T) {
		ok, err := c.Compare("uid=user001,ou=people,"+testBase, "employeeNumber", "e00001")
		require.NoError(t, err)
		assert.True(t, ok)
		ok, err = c.Compare("uid=user001,ou=people,"+testBase, "uid", "user002")
		require.NoError(t, err)
		assert.False(t, ok)
		_, err = c.Compare("uid=ghost,ou=people,"+testBase, "uid", "x")
		assert.True(t, goldap.IsErrorWithCode(err, goldap.LDAPResultNoSuchObject))
	})
	t.Run("whoami", func(t *testing.T) {
		res, err := c.WhoAmI(nil)
		require.NoError(t, err)
		assert.Equal(t, "dn:"+s.srv.BindDN("reader"), res.AuthzID)
		out, err := s.ldapTool(t, "ldapwhoami", "", "-x", "-ZZ", "-H", "ldap://"+s.srv.Addr(), "-D", s.srv.BindDN("reader"), "-w", testSecret)
		require.NoError(t, err, out)
		assert.Equal(t, "dn:"+s.srv.BindDN("reader"), strings.TrimSpace(out))
	})
	t.Run("nothing stored changed", func(t *testing.T) {
		res, err := search(testBase, 2, "(|(objectClass=inetOrgPerson)(member=uid=*))")
		require.NoError(t, err)
		assert.Len(t, res.Entries, 3)
		assert.Empty(t, currentGrants(t, s, s.ids["user000"], s.ents["lock-00"]))
	})
}

func TestConnectionLimitsAndIdleTimeout(t *testing.T) {
	s := newStack(t, 1, 1, nil, func(c *Config) {
		c.MaxConnections = 2
		c.IdleTimeout = time.Second
	})
	t.Run("busy connection outlives the idle timeout, idle one is closed", func(t *testing.T) {
		busy := dialRawTLS(t, s)
		idle := dialRawTLS(t, s)
		// Back-to-back requests for 2.5 idle timeouts: only a stall of a whole
		// second between two of them would make the busy connection idle.
		deadline := time.Now().Add(2500 * time.Millisecond)
		for i := int64(1); time.Now().Before(deadline); i++ {
			busy.alive(i)
			time.Sleep(10 * time.Millisecond)
		}
		_, tag, code, _ := idle.read()
		assert.Equal(t, byte(tagExtendedResp), tag, "idle connection gets a notice of disconnection")
		assert.Equal(t, int64(resultUnavailable), code)
	})
	t.Run("connections beyond the limit are refused with busy", func(t *testing.T) {
		// The previous subtest's connections release their slots asynchronously.
		require.Eventually(t, func() bool { return len(s.srv.srv.slots) == 0 }, 5*time.Second, 10*time.Millisecond)
		a, b := dialRaw(t, s.srv.Addr()), dialRaw(t, s.srv.Addr())
		a.alive(1)
		b.alive(1)
		c := dialRaw(t, s.srv.Addr())
		_, tag, code, _ := c.read()
		assert.Equal(t, byte(tagExtendedResp), tag)
		assert.Equal(t, int64(resultBusy), code)
		_ = a.nc.Close()
		require.Eventually(t, func() bool {
			d, err := net.Dial("tcp", s.srv.Addr())
			if err != nil {
				return false
			}
			defer d.Close()
			r := &raw{t: t, nc: d, r: bufio.NewReader(d)}
			r.send(msg(1, searchOp("", presentObjectClass), nil))
			_ = d.SetReadDeadline(time.Now().Add(time.Second))
			p, err := ber.ReadPacket(r.r)
			return err == nil && len(p.Children) == 2 && identifierByte(p.Children[1]) == tagSearchEntry
		}, 3*time.Second, 50*time.Millisecond)
	})
}

func identifierByte(p *ber.Packet) byte {
	return byte(p.ClassType) | byte(p.TagType) | byte(p.Tag&0x1f)
}
