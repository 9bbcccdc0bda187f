package activities

import (
	"time"

	"github.com/homeward/homeward/contract"
	"github.com/homeward/homeward/money"
)

// Step identifies one side effect of one case. Its Key is the idempotency key the
// partner receives: derived from the case and the step, so it is the same on every
// retry of the activity and a partner that honours it acts once.
type Step struct {
	CaseID    string `json:"case_id"`
	Reference string `json:"reference"`
	Key       string `json:"key"`
}

// RegistryUpdate is the case record the case registry keeps.
type RegistryUpdate struct {
	Step
	Stage           contract.Stage         `json:"stage"`
	Status          contract.Status        `json:"status"`
	ClosureReason   contract.ClosureReason `json:"closure_reason"`
	WaitingOn       contract.WaitingOn     `json:"waiting_on"`
	CountryOfReturn string                 `json:"country_of_return"`
	SendingOffice   string                 `json:"sending_office"`
	ReceivingOffice string                 `json:"receiving_office"`
	Programme       string                 `json:"programme"`
	UpdatedAt       time.Time              `json:"updated_at"`
}

// EligibilityCheck asks the receiving office to confirm eligibility and the level of assistance.
type EligibilityCheck struct {
	Step
	Programme       string `json:"programme"`
	CountryOfReturn string `json:"country_of_return"`
	ReceivingOffice string `json:"receiving_office"`
	Adults          int    `json:"adults"`
	Minors          int    `json:"minors"`
	Vulnerable      bool   `json:"vulnerable"`
}

// Eligibility is the receiving office's answer.
type Eligibility struct {
	Eligible        bool   `json:"eligible"`
	AssistanceLevel string `json:"assistance_level"`
	Reason          string `json:"reason"`
}

// AssessmentRequest asks the medical provider for a fit-to-travel assessment.
type AssessmentRequest struct {
	Step
	RequestNo        int  `json:"request_no"`
	EscortConsidered bool `json:"escort_considered"`
}

// PAMARequest opens post-arrival medical assistance.
type PAMARequest struct {
	Step
	CountryOfReturn string    `json:"country_of_return"`
	ArrivedAt       time.Time `json:"arrived_at"`
}

// FlightHold asks the travel agency to hold a flight.
type FlightHold struct {
	Step
	Attempt     int       `json:"attempt"`
	FromCountry string    `json:"from_country"`
	ToCountry   string    `json:"to_country"`
	Passengers  int       `json:"passengers"`
	Escort      bool      `json:"escort"`
	NotBefore   time.Time `json:"not_before"`
}

// Booking is a flight booking as the travel agency holds it.
type Booking struct {
	Ref         string    `json:"booking_ref"`
	Status      string    `json:"status"`
	Flight      string    `json:"flight"`
	DepartureAt time.Time `json:"departure_at"`
}

// BookingChange tickets or cancels a booking.
type BookingChange struct {
	Step
	BookingRef string `json:"booking_ref"`
}

// EscortRequest books a medical or protection escort on a booking.
type EscortRequest struct {
	Step
	BookingRef string `json:"booking_ref"`
}

// EscortChange cancels an escort.
type EscortChange struct {
	Step
	EscortRef string `json:"escort_ref"`
}

// PreArrivalNotice tells the receiving office who comes when (no names: the case reference).
type PreArrivalNotice struct {
	Step
	BookingRef  string    `json:"booking_ref"`
	Flight      string    `json:"flight"`
	DepartureAt time.Time `json:"departure_at"`
	Escort      bool      `json:"escort"`
	HealthNeeds bool      `json:"health_needs"`
}

// QuoteRequest asks suppliers for quotes for an in-kind item.
type QuoteRequest struct {
	Step
	ItemID       string      `json:"item_id"`
	Description  string      `json:"description"`
	Budget       money.Money `json:"budget"`
	QuotesWanted int         `json:"quotes_wanted"`
}

// PurchaseOrderRequest orders an item from the chosen supplier.
type PurchaseOrderRequest struct {
	Step
	ItemID   string      `json:"item_id"`
	Supplier string      `json:"supplier"`
	Price    money.Money `json:"price"`
}

// PaymentRequest pays a supplier or a cash grant, once.
type PaymentRequest struct {
	Step
	ItemID    string      `json:"item_id"`
	PayeeKind string      `json:"payee_kind"` // supplier or beneficiary
	Payee     string      `json:"payee"`
	Amount    money.Money `json:"amount"`
	Purpose   string      `json:"purpose"`
}

// ReferralRequest refers the returnee to a specialised service.
type ReferralRequest struct {
	Step
	Visit   int    `json:"visit"`
	Service string `json:"service"`
}

// Notification tells a person that a case needs them.
type Notification struct {
	Step
	To   string `json:"to"`   // supervisor, sending_office, caseworker, manager
	Kind string `json:"kind"` // overdue, missed_visit, severe_screening, system_stuck, blocked
	Text string `json:"text"`
}
