package partners

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/homeward/homeward/contract"
	"github.com/homeward/homeward/money"
)

// This file is the partner contract: one section per partner, each with its
// request and answer types and the Client method that sends them. Only the case ID,
// the case reference and non-personal facts about the case are ever sent: names,
// dates of birth and documents stay in Homeward's database. Times are RFC 3339 in
// UTC; amounts are decimal strings with a currency (money.Money), never floats.

// --- Case registry ---------------------------------------------------------------

// The record the registry keeps of a case is contract.CaseRecord: the workflow
// makes it from the case's state.

// CaseRecordAck is the registry's answer to an upsert.
type CaseRecordAck struct {
	CaseID string `json:"case_id"`
}

// UpsertCase creates or replaces the registry's record of a case:
// PUT /registry/v1/cases/{case_id} -> 200.
func (c *Client) UpsertCase(ctx context.Context, key string, rec contract.CaseRecord) (CaseRecordAck, error) {
	var out CaseRecordAck
	p, err := pathf(ServiceRegistry, "/registry/v1/cases/%s", rec.CaseID)
	if err == nil {
		err = c.do(ctx, ServiceRegistry, http.MethodPut, p, key, rec, &out)
	}
	return out, err
}

// EraseCase asks the registry to delete its record of a case, when Homeward
// anonymises the case at the end of its retention period:
// DELETE /registry/v1/cases/{case_id} -> 200 (or 404: no record, nothing to erase).
func (c *Client) EraseCase(ctx context.Context, key, caseID string) error {
	p, err := pathf(ServiceRegistry, "/registry/v1/cases/%s", caseID)
	if err == nil {
		err = c.do(ctx, ServiceRegistry, http.MethodDelete, p, key, nil, nil)
	}
	var rej *Rejected
	if errors.As(err, &rej) && (rej.Status == http.StatusNotFound || rej.Status == http.StatusGone) {
		return nil
	}
	return err
}

// --- Medical provider ------------------------------------------------------------

// AssessmentRequest asks the medical provider for a fit-to-travel assessment. The
// result comes days later as a callback to Homeward's API
// (POST /api/v1/cases/{case_id}/medical with a contract.MedicalResult).
type AssessmentRequest struct {
	CaseID           string `json:"case_id"`
	Reference        string `json:"reference"`
	RequestNo        int    `json:"request_no"`        // 1 for the first assessment of the case, +1 per reassessment
	EscortConsidered bool   `json:"escort_considered"` // the case has health needs: assess whether an escort is needed
}

// AssessmentAccepted is the provider's receipt for an assessment request, with
// its fee for the assessment (charged to the case: Homeward records it as charged).
type AssessmentAccepted struct {
	AssessmentID string       `json:"assessment_id"`
	Fee          *money.Money `json:"fee,omitempty"`
}

// RequestAssessment asks for a fit-to-travel assessment:
// POST /medical/v1/assessments -> 202.
func (c *Client) RequestAssessment(ctx context.Context, key string, req AssessmentRequest) (AssessmentAccepted, error) {
	var out AssessmentAccepted
	err := c.do(ctx, ServiceMedical, http.MethodPost, "/medical/v1/assessments", key, req, &out)
	return out, err
}

// PostArrivalAssistanceRequest opens post-arrival medical assistance (PAMA) for a
// returnee with health needs in the country of return.
type PostArrivalAssistanceRequest struct {
	CaseID          string    `json:"case_id"`
	Reference       string    `json:"reference"`
	CountryOfReturn string    `json:"country_of_return"`
	ArrivedAt       time.Time `json:"arrived_at"`
}

// PostArrivalAssistance is the provider's reference for the opened assistance.
type PostArrivalAssistance struct {
	PAMAID string `json:"pama_id"`
}

// OpenPostArrivalAssistance opens PAMA: POST /medical/v1/post-arrival-assistance -> 201.
func (c *Client) OpenPostArrivalAssistance(ctx context.Context, key string, req PostArrivalAssistanceRequest) (PostArrivalAssistance, error) {
	var out PostArrivalAssistance
	err := c.do(ctx, ServiceMedical, http.MethodPost, "/medical/v1/post-arrival-assistance", key, req, &out)
	return out, err
}

