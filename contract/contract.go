// Package contract is what the API, the case workflow and the activities agree on:
// the names of the workflow, its updates, signals and query; the stages and the
// values they take; the requests people and partners send; and the state a case
// shows. A name is written here once and imported everywhere else.
package contract

import (
	"fmt"
	"slices"
	"time"

	"github.com/homeward/homeward/money"
)

// WorkflowType is the registered name of the case workflow.
const WorkflowType = "ReturnCase"

// Names of the workflow's query, updates and signals.
const (
	QueryState = "state"

	UpdateCounselling  = "counselling"
	UpdateScreening    = "screening"
	UpdateClearance    = "screening-clearance"
	UpdateDeparture    = "departure"
	UpdatePlan         = "plan"
	UpdatePlanDecision = "plan-decision"
	UpdateDelivery     = "delivery"
	UpdateVisit        = "monitoring-visit"
	UpdateWithdrawal   = "withdrawal"
	// UpdatePriceDecision: an approver decides on a quote above the item's approved cost.
	UpdatePriceDecision = "price-decision"
	// UpdateDonorDecision: an approver of the sending office records the donor's
	// decision on a plan that needs it (workflow version 6 on).
	UpdateDonorDecision = "donor-decision"
	// UpdatePaymentValidation: an approver of the sending office validates (or
	// refuses) a payment above the programme's threshold (workflow version 6 on).
	UpdatePaymentValidation = "payment-validation"

	// Facts from partners. Each is an update whose validator ties it to what the case
	// awaits (the assessment request, the ticketed booking) and to its sender; it is
	// kept until the process uses it, so it may still come early (an arrival before
	// the departure is recorded). They were signals before workflow version 4: a case
	// still takes a signal of that name (sent by an API from before), checked the
	// same way from version 4 on.
	UpdateMedicalResult = "medical-result"
	UpdateArrival       = "arrival"
	SignalMedicalResult = UpdateMedicalResult
	SignalArrival       = UpdateArrival
)

// WorkflowID is the ID of a case's workflow: the case's UUID and nothing personal.
func WorkflowID(caseID string) string { return "case-" + caseID }

// Stage is where a case is in the process (also the CaseStage search attribute).
type Stage string

// The stages, in the order a case goes through them.
const (
	StageIntake                Stage = "Intake"
	StageCounselling           Stage = "Counselling"
	StageScreening             Stage = "Screening"
	StageMedicalClearance      Stage = "MedicalClearance"
	StageTravel                Stage = "Travel"
	StageArrival               Stage = "Arrival"
	StageReintegrationPlanning Stage = "ReintegrationPlanning"
	StagePlanApproval          Stage = "PlanApproval"
	StageProcurement           Stage = "Procurement"
	StageMonitoring            Stage = "Monitoring"
	StageClosed                Stage = "Closed"
)

// Stages lists every stage in process order.
var Stages = []Stage{StageIntake, StageCounselling, StageScreening, StageMedicalClearance, StageTravel,
	StageArrival, StageReintegrationPlanning, StagePlanApproval, StageProcurement, StageMonitoring, StageClosed}

// WaitingOn says who must act next for the case to move.
type WaitingOn string

// Who a case can wait on. The empty value means nobody (a closed case).
const (
	WaitingNobody          WaitingOn = ""
	WaitingCaseworker      WaitingOn = "caseworker"
	WaitingApprover        WaitingOn = "approver"
	WaitingProcurement     WaitingOn = "procurement"
	WaitingMedicalProvider WaitingOn = "medical_provider"
	WaitingReceivingOffice WaitingOn = "receiving_office"
	WaitingSystem          WaitingOn = "system"
)

// Status is active until the case closes.
type Status string

const (
	StatusActive Status = "active"
	StatusClosed Status = "closed"
)

// ClosureReason is the one reason a case closed for.
type ClosureReason string

