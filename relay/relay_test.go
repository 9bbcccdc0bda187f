package relay_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/homeward/homeward/contract"
	"github.com/homeward/homeward/partners"
	"github.com/homeward/homeward/relay"
	"github.com/homeward/homeward/store"
	"github.com/homeward/homeward/store/storetest"
)

// registry is a partner that honours idempotency keys: a key's first successful
// request has the effect, a repeat is answered without one. It remembers the order
// in which each case's changes had their effect.
type registry struct {
	mu      sync.Mutex
	rng     *rand.Rand
	seen    map[string]bool
	byCase  map[string][]contract.Stage
	calls   int
	failing float64 // share of calls that fail before the effect (503)
	lost    float64 // share of calls whose effect happens but whose answer is lost
}

func (r *registry) send(_ context.Context, key string, rec contract.CaseRecord) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	if r.rng.Float64() < r.failing {
		return &partners.Unavailable{Service: partners.ServiceRegistry, Status: 503}
	}
	if !r.seen[key] {
		r.seen[key] = true
		r.byCase[rec.CaseID] = append(r.byCase[rec.CaseID], rec.Stage)
	}
	if r.rng.Float64() < r.lost {
		return errors.New("connection reset after the registry acted") // the relay cannot know it was done
	}
	return nil
}

var stages = []contract.Stage{contract.StageIntake, contract.StageCounselling, contract.StageScreening,
	contract.StageMedicalClearance, contract.StageTravel}

// Two relays (two worker processes) drain one outbox while the registry fails a
// third of the calls and loses the answer of a fifth of those it acts on: every
// change of every case has its effect once, in the case's order.
func TestTwoRelaysDeliverEveryChangeOnceInOrder(t *testing.T) {
	for _, driver := range storetest.Drivers {
		t.Run(driver, func(t *testing.T) {
			ctx := context.Background()
			st := storetest.Open(t, driver)
			var ids []string
			for range 20 {
				id := queueCase(t, st)
				ids = append(ids, id)
			}
			reg := &registry{rng: rand.New(rand.NewPCG(1, 2)), seen: map[string]bool{}, byCase: map[string][]contract.Stage{},
				failing: 0.3, lost: 0.2}
			log := slog.New(slog.NewTextHandler(io.Discard, nil))
			var relays []*relay.Relay
			for range 2 {
				r := relay.New(st, reg.send, log)
				r.MinRetry, r.MaxRetry, r.Batch = time.Millisecond, 5*time.Millisecond, 7
				relays = append(relays, r)
			}
			deadline := time.Now().Add(time.Minute)
			for {
				var wg sync.WaitGroup
				for _, r := range relays {
					wg.Add(1)
					go func() {
						defer wg.Done()
						_, err := r.Once(ctx)
						require.NoError(t, err)
					}()
				}
				wg.Wait()
				n, _, err := st.RegistryBacklog(ctx)
				require.NoError(t, err)
				if n == 0 {
					break
				}
				require.True(t, time.Now().Before(deadline), "%d changes still unsent", n)
				time.Sleep(2 * time.Millisecond)
			}
			for _, id := range ids {
				require.Equal(t, stages, reg.byCase[id], "case %s: every change once, in order", id)
			}
			require.Greater(t, reg.calls, 20*len(stages), "the registry failed some calls, which were sent again")
		})
	}
}

// queueCase registers a case and writes its changes of stage, each queued for the registry.
func queueCase(t *testing.T, st *store.Store) string {
	ctx := context.Background()
	id := uuid.NewString()
	now := time.Now().UTC()
	c := &store.Case{ID: id, Status: "active", Stage: "Intake", StageEnteredAt: now, HostCountry: "DE",
		CountryOfReturn: "GN", SendingOffice: "DE-BER", ReceivingOffice: "GN-CKY", Programme: "REAG-GARP",
		Beneficiary: "{}", Household: "[]", Vulnerabilities: "[]", Consent: "{}", State: "{}", Currency: "EUR",
		CreatedBy: "caseworker-de", WorkflowID: contract.WorkflowID(id), CreatedAt: now, UpdatedAt: now}
	require.NoError(t, st.CreateCase(ctx, c, nil, func(context.Context, *store.Case) (string, error) { return "run-1", nil }))
	for i, stage := range stages {
		seq := int64(i + 1)
		require.NoError(t, st.RecordChanges(ctx, contract.Changes{CaseID: id, WrittenIn: seq,
			State:    contract.CaseState{Seq: seq, Stage: stage, Status: contract.StatusActive},
			Events:   []contract.Event{{Key: fmt.Sprintf("%s/%d", id, seq), Type: "stage", Summary: string(stage), At: now}},
			Registry: []contract.RegistryChange{{Seq: seq, Record: contract.CaseRecord{CaseID: id, Reference: c.Reference, Stage: stage}}}}))
	}
	return id
}

// A registry that refuses Homeward's credentials (401) refuses every change for
// a reason that is not the change's: nothing is dropped; the changes wait, and
// go once the credentials are mended.
func TestARefusedCredentialDropsNoChange(t *testing.T) {
	for _, driver := range storetest.Drivers {
		t.Run(driver, func(t *testing.T) {
			ctx := context.Background()
			st := storetest.Open(t, driver)
			id := queueCase(t, st)
			var mended bool
			var got []contract.Stage
			send := func(_ context.Context, _ string, rec contract.CaseRecord) error {
				if !mended {
					return &partners.Rejected{Service: partners.ServiceRegistry, Status: 401, Message: "bad API key"}
				}
				got = append(got, rec.Stage)
				return nil
			}
			r := relay.New(st, send, slog.New(slog.NewTextHandler(io.Discard, nil)))
			r.MinRetry, r.MaxRetry = time.Millisecond, time.Millisecond
			_, _ = r.Once(ctx)
			n, _, err := st.RegistryBacklog(ctx)
			require.NoError(t, err)
			require.EqualValues(t, len(stages), n, "every change still waits")
			mended = true
			for deadline := time.Now().Add(10 * time.Second); ; {
				_, err := r.Once(ctx)
				require.NoError(t, err)
				if n, _, err = st.RegistryBacklog(ctx); err == nil && n == 0 {
					break
				}
				require.True(t, time.Now().Before(deadline), "%d changes still unsent", n)
				time.Sleep(2 * time.Millisecond)
			}
			require.Equal(t, stages, got, "case %s: every change, in order", id)
		})
	}
}