// --- Travel agency ---------------------------------------------------------------

// BookingRequest asks the travel agency to hold seats on the first suitable flight.
type BookingRequest struct {
	CaseID      string    `json:"case_id"`
	Reference   string    `json:"reference"`
	Attempt     int       `json:"attempt"`      // 1 for the first booking, +1 per rebooking after a no-show
	FromCountry string    `json:"from_country"` // ISO 3166-1 alpha-2, the host country
	ToCountry   string    `json:"to_country"`   // the country of return
	Passengers  int       `json:"passengers"`   // the household travelling, escort not included
	Escort      bool      `json:"escort"`       // a seat for a medical escort is needed too
	NotBefore   time.Time `json:"not_before"`   // earliest departure
}

// Booking is a flight booking as the agency holds it. Flight and DepartureAt are
// empty in the answer to a cancellation. Fee is the agency's fee for ticketing,
// in the answer to the ticketing (charged to the case).
type Booking struct {
	BookingRef  string                 `json:"booking_ref"`
	Status      contract.BookingStatus `json:"status"` // held, ticketed, cancelled, refunded
	Flight      string                 `json:"flight,omitempty"`
	DepartureAt time.Time              `json:"departure_at,omitzero"`
	Fee         *money.Money           `json:"fee,omitempty"`
}

// HoldBooking holds a flight: POST /travel/v1/bookings -> 201 (status "held").
func (c *Client) HoldBooking(ctx context.Context, key string, req BookingRequest) (Booking, error) {
	var out Booking
	err := c.do(ctx, ServiceTravel, http.MethodPost, "/travel/v1/bookings", key, req, &out)
	return out, err
}

// TicketBooking issues the tickets of a held booking:
// POST /travel/v1/bookings/{booking_ref}/ticket -> 200 (status "ticketed");
// 409 when the booking was cancelled.
func (c *Client) TicketBooking(ctx context.Context, key, bookingRef string) (Booking, error) {
	return c.bookingAction(ctx, key, "/travel/v1/bookings/%s/ticket", bookingRef)
}

// CancelBooking releases a held booking:
// POST /travel/v1/bookings/{booking_ref}/cancel -> 200 (status "cancelled");
// 409 when it is already ticketed.
func (c *Client) CancelBooking(ctx context.Context, key, bookingRef string) (Booking, error) {
	return c.bookingAction(ctx, key, "/travel/v1/bookings/%s/cancel", bookingRef)
}

// Refund is the agency's answer to the cancellation of what was bought: the
// amount it pays back, and the fee it keeps for the cancellation (charged to the
// case like its other fees). A booking or escort with nothing to pay back answers
// a refund of 0.00.
type Refund struct {
	BookingRef string      `json:"booking_ref,omitempty"`
	EscortRef  string      `json:"escort_ref,omitempty"`
	Status     string      `json:"status"` // refunded (a booking), cancelled (an escort)
	Refund     money.Money `json:"refund"`
	FeeKept    money.Money `json:"fee_kept"`
}

// RefundBooking cancels a ticketed booking and refunds what can be refunded:
// POST /travel/v1/bookings/{booking_ref}/refund -> 200 (status "refunded"); 409
// when the booking is held or cancelled (a hold is cancelled, not refunded).
func (c *Client) RefundBooking(ctx context.Context, key, bookingRef string) (Refund, error) {
	var out Refund
	p, err := pathf(ServiceTravel, "/travel/v1/bookings/%s/refund", bookingRef)
	if err == nil {
		err = c.do(ctx, ServiceTravel, http.MethodPost, p, key, nil, &out)
	}
	return out, err
}

func (c *Client) bookingAction(ctx context.Context, key, format, bookingRef string) (Booking, error) {
	var out Booking
	p, err := pathf(ServiceTravel, format, bookingRef)
	if err == nil {
		err = c.do(ctx, ServiceTravel, http.MethodPost, p, key, nil, &out)
	}
	return out, err
}