const (
	ClosedCompleted   ClosureReason = "completed"
	ClosedWithdrawn   ClosureReason = "withdrawn"
	ClosedNotFit      ClosureReason = "not_fit"
	ClosedNoShow      ClosureReason = "no_show"
	ClosedAbsconded   ClosureReason = "absconded"
	ClosedDeceased    ClosureReason = "deceased"
	ClosedIneligible  ClosureReason = "ineligible"
	ClosedTransferred ClosureReason = "transferred"
	// ClosedByOperator: someone with access to Temporal (the UI, the CLI) cancelled the
	// case's workflow, outside Homeward; not the migrant's withdrawal.
	ClosedByOperator ClosureReason = "operator_cancelled"
)

// Role of the person (or partner system) acting.
type Role string

const (
	RoleCaseworker  Role = "caseworker"
	RoleApprover    Role = "approver"
	RoleProcurement Role = "procurement"
	RoleManager     Role = "manager"
	RoleService     Role = "service"
	// RoleOperator is who cancelled a workflow in Temporal itself (its UI or CLI):
	// never a role of a token, only the actor of such a closure.
	RoleOperator Role = "operator"
)

// Kinds of partner service: a service principal carries one, and may post only
// the facts of its kind.
const (
	PartnerMedical   = "medical"   // the medical provider: fit-to-travel results
	PartnerReceiving = "receiving" // the receiving office: arrivals
)

// PartnerKinds are the kinds a service principal may carry.
var PartnerKinds = []string{PartnerMedical, PartnerReceiving}

// Actor is who did something, as the API's authentication established it.
type Actor struct {
	User   string `json:"user"`
	Role   Role   `json:"role"`
	Office string `json:"office"`
	// Partner is a service's kind (PartnerMedical, PartnerReceiving); empty for people.
	Partner string `json:"partner,omitempty"`
}

// Rules is the rule set a case starts with and keeps to its end, even when the
// configuration changes later.
type Rules struct {
	SLA                      SLA             `json:"sla"`
	MaxRebookings            int             `json:"max_rebookings"`
	SystemStuckAfterAttempts int             `json:"system_stuck_after_attempts"`
	MonitoringOffsets        []time.Duration `json:"monitoring_offsets"`
	Programme                Programme       `json:"programme"`
}

// SLA is how long each waiting step may take.
type SLA struct {
	Counselling           time.Duration `json:"counselling"`
	Screening             time.Duration `json:"screening"`
	Clearance             time.Duration `json:"clearance"`
	MedicalClearance      time.Duration `json:"medical_clearance"`
	Travel                time.Duration `json:"travel"`
	Arrival               time.Duration `json:"arrival"`
	ReintegrationPlanning time.Duration `json:"reintegration_planning"`
	PlanApproval          time.Duration `json:"plan_approval"`
	Procurement           time.Duration `json:"procurement"`
	MonitoringVisit       time.Duration `json:"monitoring_visit"`
	// DonorDecision is how long the donor's decision on a plan may take (version 6
	// on; absent from the rules of cases registered before).
	DonorDecision time.Duration `json:"donor_decision,omitempty"`
}

// Programme holds the amounts of an assistance programme, in minor units.
type Programme struct {
	Name                string      `json:"name"`
	Currency            string      `json:"currency"`
	PerAdult            money.Cents `json:"per_adult"`
	PerMinor            money.Cents `json:"per_minor"`
	FamilyCap           money.Cents `json:"family_cap"`
	SecondApprovalAbove money.Cents `json:"second_approval_above"`
	QuotesThreshold     money.Cents `json:"quotes_threshold"`
	QuotesAbove         int         `json:"quotes_above"`
	QuotesBelow         int         `json:"quotes_below"`
	ServiceCharge       money.Cents `json:"service_charge"`
	// DonorApproval says which plans the donor must approve after the approvers
	// (version 6 on). Absent from the rules of cases registered before: none.
	DonorApproval DonorApproval `json:"donor_approval,omitzero"`
	// PaymentValidationAbove: a payment above this amount waits for an approver of
	// the sending office to validate it (version 6 on). Nil: no payment waits.
	PaymentValidationAbove *money.Cents `json:"payment_validation_above,omitempty"`
	// AgreedFees are the rates agreed with the partners, per partner kind
	// (FeeTravel, FeeEscort, FeeMedical), in the programme's currency: a fee
	// charged otherwise shows in the monthly reconciliation. A kind without a rate
	// has none agreed.
	AgreedFees map[string]money.Cents `json:"agreed_fees,omitempty"`
}

