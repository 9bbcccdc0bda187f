package contract

import (
	"slices"
	"strconv"
	"time"

	"github.com/homeward/homeward/money"
)

// Kinds of refusal an update validator gives; the API maps each to a status.
const (
	RefusedWrongStage = "WrongStage" // 409: the case is not where this action belongs
	RefusedForbidden  = "Forbidden"  // 403: this person may not do this (e.g. self-approval)
	RefusedDuplicate  = "Duplicate"  // 409: already done
	RefusedInvalid    = "Invalid"    // 422: the action contradicts the case (e.g. over the cap)
)

// CaseState is the live state of a case, as the workflow's query returns it and
// as the case file in the database mirrors it.
type CaseState struct {
	// Seq grows with every change, so that the database keeps only the newest state.
	Seq            int64         `json:"seq"`
	Stage          Stage         `json:"stage"`
	Status         Status        `json:"status"`
	ClosureReason  ClosureReason `json:"closure_reason,omitempty"`
	WaitingOn      WaitingOn     `json:"waiting_on"`
	StageEnteredAt time.Time     `json:"stage_entered_at"`
	StageDueAt     *time.Time    `json:"stage_due_at,omitempty"`
	// WaitingFrom, when set, is when the wait opens: a monitoring visit waits on
	// the caseworker from its due date (version 5: the case is not woken then).
	// Until then the case is in nobody's inbox.
	WaitingFrom *time.Time `json:"waiting_from,omitempty"`
	Overdue     bool       `json:"overdue"`
	// Blocked says why the case cannot go on without help (a partner refused a call).
	Blocked string `json:"blocked,omitempty"`
	// ConsentWithdrawnAt is when the person withdrew their consent to data
	// processing: the case closes (withdrawn) and its personal data is erased.
	ConsentWithdrawnAt *time.Time `json:"consent_withdrawn_at,omitempty"`
	// Next says, in words, what should happen next (the UI's current details too).
	Next string `json:"next,omitempty"`
	// Actions are what people may do to the case now, each with the roles that may:
	// the workflow's validators decide, so a page offers these and no others.
	Actions []OpenAction `json:"actions,omitempty"`
	// PlanLimits are the amounts a plan is held to: the household's cap and the total
	// above which a second approver must agree (from the case's rules).
	PlanLimits *PlanLimits `json:"plan_limits,omitempty"`
	// FeesAsCharged says the case records its partners' fees as they charge them
	// (Fees; workflow version 7 on): the statistics count those, not the
	// programme's flat service charge at departure as for cases before.
	FeesAsCharged bool `json:"fees_as_charged,omitempty"`
	// Fees are what the partners charged the case, in the order they did.
	Fees []Fee `json:"fees,omitempty"`

	Counselling *CounsellingState `json:"counselling,omitempty"`
	Screening   *ScreeningState   `json:"screening,omitempty"`
	Medical     *MedicalState     `json:"medical,omitempty"`
	Travel      *TravelState      `json:"travel,omitempty"`
	Arrival     *ArrivalState     `json:"arrival,omitempty"`
	Plan        *PlanState        `json:"plan,omitempty"`
	Procurement []ProcurementItem `json:"procurement,omitempty"`
	Monitoring  []VisitState      `json:"monitoring,omitempty"`
}

// Accepted is what a case's workflow answers an action it took: the case file has
// the case's changes up to Seq (the action's included) when the answer comes, and
// the API answers from there. (Before, the answer was the whole state: a fifth of
// a case's history in bytes; an old case's answer still decodes as this.)
type Accepted struct {
	Seq int64 `json:"seq"`
}

