package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/homeward/homeward/contract"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
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
	CreatedBy          string
	WorkflowID         string
	RunID              string
	CreatedAt          time.Time
	UpdatedAt          time.Time
	PlanApprovedAt     *time.Time
	DepartedAt         *time.Time
	ClosedAt           *time.Time
	AnonymisedAt       *time.Time
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
}

// Payment is the one payment of a plan item.
type Payment struct {
	PaymentID   string `gorm:"primaryKey"`
	CaseID      string
	ItemID      string
	AmountCents int64
	Currency    string
	Payee       string
	PaidAt      time.Time
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

// CreateCase numbers and inserts a new case and its audit entries, then calls
// start (which starts its workflow) inside the same transaction: if start fails,
// no row remains, so a case is never half-created. start returns the run ID.
func (s *Store) CreateCase(ctx context.Context, c *Case, audit []AuditEntry, start func(context.Context, *Case) (string, error)) error {
	seq, err := s.next(ctx, "case")
	if err != nil {
		return err
	}
	c.Seq = seq
	c.Reference = fmt.Sprintf("HW-%d-%06d", c.CreatedAt.Year(), seq)
	row := *c
	if err := s.seal(&row); err != nil {
		return err
	}
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if c.BeneficiaryKey != "" {
			var n int64
			if err := tx.Model(&Case{}).Where("beneficiary_key = ? AND status = 'active'", c.BeneficiaryKey).Count(&n).Error; err != nil {
				return err
			}
			if n > 0 {
				return ErrActiveCaseExists
			}
		}
		if err := tx.Create(&row).Error; err != nil {
			if errors.Is(err, gorm.ErrDuplicatedKey) {
				return ErrConflict
			}
			return err
		}
		for i := range audit {
			audit[i].CaseID = c.ID
		}
		if len(audit) > 0 {
			if err := tx.Create(&audit).Error; err != nil {
				return err
			}
		}
		runID, err := start(ctx, c)
		if err != nil {
			return err
		}
		c.RunID = runID
		return tx.Model(&row).Update("run_id", runID).Error
	})
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

// Record is what the workflow writes to the case file after each change: a
// timeline event with a key unique to that change, and the state after it.
type Record struct {
	CaseID   string             `json:"case_id"`
	EventKey string             `json:"event_key"`
	Type     string             `json:"type"`
	Actor    contract.Actor     `json:"actor"`
	Summary  string             `json:"summary"`
	At       time.Time          `json:"at"`
	State    contract.CaseState `json:"state"`
	// RunID is the workflow run that wrote it (a case has a second run for monitoring).
	RunID string `json:"run_id,omitempty"`
	// WrittenIn orders the workflow tasks that write: the run's generation (how many
	// continue-as-new before it) in the high 32 bits, the history length when the
	// task started in the low ones.
	WrittenIn int64 `json:"written_in,omitempty"`
}

// RecordCase writes a Record idempotently: the event at most once (by its key),
// the projection only if it is newer than the one stored, each payment once.
func (s *Store) RecordCase(ctx context.Context, r Record) error {
	st := r.State
	stateJSON, err := json.Marshal(st)
	if err != nil {
		return err
	}
	sealedState, err := s.sealer.Seal("state", string(stateJSON))
	if err != nil {
		return err
	}
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		// A later workflow task's write wins, and within a task the later step. A task
		// that failed after its local activity wrote is run again (with a longer
		// history): it may record a step differently, or not reach it at all.
		res := tx.Model(&Case{}).Where("id = ? AND (written_in < ? OR (written_in = ? AND state_seq <= ?))",
			r.CaseID, r.WrittenIn, r.WrittenIn, st.Seq).Updates(map[string]any{
			"status": string(st.Status), "stage": string(st.Stage), "waiting_on": string(st.WaitingOn),
			"stage_entered_at": st.StageEnteredAt, "stage_due_at": st.StageDueAt, "overdue": st.Overdue,
			"closure_reason": string(st.ClosureReason), "blocked": st.Blocked,
			"state": sealedState, "state_seq": st.Seq, "written_in": r.WrittenIn, "updated_at": r.At,
			"committed_cents": committed(st), "plan_approved_at": planApprovedAt(st),
			"departed_at": departedAt(st), "closed_at": closedAt(st, r.At),
		})
		if res.Error == nil && res.RowsAffected > 0 && r.RunID != "" {
			res = tx.Model(&Case{}).Where("id = ?", r.CaseID).Update("run_id", r.RunID)
		}
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			var n int64
			if err := tx.Model(&Case{}).Where("id = ?", r.CaseID).Count(&n).Error; err != nil {
				return err
			}
			if n == 0 {
				// The registration may not have committed yet: the activity retries.
				return fmt.Errorf("case %s: %w", r.CaseID, ErrNotFound)
			}
		}
		ev := TimelineEvent{CaseID: r.CaseID, EventKey: r.EventKey, Type: r.Type, ActorUser: r.Actor.User,
			ActorRole: string(r.Actor.Role), Summary: r.Summary, At: r.At}
		if err := tx.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "event_key"}},
			DoUpdates: clause.AssignmentColumns([]string{"type", "actor_user", "actor_role", "summary", "at"})}).
			Create(&ev).Error; err != nil {
			return err
		}
		for _, p := range st.Procurement {
			if p.Payment == nil {
				continue
			}
			cents, err := p.Payment.Amount.Cents()
			if err != nil {
				return err
			}
			pay := Payment{PaymentID: p.Payment.PaymentID, CaseID: r.CaseID, ItemID: p.ItemID, AmountCents: int64(cents),
				Currency: p.Payment.Amount.Currency, Payee: p.Payment.Payee, PaidAt: p.Payment.PaidAt}
			if err := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&pay).Error; err != nil {
				return err
			}
		}
		return nil
	})
}

func committed(st contract.CaseState) int64 {
	if st.Plan == nil || st.Plan.Status != "approved" {
		return 0
	}
	c, err := st.Plan.Total.Cents()
	if err != nil {
		return 0
	}
	return int64(c)
}

func planApprovedAt(st contract.CaseState) *time.Time {
	if st.Plan == nil || st.Plan.Status != "approved" || len(st.Plan.Decisions) == 0 {
		return nil
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

// Timeline returns a case's events, oldest first.
func (s *Store) Timeline(ctx context.Context, caseID string) ([]TimelineEvent, error) {
	var evs []TimelineEvent
	err := s.db.WithContext(ctx).Where("case_id = ?", caseID).Order("at, id").Find(&evs).Error
	return evs, err
}

// Payments returns a case's payments.
func (s *Store) Payments(ctx context.Context, caseID string) ([]Payment, error) {
	var ps []Payment
	err := s.db.WithContext(ctx).Where("case_id = ?", caseID).Order("paid_at, payment_id").Find(&ps).Error
	return ps, err
}
