package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/homeward/homeward/contract"
	"github.com/homeward/homeward/money"
	"github.com/homeward/homeward/store"
)

// A case that records its fees as charged (workflow version 7): each fee is kept
// once, structured, with its agreed rate; the statistics count the fees in the
// month they were charged and not the programme's flat charge at departure; the
// month's reconciliation lists the fees that differ from the agreed rates.
func TestFeesAsChargedAreKeptCountedAndReconciled(t *testing.T) {
	eachDriver(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		c := newCase("GN")
		c.Sex, c.AgeBand, c.ServiceChargeCents = "male", store.AgeAdult, 15000
		require.NoError(t, s.CreateCase(ctx, c, nil, started))
		sys := contract.Actor{User: "homeward", Role: "system"}
		march := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)
		eur := func(a string) money.Money { return money.Money{Amount: a, Currency: "EUR"} }
		agreed := func(a string) *money.Money { m := eur(a); return &m }
		fees := []contract.Fee{
			{Key: "medical/1", Partner: "medical", Service: "assessment", Reference: "AS-1", Amount: eur("50.00"), Agreed: agreed("50.00"), ChargedAt: march},
			{Key: "travel/1/ticket", Partner: "travel", Service: "ticketing", Reference: "BK-1", Amount: eur("112.50"), Agreed: agreed("100.00"), ChargedAt: march.Add(time.Hour)},
			{Key: "travel/1/escort", Partner: "escort", Service: "escort", Reference: "ES-1", Amount: money.Money{Amount: "75.00", Currency: "USD"}, Agreed: agreed("75.00"), ChargedAt: march.Add(time.Hour)},
			{Key: "travel/1/refund", Partner: "travel", Service: "cancellation", Reference: "BK-1", Amount: eur("40.00"), ChargedAt: march.AddDate(0, 1, 0)},
		}
		st := contract.CaseState{Stage: contract.StageTravel, Status: contract.StatusActive, FeesAsCharged: true}
		seq := int64(0)
		write := func(n int, at time.Time, types ...string) {
			st.Fees = fees[:n]
			var evs []contract.Event
			k := n - countFee(types) // the write's fee lines are the state's last fees
			for _, typ := range types {
				seq++
				e := contract.Event{Key: c.ID + "/" + time.Duration(seq).String(), Type: typ, Actor: sys, Summary: typ, At: at}
				if typ == "fee" {
					a := fees[k].Amount
					e.Amount, k = &a, k+1
				}
				evs = append(evs, e)
			}
			st.Seq = seq
			ch := contract.Changes{CaseID: c.ID, WrittenIn: seq, State: st, Events: evs}
			require.NoError(t, s.RecordChanges(ctx, ch))
			require.NoError(t, s.RecordChanges(ctx, ch), "a retried write adds nothing")
		}
		write(1, march, "fee", "medical", "stage")
		write(3, march.Add(time.Hour), "booking_held", "ticketed", "fee", "fee")
		write(3, march.Add(2*time.Hour), "departed")
		write(4, march.AddDate(0, 1, 0), "ticket_refunded", "fee")

		got, err := s.Fees(ctx, c.ID)
		require.NoError(t, err)
		require.Len(t, got, 4)
		require.Equal(t, c.ID+"/travel/1/ticket", got[2].FeeKey, "by time charged, then key")
		require.Equal(t, int64(11250), got[2].AmountCents)
		require.Nil(t, got[3].AgreedCents, "a cancellation fee has no agreed rate")

		stats := func(month time.Time) store.Statistics {
			from := time.Date(month.Year(), month.Month(), 1, 0, 0, 0, 0, time.UTC)
			st, err := s.Statistics(ctx, from, from.AddDate(0, 1, 0))
			require.NoError(t, err)
			return st
		}
		m := stats(march)
		require.Equal(t, int64(1), m.Activity[0].Departed)
		require.Contains(t, m.Money, store.MoneyRow{By: "total", Key: "all", Currency: "EUR", Committed: "0.00", Paid: "0.00",
			ServiceFees: "162.50"}, "the fees charged, not the flat 150.00 at departure")
		require.Contains(t, m.Money, store.MoneyRow{By: "sex", Key: "male", Currency: "USD", Committed: "0.00", Paid: "0.00",
			ServiceFees: "75.00"})
		require.Contains(t, stats(march.AddDate(0, 1, 0)).Money, store.MoneyRow{By: "total", Key: "all", Currency: "EUR",
			Committed: "0.00", Paid: "0.00", ServiceFees: "40.00"}, "the fee kept counts in the month it was kept")
		require.Len(t, stats(march.AddDate(0, 1, 0)).Activity, 1, "a fee line counts no activity")

		from := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
		diffs, err := s.FeeReconciliation(ctx, from, from.AddDate(0, 1, 0))
		require.NoError(t, err)
		require.Len(t, diffs, 2)
		d := diffs[1] // by time charged, then key: the escort's first
		require.Equal(t, c.Reference, d.Reference)
		require.Equal(t, "REAG-GARP", d.Programme)
		require.Equal(t, [3]string{"travel", "ticketing", "BK-1"}, [3]string{d.Partner, d.Service, d.PartnerReference})
		require.Equal(t, [3]money.Money{eur("112.50"), eur("100.00"), eur("12.50")}, [3]money.Money{d.Charged, d.Agreed, *d.Difference})
		require.Equal(t, "USD", diffs[0].Charged.Currency)
		require.Nil(t, diffs[0].Difference, "another currency: no difference to compute")
		none, err := s.FeeReconciliation(ctx, from.AddDate(0, 1, 0), from.AddDate(0, 2, 0))
		require.NoError(t, err)
		require.Empty(t, none, "a fee without an agreed rate is not compared")
	})
}

func countFee(types []string) int {
	n := 0
	for _, t := range types {
		if t == "fee" {
			n++
		}
	}
	return n
}