// OpenAction is an action a case accepts now: an update's (or a partner fact's)
// name, what it is about (a plan item's ID, a visit's number) and who may send it.
// The validator still decides for the person who sends it (nobody approves a plan
// they submitted).
type OpenAction struct {
	Name   string `json:"name"`
	Target string `json:"target,omitempty"`
	Roles  []Role `json:"roles"`
	// Offices, when set, are the only offices whose people may send it (a
	// transfer: the sending office's); absent, either of the case's offices.
	Offices []string `json:"offices,omitempty"`
	// From, when set, is when the action opens: the case published it ahead (a
	// monitoring visit from its due date) and is not woken then. AsOf applies it.
	From *time.Time `json:"from,omitempty"`
}

// AsOf is the state as it stands at now: an action published to open at a time
// past now is open, one still ahead is not; a visit whose report has opened so is
// due (the case's workflow, which is not woken for it, accepts it from then).
func (st CaseState) AsOf(now time.Time) CaseState {
	var actions []OpenAction
	st.Monitoring = slices.Clone(st.Monitoring)
	for _, a := range st.Actions {
		if a.From != nil && a.From.After(now) {
			continue
		}
		if a.From != nil && a.Name == UpdateVisit {
			for i, v := range st.Monitoring {
				if strconv.Itoa(v.Visit) == a.Target && v.Status == VisitScheduled {
					st.Monitoring[i].Status = VisitDue
				}
			}
		}
		a.From = nil
		actions = append(actions, a)
	}
	st.Actions = actions
	return st
}

// Open says whether the action (on the target, if any) is open to the role.
func (st CaseState) Open(name, target string, role Role) bool {
	for _, a := range st.Actions {
		if a.Name == name && a.Target == target {
			for _, r := range a.Roles {
				if r == role {
					return true
				}
			}
		}
	}
	return false
}

// OpenTo says whether the action (on the target, if any) is open to the role at
// the office ("*": every office).
func (st CaseState) OpenTo(name, target string, role Role, office string) bool {
	for _, a := range st.Actions {
		if a.Name != name || a.Target != target || !slices.Contains(a.Roles, role) {
			continue
		}
		return len(a.Offices) == 0 || office == "*" || slices.Contains(a.Offices, office)
	}
	return false
}

// PlanLimits are what a reintegration plan's total is compared with.
type PlanLimits struct {
	Cap                 money.Money `json:"cap"`
	SecondApprovalAbove money.Money `json:"second_approval_above"`
}

// CounsellingState records the counselling outcome.
type CounsellingState struct {
	Outcome string    `json:"outcome"`
	HeldAt  time.Time `json:"held_at"`
	By      string    `json:"by"`
}

// ScreeningState records the vulnerability screening and its clearance.
type ScreeningState struct {
	Risk            string   `json:"risk"`
	Flags           []string `json:"flags,omitempty"`
	Mitigations     []string `json:"mitigations,omitempty"`
	ScreenedBy      string   `json:"screened_by"`
	Clearance       Decision `json:"clearance,omitempty"` // cleared, not_cleared
	ClearedBy       string   `json:"cleared_by,omitempty"`
	Eligible        *bool    `json:"eligible,omitempty"`
	AssistanceLevel string   `json:"assistance_level,omitempty"`
}

// MedicalState records the fit-to-travel assessments.
type MedicalState struct {
	Requests   int        `json:"requests"`
	Result     string     `json:"result,omitempty"`
	AssessedAt *time.Time `json:"assessed_at,omitempty"`
	ValidUntil *time.Time `json:"valid_until,omitempty"`
	Escort     bool       `json:"escort"`
	PAMAOpened bool       `json:"pama_opened"`
}

