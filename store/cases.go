package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/homeward/homeward/contract"
)

// Case is a row of the case file: the registration as the API received it, and a
// projection of the workflow's state that activities keep up to date.
type Case struct {
	ID              string `gorm:"primaryKey"`
	Seq             int64
	Reference       string
	IdempotencyKey  *string
	Status          string
	Stage           string
	WaitingOn       string
	StageEnteredAt  time.Time
	StageDueAt      *time.Time
	WaitingFrom     *time.Time // when the wait opens (contract.CaseState.WaitingFrom); the inbox leaves the case out until then
	WaitingOffice   string     // the one office the wait is for (contract.CaseState.WaitingOffice); "": either
	Overdue         bool
	ClosureReason   string
	Blocked         string
	HostCountry     string
	CountryOfReturn string
	AreaRegion      string
	AreaDistrict    string
	SendingOffice   string
	ReceivingOffice string
	Programme       string
	Vulnerable      bool
	// Sex and AgeBand are the beneficiary's coarse profile for the statistics,
	// in clear beside the sealed beneficiary (see AgeBandAt); cleared by anonymisation.
	Sex             string
	AgeBand         string
	Beneficiary     string // JSON
	Household       string // JSON
	Vulnerabilities string // JSON
	Consent         string // JSON
	State           string // JSON of contract.CaseState
	// BeneficiaryKey is a keyed hash of the beneficiary's identity, for finding a
	// second active case of the same person.
	BeneficiaryKey string
	StateSeq       int64
	WrittenIn      int64 // see Record.WrittenIn
	CommittedCents int64
	// ServiceChargeCents is the programme's charge per departed case, as the case's rules had it.
	ServiceChargeCents int64
	Currency           string
	// StartRules is the rule set the case was registered under (contract.Rules as
	// JSON): its workflow starts with them whenever it starts (api.startInput).
	StartRules     string
	CreatedBy      string
	WorkflowID     string
	RunID          string
	CreatedAt      time.Time
	UpdatedAt      time.Time
	PlanApprovedAt *time.Time
	DepartedAt     *time.Time
	ClosedAt       *time.Time
	AnonymisedAt   *time.Time
	// ConsentWithdrawnAt: the person withdrew their consent to data processing.
	ConsentWithdrawnAt *time.Time
}

// TimelineEvent is one line of a case's timeline: what happened, who did it, when.
type TimelineEvent struct {
	ID        int64 `gorm:"primaryKey"`
	CaseID    string
	EventKey  string
	Type      string
	ActorUser string
	ActorRole string
	Summary   string
	At        time.Time
	// Text is what a person wrote with the action (a note, a comment, a reason):
	// sealed at rest (timelineTextColumn), opened by Timeline; empty for most lines.
	Text string
	// What the line counts as in the statistics, with the case's profile and
	// figures when it was written (countedEvents); empty for lines that count nothing.
	Counted
	// RequestKey is the API's request whose action the line is the first of
	// (contract.Event.RequestID): AppliedRequest finds it.
	RequestKey string
}

// Counted is what a timeline line or a payment counts for in the statistics: a
// fact of its period, with the case's coarse profile as it was then, so that a
// later change of the case (a correction, a transfer, the anonymisation) moves
// no past period. Nothing in it is personal on its own: a country, a programme,
// a sex, an age band, whether the case is vulnerable, an amount.
type Counted struct {
	CountsAs        string
	CountryOfReturn string
	Programme       string
	Sex             string
	AgeBand         string
	Vulnerable      bool
	AmountCents     int64
	Currency        string
	Reason          string
}

// timelineTextColumn is the name a timeline line's text is sealed under.
const timelineTextColumn = "timeline_events.text"

// Payment is the one payment of a plan item.
type Payment struct {
	PaymentID   string `gorm:"primaryKey"`
	CaseID      string
	ItemID      string
	AmountCents int64
	Currency    string
	Payee       string
	PaidAt      time.Time
	// CountryOfReturn is the case's, for the monthly report; with the rest of
	// the case's profile when it was paid, for the statistics.
	CountryOfReturn string
	Programme       string
	Sex             string
	AgeBand         string
	Vulnerable      bool
}

// LiveState decodes the projected workflow state.
func (c *Case) LiveState() (contract.CaseState, error) {
	var s contract.CaseState
	if c.State == "" {
		return s, nil
	}
	err := json.Unmarshal([]byte(c.State), &s)
	return s, err
}

