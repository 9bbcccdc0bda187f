package contract

import (
	"fmt"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/homeward/homeward/money"
)

// Action is a person's (or partner's) request to the workflow: who sends it, a
// request ID (the Idempotency-Key, when the caller gave one) and what they say.
type Action[T any] struct {
	Actor     Actor  `json:"actor"`
	RequestID string `json:"request_id,omitempty"`
	Body      T      `json:"body"`
}

// FieldError names a field of a request and what is wrong with it.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (e FieldError) Error() string { return e.Field + ": " + e.Message }

type problems []FieldError

func (p *problems) add(field, format string, args ...any) {
	*p = append(*p, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

func oneOf[T ~string](p *problems, field string, value T, allowed ...T) {
	if !slices.Contains(allowed, value) {
		p.add(field, "must be one of %v", allowed)
	}
}

// decision checks a decision that is yes or no, and that a no gives its reason
// (in the free-text field named): a refusal always says why.
func (p *problems) decision(value, yes, no Decision, reasonField, reason, whenNo string) {
	oneOf(p, "decision", value, yes, no)
	if value == no && reason == "" {
		p.add(reasonField, "is required when %s", whenNo)
	}
	p.freeText(reasonField, reason)
}

// MaxFreeText is the most characters a free-text field (a note, a comment, a
// reason) may hold: no one grows a workflow history or a row without bound.
const MaxFreeText = 4000

// freeText checks a free-text field's length, in characters.
func (p *problems) freeText(field, v string) {
	if utf8.RuneCountInString(v) > MaxFreeText {
		p.add(field, "must be at most %d characters", MaxFreeText)
	}
}

func (p *problems) notFuture(field string, t time.Time, now time.Time) {
	switch {
	case t.IsZero():
		p.add(field, "is required (RFC 3339 time)")
	case t.After(now.Add(5 * time.Minute)): // a little clock skew is not an error
		p.add(field, "must not be in the future")
	}
}

// Counselling is the outcome of pre-departure counselling.
type Counselling struct {
	Outcome string    `json:"outcome"` // confirmed or withdrawn
	HeldAt  time.Time `json:"held_at"`
	Notes   string    `json:"notes,omitempty"`
}

// Validate checks the request's shape; the workflow checks the stage.
func (c Counselling) Validate(now time.Time) []FieldError {
	var p problems
	oneOf(&p, "outcome", c.Outcome, "confirmed", "withdrawn")
	p.notFuture("held_at", c.HeldAt, now)
	p.freeText("notes", c.Notes)
	return p
}

// Screening is the rapid vulnerability screening of the due-diligence process.
type Screening struct {
	Risk        string   `json:"risk"` // low, medium or high
	Flags       []string `json:"flags,omitempty"`
	Mitigations []string `json:"mitigations,omitempty"`
}

// Validate checks the request's shape.
func (s Screening) Validate(time.Time) []FieldError {
	var p problems
	oneOf(&p, "risk", s.Risk, "low", "medium", "high")
	for i, f := range s.Flags {
		if !slices.Contains(Vulnerabilities, f) {
			p.add(fmt.Sprintf("flags[%d]", i), "must be one of %v", Vulnerabilities)
		}
	}
	for i, m := range s.Mitigations {
		if m == "" || len(m) > 500 {
			p.add(fmt.Sprintf("mitigations[%d]", i), "must be 1 to 500 characters")
		}
	}
	return p
}

// Vulnerabilities are the vulnerability flags a case can carry.
var Vulnerabilities = []string{"victim_of_trafficking", "unaccompanied_minor", "health_needs", "disability",
	"pregnancy", "elderly", "single_parent", "psychosocial"}

// Clearance is a supervisor's decision on a high-risk screening.
type Clearance struct {
	Decision Decision `json:"decision"` // cleared or not_cleared
	Comment  string   `json:"comment,omitempty"`
}

// Validate checks the request's shape.
func (c Clearance) Validate(time.Time) []FieldError {
	var p problems
	oneOf(&p, "decision", c.Decision, DecisionCleared, DecisionNotCleared)
	p.freeText("comment", c.Comment)
	return p
}

// Medical results.
const (
	MedicalFit            = "fit"
	MedicalFitWithEscort  = "fit_with_escort"
	MedicalUnfitTemporary = "unfit_temporary"
	MedicalUnfit          = "unfit"
)

// MedicalResult is the medical provider's fit-to-travel assessment.
type MedicalResult struct {
	// RequestNo is the number of the assessment request it answers (the provider
	// got it with the request; the case shows it as medical.requests).
	RequestNo         int        `json:"request_no"`
	Result            string     `json:"result"`
	AssessedAt        time.Time  `json:"assessed_at"`
	ValidUntil        *time.Time `json:"valid_until,omitempty"`
	ReassessAfterDays int        `json:"reassess_after_days,omitempty"`
}

// Validate checks the request's shape.
func (m MedicalResult) Validate(now time.Time) []FieldError {
	var p problems
	if m.RequestNo < 1 {
		p.add("request_no", "is required: the number of the assessment request this result answers (from 1)")
	}
	oneOf(&p, "result", m.Result, MedicalFit, MedicalFitWithEscort, MedicalUnfitTemporary, MedicalUnfit)
	p.notFuture("assessed_at", m.AssessedAt, now)
	fit := m.Result == MedicalFit || m.Result == MedicalFitWithEscort
	switch {
	case fit && m.ValidUntil == nil:
		p.add("valid_until", "is required when the result is fit")
	case m.ValidUntil != nil && !m.ValidUntil.After(m.AssessedAt):
		p.add("valid_until", "must be after assessed_at")
	}
	if m.Result == MedicalUnfitTemporary && (m.ReassessAfterDays < 1 || m.ReassessAfterDays > 365) {
		p.add("reassess_after_days", "must be 1 to 365 when the result is unfit_temporary")
	}
	return p
}

// Departure is the caseworker's report of the flight: departed, or a no-show.
type Departure struct {
	DepartedAt *time.Time `json:"departed_at,omitempty"`
	Flight     string     `json:"flight,omitempty"`
	NoShow     bool       `json:"no_show,omitempty"`
}

// Validate checks the request's shape.
func (d Departure) Validate(now time.Time) []FieldError {
	var p problems
	switch {
	case d.NoShow && (d.DepartedAt != nil || d.Flight != ""):
		p.add("no_show", "a no-show has no departed_at or flight")
	case !d.NoShow:
		if d.DepartedAt == nil {
			p.add("departed_at", "is required unless no_show is true")
		} else {
			p.notFuture("departed_at", *d.DepartedAt, now)
		}
		if d.Flight == "" || len(d.Flight) > 16 {
			p.add("flight", "is required (a flight number, at most 16 characters)")
		}
	}
	return p
}

// Arrival is the receiving office's confirmation that the returnee was received.
type Arrival struct {
	// BookingRef is the booking of the flight the returnee arrived on: this case's
	// ticketed booking (the receiving office got it with the pre-arrival notice).
	BookingRef string    `json:"booking_ref"`
	ArrivedAt  time.Time `json:"arrived_at"`
	ReceivedBy string    `json:"received_by"`
}

// Validate checks the request's shape.
func (a Arrival) Validate(now time.Time) []FieldError {
	var p problems
	if a.BookingRef == "" || len(a.BookingRef) > 64 {
		p.add("booking_ref", "is required: the booking reference of the flight (at most 64 characters)")
	}
	p.notFuture("arrived_at", a.ArrivedAt, now)
	if a.ReceivedBy == "" || len(a.ReceivedBy) > 200 {
		p.add("received_by", "is required (at most 200 characters)")
	}
	return p
}

// Plan is an integrated reintegration plan as the caseworker submits it.
type Plan struct {
	Items []PlanItemInput `json:"items"`
}

// PlanItemInput is one item of a plan as submitted.
type PlanItemInput struct {
	Dimension   string      `json:"dimension"` // economic, social, psychosocial
	Kind        string      `json:"kind"`      // cash, in_kind, service, referral
	Description string      `json:"description"`
	Cost        money.Money `json:"cost"`
}

// Plan item kinds.
const (
	KindCash     = "cash"
	KindInKind   = "in_kind"
	KindService  = "service"
	KindReferral = "referral"
)

// Validate checks the request's shape; the workflow checks caps and currency.
func (pl Plan) Validate(time.Time) []FieldError {
	var p problems
	if len(pl.Items) == 0 || len(pl.Items) > 50 {
		p.add("items", "must have 1 to 50 items")
	}
	for i, it := range pl.Items {
		f := func(name string) string { return fmt.Sprintf("items[%d].%s", i, name) }
		oneOf(&p, f("dimension"), it.Dimension, "economic", "social", "psychosocial")
		oneOf(&p, f("kind"), it.Kind, KindCash, KindInKind, KindService, KindReferral)
		if it.Description == "" || len(it.Description) > 500 {
			p.add(f("description"), "must be 1 to 500 characters")
		}
		if _, err := money.Parse(it.Cost.Amount); err != nil {
			p.add(f("cost.amount"), "%v", err)
		}
		if len(it.Cost.Currency) != 3 {
			p.add(f("cost.currency"), "must be an ISO 4217 code")
		}
	}
	return p
}

// PlanDecision is an approver's decision on the submitted plan.
type PlanDecision struct {
	Decision Decision `json:"decision"` // approve, reject, request_changes
	Comment  string   `json:"comment,omitempty"`
}

// Validate checks the request's shape.
func (d PlanDecision) Validate(time.Time) []FieldError {
	var p problems
	oneOf(&p, "decision", d.Decision, DecisionApprove, DecisionReject, DecisionRequestChanges)
	if d.Decision != DecisionApprove && d.Comment == "" {
		p.add("comment", "is required when the plan is not approved")
	}
	p.freeText("comment", d.Comment)
	return p
}

// PriceDecision is an approver's decision on an in-kind item whose lowest
// compliant quote is above the item's approved cost: pay that price, or not buy it.
type PriceDecision struct {
	ItemID   string   `json:"item_id,omitempty"` // the API takes it from the path
	Decision Decision `json:"decision"`          // approve or reject
	Comment  string   `json:"comment,omitempty"`
}

// Validate checks the request's shape; the workflow checks the item and the cap.
func (d PriceDecision) Validate(time.Time) []FieldError {
	var p problems
	p.decision(d.Decision, DecisionApprove, DecisionReject, "comment", d.Comment, "the price is rejected")
	return p
}

// SetItemID sets the plan item the decision is about (from the request's path).
func (d *PriceDecision) SetItemID(id string) { d.ItemID = id }

// DonorDecision is the donor's decision on a plan that needs it, as an approver
// of the sending office records it: the donor's reference is required, the
// donor's letter (a case document of kind donor_letter) is optional.
type DonorDecision struct {
	Decision       Decision `json:"decision"` // approve or refuse
	DonorReference string   `json:"donor_reference"`
	DonorLetter    string   `json:"donor_letter,omitempty"`
	Reason         string   `json:"reason,omitempty"`
}

// Validate checks the request's shape (the workflow's validator checks it too).
func (d DonorDecision) Validate(time.Time) []FieldError {
	var p problems
	p.decision(d.Decision, DecisionApprove, DecisionRefuse, "reason", d.Reason, "the donor refuses")
	if d.DonorReference == "" || utf8.RuneCountInString(d.DonorReference) > 100 {
		p.add("donor_reference", "is required: the donor's reference for this decision (at most 100 characters)")
	}
	if len(d.DonorLetter) > 64 {
		p.add("donor_letter", "must be the ID of a document of this case")
	}
	return p
}

// PaymentValidation is the sending office's decision on a payment that waits
// for it: validate (it goes to finance) or refuse, with the reason (it waits
// for a new validation).
type PaymentValidation struct {
	ItemID   string   `json:"item_id,omitempty"` // the API takes it from the path
	Decision Decision `json:"decision"`          // validate or refuse
	Reason   string   `json:"reason,omitempty"`
}

// Validate checks the request's shape (the workflow's validator checks it too).
func (v PaymentValidation) Validate(time.Time) []FieldError {
	var p problems
	p.decision(v.Decision, DecisionValidate, DecisionRefuse, "reason", v.Reason, "the payment is refused")
	return p
}

// SetItemID sets the plan item whose payment is decided (from the request's path).
func (v *PaymentValidation) SetItemID(id string) { v.ItemID = id }

// Delivery reports that an in-kind item was handed over to the returnee.
type Delivery struct {
	ItemID              string    `json:"item_id,omitempty"` // the API takes it from the path
	DeliveredAt         time.Time `json:"delivered_at"`
	HandoverCertificate string    `json:"handover_certificate"`
	// HandoverDocument is the ID of the certificate's scan among the case's
	// documents (kind handover_certificate), if it was uploaded; the API checks it.
	HandoverDocument string `json:"handover_document,omitempty"`
}

// SetItemID sets the plan item delivered (from the request's path).
func (d *Delivery) SetItemID(id string) { d.ItemID = id }

// Validate checks the request's shape.
func (d Delivery) Validate(now time.Time) []FieldError {
	var p problems
	p.notFuture("delivered_at", d.DeliveredAt, now)
	if d.HandoverCertificate == "" || len(d.HandoverCertificate) > 200 {
		p.add("handover_certificate", "is required: the reference of the certificate the returnee signed")
	}
	if len(d.HandoverDocument) > 64 {
		p.add("handover_document", "must be the ID of a document of this case")
	}
	return p
}

// Scores are a monitoring visit's scores per dimension, each from 0 to 1.
type Scores struct {
	Economic     float64 `json:"economic"`
	Social       float64 `json:"social"`
	Psychosocial float64 `json:"psychosocial"`
}

// Composite is the reintegration sustainability composite: the mean of the dimensions.
func (s Scores) Composite() float64 { return (s.Economic + s.Social + s.Psychosocial) / 3 }

// Visit is the report of a monitoring visit.
type Visit struct {
	Visit     int       `json:"visit"`
	VisitedAt time.Time `json:"visited_at"`
	Scores    Scores    `json:"scores"`
	Notes     string    `json:"notes,omitempty"`
	Referrals []string  `json:"referrals,omitempty"`
}

// Validate checks the request's shape.
func (v Visit) Validate(now time.Time) []FieldError {
	var p problems
	if v.Visit < 1 {
		p.add("visit", "must be the visit's number, from 1")
	}
	p.notFuture("visited_at", v.VisitedAt, now)
	for _, s := range []struct {
		name string
		v    float64
	}{{"economic", v.Scores.Economic}, {"social", v.Scores.Social}, {"psychosocial", v.Scores.Psychosocial}} {
		if !(s.v >= 0 && s.v <= 1) {
			p.add("scores."+s.name, "must be between 0 and 1")
		}
	}
	p.freeText("notes", v.Notes)
	for i, r := range v.Referrals {
		if r == "" || len(r) > 200 {
			p.add(fmt.Sprintf("referrals[%d]", i), "must be 1 to 200 characters")
		}
	}
	return p
}

// Withdrawal closes a case before its end: the migrant withdrew, died, or was lost to contact.
type Withdrawal struct {
	Reason  string `json:"reason"` // withdrawn, deceased, absconded
	Comment string `json:"comment,omitempty"`
}

// Validate checks the request's shape.
func (w Withdrawal) Validate(time.Time) []FieldError {
	var p problems
	oneOf(&p, "reason", w.Reason, string(ClosedWithdrawn), string(ClosedDeceased), string(ClosedAbsconded))
	p.freeText("comment", w.Comment)
	return p
}
