package store

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/homeward/homeward/contract"
)

// BenchmarkSQLiteStatements: a case-file write (RecordCase) and a case read
// (CaseByID), one at a time, with statements kept prepared and without.
//
//	go test -run '^$' -bench SQLiteStatements ./store/
func BenchmarkSQLiteStatements(b *testing.B) {
	for _, size := range []int{512, 0} {
		name := "prepared"
		if size == 0 {
			name = "unprepared"
		}
		b.Run(name, func(b *testing.B) {
			defer func(n int) { stmtCacheSize = n }(stmtCacheSize)
			stmtCacheSize = size
			s, err := Open("sqlite", filepath.Join(b.TempDir(), "b.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer func() { _ = s.Close() }()
			ctx := context.Background()
			if _, err := s.Migrate(ctx); err != nil {
				b.Fatal(err)
			}
			id := uuid.NewString()
			now := time.Now().UTC()
			c := &Case{ID: id, Status: "active", Stage: "Intake", StageEnteredAt: now, HostCountry: "DE",
				CountryOfReturn: "GN", SendingOffice: "DE-BER", ReceivingOffice: "GN-CKY", Programme: "REAG-GARP",
				Beneficiary: "{}", Household: "[]", Vulnerabilities: "[]", Consent: "{}", State: "{}", Currency: "EUR",
				CreatedBy: "x", WorkflowID: contract.WorkflowID(id), CreatedAt: now, UpdatedAt: now}
			if err := s.CreateCase(ctx, c, nil, func(context.Context, *Case) (string, error) { return "r", nil }); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := range b.N {
				seq := int64(i + 1)
				if err := s.RecordCase(ctx, contract.Record{CaseID: id, EventKey: fmt.Sprintf("e-%d", seq), Type: "stage", Summary: "s",
					At: time.Now().UTC(), WrittenIn: seq, State: contract.CaseState{Seq: seq, Stage: contract.StageCounselling,
						Status: contract.StatusActive}}); err != nil {
					b.Fatal(err)
				}
				if _, err := s.CaseByID(ctx, id); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
