package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/lockdrivers/simctl"
)

const pendingOrApplied = "queued|recorded|delivered|needs-action|applied"

var pending = strings.Split(pendingOrApplied, "|")

// TestMainJob runs the main job's cases in order on one running quick start.
// The cases that use the CLI's own commands (key assign, key lost, grant
// approve) come before time moves: the CLI runs on the wall clock.
func TestMainJob(t *testing.T) {
	e := start(t)
	ids := map[string]string{}
	run := func(name string, fn func(t *testing.T)) {
		t.Run(name, func(t *testing.T) {
			parent := e.t
			e.t = t
			defer func() { e.t = parent }()
			fn(t)
		})
	}

	run("joiner gets birthright on the right keys in all three lock systems", func(t *testing.T) {
		// One field engineer per region, each from another IGA platform. Employees
		// 1001, 1011 and 1021 hold keys 1, 11 and 21 in every lock system.
		ids["north"] = e.create("entra", joiner("eero.north@northgrid.example", 1001, "field engineer", "north"))
		ids["south"] = e.create("okta", joiner("eero.south@northgrid.example", 1011, "field engineer", "south"))
		ids["east"] = e.create("sailpoint", joiner("eero.east@northgrid.example", 1021, "field engineer", "east"))
		for _, c := range []struct {
			id, ls  string
			key     int
			in, out string // a lock the birthright opens, one it does not
		}{
			{ids["north"], iloq, 1, "IL-N-05-1", "IL-N-01-1"},
			{ids["south"], cliq, 11, "CQ-S-05-1", "CQ-S-01-1"},
			{ids["east"], protec2, 21, "P2-E-05-1", "P2-E-01-1"},
		} {
			e.waitDeliveries(c.id, c.ls, pending...)
			assert.False(t, e.opens(c.ls, c.key, c.in).Opened, "%s: nothing on the key before its update", c.ls)
			e.deliver(c.ls, c.key)
			assert.True(t, e.opens(c.ls, c.key, c.in).Opened, "%s: the birthright opens %s", c.ls, c.in)
			assert.False(t, e.opens(c.ls, c.key, c.out).Opened, "%s: a transmission substation stays shut", c.ls)
			e.waitDeliveries(c.id, c.ls, "applied")
		}
		// The north engineer's keys in the other regions carry nothing.
		assert.False(t, e.opens(cliq, 1, "CQ-S-05-1").Opened)
		assert.False(t, e.opens(protec2, 1, "P2-E-05-1").Opened)
		out := e.why("--identity", "eero.north@northgrid.example", "--entitlement", "north-substations")
		assert.Contains(t, out, "policy: fe-north")
	})

	run("joiner without a key waits, then gets access once a key is handed out", func(t *testing.T) {
		id := e.create("okta", joiner("new.starter@northgrid.example", 1099, "field engineer", "south"))
		var user map[string]any
		require.True(t, assertEventually(func() bool {
			_, user = e.scim("", "GET", "/Users/"+id, nil)
			return strings.Contains(fmt.Sprint(user[urnKeyward]), "awaiting-key")
		}, 20*time.Second), "no awaiting-key: %v", user[urnKeyward])
		tasks := e.cli(0, "report", "tasks", "--format", "csv")
		assert.Contains(t, tasks, "hand-out-key,")
		assert.Contains(t, tasks, "new.starter@northgrid.example holds no key in lock system cliq-south")
		// Stock key 39 (a dynamic CLIQ key) is handed out.
		e.act("key", "assign", "cliq-south:"+keyVendorID(cliq, 39), id, "--by", "key desk")
		e.waitDeliveries(id, cliq, pending...)
		e.deliver(cliq, 39)
		assert.True(t, e.opens(cliq, 39, "CQ-S-05-1").Opened)
		e.waitDeliveries(id, cliq, "applied")
		out := e.why("--identity", "new.starter@northgrid.example", "--entitlement", "south-substations")
		assert.Contains(t, out, "policy: fe-south")
	})

	run("lost key is blocked", func(t *testing.T) {
		id := e.create("entra", joiner("lost.key@northgrid.example", 1005, "field engineer", "north"))
		e.waitDeliveries(id, iloq, pending...)
		e.deliver(iloq, 5)
		require.True(t, e.opens(iloq, 5, "IL-N-05-1").Opened)
		since := e.lastSeq(iloq)
		e.act("key", "lost", "iloq-north:"+keyVendorID(iloq, 5), "--by", "key desk")
		require.True(t, assertEventually(func() bool {
			for _, r := range e.requests(iloq, since) {
				if r.Changed && isBlocklist(r) {
					return true
				}
			}
			return false
		}, 30*time.Second), "no blocklist order reached iLOQ: %v", e.requests(iloq, since))
		require.NoError(t, e.sims[iloq].VisitLock(context.Background(), lockVendorID(iloq, "IL-N-05-1")))
		r := e.opens(iloq, 5, "IL-N-05-1")
		assert.False(t, r.Opened, "a lost key opens nothing once the lock knows: %+v", r)
	})

	run("LDAP shows the same memberships and an LDAP grant reaches a key", func(t *testing.T) {
		conn := e.ldap()
		defer conn.Close()
		res, err := conn.Search(goldap.NewSearchRequest("ou=people,dc=northgrid,dc=example", goldap.ScopeWholeSubtree, goldap.NeverDerefAliases, 0, 0, false,
			"(uid=eero.north@northgrid.example)", []string{"memberOf"}, nil))
		require.NoError(t, err)
		require.Len(t, res.Entries, 1)
		groups := strings.Join(res.Entries[0].GetAttributeValues("memberOf"), ";")
		assert.Contains(t, groups, "cn=North distribution substations 24/7")
		assert.Contains(t, groups, "cn=North battery rooms")
		assert.NotContains(t, groups, "cn=South")

		id := e.create("entra", joiner("yard.crew@northgrid.example", 1006, "field engineer", "north"))
		e.waitDeliveries(id, iloq, pending...)
		e.deliver(iloq, 6)
		require.False(t, e.opens(iloq, 6, "IL-N-05-4").Opened, "no transformer yard before the LDAP grant")
		mod := goldap.NewModifyRequest("cn=North transformer yards,ou=entitlements,dc=northgrid,dc=example", nil)
		mod.Add("member", []string{"uid=yard.crew@northgrid.example,ou=people,dc=northgrid,dc=example"})
		var err2 error
		require.True(t, assertEventually(func() bool { err2 = conn.Modify(mod); return err2 == nil }, 10*time.Second), "ldapmodify: %v", err2)
		require.True(t, assertEventually(func() bool {
			return strings.Contains(fmt.Sprint(e.user(id)["groups"]), "north-yards")
		}, 20*time.Second))
		e.waitDeliveries(id, iloq, pending...)
		e.deliver(iloq, 6)
		require.True(t, assertEventually(func() bool { return e.opens(iloq, 6, "IL-N-05-4").Opened }, 20*time.Second),
			"the LDAP grant reached the key")
	})

	run("leaver: pending with effective-by until the key update, then applied", func(t *testing.T) {
		// Employee 1013 holds CLIQ key 13, a dynamic key revalidated daily.
		id := e.create("entra", joiner("leaving.soon@northgrid.example", 1013, "field engineer", "south"))
		e.waitDeliveries(id, cliq, pending...)
		e.deliver(cliq, 13)
		e.waitDeliveries(id, cliq, "applied")
		require.True(t, e.opens(cliq, 13, "CQ-S-05-1").Opened)
		// Entra's deactivation: capitalised op and a string boolean.
		code, out := e.scim("entra", "PATCH", "/Users/"+id, map[string]any{
			"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
			"Operations": []map[string]any{{"op": "Replace", "path": "active", "value": "False"}}})
		require.Contains(t, []int{200, 204}, code, out)
		var access string
		require.True(t, assertEventually(func() bool {
			access = e.cli(0, "report", "access", "--format", "json")
			return strings.Contains(access, "leaving.soon") && strings.Contains(strings.ToLower(access), "effective")
		}, 20*time.Second), "the leaver's exposure with its effective-by shows: %s", access)
		assert.True(t, e.opens(cliq, 13, "CQ-S-05-1").Opened, "until the key is updated it still opens (exposure)")
		e.deliver(cliq, 13)
		assert.False(t, e.opens(cliq, 13, "CQ-S-05-1").Opened)
		require.True(t, assertEventually(func() bool {
			for _, d := range e.deliveries(id) {
				if d["state"] == "exposed" {
					return false
				}
			}
			return true
		}, 20*time.Second), "the revocation became effective once the key was updated: %v", e.deliveries(id))
		why := e.why("--identity", "leaving.soon@northgrid.example", "--entitlement", "south-substations")
		assert.Contains(t, why, "not active at that moment")
		assert.Contains(t, why, "revocation effective")
	})

	run("critical entitlement with an unbounded effective-by is escalated to a block", func(t *testing.T) {
		// Employee 1010, a transmission engineer, holds iLOQ key 10 (an offline 5 Series key).
		id := e.create("sailpoint", joiner("trans.eng@northgrid.example", 1010, "transmission engineer", "north"))
		list := e.cli(0, "grant", "list")
		var gid string
		for _, l := range strings.Split(list, "\n") {
			if strings.Contains(l, "north-transmission") && strings.Contains(l, id) || strings.Contains(l, "trans.eng") {
				gid = strings.Fields(l)[0]
			}
		}
		require.NotEmpty(t, gid, "the transmission grant waits for approval: %s", list)
		e.act("grant", "approve", gid, "--by", "grid-ops-north@northgrid.example")
		e.waitDeliveries(id, iloq, pending...)
		e.deliver(iloq, 10)
		require.True(t, assertEventually(func() bool { return e.opens(iloq, 10, "IL-N-01-1").Opened }, 10*time.Second))
		since := e.lastSeq(iloq)
		code, out := e.scim("sailpoint", "PATCH", "/Users/"+id, map[string]any{
			"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
			"Operations": []map[string]any{{"op": "replace", "value": map[string]any{"active": false}}}})
		require.Contains(t, []int{200, 204}, code, out)
		require.True(t, assertEventually(func() bool {
			for _, r := range e.requests(iloq, since) {
				if r.Changed && isBlocklist(r) {
					return true
				}
			}
			return false
		}, 30*time.Second), "escalation blocked the key in iLOQ: %v", e.requests(iloq, since))
		why := e.why("--identity", "trans.eng@northgrid.example", "--entitlement", "north-transmission")
		assert.Contains(t, why, "escalat")
	})

	run("mover loses the old region and gains the new one", func(t *testing.T) {
		// Employee 1007 holds iLOQ phone key 7 and dynamic CLIQ key 7.
		id := e.create("okta", joiner("on.the.move@northgrid.example", 1007, "field engineer", "north"))
		e.waitDeliveries(id, iloq, pending...)
		e.deliver(iloq, 7)
		require.True(t, e.opens(iloq, 7, "IL-N-05-1").Opened)
		doc := joiner("on.the.move@northgrid.example", 1007, "field engineer", "south")
		code, out := e.scim("okta", "PUT", "/Users/"+id, doc) // Okta updates with PUT
		require.Equal(t, 200, code, out)
		e.waitDeliveries(id, cliq, pending...)
		e.deliver(cliq, 7)
		e.deliver(iloq, 7)
		assert.True(t, e.opens(cliq, 7, "CQ-S-05-1").Opened, "gains the south")
		assert.False(t, e.opens(iloq, 7, "IL-N-05-1").Opened, "loses the north")
	})

	run("contractor's just-in-time window opens and closes on time", func(t *testing.T) {
		// Employee 1015 holds dynamic CLIQ key 15; the window is written through grants.
		doc := joiner("jit.contractor@northgrid.example", 1015, "contractor", "south")
		from, until := e.now.Add(time.Hour), e.now.Add(3*time.Hour)
		doc[urnKeyward].(map[string]any)["contractStatus"] = "contractor"
		doc[urnKeyward].(map[string]any)["grants"] = []map[string]any{{"value": "dc-1-visitor",
			"validFrom": from.Format(time.RFC3339), "validUntil": until.Format(time.RFC3339),
			"justification": "CHG-4711 cooling maintenance", "approval": map[string]any{"by": "dc-ops@northgrid.example", "at": e.now.Format(time.RFC3339)}}}
		id := e.create("", doc)
		assert.False(t, e.opens(cliq, 15, "CQ-DC-1-09").Opened, "closed before the window")
		e.advance(61 * time.Minute)
		e.waitDeliveries(id, cliq, pending...)
		e.deliver(cliq, 15)
		assert.True(t, e.opens(cliq, 15, "CQ-DC-1-09").Opened, "open inside the window")
		e.advance(2 * time.Hour)
		require.True(t, assertEventually(func() bool {
			_ = e.sims[cliq].DeliverKey(context.Background(), keyVendorID(cliq, 15), "")
			return !e.opens(cliq, 15, "CQ-DC-1-09").Opened
		}, 20*time.Second), "closed after the window")
		why := e.cli(0, "why", "--identity", "jit.contractor@northgrid.example", "--entitlement", "dc-1-visitor", "--at", from.Add(time.Hour).Format(time.RFC3339))
		assert.Contains(t, why, "CHG-4711")
	})

	run("audit chain verifies", func(t *testing.T) {
		assert.Contains(t, e.cli(0, "audit", "verify"), "intact")
	})
}

