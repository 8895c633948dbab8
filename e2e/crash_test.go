package e2e

import (
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// crewOf maps employees 5001-5500 to their lock system and key, as
// examples/quickstart/genestate seeds them.
func crewOf(no int) (ls, location string, key int) {
	switch {
	case no < 5171:
		return iloq, "north", 101 + no - 5001
	case no < 5341:
		return cliq, "south", 101 + no - 5171
	default:
		return protec2, "east", 101 + no - 5341
	}
}

// TestCrashSafety kills keyward with SIGKILL in the middle of a burst of 500
// SCIM joiners, restarts it, lets the IGA retry what failed, and shows that
// every committed change reached the simulators exactly once and the audit
// chain still verifies.
func TestCrashSafety(t *testing.T) {
	e := start(t)
	const n, killAfter, workers = 500, 200, 4
	since := map[string]int64{iloq: e.lastSeq(iloq), cliq: e.lastSeq(cliq), protec2: e.lastSeq(protec2)}

	status := make([]int, n) // 0: failed (connection refused or cut)
	var ok atomic.Int64
	killed := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				no := 5001 + i
				_, loc, _ := crewOf(no)
				code, err := e.trySCIM("POST", "/Users", joiner(fmt.Sprintf("crew.%d@northgrid.example", no), no, "field engineer", loc))
				if err == nil {
					status[i] = code
					if code == 201 && ok.Add(1) == killAfter {
						once.Do(func() { close(killed) })
					}
				}
			}
		}()
	}
	go func() {
		<-killed
		require.NoError(t, e.kw.Process.Signal(syscall.SIGKILL))
	}()
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	committedBefore := int(ok.Load())
	e.stopKeyward(syscall.SIGKILL) // reaps the killed process
	t.Logf("burst: %d of %d joiners answered 201 before and around the SIGKILL", committedBefore, n)
	require.Less(t, committedBefore, n, "keyward was killed in the middle of the burst")
	require.GreaterOrEqual(t, committedBefore, killAfter)

	before := 0
	for ls, s := range since {
		seen := map[string]bool{}
		for _, r := range e.requests(ls, s) {
			if r.Changed && !seen[r.Target] {
				seen[r.Target] = true
				before++
			}
		}
	}
	t.Logf("keys changed in the simulators when keyward died: %d of %d committed", before, committedBefore)

	restart := time.Now()
	e.startKeyward()
	t.Logf("restart until ready: %s", time.Since(restart).Round(time.Millisecond))
	// The IGA retries what got no answer; 409 means the create had committed.
	retried, conflicts := 0, 0
	for i, st := range status {
		if st == 201 {
			continue
		}
		no := 5001 + i
		_, loc, _ := crewOf(no)
		code, out := e.scim("", "POST", "/Users", joiner(fmt.Sprintf("crew.%d@northgrid.example", no), no, "field engineer", loc))
		require.Contains(t, []int{201, 409}, code, out)
		retried++
		if code == 409 {
			conflicts++
		}
	}
	t.Logf("retried %d (of which %d had committed before the kill)", retried, conflicts)

	// Every joiner's key received its birthright, and no change went out twice.
	began := time.Now()
	var missing []string
	var twice []string
	require.True(t, assertEventually(func() bool {
		missing, twice = nil, nil
		changed := map[string]map[string]int{} // key -> op -> count
		for ls, s := range since {
			for _, r := range e.requests(ls, s) {
				if r.Changed && r.Target != "" {
					if changed[r.Target] == nil {
						changed[r.Target] = map[string]int{}
					}
					changed[r.Target][r.Op]++
				}
			}
		}
		for i := 0; i < n; i++ {
			ls, _, key := crewOf(5001 + i)
			ops := changed[keyVendorID(ls, key)]
			if len(ops) == 0 {
				missing = append(missing, fmt.Sprintf("%d (%s key %d)", 5001+i, ls, key))
			}
			for op, c := range ops {
				if c > 1 {
					twice = append(twice, fmt.Sprintf("%s key %d: %s ×%d", ls, key, op, c))
				}
			}
		}
		return len(missing) == 0
	}, 120*time.Second), "changes that never reached a simulator: %d, e.g. %v", len(missing), head(missing))
	t.Logf("all %d keys changed in the simulators %s after the restart", n, time.Since(began).Round(time.Millisecond))
	assert.Empty(t, twice, "changes applied twice")
	assert.Contains(t, e.cli(0, "audit", "verify"), "intact")
}

func head(l []string) []string {
	if len(l) > 5 {
		return l[:5]
	}
	return l
}

// trySCIM sends a SCIM request as the quick-start client and returns transport
// errors instead of failing (keyward may be gone).
func (e *env) trySCIM(method, path string, body any) (int, error) {
	return e.tryHTTP(method, "/scim/v2"+path, e.token, body)
}
