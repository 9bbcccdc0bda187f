package store_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/homeward/homeward/contract"
	"github.com/homeward/homeward/store"
	"github.com/homeward/homeward/store/storetest"
)

// BenchmarkRegistrationUnderLoad registers b.N cases, c at a time, with a start
// callback that sleeps 5 ms (a Temporal round trip), while two writers keep
// writing the case file as the workflows' local activities do (RecordCase, one
// every 2 ms each) and a reader reads cases. It reports registrations per second,
// their p99, and the p50/p99/max of one case-file write meanwhile.
//
//	go test -run '^$' -bench RegistrationUnderLoad -benchtime 400x ./store/
//
// Postgres runs too when HOMEWARD_TEST_POSTGRES_DSN is set and
// HOMEWARD_BENCH_POSTGRES=1 (each commit waits for an fsync there).
func BenchmarkRegistrationUnderLoad(b *testing.B) {
	drivers := []string{"sqlite"}
	if os.Getenv("HOMEWARD_BENCH_POSTGRES") == "1" {
		drivers = append(drivers, "postgres")
	}
	for _, d := range drivers {
		for _, c := range []int{1, 10, 50} {
			b.Run(fmt.Sprintf("%s/c=%d", d, c), func(b *testing.B) { benchRegistrations(b, d, c) })
		}
	}
}

func benchRegistrations(b *testing.B, driver string, conc int) {
	s := storetest.Open(b, driver)
	ctx := context.Background()
	// The cases the background writers write to.
	var targets []string
	for range 2 {
		c := newCase("GN")
		if err := s.CreateCase(ctx, c, nil, started); err != nil {
			b.Fatal(err)
		}
		targets = append(targets, c.ID)
	}
	slowStart := func(context.Context, *store.Case) (string, error) {
		time.Sleep(5 * time.Millisecond)
		return "run-" + uuid.NewString(), nil
	}

	stop := make(chan struct{})
	var bg sync.WaitGroup
	var writeMu sync.Mutex
	var writes []time.Duration
	var writeErrs, reads atomic.Int64
	for i, id := range targets {
		bg.Go(func() {
			tick := time.NewTicker(2 * time.Millisecond)
			defer tick.Stop()
			for seq := int64(1); ; seq++ {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				t := time.Now()
				err := s.RecordCase(ctx, contract.Record{CaseID: id, EventKey: fmt.Sprintf("bench-%d-%d", i, seq), Type: "stage",
					Summary: "moved", At: time.Now().UTC(), Actor: contract.Actor{User: "u", Role: contract.RoleCaseworker},
					WrittenIn: seq, State: contract.CaseState{Seq: seq, Stage: contract.StageCounselling, Status: contract.StatusActive}})
				d := time.Since(t)
				if err != nil {
					writeErrs.Add(1)
					continue
				}
				writeMu.Lock()
				writes = append(writes, d)
				writeMu.Unlock()
			}
		})
	}
	bg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := s.CaseByID(ctx, targets[0]); err == nil {
				reads.Add(1)
			}
			time.Sleep(time.Millisecond)
		}
	})

	var next atomic.Int64
	var regErrs atomic.Int64
	regs := make([]time.Duration, b.N)
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for range conc {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				c := newCase("GN")
				c.BeneficiaryKey = uuid.NewString()
				t := time.Now()
				if err := s.CreateCase(ctx, c, nil, slowStart); err != nil {
					regErrs.Add(1)
				}
				regs[i] = time.Since(t)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	close(stop)
	bg.Wait()

	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "regs/s")
	b.ReportMetric(ms(pct(regs, 0.99)), "reg-p99-ms")
	writeMu.Lock()
	b.ReportMetric(ms(pct(writes, 0.50)), "write-p50-ms")
	b.ReportMetric(ms(pct(writes, 0.99)), "write-p99-ms")
	b.ReportMetric(ms(pct(writes, 1)), "write-max-ms")
	b.ReportMetric(float64(len(writes))/elapsed.Seconds(), "writes/s")
	writeMu.Unlock()
	b.ReportMetric(float64(reads.Load())/elapsed.Seconds(), "reads/s")
	b.ReportMetric(float64(regErrs.Load()+writeErrs.Load()), "errors")
	b.ReportMetric(0, "ns/op") // the figures above say it; ns/op would be wall time / b.N
}

func pct(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(float64(len(s)-1) * p)
	return s[i]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
