package ldap

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/core/domain"
	"github.com/keyward/keyward/core/engine"
)

// benchView builds the view's tree from generated domain objects, without a store:
// people user00000…, groups door-0000… with per random members each (seeded).
func benchView(people, groups, per int) *view {
	cfg := Config{BaseDN: testBase}
	if err := cfg.defaults(); err != nil {
		panic(err)
	}
	v := newView(&engine.Engine{}, cfg)
	v.reset()
	rng := rand.New(rand.NewPCG(1, 2))
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	v.started = t0
	uid := func() string {
		var b [16]byte
		for i := range b {
			b[i] = byte(rng.UintN(256))
		}
		b[6] = b[6]&0x0f | 0x40
		b[8] = b[8]&0x3f | 0x80
		return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
	}
	ids := make([]string, people)
	for i := range people {
		x := &domain.Identity{
			Meta:     domain.Meta{ID: uid(), Created: t0, Modified: t0},
			UserName: fmt.Sprintf("user%05d", i), Active: true,
			Name:           domain.PersonName{GivenName: "Given", FamilyName: fmt.Sprintf("Family%05d", i)},
			DisplayName:    fmt.Sprintf("User %05d", i),
			EmployeeNumber: fmt.Sprintf("E%06d", i),
			Emails:         []domain.Contact{{Value: fmt.Sprintf("user%05d@example.org", i)}},
		}
		v.identities[x.ID] = x
		ids[i] = x.ID
	}
	for g := range groups {
		en := &domain.Entitlement{Meta: domain.Meta{ID: uid(), Created: t0, Modified: t0},
			Name: fmt.Sprintf("door-%04d", g), Description: fmt.Sprintf("Door %d", g), Criticality: domain.CriticalityHigh}
		v.ents[en.ID] = en
		for _, p := range rng.Perm(people)[:min(per, people)] {
			v.setGrant(&domain.Grant{Meta: domain.Meta{ID: uid(), Created: t0, Modified: t0},
				IdentityID: ids[p], EntitlementID: en.ID, State: domain.GrantActive})
		}
	}
	v.dit.mu.Lock()
	for _, e := range v.containers() {
		v.dit.put(e)
	}
	for id := range v.identities {
		v.buildPerson(id)
	}
	for id := range v.ents {
		v.buildGroup(id)
	}
	v.dit.mu.Unlock()
	return v
}

// ldifOf writes the tree as LDIF for slapadd: user attributes plus the
// operational ones slapd accepts on import, so both servers hold the same entries.
func ldifOf(v *view, w io.Writer) {
	keep := map[string]bool{"entryuuid": true, "createtimestamp": true, "modifytimestamp": true, "creatorsname": true, "modifiersname": true, "memberof": true}
	bw := bufio.NewWriterSize(w, 1<<20)
	defer bw.Flush()
	var walk func(e *entry)
	walk = func(e *entry) {
		fmt.Fprintf(bw, "dn: %s\n", e.dn)
		for _, a := range e.user {
			for _, val := range a.values {
				fmt.Fprintf(bw, "%s: %s\n", a.typ.name(), val)
			}
		}
		for _, a := range e.oper {
			if keep[lower(a.typ.name())] {
				for _, val := range a.values {
					fmt.Fprintf(bw, "%s: %s\n", a.typ.name(), val)
				}
			}
		}
		bw.WriteString("\n")
		for _, c := range v.dit.children[e.ndn] {
			walk(c)
		}
	}
	walk(v.dit.entries[normDN(testBase)])
}

// slapdSchema renders keyward's own attribute types and classes for slapd.conf.
func slapdSchema() string {
	var b strings.Builder
	for _, a := range attributeTypes {
		// slapd defines operational attributes itself; the view's are for its
		// root DSE only.
		if strings.HasPrefix(a.oid, OIDArc) && a.usage == "" {
			fmt.Fprintf(&b, "attributetype %s\n", a)
		}
	}
	for _, o := range objectClasses {
		if strings.HasPrefix(o.oid, OIDArc) {
			fmt.Fprintf(&b, "objectclass %s\n", o)
		}
	}
	return b.String()
}

