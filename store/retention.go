package store

import (
	"context"
	"encoding/json"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/homeward/homeward/contract"
)

// anonymised replaces the personal parts of a case file: who the person is, their
// household and vulnerabilities, their consent, where they returned to (the area;
// the country stays, the statistics count it), a partner's message about them, and
// the client's registration key (a client's text).
//
// The case's coarse profile for the statistics (sex, age band) goes too: the
// timeline lines and payments that count keep their own copy, as they were
// written, so the statistics add up as before (store/statistics.go).
var anonymised = map[string]any{"beneficiary": `{"anonymised":true}`, "household": "[]", "vulnerabilities": "[]",
	"consent": `{"anonymised":true}`, "area_region": "", "area_district": "", "blocked": "", "beneficiary_key": "",
	"idempotency_key": nil, "sex": "", "age_band": "", "vulnerable": false}

// AnonymisedSummary replaces every timeline summary of an anonymised case: they
// said the medical result, the risk, the flight, the handover certificate, a
// supplier's name, free text. The event's type, actor and time stay.
const AnonymisedSummary = "(anonymised)"

// anonymisedState is what the case keeps of the workflow's state: where the
// process ended and why, and the programme's limits; not the counselling,
// screening, medical result, travel, arrival, plan, procurement or monitoring
// (health data, free text, flights, certificates). What the statistics count
// moves to anonymous_counts (cutFacts).
func anonymisedState(st contract.CaseState) contract.CaseState {
	return contract.CaseState{Seq: st.Seq, Stage: st.Stage, Status: st.Status, ClosureReason: st.ClosureReason,
		WaitingOn: st.WaitingOn, StageEnteredAt: st.StageEnteredAt, StageDueAt: st.StageDueAt, Overdue: st.Overdue,
		PlanLimits: st.PlanLimits}
}

// AnonymiseClosedBefore removes the personal data of up to limit cases closed
// before cutoff (or closed after their consent was withdrawn) and not yet anonymised, and records each in the audit trail (who:
// the retention schedule; no personal data). What the statistics count stays:
// country, offices, programme, stage, dates, amounts. It returns how many it did.
func (s *Store) AnonymiseClosedBefore(ctx context.Context, cutoff time.Time, limit int, by AuditEntry) (int, error) {
	ids, err := s.DueForAnonymisation(ctx, cutoff, limit)
	if err != nil || len(ids) == 0 {
		return 0, err
	}
	return s.Anonymise(ctx, ids, by)
}

// DueForAnonymisation lists up to limit cases closed before cutoff and not yet
// anonymised, the longest closed first.
func (s *Store) DueForAnonymisation(ctx context.Context, cutoff time.Time, limit int) ([]string, error) {
	var ids []string
	// A case whose person withdrew their consent is not kept for the retention
	// period: it is anonymised as soon as it is closed. A case whose last changes
	// the registry has not had yet waits for them (the relay): sent after the
	// registry's erasure, they would make its record again.
	err := s.db.WithContext(ctx).Model(&Case{}).
		Where("status = 'closed' AND anonymised_at IS NULL AND (closed_at < ? OR consent_withdrawn_at IS NOT NULL)", cutoff).
		Where("NOT EXISTS (SELECT 1 FROM registry_outbox o WHERE o.case_id = cases.id AND o.sent_at IS NULL)").
		Order("closed_at").Limit(limit).Pluck("id", &ids).Error
	return ids, err
}

// AnonymousCount is what the statistics count of the anonymised cases in one
// UTC month and group: nothing of any one case (migration 00032).
type AnonymousCount struct {
	Month           time.Time `gorm:"primaryKey"` // the first instant of the month, UTC
	Fact            string    `gorm:"primaryKey"` // a counted line's counts_as, or FactPaid
	CountryOfReturn string    `gorm:"primaryKey"`
	Programme       string    `gorm:"primaryKey"`
	Sex             string    `gorm:"primaryKey"`
	AgeBand         string    `gorm:"primaryKey"`
	Vulnerable      bool      `gorm:"primaryKey"`
	Currency        string    `gorm:"primaryKey"`
	Reason          string    `gorm:"primaryKey"`
	N               int64
	Cents           int64
}

// TableName keeps GORM on the migrated table.
func (AnonymousCount) TableName() string { return "anonymous_counts" }

// countedFact is a counted timeline line or a payment, as cutFacts reads it.
type countedFact struct {
	At time.Time
	Counted
}

