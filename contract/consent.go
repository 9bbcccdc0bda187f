package contract

import "time"

// UpdateConsentWithdrawal is the update that closes a case whose person withdrew
// their consent to data processing (see api.WithdrawConsent).
const UpdateConsentWithdrawal = "consent-withdrawal"

// ConsentWithdrawal is the body of POST /cases/{id}/consent: the person withdrew
// their consent to data processing (data_processing must say false).
type ConsentWithdrawal struct {
	DataProcessing *bool     `json:"data_processing"`
	WithdrawnAt    time.Time `json:"withdrawn_at"`
}

// Validate checks the request's shape.
func (c ConsentWithdrawal) Validate(now time.Time) []FieldError {
	var p problems
	if c.DataProcessing == nil || *c.DataProcessing {
		p.add("data_processing", "must be false: consent is withdrawn here, and given only at registration")
	}
	p.notFuture("withdrawn_at", c.WithdrawnAt, now)
	return p
}

// ConsentClosure is the closure's recorded reason when consent was withdrawn.
const ConsentClosure = "consent withdrawn"
