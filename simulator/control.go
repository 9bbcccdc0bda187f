package simulator

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"time"

	"github.com/homeward/homeward/contract"
	"github.com/homeward/homeward/money"
	"github.com/homeward/homeward/partners"
)

// Counts is what the simulated partners saw and did, for tests to assert on
// effects ("paid exactly once") rather than on calls.
type Counts struct {
	Calls            map[string]int `json:"calls"`             // partner requests, by service, whatever their outcome
	FailuresInjected map[string]int `json:"failures_injected"` // by service
	Replays          map[string]int `json:"replays"`           // answered from the idempotency store, by service

	RegistryUpserts int               `json:"registry_upserts"`
	RegistryStages  map[string]string `json:"registry_stages"` // case_id -> stage of the newest record
	RegistryErased  []string          `json:"registry_erased"` // case_ids whose record was deleted
	// RegistryUpdates are the records each case's upserts made, in the order they
	// took effect (a repeated key is answered from memory and adds none): "seq stage",
	// the seq being the last part of the Idempotency-Key.
	RegistryUpdates       map[string][]string      `json:"registry_updates"`
	AssessmentsRequested  int                      `json:"assessments_requested"`
	PostArrivalAssistance int                      `json:"post_arrival_assistance"`
	Bookings              BookingCounts            `json:"bookings"`
	BookingsByCase        map[string]BookingCounts `json:"bookings_by_case"`
	EscortsBooked         int                      `json:"escorts_booked"`
	EscortsCancelled      int                      `json:"escorts_cancelled"`
	EligibilityChecks     int                      `json:"eligibility_checks"`
	PreArrivalNotices     int                      `json:"pre_arrival_notices"`
	NoticesWithdrawn      map[string]int           `json:"notices_withdrawn"` // case_id -> notices withdrawn
	QuoteRequests         int                      `json:"quote_requests"`
	PurchaseOrders        int                      `json:"purchase_orders"`
	Payments              int                      `json:"payments"`
	PaymentsByKey         map[string]int           `json:"payments_by_key"`  // Idempotency-Key -> payments
	PaymentsByItem        map[string]int           `json:"payments_by_item"` // "case_id/item_id" -> payments
	Referrals             int                      `json:"referrals"`
	Notifications         map[string]int           `json:"notifications"` // by kind

	CallbacksDelivered map[string]int `json:"callbacks_delivered"` // by kind: medical, arrival
	CallbacksFailed    map[string]int `json:"callbacks_failed"`    // given up: a 4xx or too many attempts
}

// BookingCounts counts booking transitions (a booking held then cancelled counts in both).
type BookingCounts struct {
	Held      int `json:"held"`
	Ticketed  int `json:"ticketed"`
	Cancelled int `json:"cancelled"`
	Refunded  int `json:"refunded"`
}

func newCounts() Counts {
	return Counts{Calls: map[string]int{}, FailuresInjected: map[string]int{}, Replays: map[string]int{},
		RegistryStages: map[string]string{}, RegistryUpdates: map[string][]string{}, BookingsByCase: map[string]BookingCounts{},
		PaymentsByKey: map[string]int{}, PaymentsByItem: map[string]int{}, Notifications: map[string]int{}, NoticesWithdrawn: map[string]int{},
		CallbacksDelivered: map[string]int{}, CallbacksFailed: map[string]int{}}
}

// Counts returns a copy of the counts so far.
func (s *Simulator) Counts() Counts {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.counts
	c.Calls, c.FailuresInjected, c.Replays = maps.Clone(c.Calls), maps.Clone(c.FailuresInjected), maps.Clone(c.Replays)
	c.RegistryStages, c.BookingsByCase = maps.Clone(c.RegistryStages), maps.Clone(c.BookingsByCase)
	c.RegistryErased = slices.Clone(c.RegistryErased)
	c.RegistryUpdates = map[string][]string{}
	for id, u := range s.counts.RegistryUpdates {
		c.RegistryUpdates[id] = slices.Clone(u)
	}
	c.PaymentsByKey, c.PaymentsByItem = maps.Clone(c.PaymentsByKey), maps.Clone(c.PaymentsByItem)
	c.Notifications, c.NoticesWithdrawn = maps.Clone(c.Notifications), maps.Clone(c.NoticesWithdrawn)
	c.CallbacksDelivered, c.CallbacksFailed = maps.Clone(c.CallbacksDelivered), maps.Clone(c.CallbacksFailed)
	return c
}