func (e *env) user(id string) map[string]any {
	e.t.Helper()
	code, u := e.scim("", "GET", "/Users/"+id, nil)
	require.Equal(e.t, 200, code, u)
	return u
}

// ldap binds to the LDAP view over LDAPS as the quick-start account.
func (e *env) ldap() *goldap.Conn {
	e.t.Helper()
	data := filepath.Join(e.dir, "data")
	ca, err := os.ReadFile(filepath.Join(data, "ldap-cert.pem"))
	require.NoError(e.t, err)
	pool := x509.NewCertPool()
	require.True(e.t, pool.AppendCertsFromPEM(ca))
	secret, err := os.ReadFile(filepath.Join(data, "ldap-quickstart.secret"))
	require.NoError(e.t, err)
	conn, err := goldap.DialURL("ldaps://"+e.ldapsAddr, goldap.DialWithTLSConfig(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}))
	require.NoError(e.t, err)
	require.NoError(e.t, conn.Bind("cn=quickstart,ou=system,dc=northgrid,dc=example", string(secret)))
	return conn
}

var _ = json.Marshal

// isBlocklist is an iLOQ blocklist change (iLOQ's API calls it Blacklists).
func isBlocklist(r simctl.Request) bool {
	p := strings.ToLower(r.Op + " " + r.Path)
	return strings.Contains(p, "blacklist") || strings.Contains(p, "block")
}
