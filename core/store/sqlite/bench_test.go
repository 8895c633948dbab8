package sqlite_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/core/domain"
	"github.com/keyward/keyward/core/store"
	"github.com/keyward/keyward/core/store/sqlite"
)

// The benchmarks share two large databases (100,000 identities; 1,000,000 audit
// rows), built once per run in a temporary folder that TestMain removes. With
// KEYWARD_BENCH_DIR set they are kept in that folder and reused by later runs.
var (
	benchDir     string
	benchDirTemp bool
	benchDirOnce sync.Once
)

func TestMain(m *testing.M) {
	code := m.Run()
	if benchDirTemp {
		_ = os.RemoveAll(benchDir)
	}
	os.Exit(code)
}

func benchPath(b *testing.B, name string) string {
	benchDirOnce.Do(func() {
		if dir := os.Getenv("KEYWARD_BENCH_DIR"); dir != "" {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				b.Fatal(err)
			}
			benchDir = dir
			return
		}
		dir, err := os.MkdirTemp("", "keyward-bench-")
		if err != nil {
			b.Fatal(err)
		}
		benchDir, benchDirTemp = dir, true
	})
	return filepath.Join(benchDir, name)
}

// built tells whether a kept fixture database is complete: a file of that name
// exists next to it once its build finished.
func built(path string) bool {
	_, err := os.Stat(path + ".built")
	return err == nil
}

func markBuilt(b *testing.B, path string) {
	if err := os.WriteFile(path+".built", nil, 0o644); err != nil {
		b.Fatal(err)
	}
}