// Fault is the misbehaviour of a service: a share of calls fails in Mode, and
// every call is delayed by Latency.
type Fault struct {
	FailureRate float64       // 0..1
	Mode        string        // ModeUnavailable ("503", also when empty), ModeHang or ModeReject ("422")
	Latency     time.Duration // before answering, failure or not
}

// faultJSON is a Fault on the wire: PUT /_sim/faults.
type faultJSON struct {
	Service     string  `json:"service"`
	FailureRate float64 `json:"failure_rate"`
	Mode        string  `json:"mode"`
	Latency     string  `json:"latency"` // a Go duration, e.g. "250ms"
}

// SetFault sets the fault of one service, or with service "" or "*" the default
// of every service, which also clears the services' own faults. Fault{} heals.
func (s *Simulator) SetFault(service string, f Fault) error {
	if service == "" {
		service = "*"
	}
	switch {
	case service != "*" && !slices.Contains(partners.Services, service):
		return fmt.Errorf("service must be one of %v or \"*\"", partners.Services)
	case !(f.FailureRate >= 0 && f.FailureRate <= 1):
		return fmt.Errorf("failure_rate must be between 0 and 1")
	case f.Latency < 0:
		return fmt.Errorf("latency must not be negative")
	}
	if f.Mode == "" {
		f.Mode = ModeUnavailable
	}
	if f.Mode != ModeUnavailable && f.Mode != ModeHang && f.Mode != ModeReject {
		return fmt.Errorf(`mode must be "503", "hang" or "422"`)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if service == "*" {
		clear(s.faults)
	}
	s.faults[service] = f
	return nil
}

// Faults returns the faults in force: "*" and each service that has its own.
func (s *Simulator) Faults() map[string]Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.faults)
}

func (s *Simulator) faultLocked(service string) Fault {
	if f, found := s.faults[service]; found {
		return f
	}
	return s.faults["*"]
}

// MedicalScript is what the medical provider will find for a case's next assessments.
type MedicalScript struct {
	// Results of the next assessments, in order; once used up, each is "fit".
	Results []string `json:"results"`
	// ReassessAfterDays comes with "unfit_temporary" (default 1).
	ReassessAfterDays int `json:"reassess_after_days"`
}

// ScriptMedical sets the results of a case's next assessments, replacing any
// earlier script.
func (s *Simulator) ScriptMedical(caseID string, m MedicalScript) error {
	for _, r := range m.Results {
		if !slices.Contains([]string{contract.MedicalFit, contract.MedicalFitWithEscort, contract.MedicalUnfitTemporary, contract.MedicalUnfit}, r) {
			return fmt.Errorf("result %q must be fit, fit_with_escort, unfit_temporary or unfit", r)
		}
	}
	if m.ReassessAfterDays < 0 || m.ReassessAfterDays > 365 {
		return fmt.Errorf("reassess_after_days must be 1 to 365")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cs := s.caseLocked(caseID)
	cs.medical = slices.Clone(m.Results)
	cs.reassessDays = m.ReassessAfterDays
	return nil
}

// HoldArrival withholds (hold true) a case's arrival callbacks, as if the returnee
// never reached the reception desk. Releasing sends the withheld ones.
func (s *Simulator) HoldArrival(caseID string, hold bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cs := s.caseLocked(caseID)
	cs.holdArrival = hold
	if !hold {
		for _, cb := range cs.heldArrivals {
			s.scheduleLocked(cb)
		}
		cs.heldArrivals = nil
	}
}

// ScriptEligibility fixes the receiving office's eligibility answer for a case
// (e.g. not eligible, with a reason).
func (s *Simulator) ScriptEligibility(caseID string, e partners.Eligibility) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.caseLocked(caseID).eligibility = &e
}