// CreateCase registers a case in one transaction: the numbered row, with an empty
// run_id (the mark of a workflow still to start), its audit entries and its
// search terms. Its unique keys claim the case: the Idempotency-Key (a retry
// finds this row) and the person (one active case per beneficiary_key: the
// unique index cases_beneficiary_key). Nothing is ever taken back: the case is
// registered from the commit on.
//
// Then start runs (detached from the caller's cancellation, within StartTimeout)
// and its run ID is recorded. start must be safe to repeat: the workflow ID
// derives from the case ID and a start finds a workflow already there
// (conflict policy USE_EXISTING), so a start that failed, or whose answer was
// lost, is simply made again: by the API when it next acts on the case, and by
// its sweeper (CasesToStart), whichever comes first. The workflow's first
// case-file write records the run ID too. If start fails, CreateCase returns an
// error that is ErrStartPending: the case stands and its start is pending.
func (s *Store) CreateCase(ctx context.Context, c *Case, audit []AuditEntry, start func(context.Context, *Case) (string, error)) error {
	seq, err := s.next(ctx, "case")
	if err != nil {
		return err
	}
	c.Seq = seq
	c.Reference = fmt.Sprintf("HW-%d-%06d", c.CreatedAt.Year(), seq)
	c.RunID = ""
	terms := s.searchTerms(c.ID, seq, c.Beneficiary, c.Household)
	row := *c
	if err := s.seal(&row); err != nil {
		return err
	}
	for i := range audit {
		audit[i].CaseID = c.ID
	}
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(&row).Error; err != nil {
			return err
		}
		if err := replaceSearchTerms(tx, c.ID, terms); err != nil {
			return err
		}
		if len(audit) == 0 {
			return nil
		}
		return tx.Create(&audit).Error
	})
	if err != nil {
		if !duplicate(err) {
			return err
		}
		// The unique indexes are the checks; only a refused row costs a second look, to say why.
		if c.BeneficiaryKey != "" {
			var n int64
			if err := s.db.WithContext(ctx).Model(&Case{}).Where("beneficiary_key = ? AND status = 'active'", c.BeneficiaryKey).
				Count(&n).Error; err != nil {
				return err
			}
			if n > 0 {
				return ErrActiveCaseExists
			}
		}
		return ErrConflict
	}
	return s.StartCase(ctx, c, start)
}

// ErrStartPending says a case is registered but its workflow is not known to have
// started: the start is made again later (see CreateCase).
var ErrStartPending = errors.New("the case is registered; its workflow starts as soon as Temporal answers")

// StartCase runs start for a registered case whose run ID is not recorded, and
// records it (c.RunID too). It runs detached from the caller's cancellation,
// within StartTimeout, so a client that hangs up does not cut it short.
func (s *Store) StartCase(ctx context.Context, c *Case, start func(context.Context, *Case) (string, error)) error {
	detached := context.WithoutCancel(ctx)
	startCtx, cancel := context.WithTimeout(detached, StartTimeout)
	runID, err := start(startCtx, c)
	cancel()
	if err != nil {
		return errors.Join(ErrStartPending, err)
	}
	after, cancel := context.WithTimeout(detached, 10*time.Second)
	defer cancel()
	if err := s.RecordStart(after, c.ID, runID); err != nil {
		// The workflow runs; its first case-file write records the run ID.
		return errors.Join(ErrStartPending, err)
	}
	c.RunID = runID
	return nil
}

// next returns the next value of a named counter. Numbers are never reused; a
// registration that fails leaves a gap, as paper registers do.
func (s *Store) next(ctx context.Context, name string) (int64, error) {
	var v int64
	err := s.db.WithContext(ctx).Raw(
		`INSERT INTO counters (name, value) VALUES (?, 1)
		 ON CONFLICT (name) DO UPDATE SET value = counters.value + 1 RETURNING value`, name).Scan(&v).Error
	return v, err
}

// CaseByID returns a case, or ErrNotFound.
func (s *Store) CaseByID(ctx context.Context, id string) (*Case, error) {
	return s.caseWhere(ctx, "id = ?", id)
}

// CaseByIdempotencyKey finds the case a retried registration already created.
func (s *Store) CaseByIdempotencyKey(ctx context.Context, key string) (*Case, error) {
	return s.caseWhere(ctx, "idempotency_key = ?", key)
}

func (s *Store) caseWhere(ctx context.Context, where string, arg any) (*Case, error) {
	var c Case
	if err := s.db.WithContext(ctx).Where(where, arg).Take(&c).Error; err != nil {
		return nil, notFound(err)
	}
	if err := s.open(&c); err != nil {
		return nil, err
	}
	return &c, nil
}