func benchOpen(b *testing.B, path string, opts ...sqlite.Option) *sqlite.Store {
	s, err := sqlite.Open(context.Background(), path, append([]sqlite.Option{quiet}, opts...)...)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// benchIdentity is an identity as an IGA provisions it: about 1 KB of JSON and
// two dozen indexed values.
func benchIdentity(i int) *domain.Identity {
	end := time.Date(2027, 12, 31, 0, 0, 0, 0, time.UTC)
	u := fmt.Sprintf("user%06d", i)
	return &domain.Identity{
		Meta:              domain.Meta{ID: fmt.Sprintf("id-%06d", i)},
		UserName:          u,
		ExternalID:        fmt.Sprintf("ext-%06d", i),
		Active:            true,
		Name:              domain.PersonName{GivenName: "Given" + u, FamilyName: "Family" + u, Formatted: "Given Family " + u},
		DisplayName:       "Display " + u,
		Title:             "Field engineer",
		UserType:          "Employee",
		PreferredLanguage: "en-GB",
		Locale:            "en-GB",
		Timezone:          "Europe/London",
		Emails:            []domain.Contact{{Value: u + "@example.com", Type: "work", Primary: true}, {Value: u + "@home.example", Type: "home"}},
		PhoneNumbers:      []domain.Contact{{Value: fmt.Sprintf("+44 20 7946 %04d", i%10000), Type: "work"}},
		EmployeeNumber:    fmt.Sprintf("%06d", i),
		CostCenter:        fmt.Sprintf("CC%03d", i%200),
		Organization:      "Example Utilities",
		Division:          "Networks",
		Department:        fmt.Sprintf("Department %d", i%10),
		ManagerID:         fmt.Sprintf("id-%06d", i/50),
		Function:          "technician",
		ContractStatus:    "permanent",
		ContractEnd:       &end,
		Location:          fmt.Sprintf("Site %d", i%50),
		Projects:          []string{fmt.Sprintf("project-%d", i%7), fmt.Sprintf("project-%d", i%11)},
		Risk:              "low",
		CorrelationKey:    fmt.Sprintf("%06d", i),
	}
}

// BenchmarkPutIdentity writes one identity per transaction: "create" provisions a
// new one, "replace" changes one attribute of an existing one (a SCIM PATCH).
func BenchmarkPutIdentity(b *testing.B) {
	for _, tc := range []struct {
		name string
		opts []sqlite.Option
	}{
		{"sync=full", nil},
		{"sync=normal", []sqlite.Option{sqlite.WithRelaxedSync()}},
	} {
		for _, mode := range []string{"create", "replace"} {
			b.Run(tc.name+"/"+mode, func(b *testing.B) {
				s := benchOpen(b, filepath.Join(b.TempDir(), "put.db"), tc.opts...)
				defer s.Close()
				ctx := context.Background()
				first := benchIdentity(0)
				data, _ := json.Marshal(first)
				b.ReportMetric(float64(len(data)), "bytes/record")
				b.ReportMetric(float64(len(first.Attrs())), "attrs/record")
				const existing = 1000
				if mode == "replace" {
					err := s.Update(ctx, func(tx store.Tx) error {
						for i := range existing {
							if err := store.Put(ctx, tx, benchIdentity(i), 0); err != nil {
								return err
							}
						}
						return nil
					})
					if err != nil {
						b.Fatal(err)
					}
				}
				b.ResetTimer()
				for i := range b.N {
					var id *domain.Identity
					if mode == "create" {
						id = benchIdentity(i)
					} else {
						id = benchIdentity(i % existing)
						id.Title = fmt.Sprintf("Title %d", i)
					}
					err := s.Update(ctx, func(tx store.Tx) error {
						return store.Put(ctx, tx, id, store.AnyVersion)
					})
					if err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

const benchIdentities = 100_000

var identitiesOnce sync.Once

// identitiesDB builds, once, a database of 100,000 identities.
func identitiesDB(b *testing.B) string {
	path := benchPath(b, "identities.db")
	identitiesOnce.Do(func() {
		if built(path) {
			return
		}
		_ = os.Remove(path)
		start := time.Now()
		s := benchOpen(b, path, sqlite.WithRelaxedSync())
		defer s.Close()
		ctx := context.Background()
		for lo := 0; lo < benchIdentities; lo += 1000 {
			err := s.Update(ctx, func(tx store.Tx) error {
				for i := lo; i < lo+1000; i++ {
					if err := store.Put(ctx, tx, benchIdentity(i), 0); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		b.Logf("built %d identities in %v", benchIdentities, time.Since(start).Round(time.Millisecond))
		markBuilt(b, path)
	})
	return path
}

func BenchmarkList100kIdentities(b *testing.B) {
	path := identitiesDB(b)
	s := benchOpen(b, path)
	defer s.Close()
	ctx := context.Background()
	cases := []struct {
		name  string
		q     store.Query
		total int
	}{
		{"userName eq", store.Query{Filter: store.Eqf("userName", "user054321"), Limit: 10}, 1},
		{"userName eq folded", store.Query{Filter: store.Compare{Attr: "userName", Op: store.Eq, Value: "USER054321"}, Limit: 10}, 1},
		{"emails eq folded", store.Query{Filter: store.Compare{Attr: "emails.value", Op: store.Eq, Value: "User054321@Example.com"}, Limit: 10}, 1},
		{"userName sw page", store.Query{Filter: store.Compare{Attr: "userName", Op: store.Sw, Value: "user0543", CaseExact: true}, Limit: 100}, 100},
		{"externalId eq and active", store.Query{Filter: store.And{store.Eqf("externalId", "ext-054321"), store.Eqf("active", "true")}, Limit: 10}, 1},
		{"active and department, page of 100", store.Query{Filter: store.And{store.Eqf("active", "true"), store.Eqf("department", "Department 3")}, Limit: 100}, benchIdentities / 10},
		{"first page of 100, total of all", store.Query{Limit: 100}, benchIdentities},
		{"department count only", store.Query{Filter: store.Eqf("department", "Department 3"), Limit: 0}, benchIdentities / 10},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			for range b.N {
				err := s.View(ctx, func(tx store.Tx) error {
					p, err := tx.List(ctx, domain.KindIdentity, tc.q)
					if err == nil && p.Total != tc.total {
						err = fmt.Errorf("total %d, want %d", p.Total, tc.total)
					}
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// benchAuditRow is an audit row of realistic size: a canonical JSON body of about
// 400 bytes and SHA-256 hashes in hex.
func benchAuditRow(seq int64, prev string, at time.Time) store.AuditRow {
	ev := domain.AuditEvent{
		Seq: seq, At: at, Actor: "scim:sailpoint-prod", Action: "grant.create",
		SubjectKind: domain.KindGrant, SubjectID: fmt.Sprintf("grant-%08d", seq),
		IdentityID: fmt.Sprintf("id-%06d", seq%100000), EntitlementID: fmt.Sprintf("ent-%03d", seq%300),
		Reason:   "policy birthright: field engineers of the north region",
		Data:     json.RawMessage(`{"validFrom":"2026-12-01T00:00:00Z","validUntil":"2027-12-31T00:00:00Z","source":"policy:north-field"}`),
		PrevHash: prev,
	}
	body, _ := json.Marshal(ev)
	sum := sha256.Sum256(append([]byte(prev), body...))
	return store.AuditRow{
		Seq: seq, At: at, IdentityID: ev.IdentityID, EntitlementID: ev.EntitlementID,
		Body: body, PrevHash: prev, Hash: hex.EncodeToString(sum[:]),
	}
}

// BenchmarkAppendAudit appends b.N events in transactions of batch events each,
// the way a command commits its change with its audit events, and reports the
// sustained rate with durable (synchronous=FULL) commits.
func BenchmarkAppendAudit(b *testing.B) {
	type run struct {
		batch int
		sync  string
	}
	var runs []run
	for _, batch := range []int{1, 10, 100, 1000} {
		runs = append(runs, run{batch, "full"})
	}
	for _, batch := range []int{1, 10} { // what the per-commit sync costs
		runs = append(runs, run{batch, "normal"})
	}
	for _, r := range runs {
		batch := r.batch
		var opts []sqlite.Option
		if r.sync == "normal" {
			opts = append(opts, sqlite.WithRelaxedSync())
		}
		b.Run(fmt.Sprintf("sync=%s/batch=%d", r.sync, batch), func(b *testing.B) {
			s := benchOpen(b, filepath.Join(b.TempDir(), "audit.db"), opts...)
			defer s.Close()
			ctx := context.Background()
			seq, prev, at := int64(0), "", time.Now()
			b.ResetTimer()
			for done := 0; done < b.N; {
				n := min(batch, b.N-done)
				err := s.Update(ctx, func(tx store.Tx) error {
					for range n {
						row := benchAuditRow(seq+1, prev, at)
						if err := tx.AppendAudit(ctx, row); err != nil {
							return err
						}
						seq, prev = row.Seq, row.Hash
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
				done += n
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

const benchAuditRows = 1_000_000

var auditOnce sync.Once

// auditDB builds, once, a database with 1,000,000 chained audit rows.
func auditDB(b *testing.B) string {
	path := benchPath(b, "audit.db")
	auditOnce.Do(func() {
		if built(path) {
			return
		}
		_ = os.Remove(path)
		start := time.Now()
		s := benchOpen(b, path, sqlite.WithRelaxedSync())
		defer s.Close()
		ctx := context.Background()
		seq, prev, at := int64(0), "", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		for seq < benchAuditRows {
			err := s.Update(ctx, func(tx store.Tx) error {
				for range 10_000 {
					row := benchAuditRow(seq+1, prev, at.Add(time.Duration(seq)*time.Second))
					if err := tx.AppendAudit(ctx, row); err != nil {
						return err
					}
					seq, prev = row.Seq, row.Hash
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		b.Logf("built %d audit rows in %v", benchAuditRows, time.Since(start).Round(time.Millisecond))
		markBuilt(b, path)
	})
	return path
}

// BenchmarkScanAudit1M reads all 1,000,000 audit rows through ScanAudit in one
// View, checking each row follows its predecessor (the store's part of audit
// verify). "read+verify" also does what audit.Verify does per row (decode the
// body, hash it), to show the read-ahead overlapping the two.
func BenchmarkScanAudit1M(b *testing.B) {
	path := auditDB(b)
	s := benchOpen(b, path)
	defer s.Close()
	ctx := context.Background()
	for _, verify := range []bool{false, true} {
		name := "read"
		if verify {
			name = "read+verify"
		}
		b.Run(name, func(b *testing.B) {
			for range b.N {
				var n int64
				var prev string
				err := s.View(ctx, func(tx store.Tx) error {
					return tx.ScanAudit(ctx, 1, func(r store.AuditRow) error {
						n++
						if r.Seq != n || r.PrevHash != prev {
							return fmt.Errorf("row %d out of order", r.Seq)
						}
						if verify {
							var ev struct {
								Seq      int64  `json:"seq"`
								PrevHash string `json:"prevHash"`
							}
							if err := json.Unmarshal(r.Body, &ev); err != nil {
								return err
							}
							sum := sha256.Sum256(append([]byte(r.PrevHash), r.Body...))
							if hex.EncodeToString(sum[:]) != r.Hash || ev.Seq != r.Seq {
								return fmt.Errorf("row %d does not verify", r.Seq)
							}
						}
						prev = r.Hash
						return nil
					})
				})
				if err != nil {
					b.Fatal(err)
				}
				if n != benchAuditRows {
					b.Fatalf("scanned %d rows, want %d", n, benchAuditRows)
				}
			}
			b.ReportMetric(float64(b.N*benchAuditRows)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// BenchmarkFindAudit1M is the why query's look-up in a log of 1,000,000 rows.
func BenchmarkFindAudit1M(b *testing.B) {
	path := auditDB(b)
	s := benchOpen(b, path)
	defer s.Close()
	ctx := context.Background()
	b.ResetTimer()
	for range b.N {
		err := s.View(ctx, func(tx store.Tx) error {
			rows, err := tx.FindAudit(ctx, store.AuditFilter{IdentityID: "id-054321", EntitlementID: "ent-021", Until: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)})
			if err == nil && len(rows) == 0 {
				err = fmt.Errorf("no rows found")
			}
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}