// TravelState records bookings and the departure.
type TravelState struct {
	Attempt        int           `json:"attempt"` // 1 for the first booking, +1 per rebooking
	BookingRef     string        `json:"booking_ref,omitempty"`
	BookingStatus  BookingStatus `json:"booking_status,omitempty"`
	DepartureAt    *time.Time    `json:"departure_at,omitempty"` // scheduled
	EscortRef      string        `json:"escort_ref,omitempty"`
	EscortStatus   EscortStatus  `json:"escort_status,omitempty"`
	NoShows        int           `json:"no_shows"`
	DepartedAt     *time.Time    `json:"departed_at,omitempty"`
	Flight         string        `json:"flight,omitempty"`
	PreArrivalSent bool          `json:"pre_arrival_sent"`
	// NoticeID is the receiving office's reference of the last pre-arrival notice;
	// NoticeWithdrawn says the office was told it no longer stands (version 7 on).
	NoticeID        string `json:"notice_id,omitempty"`
	NoticeWithdrawn bool   `json:"notice_withdrawn,omitempty"`
	// Refund is what the agency paid back for a ticket cancelled after a
	// withdrawal, and EscortRefund for a paid escort (version 7 on).
	Refund       *Refunded `json:"refund,omitempty"`
	EscortRefund *Refunded `json:"escort_refund,omitempty"`
}

// Fee is one fee a partner charged the case, as its answer had it.
type Fee struct {
	// Key names the partner call that charged it, unique in the case (the step of
	// its idempotency key, e.g. travel/1/ticket).
	Key     string `json:"key"`
	Partner string `json:"partner"` // FeeTravel, FeeEscort, FeeMedical
	// Service is what it was charged for: ticketing, escort, assessment, or the
	// cancellation of a ticket or an escort (the fee kept).
	Service   string      `json:"service"`
	Reference string      `json:"reference,omitempty"` // the booking, escort or assessment
	Amount    money.Money `json:"amount"`
	// Agreed is the programme's agreed rate for it, if there is one (none for a
	// cancellation).
	Agreed    *money.Money `json:"agreed,omitempty"`
	ChargedAt time.Time    `json:"charged_at"`
}

// What a fee is charged for.
const (
	ServiceTicketing          = "ticketing"
	ServiceEscort             = "escort"
	ServiceAssessment         = "assessment"
	ServiceCancellation       = "cancellation"
	ServiceEscortCancellation = "escort_cancellation"
)

// Refunded is what a partner paid back when what it sold was cancelled, and the
// fee it kept.
type Refunded struct {
	Refund  money.Money `json:"refund"`
	FeeKept money.Money `json:"fee_kept"`
	At      time.Time   `json:"at"`
}

// ArrivalState records the reception.
type ArrivalState struct {
	ArrivedAt  time.Time `json:"arrived_at"`
	ReceivedBy string    `json:"received_by"`
}

// PlanState is the current reintegration plan and the decisions on it.
type PlanState struct {
	Version int `json:"version"`
	// Status is donor_approval or donor_refused only from version 6 on.
	Status      PlanStatus    `json:"status"`
	Items       []PlanItem    `json:"items"`
	Total       money.Money   `json:"total"`
	SubmittedBy string        `json:"submitted_by"`
	SubmittedAt time.Time     `json:"submitted_at"`
	Decisions   []DecisionLog `json:"decisions"`
	// DonorApprovalReason, when set, says why the donor must approve this plan
	// after the approvers (the programme's rules, version 6 on).
	DonorApprovalReason string `json:"donor_approval_reason,omitempty"`
	// DonorDecision is the donor's decision, as an approver of the sending office recorded it.
	DonorDecision *DonorDecisionLog `json:"donor_decision,omitempty"`
}

// DonorDecisionLog is the donor's decision on one version of the plan.
type DonorDecisionLog struct {
	PlanVersion    int      `json:"plan_version"`
	Decision       Decision `json:"decision"` // approve or refuse
	DonorReference string   `json:"donor_reference"`
	// DonorLetter is the ID of the donor's letter among the case's documents (kind donor_letter).
	DonorLetter string    `json:"donor_letter,omitempty"`
	Reason      string    `json:"reason,omitempty"`
	By          string    `json:"by"`
	Office      string    `json:"office"`
	At          time.Time `json:"at"`
}

