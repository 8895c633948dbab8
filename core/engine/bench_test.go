package engine_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/core/audit"
	"github.com/keyward/keyward/core/domain"
	"github.com/keyward/keyward/core/engine"
	"github.com/keyward/keyward/core/store"
	"github.com/keyward/keyward/core/store/sqlite"
)

func benchStore(b *testing.B) store.Store {
	b.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"), sqlite.WithRelaxedSync())
	require.NoError(b, err)
	b.Cleanup(func() { st.Close() })
	return st
}

// peakRSS reads the process's peak resident set size in MiB.
func peakRSS() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			f := strings.Fields(l)
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}

// seedEstate writes lock systems, entitlements (each bound in every lock system),
// identities with grants, and one handed-out key per identity per lock system,
// straight into the store.
func seedEstate(b *testing.B, st store.Store, identities, grantsEach, ents int) {
	b.Helper()
	ctx := context.Background()
	lss := []string{"ls-a", "ls-b", "ls-c"}
	require.NoError(b, st.Update(ctx, func(tx store.Tx) error {
		for _, ls := range lss {
			if err := store.Put(ctx, tx, &domain.LockSystem{Meta: domain.Meta{ID: ls}, Name: ls, Vendor: "bench"}, 0); err != nil {
				return err
			}
		}
		for e := 0; e < ents; e++ {
			en := &domain.Entitlement{Meta: domain.Meta{ID: fmt.Sprintf("ent-%04d", e)}, Name: fmt.Sprintf("Entitlement %d", e), Criticality: domain.CriticalityHigh}
			for _, ls := range lss {
				en.Bindings = append(en.Bindings, domain.Binding{LockSystemID: ls, AccessObjects: []string{fmt.Sprintf("%s-AO-%04d", ls, e)}})
			}
			if err := store.Put(ctx, tx, en, 0); err != nil {
				return err
			}
		}
		return nil
	}))
	const chunk = 2000
	for start := 0; start < identities; start += chunk {
		require.NoError(b, st.Update(ctx, func(tx store.Tx) error {
			for i := start; i < min(start+chunk, identities); i++ {
				id := fmt.Sprintf("id-%07d", i)
				emp := fmt.Sprintf("E%07d", i)
				in := &domain.Identity{Meta: domain.Meta{ID: id}, UserName: "user" + emp, EmployeeNumber: emp, CorrelationKey: emp, Active: true,
					Department: "operations", Location: "north", Emails: []domain.Contact{{Value: "user" + emp + "@example.com", Primary: true}}}
				if err := store.Put(ctx, tx, in, 0); err != nil {
					return err
				}
				for g := 0; g < grantsEach; g++ {
					gr := &domain.Grant{Meta: domain.Meta{ID: fmt.Sprintf("%s-g%02d", id, g)}, IdentityID: id, EntitlementID: fmt.Sprintf("ent-%04d", (i+g*7)%ents),
						Source: domain.Source{Kind: domain.SourceIGA, Name: "bench"}, State: domain.GrantActive, Opened: true}
					if err := store.Put(ctx, tx, gr, 0); err != nil {
						return err
					}
				}
				for _, ls := range lss {
					k := &domain.Key{Meta: domain.Meta{ID: engine.KeyID(ls, "K"+emp)}, LockSystemID: ls, VendorID: "K" + emp, Type: domain.KeyPhysical,
						Custody: domain.CustodyHandedOut, HolderID: id, HolderRef: emp}
					if err := store.Put(ctx, tx, k, 0); err != nil {
						return err
					}
				}
			}
			return nil
		}))
	}
}