// DonorApproval is a programme's rules for the plans its donor must approve:
// any one of them is enough.
type DonorApproval struct {
	// AboveCap: a plan above the household's cap is taken (not refused), and the
	// donor decides on it.
	AboveCap bool `json:"above_cap,omitempty"`
	// Above: a plan whose total is above this amount (nil: no such rule).
	Above *money.Cents `json:"above,omitempty"`
	// Kinds: a plan with an item of one of these kinds (cash, in_kind, service, referral).
	Kinds []string `json:"kinds,omitempty"`
}

// Why says why a plan of that total, for a household of that cap, with items of
// those kinds needs the donor's approval; empty if it does not.
func (d DonorApproval) Why(total, cap money.Cents, currency string, kinds []string) string {
	switch {
	case d.AboveCap && total > cap:
		return fmt.Sprintf("the total is above the household's cap of %s %s", cap, currency)
	case d.Above != nil && total > *d.Above:
		return fmt.Sprintf("the total is above %s %s", *d.Above, currency)
	}
	for _, k := range kinds {
		if slices.Contains(d.Kinds, k) {
			return "the plan has an item of kind " + k
		}
	}
	return ""
}

// PaymentNeedsValidation says whether a payment of that amount waits for the
// sending office's validation.
func (p Programme) PaymentNeedsValidation(amount money.Cents) bool {
	return p.PaymentValidationAbove != nil && amount > *p.PaymentValidationAbove
}

// Kinds of partner that charge a case a fee, and what for.
const (
	FeeTravel  = "travel"  // the travel agency, for ticketing a booking
	FeeEscort  = "escort"  // the travel agency, for a medical escort
	FeeMedical = "medical" // the medical provider, for a fit-to-travel assessment
)

// FeeKinds are the partner kinds that may have an agreed rate.
var FeeKinds = []string{FeeTravel, FeeEscort, FeeMedical}

// Agreed is the rate agreed with a kind of partner, if there is one.
func (p Programme) Agreed(kind string) (money.Money, bool) {
	c, ok := p.AgreedFees[kind]
	if !ok {
		return money.Money{}, false
	}
	return money.Of(c, p.Currency), true
}

// Cap is the most a household of that size may receive under the programme.
func (p Programme) Cap(adults, minors int) money.Cents {
	c := money.Cents(adults)*p.PerAdult + money.Cents(minors)*p.PerMinor
	return min(c, p.FamilyCap)
}

// QuotesRequired is how many quotes an in-kind purchase of that cost needs.
func (p Programme) QuotesRequired(cost money.Cents) int {
	if cost >= p.QuotesThreshold {
		return p.QuotesAbove
	}
	return p.QuotesBelow
}

// CaseInput starts a case's workflow. It carries no personal data: the case file
// with names, dates and documents stays in the database.
type CaseInput struct {
	CaseID          string    `json:"case_id"`
	Reference       string    `json:"reference"`
	HostCountry     string    `json:"host_country"`
	CountryOfReturn string    `json:"country_of_return"`
	SendingOffice   string    `json:"sending_office"`
	ReceivingOffice string    `json:"receiving_office"`
	Vulnerable      bool      `json:"vulnerable"`
	HealthNeeds     bool      `json:"health_needs"`
	Adults          int       `json:"adults"`
	Minors          int       `json:"minors"`
	RegisteredBy    Actor     `json:"registered_by"`
	RegisteredAt    time.Time `json:"registered_at"`
	Rules           Rules     `json:"rules"`
	// Carried across continue-as-new: the state so far and the partner facts not yet used.
	Resumed *Resume `json:"resumed,omitempty"`
}

// Resume is what a case carries into its next run when it continues as new.
type Resume struct {
	State          CaseState       `json:"state"`
	PendingMedical []MedicalResult `json:"pending_medical,omitempty"`
	PendingArrival []Arrival       `json:"pending_arrival,omitempty"`
	SeenRequests   []string        `json:"seen_requests,omitempty"`
	// Generation counts the runs before this one (absent before it was added: 1).
	Generation int `json:"generation,omitempty"`
}
