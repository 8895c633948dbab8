package scim_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	scimfilter "github.com/elimity-com/scim/filter"
	"github.com/elimity-com/scim/schema"

	"github.com/keyward/keyward/core/domain"
	"github.com/keyward/keyward/core/engine"
	"github.com/keyward/keyward/core/store"
	"github.com/keyward/keyward/core/store/sqlite"
	"github.com/keyward/keyward/scim"
)

// The benchmarks run against one store of 100,000 users and 2,000 entitlements
// (every user holds one grant), seeded once; `make bench` runs each once
// (-benchtime 1x) and they report their own rates and percentiles.

const benchEnts = 2_000

// benchUsers is 100,000; KEYWARD_BENCH_USERS lowers it for profiling runs.
var benchUsers = func() int {
	var n int
	if _, err := fmt.Sscan(os.Getenv("KEYWARD_BENCH_USERS"), &n); err == nil && n >= 50_000 {
		return n
	}
	return 100_000
}()

var (
	benchOnce sync.Once
	benchDir  string
	bench     *benchEnv
	benchErr  error
)

type benchEnv struct {
	url, token string
	eng        *engine.Engine
}

func TestMain(m *testing.M) {
	code := m.Run()
	if benchDir != "" {
		_ = os.RemoveAll(benchDir)
	}
	os.Exit(code)
}

