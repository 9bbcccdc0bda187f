package contract

// The sub-statuses of a case's state: where its booking, escort, plan, plan items
// and monitoring visits are, and the decisions people record on them. Each is a
// type of its own, so a value written wrong does not compile; the values are what
// the JSON (the API, the case file, workflow histories) has always carried.

// BookingStatus is where the case's flight booking is (TravelState.BookingStatus):
// what the travel agency answers (partners.Booking.Status), and no_show.
type BookingStatus string

const (
	BookingHeld      BookingStatus = "held"
	BookingTicketed  BookingStatus = "ticketed"
	BookingNoShow    BookingStatus = "no_show" // the ticket is forfeited, never cancelled
	BookingCancelled BookingStatus = "cancelled"
	BookingRefunded  BookingStatus = "refunded"
)

// BookingStatuses are every BookingStatus.
var BookingStatuses = []BookingStatus{BookingHeld, BookingTicketed, BookingNoShow, BookingCancelled, BookingRefunded}

// EscortStatus is where the case's medical escort is (TravelState.EscortStatus),
// as the travel agency answers it (partners.Escort.Status).
type EscortStatus string

const (
	EscortBooked    EscortStatus = "booked"
	EscortCancelled EscortStatus = "cancelled"
)

// PlanStatus is where the reintegration plan is (PlanState.Status).
type PlanStatus string

const (
	PlanSubmitted        PlanStatus = "submitted"
	PlanApproved         PlanStatus = "approved"
	PlanRejected         PlanStatus = "rejected"
	PlanChangesRequested PlanStatus = "changes_requested"
	// PlanDonorApproval: the approvers approved, the donor decides (version 6 on).
	PlanDonorApproval PlanStatus = "donor_approval"
	PlanDonorRefused  PlanStatus = "donor_refused"
)

// PlanStatuses are every PlanStatus.
var PlanStatuses = []PlanStatus{PlanSubmitted, PlanApproved, PlanRejected, PlanChangesRequested, PlanDonorApproval, PlanDonorRefused}

// ItemStatus is where one plan item is, from quotes to payment
// (ProcurementItem.Status).
type ItemStatus string

const (
	ItemPending       ItemStatus = "pending" // work on the item has not started
	ItemQuoting       ItemStatus = "quoting"
	ItemPriceApproval ItemStatus = "price_approval" // the chosen quote is above the approved cost
	ItemOrdered       ItemStatus = "ordered"
	ItemDelivered     ItemStatus = "delivered"
	// The payment waits for the sending office (version 6 on): refused, it waits
	// for a new validation; validated, it is being paid.
	ItemPaymentValidation ItemStatus = "payment_validation"
	ItemPaymentRefused    ItemStatus = "payment_refused"
	ItemPaymentValidated  ItemStatus = "payment_validated"
	ItemPaid              ItemStatus = "paid"
	ItemReferred          ItemStatus = "referred"
	ItemCancelled         ItemStatus = "cancelled"
)

// ItemStatuses are every ItemStatus.
var ItemStatuses = []ItemStatus{ItemPending, ItemQuoting, ItemPriceApproval, ItemOrdered, ItemDelivered, ItemPaymentValidation,
	ItemPaymentRefused, ItemPaymentValidated, ItemPaid, ItemReferred, ItemCancelled}

// VisitStatus is where a monitoring visit is (VisitState.Status).
type VisitStatus string

const (
	VisitScheduled VisitStatus = "scheduled"
	VisitDue       VisitStatus = "due" // its report is open
	VisitDone      VisitStatus = "done"
	VisitMissed    VisitStatus = "missed"
)

// VisitStatuses are every VisitStatus.
var VisitStatuses = []VisitStatus{VisitScheduled, VisitDue, VisitDone, VisitMissed}

// Decision is what a person decides: on a plan (approve, reject,
// request_changes), a price (approve, reject), for the donor (approve, refuse),
// on a payment (validate, refuse) or on a high-risk screening (cleared,
// not_cleared). The requests take it and the state keeps it (DecisionLog,
// DonorDecisionLog, ScreeningState.Clearance).
type Decision string

const (
	DecisionApprove        Decision = "approve"
	DecisionReject         Decision = "reject"
	DecisionRequestChanges Decision = "request_changes"
	DecisionRefuse         Decision = "refuse"
	DecisionValidate       Decision = "validate"
	DecisionCleared        Decision = "cleared"
	DecisionNotCleared     Decision = "not_cleared"
)