// EscortRequest books a medical escort on a booking's flight.
type EscortRequest struct {
	CaseID     string `json:"case_id"`
	BookingRef string `json:"booking_ref"`
}

// Escort is a booked (or cancelled) escort. Fee is the agency's fee for the
// escort, in the answer to the booking (charged to the case); Refund and FeeKept
// come with a cancellation once the escort was paid (its flight ticketed).
type Escort struct {
	EscortRef string                `json:"escort_ref"`
	Status    contract.EscortStatus `json:"status"` // booked, cancelled
	Fee       *money.Money          `json:"fee,omitempty"`
	Refund    *money.Money          `json:"refund,omitempty"`
	FeeKept   *money.Money          `json:"fee_kept,omitempty"`
}

// BookEscort books an escort: POST /travel/v1/escorts -> 201 (status "booked").
func (c *Client) BookEscort(ctx context.Context, key string, req EscortRequest) (Escort, error) {
	var out Escort
	err := c.do(ctx, ServiceTravel, http.MethodPost, "/travel/v1/escorts", key, req, &out)
	return out, err
}

// CancelEscort cancels an escort: POST /travel/v1/escorts/{escort_ref}/cancel -> 200.
func (c *Client) CancelEscort(ctx context.Context, key, escortRef string) (Escort, error) {
	var out Escort
	p, err := pathf(ServiceTravel, "/travel/v1/escorts/%s/cancel", escortRef)
	if err == nil {
		err = c.do(ctx, ServiceTravel, http.MethodPost, p, key, nil, &out)
	}
	return out, err
}

// --- Receiving office ------------------------------------------------------------

// EligibilityRequest asks the receiving office to confirm a case's eligibility and
// assistance level under a programme. Only household counts are sent.
type EligibilityRequest struct {
	CaseID          string `json:"case_id"`
	Reference       string `json:"reference"`
	Programme       string `json:"programme"`
	CountryOfReturn string `json:"country_of_return"`
	ReceivingOffice string `json:"receiving_office"`
	Adults          int    `json:"adults"`
	Minors          int    `json:"minors"`
	Vulnerable      bool   `json:"vulnerable"`
}

// Eligibility is the receiving office's answer. An ineligible case is a 200 with
// Eligible false and a Reason, not an error.
type Eligibility struct {
	Eligible        bool   `json:"eligible"`
	AssistanceLevel string `json:"assistance_level,omitempty"` // standard, enhanced
	Reason          string `json:"reason,omitempty"`
}

// CheckEligibility asks for eligibility: POST /receiving/v1/eligibility -> 200.
func (c *Client) CheckEligibility(ctx context.Context, key string, req EligibilityRequest) (Eligibility, error) {
	var out Eligibility
	err := c.do(ctx, ServiceReceiving, http.MethodPost, "/receiving/v1/eligibility", key, req, &out)
	return out, err
}

// PreArrivalNotice tells the receiving office who to meet on which flight. The
// office confirms the arrival later by a callback to Homeward's API
// (POST /api/v1/cases/{case_id}/arrival with a contract.Arrival).
type PreArrivalNotice struct {
	CaseID          string    `json:"case_id"`
	Reference       string    `json:"reference"`
	ReceivingOffice string    `json:"receiving_office,omitempty"` // the office that receives; optional
	BookingRef      string    `json:"booking_ref"`
	Flight          string    `json:"flight"`
	DepartureAt     time.Time `json:"departure_at"`
	Escort          bool      `json:"escort"`
	HealthNeeds     bool      `json:"health_needs"`
}

// NoticeAccepted is the office's receipt for a notice.
type NoticeAccepted struct {
	NoticeID string `json:"notice_id"`
}

