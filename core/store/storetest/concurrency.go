package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/core/domain"
	"github.com/keyward/keyward/core/store"
)

// RunConcurrency checks the guarantees a backend gives under concurrent use:
// Updates serialise, compare-and-set loses no update, readers see consistent
// snapshots, sequences and audit appends never collide. It is separate from Run
// so a backend can opt in once it keeps these promises.
func RunConcurrency(t *testing.T, newStore NewStore) {
	tests := []struct {
		name string
		fn   func(*testing.T, store.Store)
	}{
		{"CASIncrementsAllLand", testCASIncrements},
		{"UpdatesSerialise", testUpdatesSerialise},
		{"SnapshotReads", testSnapshotReads},
		{"SequencesNeverRepeat", testSequencesConcurrent},
		{"AuditAppendsChain", testAuditConcurrent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newStore(t))
		})
	}
}

const (
	workers   = 6
	perWorker = 15
)

// counter is the document the concurrency tests increment.
type counter struct {
	N int `json:"n"`
}

func counterRec(id string, n int) store.Record {
	data, _ := json.Marshal(counter{N: n})
	return store.Record{Kind: domain.KindSetting, ID: id, Data: data, Attrs: []domain.Attr{{Name: "n", Value: strconv.Itoa(n)}}}
}

func counterOf(t *testing.T, r store.Record) int {
	n, err := decodeCounter(r)
	require.NoError(t, err)
	return n
}

func decodeCounter(r store.Record) (int, error) {
	var c counter
	if err := json.Unmarshal(r.Data, &c); err != nil {
		return 0, fmt.Errorf("decode %s: %w", r.ID, err)
	}
	return c.N, nil
}

// parallel runs fn in n goroutines and collects their errors.
func parallel(n int, fn func(worker int) error) []error {
	var wg sync.WaitGroup
	errs := make([]error, n)
	for w := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[w] = fn(w)
		}()
	}
	wg.Wait()
	return errs
}

// testCASIncrements reads the counter in a View and writes it back in a separate
// Update with the version it read: the classic optimistic loop of an edge that
// received an If-Match. Conflicts are retried; every increment must land once.
func testCASIncrements(t *testing.T, s store.Store) {
	put(t, s, counterRec("counter", 0), 0)
	var mu sync.Mutex
	conflicts := 0
	errs := parallel(workers, func(int) error {
		for range perWorker {
			for attempt := 0; ; attempt++ {
				if attempt > 1000 {
					return errors.New("no progress after 1000 attempts")
				}
				var cur store.Record
				err := s.View(t.Context(), func(tx store.Tx) error {
					var err error
					cur, err = tx.Get(t.Context(), domain.KindSetting, "counter")
					return err
				})
				if err != nil {
					return err
				}
				var c counter
				if err := json.Unmarshal(cur.Data, &c); err != nil {
					return err
				}
				err = s.Update(t.Context(), func(tx store.Tx) error {
					_, err := tx.Put(t.Context(), counterRec("counter", c.N+1), cur.Version)
					return err
				})
				if errors.Is(err, domain.ErrConflict) {
					mu.Lock()
					conflicts++
					mu.Unlock()
					continue
				}
				if err != nil {
					return err
				}
				break
			}
		}
		return nil
	})
	for _, err := range errs {
		require.NoError(t, err)
	}
	got, err := get(t, s, domain.KindSetting, "counter")
	require.NoError(t, err)
	assert.Equal(t, workers*perWorker, counterOf(t, got), "every increment landed once")
	assert.Equal(t, int64(workers*perWorker+1), got.Version)
	t.Logf("%d conflicts retried", conflicts)
}

