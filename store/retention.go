package store

import (
	"context"
	"encoding/json"
	"time"

	"gorm.io/gorm"

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
// moves to anonymous_facts (cutFacts).
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

// cutFacts moves what the statistics count of a case (its counted lines and
// payments) to anonymous_facts, without the case's ID (migration 00032): the
// lines stay on the timeline without their profile, the payments go.
func cutFacts(tx *gorm.DB, caseID string) error {
	for _, q := range []string{
		`INSERT INTO anonymous_facts (fact, at, country_of_return, programme, sex, age_band, vulnerable, currency, reason, amount_cents)
		SELECT counts_as, at, country_of_return, programme, sex, age_band, vulnerable, currency, reason, amount_cents
		FROM timeline_events WHERE case_id = ? AND counts_as <> ''`,
		`UPDATE timeline_events SET counts_as = '', country_of_return = '', programme = '', sex = '', age_band = '',
		vulnerable = false, currency = '', reason = '', amount_cents = 0 WHERE case_id = ? AND counts_as <> ''`,
		`INSERT INTO anonymous_facts (fact, at, country_of_return, programme, sex, age_band, vulnerable, currency, reason, amount_cents)
		SELECT '` + FactPaid + `', paid_at, country_of_return, programme, sex, age_band, vulnerable, currency, '', amount_cents
		FROM payments WHERE case_id = ?`,
		`DELETE FROM payments WHERE case_id = ?`,
	} {
		if err := tx.Exec(q, caseID).Error; err != nil {
			return err
		}
	}
	return nil
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