// ScriptQuotes makes every supplier quote price (any amount, any currency) for the
// case's items from now on, as a supplier portal answering far above the budget
// or in another currency would.
func (s *Simulator) ScriptQuotes(caseID string, price money.Money) error {
	if _, err := price.Cents(); err != nil || len(price.Currency) != 3 {
		return fmt.Errorf("price must be an amount with an ISO 4217 currency")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.caseLocked(caseID).quotePrice = &price
	return nil
}

// ScriptFees makes the case's partners charge these fees (per partner kind:
// travel, escort, medical) instead of the agreed rates, from now on.
func (s *Simulator) ScriptFees(caseID string, fees map[string]money.Money) error {
	for kind, f := range fees {
		if !slices.Contains(contract.FeeKinds, kind) {
			return fmt.Errorf("fees: %q must be one of %v", kind, contract.FeeKinds)
		}
		if _, err := f.Cents(); err != nil || len(f.Currency) != 3 {
			return fmt.Errorf("fees.%s must be an amount with an ISO 4217 currency", kind)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.caseLocked(caseID).fees = maps.Clone(fees)
	return nil
}

// RefundScript is the travel agency's answer to the refund of a case's ticket:
// a refusal (409 with the message), or what it refunds and keeps.
type RefundScript struct {
	Refuse  string      `json:"refuse,omitempty"`
	Refund  money.Money `json:"refund"`
	FeeKept money.Money `json:"fee_kept"`
}

// ScriptRefund sets the agency's answer to the refund of the case's ticket.
func (s *Simulator) ScriptRefund(caseID string, r RefundScript) error {
	if r.Refuse == "" {
		for _, m := range []money.Money{r.Refund, r.FeeKept} {
			if _, err := m.Cents(); err != nil || len(m.Currency) != 3 {
				return fmt.Errorf("refund and fee_kept must be amounts with an ISO 4217 currency (or refuse a message)")
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.caseLocked(caseID).refund = &r
	return nil
}

// controlRoutes serves /_sim/: no authentication, so bind the simulator to loopback.
func (s *Simulator) controlRoutes(m *http.ServeMux) {
	m.HandleFunc("GET /_sim/counts", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Counts())
	})
	m.HandleFunc("GET /_sim/faults", func(w http.ResponseWriter, r *http.Request) {
		out := []faultJSON{}
		for svc, f := range s.Faults() {
			out = append(out, faultJSON{Service: svc, FailureRate: f.FailureRate, Mode: f.Mode, Latency: f.Latency.String()})
		}
		slices.SortFunc(out, func(a, b faultJSON) int { return cmp.Compare(a.Service, b.Service) })
		writeJSON(w, http.StatusOK, out)
	})
	m.HandleFunc("PUT /_sim/faults", func(w http.ResponseWriter, r *http.Request) {
		var in faultJSON
		if !readJSON(w, r, &in) {
			return
		}
		var f Fault
		f.FailureRate, f.Mode = in.FailureRate, in.Mode
		if in.Latency != "" {
			d, err := time.ParseDuration(in.Latency)
			if err != nil {
				writeJSON(w, http.StatusBadRequest, map[string]string{"message": "latency must be a Go duration such as 250ms"})
				return
			}
			f.Latency = d
		}
		if err := s.SetFault(in.Service, f); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"message": err.Error()})
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	m.HandleFunc("PUT /_sim/cases/{case_id}/medical", func(w http.ResponseWriter, r *http.Request) {
		var in MedicalScript
		if !readJSON(w, r, &in) {
			return
		}
		if err := s.ScriptMedical(r.PathValue("case_id"), in); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"message": err.Error()})
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	m.HandleFunc("PUT /_sim/cases/{case_id}/arrival", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Hold bool `json:"hold"`
		}
		if !readJSON(w, r, &in) {
			return
		}
		s.HoldArrival(r.PathValue("case_id"), in.Hold)
		w.WriteHeader(http.StatusNoContent)
	})
	m.HandleFunc("PUT /_sim/cases/{case_id}/quotes", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Price money.Money `json:"price"`
		}
		if !readJSON(w, r, &in) {
			return
		}
		if err := s.ScriptQuotes(r.PathValue("case_id"), in.Price); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"message": err.Error()})
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	m.HandleFunc("PUT /_sim/cases/{case_id}/fees", func(w http.ResponseWriter, r *http.Request) {
		var in map[string]money.Money
		if !readJSON(w, r, &in) {
			return
		}
		if err := s.ScriptFees(r.PathValue("case_id"), in); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"message": err.Error()})
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	m.HandleFunc("PUT /_sim/cases/{case_id}/refund", func(w http.ResponseWriter, r *http.Request) {
		var in RefundScript
		if !readJSON(w, r, &in) {
			return
		}
		if err := s.ScriptRefund(r.PathValue("case_id"), in); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"message": err.Error()})
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	m.HandleFunc("PUT /_sim/cases/{case_id}/eligibility", func(w http.ResponseWriter, r *http.Request) {
		var in partners.Eligibility
		if !readJSON(w, r, &in) {
			return
		}
		s.ScriptEligibility(r.PathValue("case_id"), in)
		w.WriteHeader(http.StatusNoContent)
	})
}

func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody)).Decode(v); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"message": "the body is not the expected JSON"})
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