// TestBenchServerProcess is the keyward side of BenchmarkVersusSlapd, run as its
// own process (so its CPU time can be measured and pinned): it serves the
// generated tree and prints its address.
func TestBenchServerProcess(t *testing.T) {
	spec := os.Getenv("KEYWARD_LDAP_BENCH_SERVE")
	if spec == "" {
		t.Skip("helper process for BenchmarkVersusSlapd")
	}
	var people, groups, per int
	_, err := fmt.Sscanf(spec, "%d/%d/%d", &people, &groups, &per)
	require.NoError(t, err)
	v := benchView(people, groups, per)
	// Collect the build's garbage now, not during the first measured cell.
	runtime.GC()
	debug.FreeOSMemory()
	cfg := Config{BaseDN: testBase, Addr: "127.0.0.1:0", AllowCleartextBind: true,
		Accounts: []Account{{Name: "reader", SecretHash: secretHash(t)}}, MaxPageSize: 1000, SizeLimit: 1000}
	srv, err := newServer(cfg, v.dit, nil)
	require.NoError(t, err)
	require.NoError(t, srv.listen())
	fmt.Printf("ADDR %s\n", srv.addrs()[0])
	_, _ = io.Copy(io.Discard, os.Stdin) // until the benchmark closes stdin
	srv.close()
}

type benchServer struct {
	name   string
	url    string
	bindDN string
	pw     string
	pid    int
}

func cpuSeconds(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // USER_HZ
}

type cell struct {
	ops     int64
	entries int64
	secs    float64
	cpu     float64
	p50     time.Duration
	p99     time.Duration
}

// run drives conns connections doing op for d.
func (s benchServer) run(b *testing.B, conns int, d time.Duration, op func(c *goldap.Conn, rng *rand.Rand) int) cell {
	cs := make([]*goldap.Conn, conns)
	for i := range cs {
		c, err := goldap.DialURL(s.url)
		require.NoError(b, err)
		require.NoError(b, c.Bind(s.bindDN, s.pw))
		cs[i] = c
	}
	defer func() {
		for _, c := range cs {
			c.Close()
		}
	}()
	// Warm-up: half a second of the workload on each connection.
	warm := time.Now().Add(500 * time.Millisecond)
	for i, c := range cs {
		rng := rand.New(rand.NewPCG(uint64(i), 9))
		for n := 0; n < 1 || (n < 50 && time.Now().Before(warm)); n++ {
			op(c, rng)
		}
	}
	var ops, entries atomic.Int64
	lat := make([][]time.Duration, conns)
	cpu0 := cpuSeconds(s.pid)
	start := time.Now()
	stop := start.Add(d)
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(i), 7))
			for time.Now().Before(stop) {
				t := time.Now()
				n := op(c, rng)
				lat[i] = append(lat[i], time.Since(t))
				ops.Add(1)
				entries.Add(int64(n))
			}
		}()
	}
	wg.Wait()
	out := cell{ops: ops.Load(), entries: entries.Load(), secs: time.Since(start).Seconds(), cpu: cpuSeconds(s.pid) - cpu0}
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	if len(all) > 0 {
		out.p50, out.p99 = all[len(all)/2], all[len(all)*99/100]
	}
	return out
}

// BenchmarkVersusSlapd compares the view with slapd 2.5 serving the same entries
// (ldap-and-plugins.md §4.4): each server pinned to CPU 1 when there are two, the
// load generator in this process. Sizes come from KEYWARD_LDAP_BENCH_SIZES
// ("10000,100000" by default), the duration per cell from KEYWARD_LDAP_BENCH_SECS,
// the keyward server's GOMAXPROCS from KEYWARD_LDAP_BENCH_GOMAXPROCS (default 1;
// slapd runs 4 threads).
func BenchmarkVersusSlapd(b *testing.B) {
	sizes := []int{10000, 100000}
	if s := os.Getenv("KEYWARD_LDAP_BENCH_SIZES"); s != "" {
		sizes = nil
		for _, f := range strings.Split(s, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			require.NoError(b, err)
			sizes = append(sizes, n)
		}
	}
	secs := 3.0
	if s := os.Getenv("KEYWARD_LDAP_BENCH_SECS"); s != "" {
		secs, _ = strconv.ParseFloat(s, 64)
	}
	for _, people := range sizes {
		b.Run(fmt.Sprintf("people=%d", people), func(b *testing.B) {
			benchVersus(b, people, 2000, 50, time.Duration(secs*float64(time.Second)))
		})
	}
}

