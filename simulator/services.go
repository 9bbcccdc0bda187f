package simulator

import (
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/homeward/homeward/contract"
	"github.com/homeward/homeward/money"
	"github.com/homeward/homeward/partners"
)

func (s *Simulator) routes() {
	m := http.NewServeMux()
	m.HandleFunc("PUT /registry/v1/cases/{case_id}", s.partner(partners.ServiceRegistry, s.upsertCase))
	m.HandleFunc("DELETE /registry/v1/cases/{case_id}", s.partner(partners.ServiceRegistry, s.eraseCase))
	m.HandleFunc("POST /medical/v1/assessments", s.partner(partners.ServiceMedical, s.requestAssessment))
	m.HandleFunc("POST /medical/v1/post-arrival-assistance", s.partner(partners.ServiceMedical, s.openPAMA))
	m.HandleFunc("POST /travel/v1/bookings", s.partner(partners.ServiceTravel, s.holdBooking))
	m.HandleFunc("POST /travel/v1/bookings/{booking_ref}/ticket", s.partner(partners.ServiceTravel, s.ticketBooking))
	m.HandleFunc("POST /travel/v1/bookings/{booking_ref}/cancel", s.partner(partners.ServiceTravel, s.cancelBooking))
	m.HandleFunc("POST /travel/v1/bookings/{booking_ref}/refund", s.partner(partners.ServiceTravel, s.refundBooking))
	m.HandleFunc("POST /travel/v1/escorts", s.partner(partners.ServiceTravel, s.bookEscort))
	m.HandleFunc("POST /travel/v1/escorts/{escort_ref}/cancel", s.partner(partners.ServiceTravel, s.cancelEscort))
	m.HandleFunc("POST /receiving/v1/eligibility", s.partner(partners.ServiceReceiving, s.checkEligibility))
	m.HandleFunc("POST /receiving/v1/pre-arrival-notices", s.partner(partners.ServiceReceiving, s.preArrivalNotice))
	m.HandleFunc("POST /receiving/v1/pre-arrival-notices/{notice_id}/withdraw", s.partner(partners.ServiceReceiving, s.withdrawNotice))
	m.HandleFunc("POST /suppliers/v1/quote-requests", s.partner(partners.ServiceSuppliers, s.requestQuotes))
	m.HandleFunc("POST /suppliers/v1/purchase-orders", s.partner(partners.ServiceSuppliers, s.purchaseOrder))
	m.HandleFunc("POST /finance/v1/payments", s.partner(partners.ServiceFinance, s.pay))
	m.HandleFunc("POST /referrals/v1/referrals", s.partner(partners.ServiceReferrals, s.refer))
	m.HandleFunc("POST /notifications/v1/messages", s.partner(partners.ServiceNotifications, s.notify))
	s.controlRoutes(m)
	s.mux = m
}

// The handlers below run with s.mu held (see partner) and check what a real
// partner would check, so that a malformed call fails here as it would there.

var countryRE = regexp.MustCompile(`^[A-Z]{2}$`)

func (s *Simulator) upsertCase(c *call) reply {
	var rec contract.CaseRecord
	if r := decode(c, &rec); r != nil {
		return *r
	}
	id := c.r.PathValue("case_id")
	switch {
	case rec.CaseID != "" && rec.CaseID != id:
		return refuse(http.StatusUnprocessableEntity, "case_id in the body differs from the path")
	case rec.Reference == "":
		return refuse(http.StatusUnprocessableEntity, "reference is required")
	case !slices.Contains(contract.Stages, rec.Stage):
		return refuse(http.StatusUnprocessableEntity, "stage must be one of %v", contract.Stages)
	case rec.Status != contract.StatusActive && rec.Status != contract.StatusClosed:
		return refuse(http.StatusUnprocessableEntity, "status must be active or closed")
	case rec.UpdatedAt.IsZero():
		return refuse(http.StatusUnprocessableEntity, "updated_at is required")
	}
	s.counts.RegistryUpserts++
	seq := c.key[strings.LastIndex(c.key, "/")+1:]
	s.counts.RegistryUpdates[id] = append(s.counts.RegistryUpdates[id], seq+" "+string(rec.Stage))
	cs := s.caseLocked(id)
	// The registry keeps the newest record: an upsert that arrives late changes nothing.
	if !rec.UpdatedAt.Before(cs.registryAt) {
		cs.registryAt = rec.UpdatedAt
		s.counts.RegistryStages[id] = string(rec.Stage)
		if rec.ReceivingOffice != "" {
			cs.receivingOffice = rec.ReceivingOffice
		}
	}
	return ok(http.StatusOK, partners.CaseRecordAck{CaseID: id})
}