// ErrActiveCaseExists says the beneficiary already has an active case.
var ErrActiveCaseExists = errors.New("the beneficiary already has an active case")

// sealed are the columns sealed at rest.
func sealed(c *Case) map[string]*string {
	return map[string]*string{"beneficiary": &c.Beneficiary, "household": &c.Household,
		"vulnerabilities": &c.Vulnerabilities, "state": &c.State}
}

func (s *Store) seal(c *Case) error {
	for col, v := range sealed(c) {
		out, err := s.sealer.Seal(col, *v)
		if err != nil {
			return err
		}
		*v = out
	}
	return nil
}

func (s *Store) open(c *Case) error {
	for col, v := range sealed(c) {
		out, err := s.sealer.Open(col, *v)
		if err != nil {
			return err
		}
		*v = out
	}
	return nil
}

// RecordCase writes one contract.Record: Changes with one event.
func (s *Store) RecordCase(ctx context.Context, r contract.Record) error {
	return s.RecordChanges(ctx, contract.Changes{CaseID: r.CaseID, State: r.State, RunID: r.RunID, WrittenIn: r.WrittenIn,
		Events: []contract.Event{{Key: r.EventKey, Type: r.Type, Actor: r.Actor, Summary: r.Summary, At: r.At, Text: r.Text}}})
}

// RecordChanges writes the Changes idempotently, in one transaction: each event
// at most once (by its key), the projection only if it is newer than the one
// stored, each payment once, each change for the registry once.
func (s *Store) RecordChanges(ctx context.Context, ch contract.Changes) error {
	st := ch.State
	stateJSON, err := json.Marshal(st)
	if err != nil {
		return err
	}
	sealedState, err := s.sealer.Seal("state", string(stateJSON))
	if err != nil {
		return err
	}
	at := st.StageEnteredAt
	if n := len(ch.Events); n > 0 {
		at = ch.Events[n-1].At
	}
	projection := map[string]any{
		"status": string(st.Status), "stage": string(st.Stage), "waiting_on": string(st.WaitingOn),
		"stage_entered_at": st.StageEnteredAt, "stage_due_at": st.StageDueAt, "waiting_from": st.WaitingFrom, "overdue": st.Overdue,
		"waiting_office": st.WaitingOffice(),
		"closure_reason": string(st.ClosureReason), "blocked": st.Blocked,
		"state": sealedState, "state_seq": st.Seq, "written_in": ch.WrittenIn, "updated_at": at,
		"committed_cents": committed(st), "plan_approved_at": planApprovedAt(st),
		"departed_at": departedAt(st), "closed_at": closedAt(st, at),
	}
	if ch.RunID != "" {
		projection["run_id"] = ch.RunID
	}
	events := make([]TimelineEvent, len(ch.Events))
	for i, e := range ch.Events {
		text, err := s.sealText(e.Text)
		if err != nil {
			return err
		}
		events[i] = TimelineEvent{CaseID: ch.CaseID, EventKey: e.Key, Type: e.Type, ActorUser: e.Actor.User,
			ActorRole: string(e.Actor.Role), Summary: e.Summary, At: e.At, Text: text, RequestKey: e.RequestID}
	}
	counts := countedEvents(ch.Events, st)
	var payments []Payment
	for _, p := range st.Procurement {
		if p.Payment == nil {
			continue
		}
		cents, err := p.Payment.Amount.Cents()
		if err != nil {
			return err
		}
		payments = append(payments, Payment{PaymentID: p.Payment.PaymentID, CaseID: ch.CaseID, ItemID: p.ItemID,
			AmountCents: int64(cents), Currency: p.Payment.Amount.Currency, Payee: p.Payment.Payee, PaidAt: p.Payment.PaidAt})
	}
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		// A later workflow task's write wins, and within a task the later step. A task
		// that failed after its local activity wrote is run again (with a longer
		// history): it may record a step differently, or not reach it at all.
		// A run of the same generation with another run ID is a reset of the workflow:
		// its history starts shorter again, and it is the case from now on.
		// An anonymised case takes nothing more (a retried or reset run's late write
		// would bring back what anonymisation removed, and count twice).
		res := tx.Model(&Case{}).Where("id = ? AND anonymised_at IS NULL AND (written_in < ? OR (written_in = ? AND state_seq <= ?)"+
			" OR (? <> '' AND run_id <> ? AND written_in / 4294967296 <= ?))",
			ch.CaseID, ch.WrittenIn, ch.WrittenIn, st.Seq, ch.RunID, ch.RunID, ch.WrittenIn>>32).Updates(projection)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			var rows []struct{ Anonymised bool }
			if err := tx.Model(&Case{}).Select("anonymised_at IS NOT NULL AS anonymised").Where("id = ?", ch.CaseID).
				Scan(&rows).Error; err != nil {
				return err
			}
			if len(rows) == 0 {
				// The registration may not have committed yet: the activity retries.
				return fmt.Errorf("case %s: %w", ch.CaseID, ErrNotFound)
			}
			if rows[0].Anonymised {
				return nil
			}
		}
		if err := queueRegistry(tx, ch.CaseID, ch.Registry, time.Now().UTC()); err != nil {
			return err
		}
		var prof profile
		if len(payments) > 0 || slices.ContainsFunc(counts, func(c string) bool { return c != "" }) {
			if err := tx.Model(&Case{}).Select(profileColumns).Where("id = ?", ch.CaseID).Take(&prof).Error; err != nil {
				return err
			}
		}
		for i := range events {
			events[i].Counted = prof.counted(counts[i], ch.Events[i], st)
		}
		if slices.Contains(counts, CountsFee) {
			if err := recordFees(tx, ch.CaseID, st.Fees); err != nil {
				return err
			}
		}
		if len(events) > 0 {
			if err := tx.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "event_key"}},
				DoUpdates: clause.AssignmentColumns(append([]string{"type", "actor_user", "actor_role", "summary", "at", "text", "request_key"},
					countedColumns...))}).
				Create(&events).Error; err != nil {
				return err
			}
		}
		if len(payments) == 0 {
			return nil
		}
		for i := range payments {
			p := &payments[i]
			p.CountryOfReturn, p.Programme, p.Sex, p.AgeBand, p.Vulnerable = prof.CountryOfReturn, prof.Programme,
				prof.Sex, prof.AgeBand, prof.Vulnerable
		}
		return tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&payments).Error
	})
	if f := s.written.Load(); err == nil && f != nil {
		(*f)(ch.CaseID)
	}
	if f := s.queued.Load(); err == nil && f != nil && len(ch.Registry) > 0 {
		(*f)()
	}
	return err
}

