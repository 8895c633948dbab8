package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// benchCrew is the crew size of the benchmarks' seeds: 400 a lock system.
const benchCrew = 1200

var (
	benchSeedsOnce sync.Once
	benchSeeds     string
	benchSeedsErr  error
)

// seedsFor writes simulator seeds with a crew of benchCrew (once).
func seedsFor(b *testing.B) string {
	benchSeedsOnce.Do(func() {
		benchSeeds = fmt.Sprintf("%s/keyward-bench-seeds", binDir)
		out, err := exec.Command("go", "run", "../examples/quickstart/genestate", "-seeds", benchSeeds, "-crew", fmt.Sprint(benchCrew)).CombinedOutput()
		if err != nil {
			benchSeedsErr = fmt.Errorf("genestate: %v: %s", err, out)
		}
	})
	require.NoError(b, benchSeedsErr)
	return benchSeeds
}

// benchCrewOf is crewOf for the benchmark seeds: 400 crew members a system.
func benchCrewOf(no int) (ls, location string, key int) {
	const per = benchCrew / 3
	switch i := no - 5001; {
	case i < per:
		return iloq, "north", 101 + i
	case i < 2*per:
		return cliq, "south", 101 + i - per
	default:
		return protec2, "east", 101 + i - 2*per
	}
}

// parallel runs fn for 0..n-1 on w workers.
func parallel(n, w int, fn func(i int)) {
	next := make(chan int)
	var wg sync.WaitGroup
	for range w {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				fn(i)
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}

// waitChanged waits until every key has a Changed request in its simulator
// after the marks, and returns when the last one was seen.
func (e *env) waitChanged(since map[string]int64, keys map[string][]string, timeout time.Duration) {
	e.t.Helper()
	var missing int
	ok := assertEventually(func() bool {
		missing = 0
		for ls, want := range keys {
			seen := map[string]bool{}
			for _, r := range e.requests(ls, since[ls]) {
				if r.Changed {
					seen[r.Target] = true
				}
			}
			for _, k := range want {
				if !seen[k] {
					missing++
				}
			}
		}
		return missing == 0
	}, timeout)
	require.True(e.t, ok, "%d keys never changed", missing)
}

func (e *env) marks() map[string]int64 {
	return map[string]int64{iloq: e.lastSeq(iloq), cliq: e.lastSeq(cliq), protec2: e.lastSeq(protec2)}
}

// BenchmarkLeavers1000 deactivates 1,000 leavers through SCIM against the
// running quick start (eight IGA connections) and reports the time until every
// revocation is recorded by the simulators. Goal: under 30 s.
func BenchmarkLeavers1000(b *testing.B) {
	const n = 1000
	e := startSeeded(b, true, seedsFor(b))
	ids := make([]string, n)
	keys := map[string][]string{}
	for i := range n {
		ls, _, key := benchCrewOf(5001 + i)
		keys[ls] = append(keys[ls], keyVendorID(ls, key))
	}
	since := e.marks()
	parallel(n, 8, func(i int) {
		no := 5001 + i
		_, loc, _ := benchCrewOf(no)
		ids[i] = e.create("", joiner(fmt.Sprintf("crew.%d@northgrid.example", no), no, "field engineer", loc))
	})
	e.waitChanged(since, keys, 3*time.Minute)
	since = e.marks()
	b.ResetTimer()
	for range b.N {
		began := time.Now()
		parallel(n, 8, func(i int) {
			code, out := e.scim("", "PATCH", "/Users/"+ids[i], map[string]any{
				"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
				"Operations": []map[string]any{{"op": "replace", "path": "active", "value": false}}})
			require.Contains(b, []int{200, 204}, code, out)
		})
		accepted := time.Since(began)
		e.waitChanged(since, keys, 5*time.Minute)
		b.ReportMetric(time.Since(began).Seconds(), "s-until-recorded")
		b.ReportMetric(accepted.Seconds(), "s-scim-accepted")
		break // one burst per run: the leavers are gone afterwards
	}
}

// BenchmarkChangeAtRest measures one change at a time on an idle keyward: from
// sending the SCIM request to the simulator recording the driver's call (a
// joiner's birthright on a crew key), and reports p50 and p99. Goal: p99 under
// 50 ms.
func BenchmarkChangeAtRest(b *testing.B) {
	const n = 200
	e := startSeeded(b, true, seedsFor(b))
	lat := make([]time.Duration, 0, n)
	b.ResetTimer()
	for i := range n {
		no := 5001 + i
		ls, loc, key := benchCrewOf(no)
		target := keyVendorID(ls, key)
		since := e.lastSeq(ls)
		began := time.Now()
		e.create("", joiner(fmt.Sprintf("crew.%d@northgrid.example", no), no, "field engineer", loc))
		for found := false; !found; {
			for _, r := range e.requests(ls, since) {
				if r.Changed && r.Target == target {
					found = true
				}
			}
			if time.Since(began) > 30*time.Second {
				b.Fatalf("change %d never reached %s", i, ls)
			}
		}
		lat = append(lat, time.Since(began))
		time.Sleep(20 * time.Millisecond) // at rest between changes
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "ms-p50")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "ms-p99")
}

// rssMiB reads a process's resident set size.
func rssMiB(b *testing.B, pid int) float64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	require.NoError(b, err)
	for _, l := range strings.Split(string(raw), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, err := strconv.ParseFloat(f[1], 64)
			require.NoError(b, err)
			return kb / 1024
		}
	}
	b.Fatal("no VmRSS")
	return 0
}

// BenchmarkRSSIdentities provisions identities through SCIM (field engineers
// with birthright grants, most awaiting a key) into the running quick start and
// reports keyward's RSS, and the RSS extrapolated linearly to 100,000
// identities. KEYWARD_BENCH_IDENTITIES sets how many (default 10,000; 100,000
// measures the goal directly but takes about ten minutes). Goal: under 500 MiB
// at 100,000.
func BenchmarkRSSIdentities(b *testing.B) {
	n := 10000
	if v := os.Getenv("KEYWARD_BENCH_IDENTITIES"); v != "" {
		var err error
		n, err = strconv.Atoi(v)
		require.NoError(b, err)
	}
	e := start(b)
	base := rssMiB(b, e.kw.Process.Pid)
	regions := []string{"north", "south", "east"}
	b.ResetTimer()
	began := time.Now()
	parallel(n, 8, func(i int) {
		no := 100000 + i
		e.create("", joiner(fmt.Sprintf("person.%d@northgrid.example", no), no, "field engineer", regions[i%3]))
	})
	b.StopTimer()
	rss := rssMiB(b, e.kw.Process.Pid)
	b.ReportMetric(base, "MiB-rss-estate")
	b.ReportMetric(rss, fmt.Sprintf("MiB-rss-at-%d", n))
	b.ReportMetric(base+(rss-base)*100000/float64(n), "MiB-rss-100k-extrapolated")
	b.ReportMetric(float64(n)/time.Since(began).Seconds(), "identities/s")
}