func benchSetup(b *testing.B) *benchEnv {
	b.Helper()
	benchOnce.Do(func() {
		start := time.Now()
		ctx := context.Background()
		// KEYWARD_BENCH_DB keeps the seeded store between runs (profiling).
		path, fresh := os.Getenv("KEYWARD_BENCH_DB"), true
		if path != "" {
			_, err := os.Stat(path)
			fresh = err != nil
		} else {
			benchDir, benchErr = os.MkdirTemp("", "keyward-scim-bench-")
			if benchErr != nil {
				return
			}
			path = filepath.Join(benchDir, "bench.db")
		}
		st, err := sqlite.Open(ctx, path, sqlite.WithRelaxedSync(), sqlite.WithLogger(slog.New(slog.DiscardHandler)))
		if err != nil {
			benchErr = err
			return
		}
		if fresh {
			if benchErr = seed(ctx, st); benchErr != nil {
				return
			}
		}
		eng := engine.New(st, engine.Options{})
		cl := scim.NewClients(eng)
		tok, err := cl.Add(ctx, fmt.Sprintf("bench-%d", time.Now().UnixNano()), "generic", scim.ScopeWrite)
		if err != nil {
			benchErr = err
			return
		}
		h, err := scim.NewServer(eng, scim.Config{Clients: cl, RateLimit: -1})
		if err != nil {
			benchErr = err
			return
		}
		srv := httptest.NewServer(h)
		bench = &benchEnv{url: srv.URL + "/scim/v2", token: tok, eng: eng}
		fmt.Fprintf(os.Stderr, "bench store: %d users, %d entitlements, %d grants seeded in %v\n", benchUsers, benchEnts, benchUsers, time.Since(start).Round(time.Millisecond))
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return bench
}

// seed writes the benchmark estate straight into the store: it is test data,
// not a change anyone made, so it skips the engine (and its audit trail).
func seed(ctx context.Context, st store.Store) error {
	err := st.Update(ctx, func(tx store.Tx) error {
		for i := 0; i < benchEnts; i++ {
			e := &domain.Entitlement{Meta: domain.Meta{ID: fmt.Sprintf("e%04d", i)}, Name: fmt.Sprintf("Entitlement %04d", i), Criticality: domain.CriticalityMedium}
			if err := store.Put(ctx, tx, e, 0); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for start := 0; start < benchUsers; start += 5000 {
		err := st.Update(ctx, func(tx store.Tx) error {
			for i := start; i < start+5000; i++ {
				in := &domain.Identity{Meta: domain.Meta{ID: fmt.Sprintf("u%06d", i)}, UserName: fmt.Sprintf("user%06d@corp.example", i), Active: true,
					Name: domain.PersonName{GivenName: "Given", FamilyName: fmt.Sprintf("Family%d", i)}, DisplayName: fmt.Sprintf("User %d", i),
					Emails: []domain.Contact{{Value: fmt.Sprintf("user%06d@corp.example", i), Type: "work", Primary: true}}, EmployeeNumber: fmt.Sprint(100000 + i)}
				if err := store.Put(ctx, tx, in, 0); err != nil {
					return err
				}
				g := &domain.Grant{Meta: domain.Meta{ID: fmt.Sprintf("g%06d", i)}, IdentityID: in.ID, EntitlementID: fmt.Sprintf("e%04d", i%benchEnts),
					Source: domain.Source{Kind: domain.SourceIGA, Name: "seed"}, State: domain.GrantActive}
				if err := store.Put(ctx, tx, g, 0); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// load runs n requests from workers goroutines and returns the rate and the
// latencies, sorted.
func load(b *testing.B, workers, n int, req func(i int) (*http.Request, int)) (float64, []time.Duration) {
	b.Helper()
	lat := make([]time.Duration, n)
	var wg sync.WaitGroup
	var failed sync.Once
	next := make(chan int, n)
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	start := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				r, want := req(i)
				t0 := time.Now()
				res, err := http.DefaultClient.Do(r)
				if err == nil {
					_, _ = io.Copy(io.Discard, res.Body)
					res.Body.Close()
				}
				lat[i] = time.Since(t0)
				if err != nil || res.StatusCode != want {
					failed.Do(func() { b.Errorf("request %d: %v %v", i, err, res) })
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(lat)
	return float64(n) / elapsed.Seconds(), lat
}

func pct(lat []time.Duration, p float64) float64 {
	return float64(lat[int(float64(len(lat)-1)*p)].Microseconds()) / 1000
}

func authed(b *testing.B, method, u, token string, body io.Reader) *http.Request {
	r, err := http.NewRequest(method, u, body)
	if err != nil {
		b.Fatal(err)
	}
	r.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		r.Header.Set("Content-Type", "application/scim+json")
	}
	return r
}

// BenchmarkGetUserByUserName: GET /Users?filter=userName eq "…" over 100,000
// users, 4 concurrent clients; side by side with a bare net/http handler that
// returns one fixed user, and the cost of the library's filter parsing alone.
func BenchmarkGetUserByUserName(b *testing.B) {
	e := benchSetup(b)
	const n = 6000
	for b.Loop() {
		rate, lat := load(b, 4, n, func(i int) (*http.Request, int) {
			f := url.QueryEscape(fmt.Sprintf(`userName eq "user%06d@corp.example"`, (i*7919)%benchUsers))
			return authed(b, http.MethodGet, e.url+"/Users?filter="+f, e.token, nil), http.StatusOK
		})
		b.ReportMetric(rate, "req/s")
		b.ReportMetric(pct(lat, 0.5), "p50-ms")
		b.ReportMetric(pct(lat, 0.99), "p99-ms")

		fixed, _ := json.Marshal(map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:ListResponse"}, "totalResults": 1,
			"Resources": []any{map[string]any{"id": "u000001", "userName": "user000001@corp.example", "active": true}}})
		bare := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/scim+json")
			_, _ = w.Write(fixed)
		}))
		bareRate, _ := load(b, 4, n, func(i int) (*http.Request, int) {
			return authed(b, http.MethodGet, bare.URL+"/Users?filter=x", e.token, nil), http.StatusOK
		})
		bare.Close()
		b.ReportMetric(bareRate, "bare-req/s")
		b.ReportMetric(rate/bareRate, "ratio-to-bare")

		sch := schema.CoreUserSchema()
		t0 := time.Now()
		const parses = 2000
		for i := 0; i < parses; i++ {
			v, err := scimfilter.NewValidator(fmt.Sprintf(`userName eq "user%06d@corp.example"`, i), sch)
			if err != nil || v.Validate() != nil {
				b.Fatal(err)
			}
		}
		parse := time.Since(t0) / parses
		b.ReportMetric(float64(parse.Microseconds()), "parse-us")
		// share of one request's server time: 4 workers on the rate measured
		perReq := time.Duration(float64(4*time.Second) / rate)
		b.ReportMetric(100*float64(parse)/float64(perReq), "parse-%")
	}
}

// BenchmarkAggregation: a full aggregation page by page with count=500, users
// with their groups, over the first 50,000 users.
func BenchmarkAggregation(b *testing.B) {
	e := benchSetup(b)
	const pages = 100
	for b.Loop() {
		start := time.Now()
		users := 0
		for p := 0; p < pages; p++ {
			r := authed(b, http.MethodGet, fmt.Sprintf("%s/Users?startIndex=%d&count=500", e.url, 1+p*500), e.token, nil)
			res, err := http.DefaultClient.Do(r)
			if err != nil {
				b.Fatal(err)
			}
			var lr struct {
				Resources []struct {
					Groups []any `json:"groups"`
				} `json:"Resources"`
			}
			err = json.NewDecoder(res.Body).Decode(&lr)
			res.Body.Close()
			if err != nil || len(lr.Resources) != 500 || len(lr.Resources[0].Groups) != 1 {
				b.Fatalf("page %d: %v, %d resources", p, err, len(lr.Resources))
			}
			users += len(lr.Resources)
		}
		b.ReportMetric(float64(users)/time.Since(start).Seconds(), "users/s")
	}
}

// BenchmarkPatchAddMember: PATCH /Groups/{id} adding one member, one client
// after the other (an IGA's provisioning queue), including the commit.
func BenchmarkPatchAddMember(b *testing.B) {
	e := benchSetup(b)
	const n = 1000
	round := 0
	for b.Loop() {
		round++
		_, lat := load(b, 1, n, func(i int) (*http.Request, int) {
			body := fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[{"value":"u%06d"}]}]}`,
				(round*n+i*37)%benchUsers)
			return authed(b, http.MethodPatch, fmt.Sprintf("%s/Groups/e%04d", e.url, (round+i)%benchEnts), e.token, stringsReader(body)), http.StatusNoContent
		})
		b.ReportMetric(pct(lat, 0.5), "p50-ms")
		b.ReportMetric(pct(lat, 0.99), "p99-ms")
	}
}

func stringsReader(s string) io.Reader { return &stringReader{s: s} }

type stringReader struct{ s string }

func (r *stringReader) Read(p []byte) (int, error) {
	if r.s == "" {
		return 0, io.EOF
	}
	n := copy(p, r.s)
	r.s = r.s[n:]
	return n, nil
}
