package contract

import (
	"time"

	"github.com/homeward/homeward/money"
)

// The case file's write: what the workflow hands the activities that record a
// change of a case (RecordChanges, RecordCase before it), and the store writes.
// They travel in workflow histories as activity inputs: a JSON name here never
// changes.

// Changes is what one workflow task of a case writes to the case file: the events
// it recorded, oldest first, and the state after the last of them.
type Changes struct {
	CaseID string    `json:"case_id"`
	Events []Event   `json:"events"`
	State  CaseState `json:"state"`
	// RunID is the workflow run that wrote it (a case has a second run for monitoring).
	RunID string `json:"run_id,omitempty"`
	// WrittenIn orders the workflow tasks that write: the run's generation (how many
	// continue-as-new before it) in the high 32 bits, the history length when the
	// task started in the low ones.
	WrittenIn int64 `json:"written_in,omitempty"`
	// Registry are the changes the case registry must hear of, queued in the same
	// transaction (the registry's outbox, see store.ClaimRegistryChanges).
	Registry []RegistryChange `json:"registry,omitempty"`
}

// Event is one line the workflow adds to a case's timeline, under a key unique to
// that change of the case.
type Event struct {
	Key     string    `json:"key"`
	Type    string    `json:"type"`
	Actor   Actor     `json:"actor"`
	Summary string    `json:"summary"`
	At      time.Time `json:"at"`
	// Text is what the person wrote with the action, if anything (free text,
	// personal data: encrypted by the payload codec in Temporal, sealed at rest).
	Text string `json:"text,omitempty"`
	// Amount is the figure a "fee" line counts in the statistics: the fee charged.
	Amount *money.Money `json:"amount,omitempty"`
	// RequestID is the request (the API's key for a client's Idempotency-Key) whose
	// action the line is the first of: a retry of it finds it applied, even in a
	// later run of the case, where Temporal no longer knows its update.
	RequestID string `json:"request_id,omitempty"`
}

// Record is what the workflow wrote to the case file after each change before
// cases wrote one batch per workflow task (Changes): one event and the state after
// it. Cases started on that code still write it.
type Record struct {
	CaseID   string    `json:"case_id"`
	EventKey string    `json:"event_key"`
	Type     string    `json:"type"`
	Actor    Actor     `json:"actor"`
	Summary  string    `json:"summary"`
	Text     string    `json:"text,omitempty"`
	At       time.Time `json:"at"`
	State    CaseState `json:"state"`
	// RunID is the workflow run that wrote it (a case has a second run for monitoring).
	RunID string `json:"run_id,omitempty"`
	// WrittenIn: see Changes.
	WrittenIn int64 `json:"written_in,omitempty"`
}

// RegistryChange is a change of a case that the case registry must hear of, queued
// by the case file's write that records it (Changes.Registry): the outbox keeps
// it until the relay has sent it. Seq is the case's sequence number of the change
// (the timeline event it follows), so the changes of a case go in its order.
type RegistryChange struct {
	Seq    int64      `json:"seq"`
	Record CaseRecord `json:"record"`
}

// CaseRecord is what the case registry keeps of a case: where it is, not who it is.
// The registry keeps the record with the latest UpdatedAt. The workflow makes it
// from the case's state; partners.Client.UpsertCase sends it.
type CaseRecord struct {
	CaseID          string        `json:"case_id"` // also the last path segment
	Reference       string        `json:"reference"`
	Stage           Stage         `json:"stage"`
	Status          Status        `json:"status"`
	ClosureReason   ClosureReason `json:"closure_reason,omitempty"`
	WaitingOn       WaitingOn     `json:"waiting_on,omitempty"`
	CountryOfReturn string        `json:"country_of_return"` // ISO 3166-1 alpha-2
	SendingOffice   string        `json:"sending_office"`
	ReceivingOffice string        `json:"receiving_office"`
	Programme       string        `json:"programme"`
	UpdatedAt       time.Time     `json:"updated_at"`
}
