// Package activities holds every side effect of a case: writing the case file and
// calling the partner organisations over HTTP. One struct holds the dependencies;
// each method is one activity the case workflow schedules. A partner call takes
// the idempotency key the workflow derived from the case and the step, so every
// retry of it is the same request and the partner acts once.
package activities

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"
	"unicode"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/homeward/homeward/contract"
	"github.com/homeward/homeward/partners"
)

// Error types the workflow tells apart.
const (
	// ErrPartnerRejected: the partner refused (4xx); the same request will be refused again.
	ErrPartnerRejected = "PartnerRejected"
	// ErrPartnerUnavailable: 5xx, a timeout or no connection; a retry may succeed.
	ErrPartnerUnavailable = "PartnerUnavailable"
)

// Activities are the case workflow's side effects.
type Activities struct {
	Store    CaseFile
	Partners *partners.Client
}

// CaseFile is what the activities write in the case file (*store.Store). Its
// methods take contract's types only: the workflow package imports this one, and
// must not link the database.
type CaseFile interface {
	RecordCase(ctx context.Context, r contract.Record) error
	RecordChanges(ctx context.Context, ch contract.Changes) error
	// DueForAnonymisation is up to limit cases closed before cutoff that still
	// hold personal data.
	DueForAnonymisation(ctx context.Context, cutoff time.Time, limit int) ([]string, error)
	// AnonymiseForRetention anonymises the cases ids, as the retention schedule
	// whose workflow is workflowID.
	AnonymiseForRetention(ctx context.Context, ids []string, workflowID string) (int, error)
}

// RecordCase writes a change of the case to the case file and its timeline. It runs
// as a local activity: it is bookkeeping in Homeward's own database, idempotent by
// the record's event key, and far cheaper than a round trip through the server.
func (a *Activities) RecordCase(ctx context.Context, r contract.Record) error {
	r.RunID = activity.GetInfo(ctx).WorkflowExecution.RunID
	return a.Store.RecordCase(ctx, r)
}

// RecordChanges writes what one workflow task of a case changed (its events and the
// state after them) to the case file, as one transaction. A local activity, like
// RecordCase, which cases started before it still use.
func (a *Activities) RecordChanges(ctx context.Context, ch contract.Changes) error {
	ch.RunID = activity.GetInfo(ctx).WorkflowExecution.RunID
	return a.Store.RecordChanges(ctx, ch)
}

// AnonymiseClosedCases removes the personal data of up to limit cases closed
// before cutoff (the retention schedule's work) and returns how many it did.
// First it asks the case registry to erase its record of each (where the case
// was, no personal data, but the record of a person's return all the same): a
// case the registry cannot answer for now (unavailable) waits for the next run;
// one it refuses (4xx) is anonymised anyway, the refusal logged, so a partner
// never holds Homeward's own erasure back.
func (a *Activities) AnonymiseClosedCases(ctx context.Context, cutoff time.Time, limit int) (int, error) {
	ids, err := a.Store.DueForAnonymisation(ctx, cutoff, limit)
	if err != nil || len(ids) == 0 {
		return 0, err
	}
	erased := a.eraseFromRegistry(ctx, ids)
	return a.Store.AnonymiseForRetention(ctx, erased, activity.GetInfo(ctx).WorkflowExecution.ID)
}

// eraseFromRegistry asks the registry to delete its record of each case, a few at
// a time, and returns the cases that may be anonymised now.
func (a *Activities) eraseFromRegistry(ctx context.Context, ids []string) []string {
	logger := activity.GetLogger(ctx)
	ok := make([]bool, len(ids))
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			err := a.Partners.EraseCase(ctx, "case/"+id+"/registry-erase", id)
			var rej *partners.Rejected
			switch {
			case err == nil:
				ok[i] = true
			case errors.As(err, &rej):
				logger.Warn("the registry refused to erase a case's record; anonymising it anyway", "case_id", id, "status", rej.Status)
				ok[i] = true
			default:
				logger.Warn("the registry could not erase a case's record now; the case waits for the next run", "case_id", id, "error", err.Error())
			}
		}()
	}
	wg.Wait()
	var out []string
	for i, id := range ids {
		if ok[i] {
			out = append(out, id)
		}
	}
	return out
}

// UpsertRegistry writes the case record in the case registry (the system of record).
func (a *Activities) UpsertRegistry(ctx context.Context, key string, rec contract.CaseRecord) error {
	_, err := a.Partners.UpsertCase(ctx, key, rec)
	return classify(err)
}

// ConfirmEligibility asks the receiving office to confirm eligibility and the assistance level.
func (a *Activities) ConfirmEligibility(ctx context.Context, key string, req partners.EligibilityRequest) (partners.Eligibility, error) {
	e, err := a.Partners.CheckEligibility(ctx, key, req)
	return e, classify(err)
}

// RequestMedicalAssessment asks for a fit-to-travel assessment; the result comes
// back later through the API's callback. The receipt carries the provider's fee.
func (a *Activities) RequestMedicalAssessment(ctx context.Context, key string, req partners.AssessmentRequest) (partners.AssessmentAccepted, error) {
	r, err := a.Partners.RequestAssessment(ctx, key, req)
	return r, classify(err)
}

// OpenPostArrivalMedical opens post-arrival medical assistance (PAMA).
func (a *Activities) OpenPostArrivalMedical(ctx context.Context, key string, req partners.PostArrivalAssistanceRequest) error {
	_, err := a.Partners.OpenPostArrivalAssistance(ctx, key, req)
	return classify(err)
}

// HoldFlight holds a seat; it is ticketed once the medical clearance covers the departure.
func (a *Activities) HoldFlight(ctx context.Context, key string, req partners.BookingRequest) (partners.Booking, error) {
	b, err := a.Partners.HoldBooking(ctx, key, req)
	return b, classify(err)
}