func benchVersus(b *testing.B, people, groups, per int, d time.Duration) {
	cpu := ""
	if runtime.NumCPU() >= 2 {
		cpu = "1"
	}
	v := benchView(people, groups, per)
	kw := startBenchKeyward(b, fmt.Sprintf("%d/%d/%d", people, groups, per), cpu)
	sl := startBenchSlapd(b, v, cpu)
	servers := []benchServer{sl, kw}

	// Results first: the same queries give the same entries on both.
	checkEqual(b, servers, people)

	type workload struct {
		name  string
		conns int
		op    func(c *goldap.Conn, rng *rand.Rand) int
	}
	lookup := func(c *goldap.Conn, rng *rand.Rand) int {
		res, err := c.Search(goldap.NewSearchRequest("ou=people,"+testBase, goldap.ScopeSingleLevel, 0, 0, 0, false,
			fmt.Sprintf("(uid=user%05d)", rng.IntN(people)), []string{"uid", "cn", "sn", "mail", "employeeNumber", "memberOf"}, nil))
		if err != nil || len(res.Entries) != 1 {
			panic(fmt.Sprintf("lookup: %v", err))
		}
		return 1
	}
	groupsOf := func(c *goldap.Conn, rng *rand.Rand) int {
		res, err := c.Search(goldap.NewSearchRequest("ou=entitlements,"+testBase, goldap.ScopeSingleLevel, 0, 0, 0, false,
			fmt.Sprintf("(&(objectClass=groupOfNames)(member=uid=user%05d,ou=people,%s))", rng.IntN(people), testBase), []string{"cn"}, nil))
		if err != nil {
			panic(fmt.Sprintf("groups: %v", err))
		}
		return len(res.Entries)
	}
	dump := func(size uint32) func(c *goldap.Conn, rng *rand.Rand) int {
		return func(c *goldap.Conn, rng *rand.Rand) int {
			res, err := c.SearchWithPaging(goldap.NewSearchRequest("ou=people,"+testBase, goldap.ScopeSingleLevel, 0, 0, 0, false,
				"(objectClass=inetOrgPerson)", []string{"uid", "cn", "sn", "mail", "employeeNumber"}, nil), size)
			if err != nil || len(res.Entries) != people {
				panic(fmt.Sprintf("dump: %v", err))
			}
			return len(res.Entries)
		}
	}
	works := []workload{
		{"uid lookup, 1 conn", 1, lookup},
		{"uid lookup, 4 conns", 4, lookup},
		{"uid lookup, 16 conns", 16, lookup},
		{"groups of a user, 4 conns", 4, groupsOf},
		{"paged dump, page 100", 1, dump(100)},
		{"paged dump, page 500", 1, dump(500)},
	}
	var report strings.Builder
	fmt.Fprintf(&report, "\n%d people, %d groups × %d members; %s per cell; servers on CPU %q\n", people, groups, per, d, cpu)
	fmt.Fprintf(&report, "%-28s %14s %14s %8s %16s %16s %8s\n", "workload", "slapd /s", "keyward /s", "ratio", "slapd /cpu-s", "keyward /cpu-s", "ratio")
	for _, w := range works {
		var cells [2]cell
		for i, s := range servers {
			cells[i] = s.run(b, w.conns, d, w.op)
		}
		unit := func(c cell) float64 {
			if strings.HasPrefix(w.name, "paged") {
				return float64(c.entries)
			}
			return float64(c.ops)
		}
		rate := func(c cell) float64 { return unit(c) / c.secs }
		perCPU := func(c cell) float64 {
			if c.cpu <= 0 {
				return 0
			}
			return unit(c) / c.cpu
		}
		r1 := rate(cells[1]) / rate(cells[0])
		r2 := 0.0
		if perCPU(cells[0]) > 0 {
			r2 = perCPU(cells[1]) / perCPU(cells[0])
		}
		fmt.Fprintf(&report, "%-28s %14.0f %14.0f %7.2fx %16.0f %16.0f %7.2fx   (p50 %v/%v, p99 %v/%v)\n", w.name,
			rate(cells[0]), rate(cells[1]), r1, perCPU(cells[0]), perCPU(cells[1]), r2,
			cells[0].p50.Round(time.Microsecond), cells[1].p50.Round(time.Microsecond), cells[0].p99.Round(time.Microsecond), cells[1].p99.Round(time.Microsecond))
		b.ReportMetric(r1, strings.ReplaceAll(strings.ReplaceAll(w.name, " ", "_"), ",", "")+"_ratio")
	}
	b.Log(report.String())
	fmt.Fprint(os.Stderr, report.String())
}