// eraseCase deletes the registry's record of a case (Homeward's retention): 200, or
// 404 when there is none.
func (s *Simulator) eraseCase(c *call) reply {
	id := c.r.PathValue("case_id")
	if _, ok := s.counts.RegistryStages[id]; !ok {
		return refuse(http.StatusNotFound, "no record of this case")
	}
	delete(s.counts.RegistryStages, id)
	s.counts.RegistryErased = append(s.counts.RegistryErased, id)
	return ok(http.StatusOK, partners.CaseRecordAck{CaseID: id})
}

func (s *Simulator) requestAssessment(c *call) reply {
	var req partners.AssessmentRequest
	if r := decode(c, &req); r != nil {
		return *r
	}
	switch {
	case req.CaseID == "" || req.Reference == "":
		return refuse(http.StatusUnprocessableEntity, "case_id and reference are required")
	case req.RequestNo < 1:
		return refuse(http.StatusUnprocessableEntity, "request_no must be at least 1")
	}
	s.counts.AssessmentsRequested++
	cs := s.caseLocked(req.CaseID)
	cs.assessments++
	result := contract.MedicalFit
	if len(cs.medical) > 0 {
		result, cs.medical = cs.medical[0], cs.medical[1:]
	}
	s.scheduleLocked(medicalCallback(req.CaseID, cs.assessments, req.RequestNo, result, cs.reassessDays))
	fee := s.feeLocked(req.CaseID, contract.FeeMedical)
	return ok(http.StatusAccepted, partners.AssessmentAccepted{AssessmentID: s.nextIDLocked("AS"), Fee: &fee})
}

func (s *Simulator) openPAMA(c *call) reply {
	var req partners.PostArrivalAssistanceRequest
	if r := decode(c, &req); r != nil {
		return *r
	}
	if req.CaseID == "" || !countryRE.MatchString(req.CountryOfReturn) || req.ArrivedAt.IsZero() {
		return refuse(http.StatusUnprocessableEntity, "case_id, country_of_return (ISO 3166-1 alpha-2) and arrived_at are required")
	}
	s.counts.PostArrivalAssistance++
	return ok(http.StatusCreated, partners.PostArrivalAssistance{PAMAID: s.nextIDLocked("PAMA")})
}

func (s *Simulator) holdBooking(c *call) reply {
	var req partners.BookingRequest
	if r := decode(c, &req); r != nil {
		return *r
	}
	switch {
	case req.CaseID == "":
		return refuse(http.StatusUnprocessableEntity, "case_id is required")
	case !countryRE.MatchString(req.FromCountry) || !countryRE.MatchString(req.ToCountry):
		return refuse(http.StatusUnprocessableEntity, "from_country and to_country must be ISO 3166-1 alpha-2 codes")
	case req.Passengers < 1 || req.Passengers > 20:
		return refuse(http.StatusUnprocessableEntity, "passengers must be 1 to 20")
	case req.Attempt < 1:
		return refuse(http.StatusUnprocessableEntity, "attempt must be at least 1")
	case req.NotBefore.IsZero():
		return refuse(http.StatusUnprocessableEntity, "not_before is required")
	}
	r := s.rnd("flight", req.CaseID, req.FromCountry, req.ToCountry, req.NotBefore.String(), strconv.Itoa(req.Attempt))
	b := partners.Booking{
		BookingRef:  s.nextIDLocked("BK"),
		Status:      contract.BookingHeld,
		Flight:      "HW" + strconv.Itoa(1000+r.IntN(9000)),
		DepartureAt: req.NotBefore.UTC().Truncate(time.Minute).Add(72 * time.Hour),
	}
	s.bookings[b.BookingRef] = &booking{caseID: req.CaseID, b: b, passengers: req.Passengers + boolInt(req.Escort)}
	s.countBookingLocked(req.CaseID, func(n *BookingCounts) { n.Held++ })
	return ok(http.StatusCreated, b)
}

