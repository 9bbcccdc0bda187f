package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/homeward/homeward/contract"
	"github.com/homeward/homeward/store"
)

// A write, once committed, is what every later read sees, on whichever
// connection it runs: the API checks who may act on a case against the row the
// workflow has just written.
func TestAReadAfterAWriteSeesIt(t *testing.T) {
	eachDriver(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		c := newCase("GN")
		require.NoError(t, s.CreateCase(ctx, c, nil, started))
		for seq := int64(1); seq <= 150; seq++ {
			require.NoError(t, s.RecordCase(ctx, contract.Record{CaseID: c.ID, EventKey: fmt.Sprintf("%s/%d", c.ID, seq),
				Type: "stage", Summary: "moved", At: time.Now().UTC(), Actor: contract.Actor{User: "u", Role: contract.RoleCaseworker},
				State: contract.CaseState{Seq: seq, Stage: contract.StageCounselling, Status: contract.StatusActive}}))
			var wg sync.WaitGroup
			for range 6 {
				wg.Go(func() {
					got, err := s.CaseByID(ctx, c.ID)
					if err == nil && got.StateSeq != seq {
						t.Errorf("after writing step %d a read saw step %d", seq, got.StateSeq)
					}
				})
			}
			wg.Wait()
			if t.Failed() {
				return
			}
		}
	})
}