// testUpdatesSerialise increments inside one Update (read and write in the same
// transaction, AnyVersion): with serialised writers no update is lost, and no
// Update fails.
func testUpdatesSerialise(t *testing.T, s store.Store) {
	put(t, s, counterRec("counter", 0), 0)
	errs := parallel(workers, func(int) error {
		for range perWorker {
			err := s.Update(t.Context(), func(tx store.Tx) error {
				cur, err := tx.Get(t.Context(), domain.KindSetting, "counter")
				if err != nil {
					return err
				}
				var c counter
				if err := json.Unmarshal(cur.Data, &c); err != nil {
					return err
				}
				_, err = tx.Put(t.Context(), counterRec("counter", c.N+1), cur.Version)
				return err
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	for _, err := range errs {
		require.NoError(t, err, "serialised Updates do not conflict")
	}
	got, err := get(t, s, domain.KindSetting, "counter")
	require.NoError(t, err)
	assert.Equal(t, workers*perWorker, counterOf(t, got), "no lost update")
}

// testSnapshotReads moves units between two accounts while readers check, in one
// View, that the sum is constant both through Get and through List, and that
// what List counts and returns agree.
func testSnapshotReads(t *testing.T, s store.Store) {
	const total = 100
	update(t, s, func(tx store.Tx) error {
		if _, err := tx.Put(t.Context(), counterRec("a", total), 0); err != nil {
			return err
		}
		_, err := tx.Put(t.Context(), counterRec("b", 0), 0)
		return err
	})
	done := make(chan struct{})
	var writerErr error
	go func() {
		defer close(done)
		for i := range 60 {
			from, to := "a", "b"
			if i%3 == 2 {
				from, to = "b", "a"
			}
			writerErr = s.Update(t.Context(), func(tx store.Tx) error {
				f, err := tx.Get(t.Context(), domain.KindSetting, from)
				if err != nil {
					return err
				}
				g, err := tx.Get(t.Context(), domain.KindSetting, to)
				if err != nil {
					return err
				}
				fn, err := decodeCounter(f)
				if err != nil {
					return err
				}
				gn, err := decodeCounter(g)
				if err != nil {
					return err
				}
				if fn == 0 {
					return nil
				}
				if _, err := tx.Put(t.Context(), counterRec(from, fn-1), f.Version); err != nil {
					return err
				}
				// An extra record now and then, so that counts move too.
				if i%10 == 0 {
					if _, err := tx.Put(t.Context(), counterRec(fmt.Sprintf("x%02d", i), 0), 0); err != nil {
						return err
					}
				}
				_, err = tx.Put(t.Context(), counterRec(to, gn+1), g.Version)
				return err
			})
			if writerErr != nil {
				return
			}
		}
	}()
	errs := parallel(3, func(int) error {
		for {
			select {
			case <-done:
				return nil
			default:
			}
			err := s.View(t.Context(), func(tx store.Tx) error {
				a, err := tx.Get(t.Context(), domain.KindSetting, "a")
				if err != nil {
					return err
				}
				// Give the writer a chance to commit between the two reads.
				time.Sleep(100 * time.Microsecond)
				b, err := tx.Get(t.Context(), domain.KindSetting, "b")
				if err != nil {
					return err
				}
				var ca, cb counter
				_ = json.Unmarshal(a.Data, &ca)
				_ = json.Unmarshal(b.Data, &cb)
				if ca.N+cb.N != total {
					return fmt.Errorf("get saw a=%d b=%d: sum %d, want %d", ca.N, cb.N, ca.N+cb.N, total)
				}
				page, err := tx.List(t.Context(), domain.KindSetting, store.Query{Limit: -1})
				if err != nil {
					return err
				}
				count, err := tx.List(t.Context(), domain.KindSetting, store.Query{Limit: 0})
				if err != nil {
					return err
				}
				if page.Total != len(page.Records) || count.Total != page.Total {
					return fmt.Errorf("list returned %d records, Total %d, count-only Total %d", len(page.Records), page.Total, count.Total)
				}
				sum := 0
				for _, r := range page.Records {
					var c counter
					_ = json.Unmarshal(r.Data, &c)
					sum += c.N
				}
				if sum != total {
					return fmt.Errorf("list saw sum %d, want %d", sum, total)
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
	})
	<-done
	require.NoError(t, writerErr)
	for _, err := range errs {
		assert.NoError(t, err)
	}
}

func testSequencesConcurrent(t *testing.T, s store.Store) {
	var mu sync.Mutex
	seen := map[int64]int{}
	errs := parallel(workers, func(int) error {
		for range perWorker {
			var n int64
			err := s.Update(t.Context(), func(tx store.Tx) error {
				var err error
				n, err = tx.NextSequence(t.Context(), "operations")
				return err
			})
			if err != nil {
				return err
			}
			mu.Lock()
			seen[n]++
			mu.Unlock()
		}
		return nil
	})
	for _, err := range errs {
		require.NoError(t, err)
	}
	require.Len(t, seen, workers*perWorker, "every value handed out once")
	for i := int64(1); i <= workers*perWorker; i++ {
		assert.Equal(t, 1, seen[i], "value %d", i)
	}
}

// testAuditConcurrent appends from several goroutines, each reading the last row
// and appending the next inside one Update, the way the engine chains events.
func testAuditConcurrent(t *testing.T, s store.Store) {
	errs := parallel(workers, func(w int) error {
		for range perWorker {
			err := s.Update(t.Context(), func(tx store.Tx) error {
				last, _, err := tx.LastAudit(t.Context())
				if err != nil {
					return err
				}
				row := auditRow(last.Seq+1, time.Now(), fmt.Sprintf("w%d", w), "", "")
				row.PrevHash = last.Hash
				return tx.AppendAudit(t.Context(), row)
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	for _, err := range errs {
		require.NoError(t, err, "serialised Updates chain without conflicts")
	}
	prev := ""
	next := int64(1)
	view(t, s, func(tx store.Tx) error {
		return tx.ScanAudit(t.Context(), 1, func(r store.AuditRow) error {
			assert.Equal(t, next, r.Seq)
			assert.Equal(t, prev, r.PrevHash, "row %d chains to its predecessor", r.Seq)
			prev, next = r.Hash, next+1
			return nil
		})
	})
	assert.Equal(t, int64(workers*perWorker+1), next)
}