// bookingOf is the booking the call's path names, the call now about its case;
// nil and the 404 to answer when there is none.
func (s *Simulator) bookingOf(c *call) (*booking, reply) {
	bk, found := s.bookings[c.r.PathValue("booking_ref")]
	if !found {
		return nil, refuse(http.StatusNotFound, "no such booking")
	}
	c.caseID = bk.caseID
	return bk, reply{}
}

func (s *Simulator) ticketBooking(c *call) reply {
	bk, missing := s.bookingOf(c)
	if bk == nil {
		return missing
	}
	switch bk.b.Status {
	case contract.BookingCancelled:
		return refuse(http.StatusConflict, "booking %s is cancelled and cannot be ticketed", bk.b.BookingRef)
	case contract.BookingRefunded:
		return refuse(http.StatusConflict, "booking %s is refunded and cannot be ticketed", bk.b.BookingRef)
	case contract.BookingHeld:
		bk.b.Status = contract.BookingTicketed
		fee := s.feeLocked(bk.caseID, contract.FeeTravel)
		bk.b.Fee = &fee
		s.countBookingLocked(bk.caseID, func(n *BookingCounts) { n.Ticketed++ })
	}
	return ok(http.StatusOK, bk.b)
}

// refundBooking cancels a ticketed booking and refunds the fare but the
// cancellation fee (or as scripted: another refund, or a refusal).
func (s *Simulator) refundBooking(c *call) reply {
	bk, missing := s.bookingOf(c)
	if bk == nil {
		return missing
	}
	switch bk.b.Status {
	case contract.BookingHeld, contract.BookingCancelled:
		return refuse(http.StatusConflict, "booking %s is %s: only a ticketed booking is refunded", bk.b.BookingRef, bk.b.Status)
	case contract.BookingRefunded:
		return ok(http.StatusOK, *bk.refund)
	}
	r := partners.Refund{BookingRef: bk.b.BookingRef, Status: string(contract.BookingRefunded),
		Refund: money.Of(money.Cents(bk.passengers)*Fare, "EUR"), FeeKept: money.Of(CancellationFee, "EUR")}
	if sc := s.caseLocked(bk.caseID).refund; sc != nil {
		if sc.Refuse != "" {
			return refuse(http.StatusConflict, "%s", sc.Refuse)
		}
		r.Refund, r.FeeKept = sc.Refund, sc.FeeKept
	}
	bk.b.Status, bk.refund = contract.BookingRefunded, &r
	s.countBookingLocked(bk.caseID, func(n *BookingCounts) { n.Refunded++ })
	return ok(http.StatusOK, r)
}