func committed(st contract.CaseState) int64 {
	if st.Plan == nil || st.Plan.Status != contract.PlanApproved {
		return 0
	}
	c, err := st.Plan.Total.Cents()
	if err != nil {
		return 0
	}
	return int64(c)
}

func planApprovedAt(st contract.CaseState) *time.Time {
	if st.Plan == nil || st.Plan.Status != contract.PlanApproved || len(st.Plan.Decisions) == 0 {
		return nil
	}
	if d := st.Plan.DonorDecision; d != nil { // the donor approved it last
		t := d.At
		return &t
	}
	t := st.Plan.Decisions[len(st.Plan.Decisions)-1].At
	return &t
}

func departedAt(st contract.CaseState) *time.Time {
	if st.Travel == nil {
		return nil
	}
	return st.Travel.DepartedAt
}

func closedAt(st contract.CaseState, at time.Time) *time.Time {
	if st.Status != contract.StatusClosed {
		return nil
	}
	return &at
}

// Timeline returns a case's events, oldest first, their text opened.
func (s *Store) Timeline(ctx context.Context, caseID string) ([]TimelineEvent, error) {
	var evs []TimelineEvent
	if err := s.db.WithContext(ctx).Where("case_id = ?", caseID).Order("at, id").Find(&evs).Error; err != nil {
		return nil, err
	}
	for i := range evs {
		if evs[i].Text == "" {
			continue
		}
		text, err := s.sealer.Open(timelineTextColumn, evs[i].Text)
		if err != nil {
			return nil, err
		}
		evs[i].Text = text
	}
	return evs, nil
}

// sealText seals a timeline line's text; no text stays empty (most lines have none).
func (s *Store) sealText(text string) (string, error) {
	if text == "" {
		return "", nil
	}
	return s.sealer.Seal(timelineTextColumn, text)
}

// Payments returns a case's payments.
func (s *Store) Payments(ctx context.Context, caseID string) ([]Payment, error) {
	var ps []Payment
	err := s.db.WithContext(ctx).Where("case_id = ?", caseID).Order("paid_at, payment_id").Find(&ps).Error
	return ps, err
}