// cutFacts adds what the statistics count of a case (its counted lines and
// payments) to anonymous_counts, by month, and takes it from the case: the lines
// stay on the timeline without their profile, the payments go.
func cutFacts(tx *gorm.DB, caseID string) error {
	var lines, paid []countedFact
	if err := tx.Raw(`SELECT at, counts_as, country_of_return, programme, sex, age_band, vulnerable, currency, reason,
		amount_cents FROM timeline_events WHERE case_id = ? AND counts_as <> ''`, caseID).Scan(&lines).Error; err != nil {
		return err
	}
	if err := tx.Raw(`SELECT paid_at AS at, country_of_return, programme, sex, age_band, vulnerable, currency,
		amount_cents FROM payments WHERE case_id = ?`, caseID).Scan(&paid).Error; err != nil {
		return err
	}
	for i := range paid {
		paid[i].CountsAs = FactPaid
	}
	add := clause.OnConflict{
		Columns: []clause.Column{{Name: "month"}, {Name: "fact"}, {Name: "country_of_return"}, {Name: "programme"},
			{Name: "sex"}, {Name: "age_band"}, {Name: "vulnerable"}, {Name: "currency"}, {Name: "reason"}},
		DoUpdates: clause.Set{{Column: clause.Column{Name: "n"}, Value: gorm.Expr("anonymous_counts.n + excluded.n")},
			{Column: clause.Column{Name: "cents"}, Value: gorm.Expr("anonymous_counts.cents + excluded.cents")}},
	}
	for _, f := range append(lines, paid...) {
		at := f.At.UTC()
		c := AnonymousCount{Month: time.Date(at.Year(), at.Month(), 1, 0, 0, 0, 0, time.UTC), Fact: f.CountsAs,
			CountryOfReturn: f.CountryOfReturn, Programme: f.Programme, Sex: f.Sex, AgeBand: f.AgeBand,
			Vulnerable: f.Vulnerable, Currency: f.Currency, Reason: f.Reason, N: 1, Cents: f.AmountCents}
		if err := tx.Clauses(add).Create(&c).Error; err != nil {
			return err
		}
	}
	if err := tx.Exec(`UPDATE timeline_events SET counts_as = '', country_of_return = '', programme = '', sex = '', age_band = '',
		vulnerable = false, currency = '', reason = '', amount_cents = 0 WHERE case_id = ? AND counts_as <> ''`, caseID).Error; err != nil {
		return err
	}
	return tx.Where("case_id = ?", caseID).Delete(&Payment{}).Error
}

// CutAnonymisedFacts cuts from the cases anonymised before migration 00032 what
// the statistics count (cutFacts), and returns how many cases it did: the API
// runs it at start; several processes may at once (each case in a transaction
// that first claims its row).
func (s *Store) CutAnonymisedFacts(ctx context.Context) (int, error) {
	var ids []string
	err := s.db.WithContext(ctx).Model(&Case{}).Where("anonymised_at IS NOT NULL AND ("+
		"EXISTS (SELECT 1 FROM timeline_events e WHERE e.case_id = cases.id AND e.counts_as <> '') OR "+
		"EXISTS (SELECT 1 FROM payments p WHERE p.case_id = cases.id))").Pluck("id", &ids).Error
	if err != nil {
		return 0, err
	}
	for _, id := range ids {
		err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			// The row's update orders this against another process doing the same.
			if err := tx.Model(&Case{}).Where("id = ?", id).Update("vulnerable", false).Error; err != nil {
				return err
			}
			return cutFacts(tx, id)
		})
		if err != nil {
			return 0, err
		}
	}
	return len(ids), nil
}

// RetentionActor is who the audit trail says anonymised a case at the end of its
// retention period: the retention schedule's workflow.
const RetentionActor = "homeward-retention"

// AnonymiseForRetention is Anonymise by the retention schedule, whose workflow
// run (workflowID) is the audit trail's request.
func (s *Store) AnonymiseForRetention(ctx context.Context, ids []string, workflowID string) (int, error) {
	return s.Anonymise(ctx, ids, AuditEntry{ActorUser: RetentionActor, ActorRole: "system", RequestID: workflowID})
}

// Anonymise removes the personal data of the cases ids (see AnonymiseClosedBefore;
// the caller has checked they are due) and returns how many it did.
func (s *Store) Anonymise(ctx context.Context, ids []string, by AuditEntry) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	now := time.Now().UTC()
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		for _, id := range ids {
			var c Case
			if err := tx.Where("id = ?", id).Take(&c).Error; err != nil {
				return err
			}
			if err := s.open(&c); err != nil {
				return err
			}
			st, err := c.LiveState()
			if err != nil {
				return err
			}
			stateJSON, err := json.Marshal(anonymisedState(st))
			if err != nil {
				return err
			}
			sealedState, err := s.sealer.Seal("state", string(stateJSON))
			if err != nil {
				return err
			}
			update := map[string]any{"state": sealedState, "anonymised_at": now}
			for k, v := range anonymised {
				update[k] = v
			}
			if err := tx.Model(&Case{}).Where("id = ?", id).Updates(update).Error; err != nil {
				return err
			}
			if err := eraseCaseFile(tx, id); err != nil {
				return err
			}
			if err := cutFacts(tx, id); err != nil {
				return err
			}
			if err := tx.Model(&TimelineEvent{}).Where("case_id = ?", id).Update("summary", AnonymisedSummary).Error; err != nil {
				return err
			}
			entry := by
			entry.CaseID, entry.At, entry.Part, entry.Action = id, now, "personal_data", "anonymise"
			if err := tx.Create(&entry).Error; err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return len(ids), nil
}