func (s *Simulator) cancelBooking(c *call) reply {
	bk, missing := s.bookingOf(c)
	if bk == nil {
		return missing
	}
	switch bk.b.Status {
	case contract.BookingTicketed:
		return refuse(http.StatusConflict, "booking %s is ticketed and cannot be cancelled", bk.b.BookingRef)
	case contract.BookingHeld:
		bk.b.Status = contract.BookingCancelled
		s.countBookingLocked(bk.caseID, func(n *BookingCounts) { n.Cancelled++ })
	}
	return ok(http.StatusOK, partners.Booking{BookingRef: bk.b.BookingRef, Status: contract.BookingCancelled})
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// The simulated agency's fare per seat and cancellation fee, in EUR.
var (
	Fare            = money.MustParse("320.00")
	CancellationFee = money.MustParse("40.00")
)

// DefaultFees are the fees the simulated partners charge unless a case's are
// scripted: the programmes' agreed rates in config/defaults.yaml, per partner kind.
var DefaultFees = map[string]money.Money{
	contract.FeeTravel:  {Amount: "100.00", Currency: "EUR"},
	contract.FeeEscort:  {Amount: "75.00", Currency: "EUR"},
	contract.FeeMedical: {Amount: "50.00", Currency: "EUR"},
}

func (s *Simulator) feeLocked(caseID, kind string) money.Money {
	if f, ok := s.caseLocked(caseID).fees[kind]; ok {
		return f
	}
	return DefaultFees[kind]
}

func (s *Simulator) countBookingLocked(caseID string, inc func(*BookingCounts)) {
	inc(&s.counts.Bookings)
	n := s.counts.BookingsByCase[caseID]
	inc(&n)
	s.counts.BookingsByCase[caseID] = n
}

func (s *Simulator) bookEscort(c *call) reply {
	var req partners.EscortRequest
	if r := decode(c, &req); r != nil {
		return *r
	}
	bk, found := s.bookings[req.BookingRef]
	switch {
	case req.CaseID == "" || req.BookingRef == "":
		return refuse(http.StatusUnprocessableEntity, "case_id and booking_ref are required")
	case !found || bk.caseID != req.CaseID:
		return refuse(http.StatusUnprocessableEntity, "booking_ref is not a booking of this case")
	case bk.b.Status == contract.BookingCancelled:
		return refuse(http.StatusConflict, "booking %s is cancelled", req.BookingRef)
	}
	e := partners.Escort{EscortRef: s.nextIDLocked("ES"), Status: contract.EscortBooked}
	s.escorts[e.EscortRef] = &escort{caseID: req.CaseID, bookingRef: req.BookingRef, e: e}
	s.counts.EscortsBooked++
	fee := s.feeLocked(req.CaseID, contract.FeeEscort)
	e.Fee = &fee
	return ok(http.StatusCreated, e)
}

func (s *Simulator) cancelEscort(c *call) reply {
	es, found := s.escorts[c.r.PathValue("escort_ref")]
	if !found {
		return refuse(http.StatusNotFound, "no such escort")
	}
	c.caseID = es.caseID
	if es.e.Status == contract.EscortBooked {
		es.e.Status = contract.EscortCancelled
		s.counts.EscortsCancelled++
		if bk := s.bookings[es.bookingRef]; bk != nil && (bk.b.Status == contract.BookingTicketed || bk.b.Status == contract.BookingRefunded) {
			// Paid with the tickets: the escort's fare comes back, but the cancellation fee.
			refund, kept := money.Of(Fare, "EUR"), money.Of(CancellationFee, "EUR")
			es.e.Refund, es.e.FeeKept = &refund, &kept
		}
	}
	return ok(http.StatusOK, es.e)
}

func (s *Simulator) checkEligibility(c *call) reply {
	var req partners.EligibilityRequest
	if r := decode(c, &req); r != nil {
		return *r
	}
	switch {
	case req.CaseID == "" || req.Programme == "":
		return refuse(http.StatusUnprocessableEntity, "case_id and programme are required")
	case !countryRE.MatchString(req.CountryOfReturn):
		return refuse(http.StatusUnprocessableEntity, "country_of_return must be an ISO 3166-1 alpha-2 code")
	case req.Adults < 0 || req.Minors < 0 || req.Adults+req.Minors < 1:
		return refuse(http.StatusUnprocessableEntity, "the household needs at least one person")
	}
	s.counts.EligibilityChecks++
	cs := s.caseLocked(req.CaseID)
	if req.ReceivingOffice != "" {
		cs.receivingOffice = req.ReceivingOffice
	}
	if cs.eligibility != nil {
		return ok(http.StatusOK, *cs.eligibility)
	}
	level := "standard"
	if req.Vulnerable {
		level = "enhanced"
	}
	return ok(http.StatusOK, partners.Eligibility{Eligible: true, AssistanceLevel: level, Reason: "meets the " + req.Programme + " criteria"})
}

func (s *Simulator) preArrivalNotice(c *call) reply {
	var n partners.PreArrivalNotice
	if r := decode(c, &n); r != nil {
		return *r
	}
	if n.CaseID == "" || n.BookingRef == "" || n.Flight == "" || n.DepartureAt.IsZero() {
		return refuse(http.StatusUnprocessableEntity, "case_id, booking_ref, flight and departure_at are required")
	}
	s.counts.PreArrivalNotices++
	cs := s.caseLocked(n.CaseID)
	if n.ReceivingOffice != "" {
		cs.receivingOffice = n.ReceivingOffice
	}
	office := cs.receivingOffice
	if office == "" {
		office = "Receiving office"
	}
	cs.arrivals++
	cb := arrivalCallback(n.CaseID, cs.arrivals, n.BookingRef, office)
	if cs.holdArrival {
		cs.heldArrivals = append(cs.heldArrivals, cb)
	} else {
		s.scheduleLocked(cb)
	}
	id := s.nextIDLocked("PAN")
	s.notices[id] = &notice{caseID: n.CaseID, bookingRef: n.BookingRef}
	return ok(http.StatusAccepted, partners.NoticeAccepted{NoticeID: id})
}

// withdrawNotice: the office no longer expects the returnee of a notice.
func (s *Simulator) withdrawNotice(c *call) reply {
	var w partners.NoticeWithdrawal
	if r := decode(c, &w); r != nil {
		return *r
	}
	id := c.r.PathValue("notice_id")
	n, found := s.notices[id]
	switch {
	case !found:
		return refuse(http.StatusNotFound, "no such notice")
	case w.CaseID != n.caseID || w.BookingRef != n.bookingRef:
		return refuse(http.StatusUnprocessableEntity, "case_id and booking_ref must be the notice's")
	case w.Reason == "":
		return refuse(http.StatusUnprocessableEntity, "reason is required")
	}
	c.caseID = n.caseID
	if !n.withdrawn {
		n.withdrawn = true
		s.counts.NoticesWithdrawn[n.caseID]++
	}
	return ok(http.StatusOK, partners.NoticeWithdrawn{NoticeID: id, Status: "withdrawn"})
}

// suppliers quote for in-kind items. Neutral names: nothing here is a real firm.
var suppliers = []string{"Acacia Supplies", "Baobab Trading", "Cedar Equipment", "Delta Tools", "Ebony Agro",
	"Fig Tree Hardware", "Gum Tree Traders", "Hibiscus Market", "Iroko Motors", "Jacaranda Materials"}

func (s *Simulator) requestQuotes(c *call) reply {
	var req partners.QuoteRequest
	if r := decode(c, &req); r != nil {
		return *r
	}
	budget, err := req.Budget.Cents()
	switch {
	case req.CaseID == "" || req.ItemID == "" || req.Description == "":
		return refuse(http.StatusUnprocessableEntity, "case_id, item_id and description are required")
	case err != nil || budget == 0 || len(req.Budget.Currency) != 3:
		return refuse(http.StatusUnprocessableEntity, "budget must be a positive amount with an ISO 4217 currency")
	case req.QuotesWanted < 1 || req.QuotesWanted > len(suppliers):
		return refuse(http.StatusUnprocessableEntity, "quotes_wanted must be 1 to %d", len(suppliers))
	}
	s.counts.QuoteRequests++
	// One supplier is clearly cheapest (80-85% of the budget); the others quote
	// 92-110%, so that choosing the lowest compliant quote is unambiguous.
	r := s.rnd("quotes", req.CaseID, req.ItemID)
	names := r.Perm(len(suppliers))[:req.QuotesWanted]
	cheapest := r.IntN(req.QuotesWanted)
	quotes := make([]partners.Quote, req.QuotesWanted)
	for i, n := range names {
		pct := 92 + r.IntN(19)
		if i == cheapest {
			pct = 80 + r.IntN(6)
		}
		price := budget * money.Cents(pct) / 100
		quotes[i] = partners.Quote{Supplier: suppliers[n], Price: money.Of(price, req.Budget.Currency), Compliant: true}
		if p := s.caseLocked(req.CaseID).quotePrice; p != nil {
			quotes[i].Price = *p // scripted: whatever the budget
		}
	}
	return ok(http.StatusOK, partners.Quotes{Quotes: quotes})
}

func (s *Simulator) purchaseOrder(c *call) reply {
	var req partners.PurchaseOrderRequest
	if r := decode(c, &req); r != nil {
		return *r
	}
	if _, err := req.Price.Cents(); err != nil || req.CaseID == "" || req.ItemID == "" || req.Supplier == "" || len(req.Price.Currency) != 3 {
		return refuse(http.StatusUnprocessableEntity, "case_id, item_id, supplier and price are required")
	}
	s.counts.PurchaseOrders++
	return ok(http.StatusCreated, partners.PurchaseOrder{PurchaseOrder: s.nextIDLocked("PO")})
}

func (s *Simulator) pay(c *call) reply {
	var req partners.PaymentRequest
	if r := decode(c, &req); r != nil {
		return *r
	}
	amount, err := req.Amount.Cents()
	switch {
	case req.CaseID == "" || req.ItemID == "" || req.Payee == "":
		return refuse(http.StatusUnprocessableEntity, "case_id, item_id and payee are required")
	case req.PayeeKind != partners.PayeeSupplier && req.PayeeKind != partners.PayeeBeneficiary:
		return refuse(http.StatusUnprocessableEntity, "payee_kind must be supplier or beneficiary")
	case err != nil || amount == 0 || len(req.Amount.Currency) != 3:
		return refuse(http.StatusUnprocessableEntity, "amount must be a positive amount with an ISO 4217 currency")
	}
	s.counts.Payments++
	s.counts.PaymentsByKey[c.key]++
	s.counts.PaymentsByItem[req.CaseID+"/"+req.ItemID]++
	return ok(http.StatusCreated, partners.Payment{PaymentID: s.nextIDLocked("PAY"), PaidAt: s.stamp()})
}

func (s *Simulator) refer(c *call) reply {
	var req partners.ReferralRequest
	if r := decode(c, &req); r != nil {
		return *r
	}
	if req.CaseID == "" || req.Visit < 0 || req.Service == "" || len(req.Service) > 200 {
		return refuse(http.StatusUnprocessableEntity, "case_id, visit (0 for a plan item, else from 1) and service (1 to 200 characters) are required")
	}
	s.counts.Referrals++
	return ok(http.StatusCreated, partners.Referral{ReferralID: s.nextIDLocked("REF")})
}

func (s *Simulator) notify(c *call) reply {
	var m partners.Message
	if r := decode(c, &m); r != nil {
		return *r
	}
	switch {
	case m.CaseID == "":
		return refuse(http.StatusUnprocessableEntity, "case_id is required")
	case !slices.Contains([]string{partners.ToSupervisor, partners.ToSendingOffice, partners.ToCaseworker, partners.ToManager,
		partners.ToReceivingOffice}, m.To):
		return refuse(http.StatusUnprocessableEntity, "to must be supervisor, sending_office, caseworker, manager or receiving_office")
	case m.To == partners.ToReceivingOffice && m.Office == "":
		return refuse(http.StatusUnprocessableEntity, "office is required for receiving_office")
	case !slices.Contains([]string{partners.NotifyOverdue, partners.NotifyMissedVisit, partners.NotifySevereScreening,
		partners.NotifySystemStuck, partners.NotifyBlocked, partners.NotifyTransferred, partners.NotifyAssigned,
		partners.NotifyUndoRefused, partners.NotifyPriceApproval}, m.Kind):
		return refuse(http.StatusUnprocessableEntity, "kind must be overdue, missed_visit, severe_screening, system_stuck, blocked, transferred, assigned, undo_refused or price_approval")
	case m.Kind == partners.NotifyAssigned && (m.To != partners.ToCaseworker || m.User == ""):
		return refuse(http.StatusUnprocessableEntity, "an assignment is told to the caseworker: to caseworker, with user")
	case m.Text == "" || len(m.Text) > 2000:
		return refuse(http.StatusUnprocessableEntity, "text must be 1 to 2000 characters")
	}
	s.counts.Notifications[m.Kind]++
	return ok(http.StatusAccepted, partners.MessageAccepted{MessageID: s.nextIDLocked("MSG")})
}
