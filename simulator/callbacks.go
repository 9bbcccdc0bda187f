package simulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/homeward/homeward/contract"
	"github.com/homeward/homeward/partners"
)

// Callback retry policy: like a real partner's webhook sender, retry what may pass
// later (no connection, 5xx, 408, 429) with a doubling backoff, and give up on a
// refusal (4xx), which would be refused again.
const (
	callbackAttempts   = 10
	callbackMaxBackoff = 5 * time.Second
	callbackMinBackoff = 10 * time.Millisecond
)

// Kinds of callback, also the last segment of their path in Homeward's API.
const (
	callbackMedical = "medical"
	callbackArrival = "arrival"
)

// callback is a partner's call back to Homeward's API about a case.
type callback struct {
	kind   string
	caseID string
	key    string // the Idempotency-Key, the same on every attempt
	// body builds the payload at the first attempt, so that the times it carries
	// are not in the future; retries resend the same bytes.
	body func(now time.Time) any
}

// medicalCallback answers assessment request requestNo (n counts the case's
// assessments here, for the Idempotency-Key).
func medicalCallback(caseID string, n, requestNo int, result string, reassessDays int) callback {
	return callback{
		kind: callbackMedical, caseID: caseID, key: fmt.Sprintf("sim-medical-%s-%d", caseID, n),
		body: func(now time.Time) any {
			m := contract.MedicalResult{RequestNo: requestNo, Result: result, AssessedAt: now}
			switch result {
			case contract.MedicalFit, contract.MedicalFitWithEscort:
				// A fit-to-travel certificate may be at most 14 days old at the flight.
				until := now.Add(14 * 24 * time.Hour)
				m.ValidUntil = &until
			case contract.MedicalUnfitTemporary:
				m.ReassessAfterDays = max(reassessDays, 1)
			}
			return m
		},
	}
}

// arrivalCallback confirms the arrival on the booking the pre-arrival notice named.
func arrivalCallback(caseID string, n int, bookingRef, office string) callback {
	return callback{
		kind: callbackArrival, caseID: caseID, key: fmt.Sprintf("sim-arrival-%s-%d", caseID, n),
		body: func(now time.Time) any {
			return contract.Arrival{BookingRef: bookingRef, ArrivedAt: now, ReceivedBy: office + " reception desk"}
		},
	}
}

// scheduleLocked sends cb after the callback delay, in a goroutine that Close
// waits for. Holding s.mu while checking closed and adding to the WaitGroup keeps
// an Add from racing with Close's Wait.
func (s *Simulator) scheduleLocked(cb callback) {
	if s.closed || s.opts.APIURL == "" {
		return
	}
	s.wg.Add(1)
	go s.deliver(cb)
}

func (s *Simulator) deliver(cb callback) {
	defer s.wg.Done()
	if !s.sleep(s.ctx, s.opts.CallbackDelay) {
		return
	}
	body, err := json.Marshal(cb.body(s.stamp()))
	if err != nil {
		s.finish(cb, false)
		return
	}
	backoff := max(s.opts.CallbackDelay/4, callbackMinBackoff)
	for attempt := 1; ; attempt++ {
		status, err := s.post(cb, body)
		s.log.Info("callback", "kind", cb.kind, "case_id", cb.caseID, "status", status, "attempt", attempt)
		switch {
		case err == nil && status >= 200 && status < 300:
			s.finish(cb, true)
			return
		case err == nil && status >= 400 && status < 500 && status != http.StatusRequestTimeout && status != http.StatusTooManyRequests:
			s.finish(cb, false) // refused: sending it again would not change the answer
			return
		case attempt == callbackAttempts:
			s.finish(cb, false)
			return
		}
		if !s.sleep(s.ctx, backoff) {
			return
		}
		backoff = min(backoff*2, callbackMaxBackoff)
	}
}

func (s *Simulator) post(cb callback, body []byte) (int, error) {
	u := strings.TrimRight(s.opts.APIURL, "/") + "/api/v1/cases/" + url.PathEscape(cb.caseID) + "/" + cb.kind
	req, err := http.NewRequestWithContext(s.ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	token := s.opts.MedicalToken
	if cb.kind == callbackArrival {
		token = s.opts.ReceivingToken
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(partners.IdempotencyHeader, cb.key)
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, err
	}
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

func (s *Simulator) finish(cb callback, delivered bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if delivered {
		s.counts.CallbacksDelivered[cb.kind]++
	} else {
		s.counts.CallbacksFailed[cb.kind]++
	}
}
