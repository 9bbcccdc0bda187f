package store

import (
	"context"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/homeward/homeward/contract"
	"github.com/homeward/homeward/money"
)

// The partners' fees as they were charged (issue 21, point 3; workflow version 7
// on): the case file keeps each one structured (service_fees, migration 00025),
// and the monthly reconciliation lists those that differ from the agreed rates.
// The statistics count them from their timeline lines (CountsFee), like every
// other figure.

// ServiceFee is one fee a partner charged a case (workflow version 7 on), as
// the case's state records it (contract.Fee), with the agreed rate.
type ServiceFee struct {
	FeeKey         string `gorm:"primaryKey"` // <case_id>/<the partner call's step>
	CaseID         string
	Partner        string
	Service        string
	Reference      string
	AmountCents    int64
	Currency       string
	AgreedCents    *int64
	AgreedCurrency string
	ChargedAt      time.Time
}

// recordFees writes a case's fees, each once (by its key): a write that records
// a fee line writes them.
func recordFees(tx *gorm.DB, caseID string, fees []contract.Fee) error {
	rows := make([]ServiceFee, 0, len(fees))
	for _, f := range fees {
		cents, err := f.Amount.Cents()
		if err != nil {
			continue // the workflow records only fees it could read
		}
		row := ServiceFee{FeeKey: caseID + "/" + f.Key, CaseID: caseID, Partner: f.Partner, Service: f.Service,
			Reference: f.Reference, AmountCents: int64(cents), Currency: f.Amount.Currency, ChargedAt: f.ChargedAt}
		if f.Agreed != nil {
			if a, err := f.Agreed.Cents(); err == nil {
				ac := int64(a)
				row.AgreedCents, row.AgreedCurrency = &ac, f.Agreed.Currency
			}
		}
		rows = append(rows, row)
	}
	if len(rows) == 0 {
		return nil
	}
	return tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&rows).Error
}

// Fees returns a case's fees, oldest first.
func (s *Store) Fees(ctx context.Context, caseID string) ([]ServiceFee, error) {
	var fs []ServiceFee
	err := s.db.WithContext(ctx).Where("case_id = ?", caseID).Order("charged_at, fee_key").Find(&fs).Error
	return fs, err
}

// FeeDifference is a fee charged otherwise than the programme's agreed rate.
type FeeDifference struct {
	CaseID    string `json:"case_id"`
	Reference string `json:"reference"`
	Programme string `json:"programme"`
	Partner   string `json:"partner"`
	Service   string `json:"service"`
	// PartnerReference is the booking, escort or assessment the fee was charged for.
	PartnerReference string      `json:"partner_reference"`
	ChargedAt        time.Time   `json:"charged_at"`
	Charged          money.Money `json:"charged"`
	Agreed           money.Money `json:"agreed"`
	// Difference is charged minus agreed (negative: charged less); absent when
	// the fee was charged in another currency than the agreed rate's.
	Difference *money.Money `json:"difference,omitempty"`
}

// FeeReconciliation lists the fees charged in [from, to) that differ from the
// agreed rate they were charged against (in amount or currency), oldest first.
// Fees without an agreed rate (a cancellation's) are not compared.
func (s *Store) FeeReconciliation(ctx context.Context, from, to time.Time) ([]FeeDifference, error) {
	var rows []struct {
		ServiceFee
		CaseReference string
		Programme     string
	}
	err := s.readDB(ctx).Raw(`SELECT f.*, c.reference AS case_reference, c.programme FROM service_fees f
		JOIN cases c ON c.id = f.case_id
		WHERE f.charged_at >= ? AND f.charged_at < ? AND f.agreed_currency <> ''
		  AND (f.amount_cents <> f.agreed_cents OR f.currency <> f.agreed_currency)
		ORDER BY f.charged_at, f.fee_key`, from, to).Scan(&rows).Error
	if err != nil {
		return nil, err
	}
	out := make([]FeeDifference, 0, len(rows))
	for _, r := range rows {
		d := FeeDifference{CaseID: r.CaseID, Reference: r.CaseReference, Programme: r.Programme, Partner: r.Partner,
			Service: r.Service, PartnerReference: r.Reference, ChargedAt: r.ChargedAt.UTC(),
			Charged: money.Of(money.Cents(r.AmountCents), r.Currency),
			Agreed:  money.Of(money.Cents(*r.AgreedCents), r.AgreedCurrency)}
		if r.Currency == r.AgreedCurrency {
			diff := money.Of(money.Cents(r.AmountCents-*r.AgreedCents), r.Currency)
			d.Difference = &diff
		}
		out = append(out, d)
	}
	return out, nil
}
