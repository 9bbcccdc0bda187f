// Package activities holds every side effect of a case: writing the case file and
// calling the partner organisations over HTTP. One struct holds the dependencies;
// each method is one activity the case workflow schedules.
package activities

import (
	"context"
	"errors"

	"github.com/homeward/homeward/contract"
	"github.com/homeward/homeward/store"
)

// Activities are the case workflow's side effects.
type Activities struct {
	Store *store.Store
}

var errNotWired = errors.New("not wired yet")

// RecordCase writes a change of the case to the case file and its timeline. It runs
// as a local activity: it is bookkeeping in Homeward's own database, idempotent by
// the record's event key, and far cheaper than a round trip through the server.
func (a *Activities) RecordCase(ctx context.Context, r store.Record) error {
	return a.Store.RecordCase(ctx, r)
}

// UpsertRegistry writes the case record in the case registry (the system of record).
func (a *Activities) UpsertRegistry(ctx context.Context, in RegistryUpdate) error { return errNotWired }

// ConfirmEligibility asks the receiving office to confirm eligibility and assistance level.
func (a *Activities) ConfirmEligibility(ctx context.Context, in EligibilityCheck) (Eligibility, error) {
	return Eligibility{}, errNotWired
}

// RequestMedicalAssessment asks the medical provider for a fit-to-travel assessment;
// the result comes back later through the API's callback.
func (a *Activities) RequestMedicalAssessment(ctx context.Context, in AssessmentRequest) error {
	return errNotWired
}

// OpenPostArrivalMedical opens post-arrival medical assistance (PAMA).
func (a *Activities) OpenPostArrivalMedical(ctx context.Context, in PAMARequest) error { return errNotWired }

// HoldFlight holds a seat; it is ticketed once medical clearance covers the departure.
func (a *Activities) HoldFlight(ctx context.Context, in FlightHold) (Booking, error) {
	return Booking{}, errNotWired
}

// TicketFlight tickets a held booking.
func (a *Activities) TicketFlight(ctx context.Context, in BookingChange) (Booking, error) {
	return Booking{}, errNotWired
}

// CancelFlight releases a held booking.
func (a *Activities) CancelFlight(ctx context.Context, in BookingChange) error { return errNotWired }

// BookEscort books an escort on a booking.
func (a *Activities) BookEscort(ctx context.Context, in EscortRequest) (string, error) {
	return "", errNotWired
}

// CancelEscort cancels an escort.
func (a *Activities) CancelEscort(ctx context.Context, in EscortChange) error { return errNotWired }

// SendPreArrivalNotice tells the receiving office about the flight.
func (a *Activities) SendPreArrivalNotice(ctx context.Context, in PreArrivalNotice) error {
	return errNotWired
}

// RequestQuotes asks suppliers for quotes.
func (a *Activities) RequestQuotes(ctx context.Context, in QuoteRequest) ([]contract.Quote, error) {
	return nil, errNotWired
}

// IssuePurchaseOrder orders from the chosen supplier.
func (a *Activities) IssuePurchaseOrder(ctx context.Context, in PurchaseOrderRequest) (string, error) {
	return "", errNotWired
}

// Pay pays a supplier or a cash grant. The finance service honours the key, so a
// retried payment pays once.
func (a *Activities) Pay(ctx context.Context, in PaymentRequest) (contract.PaymentInfo, error) {
	return contract.PaymentInfo{}, errNotWired
}

// Refer refers the returnee to a specialised service.
func (a *Activities) Refer(ctx context.Context, in ReferralRequest) (string, error) {
	return "", errNotWired
}

// Notify tells a person that a case needs them.
func (a *Activities) Notify(ctx context.Context, in Notification) error { return errNotWired }