// SendPreArrivalNotice sends the notice: POST /receiving/v1/pre-arrival-notices -> 202.
func (c *Client) SendPreArrivalNotice(ctx context.Context, key string, n PreArrivalNotice) (NoticeAccepted, error) {
	var out NoticeAccepted
	err := c.do(ctx, ServiceReceiving, http.MethodPost, "/receiving/v1/pre-arrival-notices", key, n, &out)
	return out, err
}

// NoticeWithdrawal tells the receiving office that a pre-arrival notice no
// longer stands: the returnee withdrew (or the case was closed) after the flight
// was ticketed, and nobody is to be met.
type NoticeWithdrawal struct {
	CaseID     string `json:"case_id"`
	Reference  string `json:"reference"`
	BookingRef string `json:"booking_ref"`
	Reason     string `json:"reason"` // the case's closure reason: withdrawn, deceased, absconded, operator_cancelled, ...
}

// NoticeWithdrawn is the office's receipt for a withdrawal of its notice.
type NoticeWithdrawn struct {
	NoticeID string `json:"notice_id"`
	Status   string `json:"status"` // withdrawn
}

// WithdrawPreArrivalNotice withdraws a notice:
// POST /receiving/v1/pre-arrival-notices/{notice_id}/withdraw -> 200; 404 for an
// unknown notice.
func (c *Client) WithdrawPreArrivalNotice(ctx context.Context, key, noticeID string, w NoticeWithdrawal) (NoticeWithdrawn, error) {
	var out NoticeWithdrawn
	p, err := pathf(ServiceReceiving, "/receiving/v1/pre-arrival-notices/%s/withdraw", noticeID)
	if err == nil {
		err = c.do(ctx, ServiceReceiving, http.MethodPost, p, key, w, &out)
	}
	return out, err
}

// --- Supplier portal -------------------------------------------------------------

// QuoteRequest asks suppliers to quote for an in-kind item of a reintegration plan.
type QuoteRequest struct {
	CaseID       string      `json:"case_id"`
	ItemID       string      `json:"item_id"`
	Description  string      `json:"description"` // what is bought, e.g. "sewing machine"; nothing about the person
	Budget       money.Money `json:"budget"`
	QuotesWanted int         `json:"quotes_wanted"` // 1 to 10
}

// Quote is one supplier's offer.
//
// It is the same type the case keeps in its procurement record.
type Quote = contract.Quote

// Quotes is the portal's answer: QuotesWanted quotes from different suppliers,
// or fewer when not enough suppliers answered.
type Quotes struct {
	Quotes []Quote `json:"quotes"`
}

// RequestQuotes asks for quotes: POST /suppliers/v1/quote-requests -> 200.
func (c *Client) RequestQuotes(ctx context.Context, key string, req QuoteRequest) (Quotes, error) {
	var out Quotes
	err := c.do(ctx, ServiceSuppliers, http.MethodPost, "/suppliers/v1/quote-requests", key, req, &out)
	return out, err
}

// PurchaseOrderRequest orders an item from the chosen supplier at its quoted price.
type PurchaseOrderRequest struct {
	CaseID   string      `json:"case_id"`
	ItemID   string      `json:"item_id"`
	Supplier string      `json:"supplier"`
	Price    money.Money `json:"price"`
}

// PurchaseOrder is the portal's purchase order number.
type PurchaseOrder struct {
	PurchaseOrder string `json:"purchase_order"`
}

// PlacePurchaseOrder orders: POST /suppliers/v1/purchase-orders -> 201.
func (c *Client) PlacePurchaseOrder(ctx context.Context, key string, req PurchaseOrderRequest) (PurchaseOrder, error) {
	var out PurchaseOrder
	err := c.do(ctx, ServiceSuppliers, http.MethodPost, "/suppliers/v1/purchase-orders", key, req, &out)
	return out, err
}

// --- Finance ---------------------------------------------------------------------

// Kinds of payee.
const (
	PayeeSupplier    = "supplier"
	PayeeBeneficiary = "beneficiary"
)