// BenchmarkPlanningFromCold: desired state for 100,000 identities × 5 grants across
// 3 lock systems, from facts, with every operation written to the outbox. Goal:
// under 30 s and 1 GiB peak RSS on 2 cores. KEYWARD_BENCH_IDENTITIES scales it.
func BenchmarkPlanningFromCold(b *testing.B) {
	n := 100000
	if v, err := strconv.Atoi(os.Getenv("KEYWARD_BENCH_IDENTITIES")); err == nil && v > 0 {
		n = v
	}
	st := benchStore(b)
	seedStart := time.Now()
	seedEstate(b, st, n, 5, 2000)
	b.Logf("seeded %d identities, %d grants, %d keys in %s", n, n*5, n*3, time.Since(seedStart).Round(time.Millisecond))
	eng := engine.New(st, engine.Options{})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		ops, err := eng.ReplanAll(context.Background(), 1000)
		require.NoError(b, err)
		if i == 0 {
			require.Equal(b, n*3, ops, "one operation per key")
		}
		b.ReportMetric(time.Since(start).Seconds(), "s/plan")
		b.ReportMetric(float64(n)/time.Since(start).Seconds(), "identities/s")
	}
	b.ReportMetric(peakRSS(), "peakRSS-MiB")
}

// BenchmarkAuditAppend: sustained audit appends through the chain, 100 events per
// commit (a command writes several). Goal: at least 5,000 events/s on SQLite.
func BenchmarkAuditAppend(b *testing.B) {
	ctx := context.Background()
	for _, per := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("per-commit-%d", per), func(b *testing.B) {
			st := benchStore(b)
			c := audit.NewChain()
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i += per {
				require.NoError(b, st.Update(ctx, func(tx store.Tx) error {
					for j := 0; j < per; j++ {
						if err := c.Append(ctx, tx, &domain.AuditEvent{At: time.Now(), Actor: "bench", Action: "grant.created", SubjectKind: domain.KindGrant,
							SubjectID: "g", IdentityID: "id-1", Data: []byte(`{"entitlementId":"e","state":"active"}`)}); err != nil {
							return err
						}
					}
					return nil
				}))
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
		})
	}
}

// BenchmarkAuditVerify: verification of 1,000,000 events. Goal: under 20 s.
// KEYWARD_BENCH_AUDIT scales it.
func BenchmarkAuditVerify(b *testing.B) {
	n := 1000000
	if v, err := strconv.Atoi(os.Getenv("KEYWARD_BENCH_AUDIT")); err == nil && v > 0 {
		n = v
	}
	ctx := context.Background()
	st := benchStore(b)
	c := audit.NewChain()
	for i := 0; i < n; i += 10000 {
		require.NoError(b, st.Update(ctx, func(tx store.Tx) error {
			for j := i; j < min(i+10000, n); j++ {
				if err := c.Append(ctx, tx, &domain.AuditEvent{At: time.Unix(int64(j), 0), Actor: "bench", Action: "grant.created", SubjectKind: domain.KindGrant,
					SubjectID: "g", Data: []byte(`{"entitlementId":"e","state":"active"}`)}); err != nil {
					return err
				}
			}
			return nil
		}))
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		rep, err := audit.Verify(ctx, st)
		require.NoError(b, err)
		require.Nil(b, rep.Problem)
		require.EqualValues(b, n, rep.Events)
		b.ReportMetric(time.Since(start).Seconds(), "s/verify")
	}
}

// BenchmarkIdentityChange50Grants: one identity change through a command, for an
// identity with 50 grants and a key in each of 3 lock systems. Goal: p99 under 5 ms.
func BenchmarkIdentityChange50Grants(b *testing.B) {
	ctx := context.Background()
	st := benchStore(b)
	seedEstate(b, st, 1000, 50, 200)
	eng := engine.New(st, engine.Options{})
	_, err := eng.ReplanAll(ctx, 1000)
	require.NoError(b, err)
	actor := engine.Actor{Name: "bench"}
	var in *domain.Identity
	require.NoError(b, st.View(ctx, func(tx store.Tx) error {
		in, err = store.Get[domain.Identity](ctx, tx, "id-0000500")
		return err
	}))
	durations := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		in.Title = fmt.Sprintf("title %d", i)
		start := time.Now()
		_, err := eng.Execute(ctx, actor, engine.UpsertIdentity{Identity: in, Expect: store.AnyVersion})
		durations = append(durations, time.Since(start))
		require.NoError(b, err)
	}
	slices.Sort(durations)
	b.ReportMetric(float64(durations[len(durations)*50/100].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(durations[len(durations)*99/100].Microseconds())/1000, "p99-ms")
}