// PlanItem is one item of the plan, with the ID that procurement and delivery use.
type PlanItem struct {
	ID          string      `json:"id"`
	Dimension   string      `json:"dimension"`
	Kind        string      `json:"kind"`
	Description string      `json:"description"`
	Cost        money.Money `json:"cost"`
}

// DecisionLog is one approver's decision on one version of the plan.
type DecisionLog struct {
	PlanVersion int       `json:"plan_version"`
	Decision    Decision  `json:"decision"`
	Comment     string    `json:"comment,omitempty"`
	By          string    `json:"by"`
	Office      string    `json:"office"`
	At          time.Time `json:"at"`
}

// ProcurementItem follows one plan item from quotes to payment.
type ProcurementItem struct {
	ItemID string `json:"id"`
	Kind   string `json:"kind"`
	// Status is payment_validation, payment_refused or payment_validated only
	// from version 6 on.
	Status         ItemStatus `json:"status"`
	Quotes         []Quote    `json:"quotes,omitempty"`
	ChosenSupplier string     `json:"chosen_supplier,omitempty"`
	// PriceDecision is the approvers' decision on a chosen quote above the item's
	// approved cost (workflow version 4 on): nothing is ordered or paid without it.
	PriceDecision *DecisionLog `json:"price_decision,omitempty"`
	PurchaseOrder string       `json:"purchase_order,omitempty"`
	Delivery      *Delivered   `json:"delivery,omitempty"`
	// PaymentValidation is the sending office's last decision on the item's payment
	// (validate or refuse, the reason as its comment), when it needed one.
	PaymentValidation *DecisionLog `json:"payment_validation,omitempty"`
	Payment           *PaymentInfo `json:"payment,omitempty"`
}

// Quote is one supplier's price for an in-kind item.
type Quote struct {
	Supplier  string      `json:"supplier"`
	Price     money.Money `json:"price"`
	Compliant bool        `json:"compliant"`
}

// Delivered records a handover.
type Delivered struct {
	DeliveredAt         time.Time `json:"delivered_at"`
	HandoverCertificate string    `json:"handover_certificate"`
	// HandoverDocument is the ID of the certificate's scan among the case's documents.
	HandoverDocument string `json:"handover_document,omitempty"`
	RecordedBy       string `json:"recorded_by"`
}

// PaymentInfo records the one payment of an item.
type PaymentInfo struct {
	PaymentID string      `json:"payment_id"`
	Amount    money.Money `json:"amount"`
	Payee     string      `json:"payee"` // supplier or beneficiary
	PaidAt    time.Time   `json:"paid_at"`
}

// VisitState is one follow-up visit.
type VisitState struct {
	Visit     int         `json:"visit"`
	DueAt     time.Time   `json:"due_at"`
	Status    VisitStatus `json:"status"`
	VisitedAt *time.Time  `json:"visited_at,omitempty"`
	Scores    *Scores     `json:"scores,omitempty"`
	Composite *float64    `json:"composite,omitempty"`
	Referrals []string    `json:"referrals,omitempty"`
}

// anytimeActions are open beside whatever a case waits for and never answer
// the wait: a withdrawal, a correction, a transfer, an owner's assignment.
var anytimeActions = []string{UpdateWithdrawal, UpdateConsentWithdrawal, UpdateCorrection, UpdateTransfer, UpdateOwnerAssigned}

// WaitingOffice is the one office whose people the case waits on, when only
// one of its offices may answer the wait (the open actions of the awaited role
// say so: a donor's decision, a price above the approved cost, a payment's
// validation are the sending office's); "" when either office may. The inbox
// lists the case to that office alone.
func (st CaseState) WaitingOffice() string {
	office := ""
	for _, a := range st.Actions {
		if !slices.Contains(a.Roles, Role(st.WaitingOn)) || slices.Contains(anytimeActions, a.Name) {
			continue
		}
		if len(a.Offices) != 1 || a.Offices[0] == "*" || office != "" && office != a.Offices[0] {
			return ""
		}
		office = a.Offices[0]
	}
	return office
}