func startBenchKeyward(b *testing.B, spec, cpu string) benchServer {
	name, args := os.Args[0], []string{"-test.run=^TestBenchServerProcess$", "-test.count=1"}
	if cpu != "" {
		args = append([]string{"-c", cpu, name}, args...)
		name = "taskset"
	}
	cmd := exec.Command(name, args...)
	procs := os.Getenv("KEYWARD_LDAP_BENCH_GOMAXPROCS")
	if procs == "" {
		procs = "1"
	}
	cmd.Env = append(os.Environ(), "KEYWARD_LDAP_BENCH_SERVE="+spec, "GOMAXPROCS="+procs)
	stdin, err := cmd.StdinPipe()
	require.NoError(b, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(b, err)
	cmd.Stderr = os.Stderr
	require.NoError(b, cmd.Start())
	b.Cleanup(func() {
		_ = stdin.Close()
		_ = cmd.Wait()
	})
	sc := bufio.NewScanner(stdout)
	addr := ""
	for sc.Scan() {
		if a, ok := strings.CutPrefix(sc.Text(), "ADDR "); ok {
			addr = a
			break
		}
	}
	require.NotEmpty(b, addr, "keyward bench server did not start")
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	pid := cmd.Process.Pid
	if cpu != "" {
		pid = childPid(pid)
	}
	return benchServer{name: "keyward", url: "ldap://" + addr, bindDN: "cn=reader,ou=system," + testBase, pw: testSecret, pid: pid}
}

// childPid finds the process taskset exec'd into (the same pid: taskset execs).
func childPid(pid int) int { return pid }

func startBenchSlapd(b *testing.B, v *view, cpu string) benchServer {
	dir := b.TempDir()
	ldif := filepath.Join(dir, "data.ldif")
	f, err := os.Create(ldif)
	require.NoError(b, err)
	ldifOf(v, f)
	require.NoError(b, f.Close())
	schema := filepath.Join(dir, "keyward.schema")
	require.NoError(b, os.WriteFile(schema, []byte(slapdSchema()), 0o600))
	s := startSlapdWithData(b, slapdOptions{memberOf: true, cpu: cpu, extraSchema: schema, ldif: ldif})
	return benchServer{name: "slapd", url: s.url, bindDN: s.rootDN, pw: s.rootPW, pid: s.cmd.Process.Pid}
}

// checkEqual compares both servers' answers to sample queries.
func checkEqual(b *testing.B, servers []benchServer, people int) {
	attrs := []string{"uid", "cn", "sn", "givenName", "displayName", "mail", "employeeNumber", "memberOf", "entryUUID", "createTimestamp"}
	queries := []*goldap.SearchRequest{
		goldap.NewSearchRequest("ou=people,"+testBase, goldap.ScopeSingleLevel, 0, 0, 0, false, "(uid=user00042)", attrs, nil),
		goldap.NewSearchRequest("ou=people,"+testBase, goldap.ScopeSingleLevel, 0, 0, 0, false, fmt.Sprintf("(uid=user%05d)", people-1), attrs, nil),
		goldap.NewSearchRequest("ou=entitlements,"+testBase, goldap.ScopeSingleLevel, 0, 0, 0, false, "(&(objectClass=groupOfNames)(member=uid=user00042,ou=people,"+testBase+"))", []string{"cn", "member", "description", "entryUUID"}, nil),
	}
	var got [2][]string
	for i, s := range servers {
		c, err := goldap.DialURL(s.url)
		require.NoError(b, err)
		require.NoError(b, c.Bind(s.bindDN, s.pw))
		for _, q := range queries {
			res, err := c.Search(q)
			require.NoError(b, err)
			for _, e := range res.Entries {
				var lines []string
				for _, a := range e.Attributes {
					vals := append([]string(nil), a.Values...)
					if strings.EqualFold(a.Name, "member") || strings.EqualFold(a.Name, "memberOf") {
						for j := range vals {
							vals[j] = normDN(vals[j])
						}
						sort.Strings(vals)
					}
					lines = append(lines, lower(a.Name)+"="+strings.Join(vals, "|"))
				}
				sort.Strings(lines)
				got[i] = append(got[i], normDN(e.DN)+": "+strings.Join(lines, "; "))
			}
		}
		c.Close()
	}
	require.NotEmpty(b, got[0])
	require.Equal(b, got[0], got[1], "slapd and keyward answer the sample queries alike")
}