// PaymentRequest pays for one plan item: a supplier for an in-kind item, the
// beneficiary for a cash item. Finance pays each idempotency key exactly once.
type PaymentRequest struct {
	CaseID    string      `json:"case_id"`
	ItemID    string      `json:"item_id"`
	PayeeKind string      `json:"payee_kind"` // supplier or beneficiary
	Payee     string      `json:"payee"`      // the supplier's name, or the case reference for the beneficiary
	Amount    money.Money `json:"amount"`
	Purpose   string      `json:"purpose"`
}

// Payment is a made payment.
type Payment struct {
	PaymentID string    `json:"payment_id"`
	PaidAt    time.Time `json:"paid_at"`
}

// Pay makes a payment: POST /finance/v1/payments -> 201.
func (c *Client) Pay(ctx context.Context, key string, req PaymentRequest) (Payment, error) {
	var out Payment
	err := c.do(ctx, ServiceFinance, http.MethodPost, "/finance/v1/payments", key, req, &out)
	return out, err
}

// --- Referral service ------------------------------------------------------------

// ReferralRequest refers a returnee to a specialised service after a monitoring visit.
type ReferralRequest struct {
	CaseID  string `json:"case_id"`
	Visit   int    `json:"visit"`   // the monitoring visit that led to it, from 1; 0 for a referral item of the plan
	Service string `json:"service"` // e.g. "psychosocial counselling"
}

// Referral is the referral service's reference.
type Referral struct {
	ReferralID string `json:"referral_id"`
}

// Refer makes a referral: POST /referrals/v1/referrals -> 201.
func (c *Client) Refer(ctx context.Context, key string, req ReferralRequest) (Referral, error) {
	var out Referral
	err := c.do(ctx, ServiceReferrals, http.MethodPost, "/referrals/v1/referrals", key, req, &out)
	return out, err
}

// --- Notifications ---------------------------------------------------------------

// Recipients of a notification (the service resolves them to people for the case's offices).
const (
	ToSupervisor    = "supervisor"
	ToSendingOffice = "sending_office"
	ToCaseworker    = "caseworker"
	ToManager       = "manager"
	// ToReceivingOffice is the office named in the message's office (a transfer
	// tells the receiving office the case leaves and the one it goes to).
	ToReceivingOffice = "receiving_office"
)

// Kinds of notification.
const (
	NotifyOverdue         = "overdue"
	NotifyMissedVisit     = "missed_visit"
	NotifySevereScreening = "severe_screening"
	NotifySystemStuck     = "system_stuck"
	NotifyBlocked         = "blocked"
	NotifyTransferred     = "transferred"
	NotifyAssigned        = "assigned" // to a caseworker (User): the case is now theirs
	// NotifyUndoRefused: a partner refused to undo what it did for a case closed
	// early (release a hold, cancel an escort, refund a ticket, take back a
	// pre-arrival notice): a manager settles it.
	NotifyUndoRefused = "undo_refused"
	// NotifyPriceApproval: an item's chosen quote is above its approved cost; an
	// approver of the sending office decides the price (workflow version 4 on).
	NotifyPriceApproval = "price_approval"
)

// Message is a notification about a case to a role.
type Message struct {
	CaseID    string `json:"case_id"`
	Reference string `json:"reference"`
	To        string `json:"to"`   // supervisor, sending_office, caseworker, manager, receiving_office
	Kind      string `json:"kind"` // overdue, missed_visit, severe_screening, system_stuck, blocked, transferred, assigned
	// Office names the office for receiving_office (a case's office may change).
	Office string `json:"office,omitempty"`
	// User names the caseworker, for a message to one (assigned).
	User string `json:"user,omitempty"`
	Text string `json:"text"` // at most 2000 characters, no personal data
}

// MessageAccepted is the notification service's receipt.
type MessageAccepted struct {
	MessageID string `json:"message_id"`
}

// Notify sends a notification: POST /notifications/v1/messages -> 202.
func (c *Client) Notify(ctx context.Context, key string, m Message) (MessageAccepted, error) {
	var out MessageAccepted
	err := c.do(ctx, ServiceNotifications, http.MethodPost, "/notifications/v1/messages", key, m, &out)
	return out, err
}