// TicketFlight tickets a held booking.
func (a *Activities) TicketFlight(ctx context.Context, key, bookingRef string) (partners.Booking, error) {
	b, err := a.Partners.TicketBooking(ctx, key, bookingRef)
	return b, classify(err)
}

// CancelFlight releases a held booking.
func (a *Activities) CancelFlight(ctx context.Context, key, bookingRef string) error {
	_, err := a.Partners.CancelBooking(ctx, key, bookingRef)
	return classify(err)
}

// BookEscort books an escort with a booking.
func (a *Activities) BookEscort(ctx context.Context, key string, req partners.EscortRequest) (partners.Escort, error) {
	e, err := a.Partners.BookEscort(ctx, key, req)
	return e, classify(err)
}

// CancelEscort cancels an escort; a paid one answers what is refunded and kept.
func (a *Activities) CancelEscort(ctx context.Context, key, escortRef string) (partners.Escort, error) {
	e, err := a.Partners.CancelEscort(ctx, key, escortRef)
	return e, classify(err)
}

// RefundFlight cancels a ticketed booking and refunds what can be refunded.
func (a *Activities) RefundFlight(ctx context.Context, key, bookingRef string) (partners.Refund, error) {
	r, err := a.Partners.RefundBooking(ctx, key, bookingRef)
	return r, classify(err)
}

// SendPreArrivalNotice tells the receiving office about the flight.
func (a *Activities) SendPreArrivalNotice(ctx context.Context, key string, n partners.PreArrivalNotice) (partners.NoticeAccepted, error) {
	r, err := a.Partners.SendPreArrivalNotice(ctx, key, n)
	return r, classify(err)
}

// WithdrawPreArrivalNotice tells the receiving office its notice no longer stands.
func (a *Activities) WithdrawPreArrivalNotice(ctx context.Context, key, noticeID string, w partners.NoticeWithdrawal) (partners.NoticeWithdrawn, error) {
	r, err := a.Partners.WithdrawPreArrivalNotice(ctx, key, noticeID, w)
	return r, classify(err)
}

// RequestQuotes asks suppliers for quotes.
func (a *Activities) RequestQuotes(ctx context.Context, key string, req partners.QuoteRequest) (partners.Quotes, error) {
	q, err := a.Partners.RequestQuotes(ctx, key, req)
	return q, classify(err)
}

// IssuePurchaseOrder orders from the chosen supplier.
func (a *Activities) IssuePurchaseOrder(ctx context.Context, key string, req partners.PurchaseOrderRequest) (partners.PurchaseOrder, error) {
	po, err := a.Partners.PlacePurchaseOrder(ctx, key, req)
	return po, classify(err)
}

// Pay pays a supplier or a cash grant. Finance honours the key: a retried payment pays once.
func (a *Activities) Pay(ctx context.Context, key string, req partners.PaymentRequest) (partners.Payment, error) {
	p, err := a.Partners.Pay(ctx, key, req)
	return p, classify(err)
}

// Refer refers the returnee to a specialised service.
func (a *Activities) Refer(ctx context.Context, key string, req partners.ReferralRequest) (partners.Referral, error) {
	r, err := a.Partners.Refer(ctx, key, req)
	return r, classify(err)
}

// Notify tells a person that a case needs them.
func (a *Activities) Notify(ctx context.Context, key string, m partners.Message) error {
	_, err := a.Partners.Notify(ctx, key, m)
	return classify(err)
}

// CancelRequester reads, in the history of the workflow that runs it, who asked
// Temporal to cancel that workflow: the identity on the cancel request (what the
// UI, the CLI or a client sends as its identity, e.g. "temporal-cli:jane@ops-1").
// Workflow code is not told; the case records it. It only reads, so a retry is
// harmless; the history is read from its end, where the request is. It returns
// the identity (at most 200 characters, controls removed) or "" if there is none.
func (a *Activities) CancelRequester(ctx context.Context) (string, error) {
	info := activity.GetInfo(ctx)
	svc := activity.GetClient(ctx).WorkflowService()
	req := &workflowservice.GetWorkflowExecutionHistoryReverseRequest{Namespace: info.Namespace,
		Execution:       &commonpb.WorkflowExecution{WorkflowId: info.WorkflowExecution.ID, RunId: info.WorkflowExecution.RunID},
		MaximumPageSize: 100}
	for {
		res, err := svc.GetWorkflowExecutionHistoryReverse(ctx, req)
		if err != nil {
			return "", err
		}
		for _, e := range res.GetHistory().GetEvents() {
			if e.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED {
				return printable(e.GetWorkflowExecutionCancelRequestedEventAttributes().GetIdentity(), 200), nil
			}
		}
		if len(res.GetNextPageToken()) == 0 {
			return "", nil
		}
		req.NextPageToken = res.GetNextPageToken()
	}
}

// printable is s without control characters, cut to at most n characters: an
// identity is whatever a client chose to send, and it goes into the timeline.
func printable(s string, n int) string {
	var b strings.Builder
	for _, r := range s {
		if n == 0 {
			break
		}
		if unicode.IsPrint(r) {
			b.WriteRune(r)
			n--
		}
	}
	return strings.TrimSpace(b.String())
}

// classify turns a partner's failure into the error Temporal retries (or not). The
// message names the service and status, never the request.
func classify(err error) error {
	var rej *partners.Rejected
	var un *partners.Unavailable
	switch {
	case err == nil:
		return nil
	case errors.As(err, &rej):
		return temporal.NewNonRetryableApplicationError(rej.Error(), ErrPartnerRejected, nil)
	case errors.As(err, &un):
		return temporal.NewApplicationError(un.Error(), ErrPartnerUnavailable)
	default:
		return err
	}
}
